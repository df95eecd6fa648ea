using Tally.Events;
using Tally.Rules;
using static Tally.Tests.Rules.RuleTesting;

namespace Tally.Tests.Rules;

public class ConditionTests
{
    private static readonly Dictionary<string, EventBody> Events = new(StringComparer.Ordinal)
    {
        ["order"] = Order(),
        ["action"] = Action(),
        ["transaction"] = new TransactionEvent { EventId = "t1", NameSpace = "Card", CreatedAt = Now, Transaction = new() { Total = 80.50m, Source = "pos", Quantity = 2 } },
        ["points"] = new PointsEvent { EventId = "p1", CreatedAt = Now, Points = new() { Quantity = 50, PreviousBalance = 450, Balance = 500, Campaign = "spring", LifetimeEarned = 2000 } },
        ["calendar"] = new CalendarEvent { EventId = "c1", CreatedAt = Now, Calendar = new() { Kind = "anniversary", YearsSinceJoining = 3 } },
        ["basket"] = Event<BasketEvent>("""
        {
          "eventId": "b1", "nameSpace": "Checkout", "createdAt": "2027-03-15T12:00:00Z",
          "basket": {
            "basketTotal": 150.00, "taxTotal": 15, "shippingTotal": 10, "paymentAmount": 150, "currencyCode": "AUD",
            "basketItems": [
              { "sku": "SHOE-1", "vendor": "Acme", "quantity": 2, "itemPrice": 40, "tags": ["shoes"], "productType": "footwear",
                "keyValues": [ { "key": "colour", "value": "red" } ] },
              { "sku": "BUNDLE", "quantity": 1, "itemPrice": 60, "productType": "bundle",
                "basketItemParts": [ { "sku": "SOCK-1", "quantity": 3, "itemPrice": 5, "tags": ["socks"], "vendor": "Initech" },
                                     { "sku": "HAT-1", "quantity": 1, "itemPrice": 45, "tags": ["hats"] } ] }
            ]
          }
        }
        """),
    };

