using System.Text.Json.Serialization;
using Tally.Customers;
using Tally.Events;

namespace Tally.Rules;

public sealed record BasketDiscount(string RuleId, string Type, string Code, decimal? Percent, decimal Amount, string AppliesTo);

/// <summary>The contract's basket answer: what this basket would earn and which discounts apply. Nothing is fulfilled.</summary>
public sealed record BasketAnswer(
    string? EventId,
    string? CustomerId,
    string? TenantId,
    long Points,
    IReadOnlyList<BasketDiscount> Discounts,
    IReadOnlyList<Decision> Outcomes,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<RuleTrace>? Trace);

public static class BasketAssessment
{
    public static BasketAnswer Assess(RuleSet rules, BasketEvent basket, Customer customer, RuleFacts facts, DateTimeOffset now, EvaluationOptions? options = null)
    {
        var evaluation = rules.Evaluate(basket, customer, facts, now, options);
        var decisions = evaluation.Decisions.ToList();
        return new(
            basket.EventId,
            basket.CustomerId ?? customer.CustomerId.ToString(),
            basket.TenantId ?? customer.TenantId.ToString(),
            decisions.OfType<PointsDecision>().Sum(p => p.Points),
            [.. decisions.OfType<VoucherDecision>().Select(v => new BasketDiscount(v.RuleId, "voucher", v.Code, v.Percent, v.DiscountAmount ?? 0m, v.AppliesTo))],
            decisions,
            evaluation.Trace);
    }
}
