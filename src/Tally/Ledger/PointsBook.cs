using NodaTime;
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
    /// Under a spend basis, an order or card transaction moves the tier's measure without moving points: the tier is decided
    /// after it (an upgrade takes effect at once, ledger.md) and written only when it changed, settling first what fell due as
    /// any movement does. An award the event's rules made has already decided it on the same measure, so this writes nothing then.
    /// </summary>
    public static async Task DecideSpendTierAsync(ProcessingContext ctx, Guid tenantId, Guid customerId, string eventId, CancellationToken ct)
    {
        var (c, tx, now) = (ctx.Connection, ctx.Tx, ctx.Now);
        var (settings, _) = await LedgerStore.SettingsAsync(c, tx, tenantId, ct);
        if (!LedgerStore.MeasuresSpend(settings)) return;
        var loaded = await LedgerStore.LoadLotsIfDueAsync(c, tx, tenantId, customerId, ctx.Db.ForUpdate, settings, now, ct);
        if (loaded is null || loaded.Account.IsClosed) return;
        var tier = await LedgerStore.DecideTierAsync(c, tx, tenantId, loaded.Tier, loaded.Account, settings, now, ct);
        if (tier.Status == loaded.Tier) return;
        var posting = Movements.Settle(loaded.Account, settings, Cause.Schedule($"tier:{eventId}"), now);
        await LedgerStore.SaveAsync(c, tx, tenantId, loaded, posting, settings, now, ct);
    }

    /// <summary>
    /// Awards the points a rule decided. Idempotent by <paramref name="cause"/>'s key: a replay of the same
    /// outcome of the same event posts nothing and answers false.
    /// </summary>
    public static async Task<bool> EarnAsync(ProcessingContext ctx, Guid tenantId, Guid customerId, PointsDecision decision, Cause cause, CancellationToken ct)
    {
        var causedByPoints = await LedgerStore.IsPointsEventAsync(ctx.Connection, ctx.Tx, tenantId, cause.EventId, ct);
        return await EarnAllAsync(ctx, tenantId, customerId, [(decision, cause)], causedByPoints, ct) > 0;
    }

    /// <summary>
    /// Awards every points decision of one event, in order, with one account load, one claim of their keys and one
    /// save: the same rows as awarding them one by one (each award is decided on the account the previous one left),
    /// at a fraction of the statements. Idempotent per cause's key: a replayed award posts nothing. Answers how many
    /// awards were posted. <paramref name="causedByPointsEvent"/>: the event is a <c>points</c> event, so the awards
    /// queue no new one (points rules cannot loop). <paramref name="assessedOnce"/>: the caller's transaction already
    /// guarantees these causes are applied once (the worker's assessment mark, <see cref="Rules.RuleState"/>'s trace, commits
    /// with them), so no movement keys are recorded: one random index entry less per award. The entries' unique key on
    /// (customer, movement, place) still refuses a second posting.
    /// </summary>
    public static async Task<int> EarnAllAsync(ProcessingContext ctx, Guid tenantId, Guid customerId, IReadOnlyList<(PointsDecision Decision, Cause Cause)> awards,
        bool causedByPointsEvent, CancellationToken ct, bool assessedOnce = false)
    {
        var wanted = awards.Where(x => x.Decision.Points > 0).ToList();
        if (wanted.Count == 0) return 0;
        var (c, tx, now) = (ctx.Connection, ctx.Tx, ctx.Now);
        var (settings, _) = await LedgerStore.SettingsAsync(c, tx, tenantId, ct);
        // An award only credits: unless something of the account is due, its open lots are not needed (docs/ledger.md).
        var loaded = await LedgerStore.LoadLotsIfDueAsync(c, tx, tenantId, customerId, ctx.Db.ForUpdate, settings, now, ct)
            ?? throw new InvalidOperationException($"Customer {customerId} does not exist");
        var claimed = assessedOnce
            ? wanted.Select(x => x.Cause.Key).ToHashSet(StringComparer.Ordinal)
            : await LedgerStore.ClaimAllAsync(c, tx, tenantId, [.. wanted.Select(x => x.Cause.Key)], customerId, now, ct);
        if (claimed.Count == 0) return 0;

        var steps = new List<Posting>(claimed.Count);
        var account = loaded.Account;
        foreach (var (decision, cause) in wanted)
        {
            if (!claimed.Contains(cause.Key)) continue;
            // An outcome's own dates win over the program's; absolute instants become periods in the program's zone.
            var expiresAfter = decision.ExpiresAfter is { } ea ? ProgramSettings.ParsePeriod(ea) : decision.ExpiresAt is { } at ? Between(settings, now, at) : null;
            var pendingFor = decision.PendingFor is { } pf ? ProgramSettings.ParsePeriod(pf) : decision.PendingUntil is { } pu ? Between(settings, now, pu) : null;
            if (Movements.Earn(account, settings, decision.Points, cause, now, expiresAfter, pendingFor, decision.RuleName) is not Accepted<Posting> accepted)
                continue; // a closed (merged) account earns nothing, nor one whose figures the award would overflow
            steps.Add(accepted.Value);
            account = accepted.Value.Account;
        }

        if (steps.Count == 0) return 0;
        await LedgerStore.SaveChainAsync(c, tx, tenantId, loaded, steps, settings, now, ct, queuePoints: !causedByPointsEvent);
        return steps.Count;
    }

    /// <summary>
    /// The <c>expirePoints</c> outcome: expires the spendable points earned at least <c>olderThan</c> ago, or
    /// before <c>earnedBefore</c>, or all of them. Idempotent by the cause's key; false on a replay.
    /// </summary>
    public static async Task<bool> ExpireAsync(ProcessingContext ctx, Guid tenantId, Guid customerId, ExpirePointsDecision decision, Cause cause, CancellationToken ct)
    {
        var (c, tx, now) = (ctx.Connection, ctx.Tx, ctx.Now);
        var loaded = await LedgerStore.LoadAsync(c, tx, tenantId, customerId, ctx.Db.ForUpdate, ct)
            ?? throw new InvalidOperationException($"Customer {customerId} does not exist");
        if (!await LedgerStore.ClaimAsync(c, tx, tenantId, cause.Key, customerId, now, ct)) return false;
        var (settings, _) = await LedgerStore.SettingsAsync(c, tx, tenantId, ct);
        var olderThan = decision.OlderThan is { } o ? ProgramSettings.ParsePeriod(o)
            : decision.EarnedBefore is { } before && before < now ? Between(settings, before, now)
            : null;
        var posting = Movements.ExpireOlderThan(loaded.Account, settings, olderThan, cause, now);
        if (posting.IsEmpty) return true;
        var queuePoints = !await LedgerStore.IsPointsEventAsync(c, tx, tenantId, cause.EventId, ct);
        await LedgerStore.SaveAsync(c, tx, tenantId, loaded, posting, settings, now, ct, queuePoints: queuePoints);
        return true;
    }

    /// <summary>
    /// Applies an accepted redemption: spends the points that expire first and releases the promise
    /// (reserved_points) made when it was accepted. If the points are no longer there (they expired between
    /// acceptance and application) the promise is released and nothing is spent: the answer is then why, for the
    /// event's error. Null when it was spent, now or by an earlier run.
    /// </summary>
    public static async Task<string?> RedeemAsync(ProcessingContext ctx, Guid tenantId, Guid customerId, Guid eventId, long quantity, string? reason, CancellationToken ct)
    {
        var (c, tx, now) = (ctx.Connection, ctx.Tx, ctx.Now);
        var loaded = await LedgerStore.LoadAsync(c, tx, tenantId, customerId, ctx.Db.ForUpdate, ct)
            ?? throw new InvalidOperationException($"Customer {customerId} does not exist");
        var cause = new Cause(RedeemKey(eventId), eventId.ToString());
        if (!await LedgerStore.ClaimAsync(c, tx, tenantId, cause.Key, customerId, now, ct)) return null;
        var (settings, _) = await LedgerStore.SettingsAsync(c, tx, tenantId, ct);

        // The redemption was accepted against the then balance: a lock set since does not undo it.
        switch (Movements.Redeem(loaded.Account with { IsLocked = false }, settings, quantity, cause, now, reason))
        {
            case Accepted<Posting> accepted:
                await LedgerStore.SaveAsync(c, tx, tenantId, loaded, accepted.Value, settings, now, ct, reservedDelta: -quantity);
                return null;
            case Refused<Posting> refused:
                var settled = Movements.Settle(loaded.Account, settings, cause, now);
                await LedgerStore.SaveAsync(c, tx, tenantId, loaded, settled, settings, now, ct, reservedDelta: -quantity);
                return $"not applied, nothing spent: {refused.Message}";
            default:
                throw new InvalidOperationException("A redemption is accepted or refused.");
        }
    }

    /// <summary>The movement key of a redemption: its event, so a replay claims the same movement.</summary>
    public static string RedeemKey(Guid eventId) => $"redeem:{eventId}";

    private static Period Between(ProgramSettings settings, DateTimeOffset from, DateTimeOffset to)
    {
        if (to <= from) return Period.Zero;
        var zone = settings.TimeZone;
        return Period.Between(Instant.FromDateTimeOffset(from).InZone(zone).LocalDateTime, Instant.FromDateTimeOffset(to).InZone(zone).LocalDateTime);
    }
}