    // (event type, condition, expected): one row per operator and per PATH family.
    public static TheoryData<string, string, bool> Rows => new()
    {
        // Every operator, on numbers and text.
        { "order", """{"field": "order.total", "op": "eq", "value": 120.00}""", true },
        { "order", """{"field": "order.total", "op": "eq", "value": 120.01}""", false },
        { "order", """{"field": "order.total", "op": "ne", "value": 100}""", true },
        { "order", """{"field": "order.total", "op": "gt", "value": 119.99}""", true },
        { "order", """{"field": "order.total", "op": "gt", "value": 120}""", false },
        { "order", """{"field": "order.total", "op": "gte", "value": 120}""", true },
        { "order", """{"field": "order.total", "op": "lt", "value": 120}""", false },
        { "order", """{"field": "order.total", "op": "lte", "value": 120}""", true },
        { "order", """{"field": "order.total", "op": "in", "value": [1, 120]}""", true },
        { "order", """{"field": "order.total", "op": "notIn", "value": [1, 120]}""", false },
        { "order", """{"field": "order.total", "op": "exists"}""", true },
        { "order", """{"field": "order.currencyCode", "op": "eq", "value": "AUD"}""", true },
        { "order", """{"field": "order.currencyCode", "op": "eq", "value": "aud"}""", false },
        { "order", """{"field": "order.currencyCode", "op": "in", "value": ["NZD", "AUD"]}""", true },
        { "order", """{"field": "order.currencyCode", "op": "notIn", "value": ["NZD"]}""", true },
        { "order", """{"field": "nameSpace", "op": "startsWith", "value": "Shop."}""", true },
        { "order", """{"field": "nameSpace", "op": "contains", "value": "Web"}""", true },
        { "order", """{"field": "nameSpace", "op": "gt", "value": "Shop.A"}""", true },
        { "order", """{"field": "reference", "op": "eq", "value": "ref-1"}""", true },
        { "order", """{"field": "campaign", "op": "ne", "value": "spring"}""", false },
        { "order", """{"field": "order.orderStatus", "op": "exists", "value": false}""", true },
        { "order", """{"field": "order.orderStatus", "op": "ne", "value": "Paid"}""", true },
        { "order", """{"field": "order.orderStatus", "op": "eq", "value": "Paid"}""", false },
        // Payment detail, lists, line aggregates.
        { "order", """{"field": "order.paymentDetail.bin", "op": "startsWith", "value": "4111"}""", true },
        { "order", """{"field": "order.paymentDetail.bank", "op": "eq", "value": "ANZ"}""", true },
        { "order", """{"field": "order.paymentDetail.scheme", "op": "in", "value": ["visa", "mastercard"]}""", true },
        { "order", """{"field": "order.paymentDetail.segmentation", "op": "eq", "value": "premium"}""", true },
        { "order", """{"field": "order.paymentDetail.paymentAmount", "op": "gte", "value": 120}""", true },
        { "order", """{"field": "order.taxTotal", "op": "eq", "value": 12}""", true },
        { "order", """{"field": "order.shippingTotal", "op": "lt", "value": 11}""", true },
        { "order", """{"field": "order.rewardsEligibleTotal", "op": "eq", "value": 100}""", true },
        { "order", """{"field": "order.skus", "op": "contains", "value": "SKU-2"}""", true },
        { "order", """{"field": "order.skus", "op": "contains", "value": "SKU-3"}""", false },
        { "order", """{"field": "order.skus", "op": "startsWith", "value": "SKU-"}""", true },
        { "order", """{"field": "order.vendors", "op": "in", "value": ["Globex", "Initech"]}""", true },
        { "order", """{"field": "order.vendors", "op": "notIn", "value": ["Globex"]}""", false },
        { "order", """{"field": "order.categories", "op": "contains", "value": "sale"}""", true },
        { "order", """{"field": "order.productTypes", "op": "exists"}""", true },
        { "order", """{"field": "order.quantity", "op": "eq", "value": 3}""", true },
        // Event and customer attributes compare as text, or as numbers when the rule gives a number.
        { "order", """{"field": "attributes.channel", "op": "eq", "value": "web"}""", true },
        { "order", """{"field": "attributes.missing", "op": "exists"}""", false },
        { "order", """{"field": "customer.attributes.store", "op": "eq", "value": "Sydney"}""", true },
        { "order", """{"field": "customer.attributes.age", "op": "gt", "value": 40}""", true },
        { "order", """{"field": "customer.attributes.age", "op": "in", "value": [41, 42]}""", true },
        { "order", """{"field": "customer.attributes.store", "op": "gt", "value": 1}""", false },
        // Customer profile and figures.
        { "action", """{"field": "customer.firstName", "op": "eq", "value": "Ada"}""", true },
        { "action", """{"field": "customer.emailAddress", "op": "contains", "value": "@example.com"}""", true },
        { "action", """{"field": "customer.optinSms", "op": "eq", "value": true}""", true },
        { "action", """{"field": "customer.isAccountLocked", "op": "ne", "value": false}""", false },
        { "action", """{"field": "customer.dateOfBirth", "op": "startsWith", "value": "1990-"}""", true },
        { "action", """{"field": "customer.yearsSinceJoining", "op": "eq", "value": 3}""", true },
        { "action", """{"field": "customer.pointsBalance", "op": "gte", "value": 500}""", true },
        { "action", """{"field": "customer.tier", "op": "eq", "value": "gold"}""", true },
        { "action", """{"field": "customer.segments", "op": "contains", "value": "vip"}""", true },
        { "action", """{"field": "customer.customerId", "op": "eq", "value": "22222222-2222-2222-2222-222222222222"}""", true },
        // Per event type.
        { "action", """{"field": "action.count", "op": "gte", "value": 3}""", true },
        { "action", """{"field": "action.amount", "op": "eq", "value": 7.50}""", true },
        { "transaction", """{"field": "transaction.total", "op": "eq", "value": 80.5}""", true },
        { "transaction", """{"field": "transaction.source", "op": "eq", "value": "pos"}""", true },
        { "transaction", """{"field": "transaction.quantity", "op": "gt", "value": 1}""", true },
        { "points", """{"field": "points.quantity", "op": "eq", "value": 50}""", true },
        { "points", """{"field": "points.previousBalance", "op": "lt", "value": 500}""", true },
        { "points", """{"field": "points.balance", "op": "gte", "value": 500}""", true },
        { "points", """{"field": "points.campaign", "op": "eq", "value": "spring"}""", true },
        { "points", """{"field": "points.lifetimeEarned", "op": "gt", "value": 1999}""", true },
        { "calendar", """{"field": "calendar.kind", "op": "eq", "value": "anniversary"}""", true },
        { "calendar", """{"field": "calendar.yearsSinceJoining", "op": "in", "value": [1, 3, 5]}""", true },
        { "basket", """{"field": "basket.total", "op": "eq", "value": 150}""", true },
        { "basket", """{"field": "basket.taxTotal", "op": "eq", "value": 15}""", true },
        { "basket", """{"field": "basket.shippingTotal", "op": "eq", "value": 10}""", true },
        { "basket", """{"field": "basket.paymentAmount", "op": "eq", "value": 150}""", true },
        { "basket", """{"field": "basket.skus", "op": "contains", "value": "SOCK-1"}""", true },
        { "basket", """{"field": "basket.vendors", "op": "contains", "value": "Initech"}""", true },
        { "basket", """{"field": "basket.categories", "op": "contains", "value": "hats"}""", true },
        { "basket", """{"field": "basket.productTypes", "op": "contains", "value": "bundle"}""", true },
        { "basket", """{"field": "basket.quantity", "op": "eq", "value": 3}""", true },
        // Combinators, nested.
        { "order", """{"all": []}""", true },
        { "order", """{"any": []}""", false },
        { "order", """{"all": [{"field": "order.total", "op": "gt", "value": 100}, {"any": [{"segment": "nope"}, {"not": {"not": {"segment": "vip"}}}]}]}""", true },
        { "order", """{"not": {"all": [{"segment": "vip"}, {"field": "order.currencyCode", "op": "eq", "value": "AUD"}]}}""", false },
        { "order", """{"segment": "vip"}""", true },
        { "order", """{"not": {"segment": "staff"}}""", true },
        // Line items: any matching line; minQuantity and minAmount sum over the matching lines.
        { "order", """{"item": {"field": "sku", "op": "eq", "value": "SKU-1"}}""", true },
        { "order", """{"item": {"field": "sku", "op": "eq", "value": "SKU-1"}, "minQuantity": 3}""", false },
        { "order", """{"item": {"field": "vendor", "op": "in", "value": ["Acme", "Globex"]}, "minQuantity": 3, "minAmount": 110}""", true },
        { "order", """{"item": {"field": "category", "op": "contains", "value": "sale"}, "minAmount": 61}""", false },
        { "order", """{"item": {"all": [{"field": "productType", "op": "eq", "value": "footwear"}, {"field": "itemPrice", "op": "lt", "value": 30}]}}""", true },
        { "order", """{"item": {"field": "attributes.colour", "op": "eq", "value": "red"}}""", true },
        { "order", """{"item": {"field": "productId", "op": "eq", "value": "p2"}}""", true },
        { "order", """{"item": {"field": "quantity", "op": "gte", "value": 2}}""", true },
        { "order", """{"item": {"field": "totalPrice", "op": "eq", "value": 50}}""", true },
        { "order", """{"item": {"not": {"field": "vendor", "op": "eq", "value": "Acme"}}, "minQuantity": 2}""", false },
        { "basket", """{"item": {"field": "attributes.colour", "op": "eq", "value": "red"}}""", true },
        // A part matches as its own line when its bundle does not...
        { "basket", """{"item": {"field": "category", "op": "contains", "value": "socks"}, "minQuantity": 3, "minAmount": 15}""", true },
        // ...and a bundle that matches is one line: its parts are not counted again.
        { "basket", """{"item": {"field": "itemPrice", "op": "gte", "value": 40}, "minQuantity": 4}""", false },
        { "basket", """{"item": {"field": "itemPrice", "op": "gte", "value": 40}, "minQuantity": 3, "minAmount": 140}""", true },
    };

