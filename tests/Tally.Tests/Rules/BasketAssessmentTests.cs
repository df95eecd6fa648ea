using System.Text.Json;
using Tally.Events;
using Tally.Rules;
using static Tally.Tests.Rules.RuleTesting;

namespace Tally.Tests.Rules;

public class BasketAssessmentTests
{
    private static readonly BasketEvent Basket = Event<BasketEvent>("""
    {
      "eventId": "b1", "customerId": "22222222-2222-2222-2222-222222222222", "tenantId": "t-1", "nameSpace": "Checkout",
      "basket": {
        "basketTotal": 110.00, "shippingTotal": 10.00,
        "basketItems": [
          { "sku": "SHOE-1", "quantity": 2, "itemPrice": 30, "tags": ["shoes"] },
          { "sku": "HAT-1", "quantity": 1, "itemPrice": 40, "tags": ["hats"] }
        ]
      }
    }
    """);

    private static BasketAnswer Assess(params string[] outcomesPerRule) =>
        BasketAssessment.Assess(
            RuleSet.Build(outcomesPerRule.Select((o, i) => Rule(RuleJson("basket", outcomes: o), $"r{i}"))),
            Basket, Customer(), RuleFacts.None, Now);

    [Theory]
    [InlineData("""{"percent": 10}""", "basket", 10.00)]
    [InlineData("""{"percent": 12.5}""", "basket", 12.50)]
    [InlineData("""{"percent": 33.333}""", "basket", 33.33)]
    [InlineData("""{"amount": 15}""", "basket", 15.00)]
    [InlineData("""{"amount": 500}""", "basket", 100.00)]
    [InlineData("""{"percent": 50}""", "shipping", 5.00)]
    [InlineData("""{"amount": 25}""", "shipping", 10.00)]
    [InlineData("""{"percent": 10}""", "items", 10.00)]
    public void A_voucher_discount_is_computed_from_what_it_applies_to(string discount, string appliesTo, double amount)
    {
        var answer = Assess($$"""[{"type": "voucher", "discount": {{discount}}, "appliesTo": "{{appliesTo}}", "code": "SAVE-####"}]""");

        var d = Assert.Single(answer.Discounts);
        Assert.Equal((decimal)amount, d.Amount);
        Assert.Equal(appliesTo, d.AppliesTo);
        Assert.Equal("voucher", d.Type);
        Assert.Matches(@"^SAVE-\d{4}$", d.Code);
    }

    [Fact]
    public void An_items_voucher_discounts_only_the_lines_its_item_conditions_match()
    {
        var rule = Rule(RuleJson("basket", """{"item": {"field": "category", "op": "contains", "value": "shoes"}}""",
            """[{"type": "voucher", "discount": {"percent": 50}, "appliesTo": "items"}]"""));

        var answer = BasketAssessment.Assess(RuleSet.Build([rule]), Basket, Customer(), RuleFacts.None, Now);

        Assert.Equal(30.00m, Assert.Single(answer.Discounts).Amount);
    }

    [Fact]
    public void The_answer_sums_potential_points_and_lists_every_outcome_without_fulfilling_anything()
    {
        var answer = Assess(
            """[{"type": "points", "points": 20}]""",
            """[{"type": "pointsRate", "rate": 1, "of": "basket.total"}, {"type": "voucher", "discount": {"amount": 5}}]""");

        Assert.Equal("b1", answer.EventId);
        Assert.Equal("22222222-2222-2222-2222-222222222222", answer.CustomerId);
        Assert.Equal("t-1", answer.TenantId);
        Assert.Equal(130, answer.Points);
        Assert.Equal(3, answer.Outcomes.Count);
        Assert.Null(answer.Trace);
        Assert.Empty(RuleSet.Build([Rule(RuleJson("basket"))]).Evaluate(Basket, Customer(), RuleFacts.None, Now).CounterIncrements);
    }

    [Fact]
    public void The_answer_serialises_in_the_contract_shape()
    {
        var json = JsonSerializer.Serialize(Assess("""[{"type": "voucher", "discount": {"percent": 10}}]"""), new JsonSerializerOptions(JsonSerializerDefaults.Web));
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;

        Assert.Equal(10.00m, root.GetProperty("discounts")[0].GetProperty("amount").GetDecimal());
        Assert.Equal("voucher", root.GetProperty("outcomes")[0].GetProperty("type").GetString());
        Assert.Equal("r0", root.GetProperty("outcomes")[0].GetProperty("ruleId").GetString());
        Assert.Equal("test rule", root.GetProperty("outcomes")[0].GetProperty("ruleName").GetString());
        Assert.False(root.TryGetProperty("trace", out _));
    }

    [Fact]
    public void A_traced_assessment_explains_each_rule()
    {
        var rules = RuleSet.Build([Rule(RuleJson("basket", """{"field": "basket.total", "op": "gt", "value": 500}"""))]);
        var answer = BasketAssessment.Assess(rules, Basket, Customer(), RuleFacts.None, Now, new() { Trace = true });

        var trace = Assert.Single(answer.Trace!);
        Assert.False(trace.Matched);
        Assert.Equal(new ConditionTrace("basket.total", "gt 500", 110.00m, false), Assert.Single(trace.Conditions));
    }
}
