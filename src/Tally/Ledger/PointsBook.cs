using Tally.Events;
using Tally.Rules;

namespace Tally.Ledger;

/// <summary>
/// The one door through which event processing moves points, inside the event's transaction. Rule outcomes
/// call it; how the points are kept (lots, pending, expiry) is the ledger's business behind it.
/// </summary>
public static class PointsBook
{
    /// <summary>
    /// Awards the points a rule decided. Idempotent by <paramref name="cause"/>'s key: a replay of the same
    /// outcome of the same event posts nothing and answers false.
    /// </summary>
    public static async Task<bool> EarnAsync(ProcessingContext ctx, Guid tenantId, Guid customerId, PointsDecision decision, Cause cause, CancellationToken ct)
    {
        if (decision.Points == 0) return false;
        if (await LedgerData.FindByIdempotencyKeyAsync(ctx.Connection, ctx.Tx, tenantId, cause.Key, ct) is not null) return false;
        await LedgerData.PostAsync(ctx.Connection, ctx.Tx, tenantId, customerId,
            new LedgerWrite("earn", decision.Points, EventId: cause.EventId is { } e ? Guid.Parse(e) : null, IdempotencyKey: cause.Key,
                Reason: decision.RuleName, RuleId: Guid.TryParse(decision.RuleId, out var rule) ? rule : null, RuleVersion: decision.RuleVersion),
            ctx.Now, ct);
        return true;
    }
}