    [Theory]
    [MemberData(nameof(Rows))]
    public void A_condition_matches_the_event_as_expected(string eventType, string condition, bool expected) =>
        Assert.Equal(expected, Matches(Events[eventType], eventType, condition));

    [Fact]
    public void A_missing_value_fails_comparisons_but_passes_ne_and_notIn()
    {
        var bare = new OrderEvent { EventId = "x", Order = new() };
        Assert.False(Matches(bare, "order", """{"field": "order.total", "op": "gte", "value": 0}"""));
        Assert.False(Matches(bare, "order", """{"field": "order.total", "op": "eq", "value": 0}"""));
        Assert.True(Matches(bare, "order", """{"field": "order.total", "op": "ne", "value": 0}"""));
        Assert.True(Matches(bare, "order", """{"field": "order.currencyCode", "op": "notIn", "value": ["AUD"]}"""));
        Assert.False(Matches(bare, "order", """{"field": "order.skus", "op": "contains", "value": "A"}"""));
        Assert.False(Matches(bare, "order", """{"item": {"field": "sku", "op": "exists"}}"""));
    }

    [Fact]
    public void Money_compares_exactly_as_decimal()
    {
        var order = Order(total: 0.3m);
        Assert.True(Matches(order, "order", """{"field": "order.total", "op": "eq", "value": 0.30}"""));
        Assert.True(Matches(order with { Order = order.Order! with { Total = 0.1m + 0.2m } }, "order", """{"field": "order.total", "op": "eq", "value": 0.3}"""));
    }

    [Fact]
    public void Spend_rules_see_orders_and_transactions_by_their_total()
    {
        var rule = Rule(RuleJson("spend", """{"field": "spend.total", "op": "gte", "value": 80}"""));
        Assert.Single(Evaluate(Order(total: 80m), [rule]).Fired);
        Assert.Single(Evaluate(Events["transaction"], [rule]).Fired);
        Assert.Empty(Evaluate(Order(total: 79.99m), [rule]).Fired);
        Assert.Empty(Evaluate(Action(), [rule]).Fired);
    }

