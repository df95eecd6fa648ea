using Tally.Rules;
using static Tally.Tests.Rules.RuleTesting;

namespace Tally.Tests.Rules;

public class CounterTests
{
    private static RuleFacts Counters(params (CounterQuery Query, long Count, decimal Sum)[] rows) =>
        new() { Counters = rows.ToDictionary(r => r.Query, r => new CounterFact(r.Count, r.Sum)) };

    [Fact]
    public void The_counter_key_is_the_event_type_plus_the_nameSpace_and_reference_leaves()
    {
        var rule = Rule(RuleJson("action", """{"all": [{"field": "nameSpace", "op": "eq", "value": "Survey.Done"}, {"field": "reference", "op": "startsWith", "value": "S-"}, {"field": "action.count", "op": "gt", "value": 0}, {"nth": 3}]}"""));
        var set = RuleSet.Build([rule]);

        var needed = set.FactsNeeded(Action(nameSpace: "Survey.Done", reference: "S-9"), Customer(), Now);
        var other = set.FactsNeeded(Action(nameSpace: "Survey.Done", reference: "X-9"), Customer(), Now);

        Assert.Equal([new CounterQuery("action|nameSpace eq \"Survey.Done\"|reference startsWith \"S-\"", null)], needed.Counters);
        Assert.Empty(other.Counters);
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(1, false)]
    [InlineData(2, true)]
    [InlineData(3, false)]
    public void Nth_fires_on_exactly_the_nth_event_including_this_one(long before, bool fires)
    {
        var rule = Rule(RuleJson("action", """{"all": [{"field": "nameSpace", "op": "eq", "value": "Survey.Done"}, {"nth": 3}]}"""));
        var key = RuleSet.Build([rule]).FactsNeeded(Action(nameSpace: "Survey.Done"), Customer(), Now).Counters.Single();

        var result = Evaluate(Action(nameSpace: "Survey.Done"), [rule], facts: Counters((key, before, 0m)));

        Assert.Equal(fires, result.Fired.Count == 1);
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(2, true)]
    [InlineData(4, false)]
    [InlineData(5, true)]
    [InlineData(8, true)]
    public void Every_nth_fires_on_multiples_of_n(long before, bool fires)
    {
        var rule = Rule(RuleJson("order", """{"everyNth": 3}"""));
        var result = Evaluate(Order(), [rule], facts: Counters((new("order", null), before, 0m)));
        Assert.Equal(fires, result.Fired.Count == 1);
    }

    [Fact]
    public void Every_matching_event_increments_its_counters_even_when_no_rule_fires()
    {
        var rule = Rule(RuleJson("order", """{"all": [{"field": "nameSpace", "op": "eq", "value": "Shop.Web"}, {"nth": 2}, {"field": "order.total", "op": "gt", "value": 1000}]}"""));

        var result = Evaluate(Order(total: 120m), [rule]);

        Assert.Empty(result.Fired);
        Assert.Equal([new CounterIncrement("order|nameSpace eq \"Shop.Web\"", Now, 120m)], result.CounterIncrements);
        Assert.Empty(Evaluate(Order(nameSpace: "Shop.App"), [rule]).CounterIncrements);
    }

    [Theory]
    [InlineData("P30D", 1, false)]
    [InlineData("P30D", 2, true)]
    [InlineData("P3M", 5, true)]
    public void Repeat_within_a_period_counts_this_event_and_those_since_the_window_start(string within, long before, bool fires)
    {
        var rule = Rule(RuleJson("transaction", $$$"""{"repeat": {"times": 3, "within": "{{{within}}}"}}"""));
        var body = new Tally.Events.TransactionEvent { EventId = "t", CreatedAt = Now, Transaction = new() { Total = 10m } };
        var set = RuleSet.Build([rule]);

        var query = Assert.Single(set.FactsNeeded(body, Customer(), Now).Counters);
        var result = set.Evaluate(body, Customer(), Counters((query, before, 0m)), Now);

        Assert.Equal("transaction", query.Key);
        Assert.Equal(within == "P30D" ? new DateTimeOffset(2027, 2, 13, 12, 0, 0, TimeSpan.Zero) : new DateTimeOffset(2026, 12, 15, 12, 0, 0, TimeSpan.Zero), query.Since);
        Assert.Equal(fires, result.Fired.Count == 1);
    }

    [Fact]
    public void Repeat_since_a_date_counts_from_midnight_utc_of_that_date()
    {
        var rule = Rule(RuleJson("action", """{"repeat": {"times": 2, "since": "2027-01-01"}}"""));
        var query = Assert.Single(RuleSet.Build([rule]).FactsNeeded(Action(), Customer(), Now).Counters);

        Assert.Equal(new CounterQuery("action", new DateTimeOffset(2027, 1, 1, 0, 0, 0, TimeSpan.Zero)), query);
        Assert.Single(Evaluate(Action(), [rule], facts: Counters((query, 1, 0m))).Fired);
        Assert.Empty(Evaluate(Action(), [rule], facts: Counters((query, 0, 0m))).Fired);
    }

    [Theory]
    [InlineData(880, true)]
    [InlineData(879.99, false)]
    public void Lifetime_value_adds_this_order_to_the_stored_sum(double before, bool fires)
    {
        var rule = Rule(RuleJson("order", """{"lifetimeValue": {"op": "gte", "value": 1000}}"""));
        var set = RuleSet.Build([rule]);
        var query = Assert.Single(set.FactsNeeded(Order(total: 120m), Customer(), Now).Counters);

        var result = set.Evaluate(Order(total: 120m), Customer(), Counters((query, 3, (decimal)before)), Now);

        Assert.Equal(new CounterQuery("order", null), query);
        Assert.Equal(fires, result.Fired.Count == 1);
        Assert.Equal([new CounterIncrement("order", Now, 120m)], result.CounterIncrements);
    }

    [Fact]
    public void Spend_counters_count_orders_and_transactions_alike()
    {
        var rule = Rule(RuleJson("spend", """{"lifetimeValue": {"op": "gte", "value": 100}}"""));
        var transaction = new Tally.Events.TransactionEvent { EventId = "t", CreatedAt = Now, Transaction = new() { Total = 30m } };

        Assert.Equal([new CounterIncrement("spend", Now, 120m)], Evaluate(Order(), [rule]).CounterIncrements);
        Assert.Equal([new CounterIncrement("spend", Now, 30m)], Evaluate(transaction, [rule]).CounterIncrements);
        Assert.Single(Evaluate(transaction, [rule], facts: Counters((new("spend", null), 1, 70m))).Fired);
    }

    [Fact]
    public void Rules_sharing_a_filter_share_one_counter()
    {
        var a = Rule(RuleJson("order", """{"nth": 2}"""), "a");
        var b = Rule(RuleJson("order", """{"all": [{"everyNth": 5}, {"lifetimeValue": {"op": "gt", "value": 0}}]}"""), "b");
        var set = RuleSet.Build([a, b]);

        Assert.Equal([new CounterQuery("order", null)], set.FactsNeeded(Order(), Customer(), Now).Counters);
        Assert.Single(set.Evaluate(Order(), Customer(), RuleFacts.None, Now).CounterIncrements);
    }
}