    [Fact]
    public void The_trace_records_each_condition_with_expected_and_actual_values()
    {
        var rule = Rule(RuleJson("order", """{"all": [{"field": "order.total", "op": "gt", "value": 100}, {"segment": "staff"}, {"field": "order.currencyCode", "op": "eq", "value": "AUD"}]}"""));

        var trace = Assert.Single(Evaluate(Order(), [rule], trace: true).Trace!);

        Assert.False(trace.Matched);
        Assert.Equal("r1", trace.RuleId);
        Assert.Equal(1, trace.Version);
        Assert.Null(trace.Skipped);
        Assert.Equal(2, trace.Conditions.Count); // all stops at the first failure
        Assert.Equal(new ConditionTrace("order.total", "gt 100", 120m, true), trace.Conditions[0]);
        Assert.Equal("segment", trace.Conditions[1].Path);
        Assert.False(trace.Conditions[1].Result);
    }

    [Fact]
    public void Without_tracing_no_trace_is_returned() =>
        Assert.Null(Evaluate(Order(), [Rule(RuleJson("order"))]).Trace);

    [Fact]
    public void The_trace_shows_where_a_negation_flipped_its_condition()
    {
        var rule = Rule(RuleJson("order", """{"not": {"segment": "vip"}}"""));

        var trace = Assert.Single(Evaluate(Order(), [rule], trace: true).Trace!);

        Assert.Equal(["segment", "not"], trace.Conditions.Select(c => c.Path));
        Assert.Equal([true, false], trace.Conditions.Select(c => c.Result));
    }

    // Rules whose item condition names a SKU are skipped without walking the lines when the basket lacks it (untraced
    // runs only): a SKU on a whole item, on a bundle's part, or nowhere; alone, under a line "all", or beside other leaves.
    public static TheoryData<string, bool> SkuPinned => new()
    {
        { """{"item": {"field": "sku", "op": "eq", "value": "SHOE-1"}}""", true },
        { """{"item": {"field": "sku", "op": "eq", "value": "HAT-1"}}""", true },
        { """{"item": {"field": "sku", "op": "eq", "value": "NONE"}}""", false },
        { """{"all": [{"field": "basket.total", "op": "gte", "value": 1}, {"item": {"all": [{"field": "sku", "op": "eq", "value": "SOCK-1"}, {"field": "quantity", "op": "gte", "value": 3}]}}]}""", true },
        { """{"all": [{"field": "basket.total", "op": "gte", "value": 1}, {"item": {"all": [{"field": "sku", "op": "eq", "value": "SOCK-2"}]}}]}""", false },
        { """{"any": [{"item": {"field": "sku", "op": "eq", "value": "NONE"}}, {"field": "basket.total", "op": "gte", "value": 1}]}""", true },
        // Sums over the lines that have the SKU (a part counts where its bundle line does not match).
        { """{"item": {"field": "sku", "op": "eq", "value": "SOCK-1"}, "minQuantity": 3, "minAmount": 15}""", true },
        { """{"item": {"field": "sku", "op": "eq", "value": "SOCK-1"}, "minQuantity": 4}""", false },
        { """{"item": {"all": [{"field": "sku", "op": "eq", "value": "SHOE-1"}, {"field": "quantity", "op": "gte", "value": 3}]}}""", false },
        { """{"item": {"field": "sku", "op": "eq", "value": "BUNDLE"}, "minQuantity": 1, "minAmount": 60}""", true },
    };

    // The SKU index keeps the rules' order: an earlier rule that stops processing stops later ones whatever SKU they name.
    [Fact]
    public void Rules_found_by_sku_run_in_priority_order_and_stop_processing_holds()
    {
        var first = Rule(RuleJson("basket", """{"item": {"field": "sku", "op": "eq", "value": "HAT-1"}}""", extra: "\"priority\": 1, \"stopProcessing\": true,"), id: "a");
        var second = Rule(RuleJson("basket", """{"item": {"field": "sku", "op": "eq", "value": "SHOE-1"}}""", extra: "\"priority\": 2,"), id: "b");
        var third = Rule(RuleJson("basket", """{"field": "basket.total", "op": "gte", "value": 1}""", extra: "\"priority\": 0,"), id: "c");
        foreach (var trace in new[] { false, true })
            Assert.Equal(["c", "a"], Evaluate(Events["basket"], [second, first, third], trace: trace).Fired.Select(f => f.RuleId));
    }

    [Theory]
    [MemberData(nameof(SkuPinned))]
    public void A_rule_naming_a_sku_fires_alike_with_and_without_a_trace(string condition, bool fires)
    {
        var rule = Rule(RuleJson("basket", condition));
        Assert.Equal(fires, Evaluate(Events["basket"], [rule]).Fired.Count == 1);
        Assert.Equal(fires, Evaluate(Events["basket"], [rule], trace: true).Fired.Count == 1);
    }
}
