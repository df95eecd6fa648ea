using System.Globalization;

namespace Tally.Ledger;

/// <summary>
/// The tier kept on the customer row: the tier, when its period ends (null: never, under a lifetime
/// basis) and the period end a downgrade reminder was already sent for.
/// </summary>
public sealed record TierStatus(string? Tier, DateTimeOffset? PeriodEndsAt = null, DateTimeOffset? RemindedFor = null)
{
    public static TierStatus None { get; } = new((string?)null);
}

/// <summary>A tier decision: the status to store, the events for the outbox, and what the customer is working towards.</summary>
public sealed record TierDecision(TierStatus Status, IReadOnlyList<LedgerEvent> Events, Tier? NextTier, decimal? ToNextTier);

/// <summary>A spend that counts towards a spend-based tier (an order or transaction total).</summary>

public static class Tiers
{
    /// <summary>The highest tier whose threshold the measure reaches, or null below the first threshold.</summary>
    public static Tier? Qualifying(ProgramSettings settings, decimal measure) =>
        settings.Tiers.LastOrDefault(t => t.Threshold <= measure);

    /// <summary>Points earned (net of reversed awards) in the tier window ending at <paramref name="at"/>, or over the lifetime.</summary>
    public static decimal PointsMeasure(IEnumerable<Entry> entries, ProgramSettings settings, DateTimeOffset at)
    {
        var since = settings.TierPeriod is null ? DateTimeOffset.MinValue : settings.Subtract(at, settings.TierPeriod);
        return entries.Where(e => e.At > since && e.At <= at && e.Type is not (EntryType.MergeIn or EntryType.MergeOut)).Sum(e => e.Earned)
            + MergedLifetime(entries, since, at);
    }

    // A merge brings lifetime figures, not dated earns: it counts towards a lifetime basis only, because
    // the earns behind it cannot be placed in a rolling window from the entries.
    private static long MergedLifetime(IEnumerable<Entry> entries, DateTimeOffset since, DateTimeOffset at) =>
        since == DateTimeOffset.MinValue ? entries.Where(e => e.At <= at && e.Type is EntryType.MergeIn or EntryType.MergeOut).Sum(e => e.Earned) : 0;

    /// <summary>
    /// Decides the tier after a movement or at a due time. An upgrade takes effect at once and starts a new
    /// tier period; at the end of the period the tier is renewed when the measure still reaches it, otherwise
    /// the customer drops to the tier the measure reaches; <c>tierDowngradeBefore</c> ahead of the end, a
    /// reminder goes out when the measure would not keep the tier. Pass the measure over the window ending
    /// now (at a period end, ending at <see cref="TierStatus.PeriodEndsAt"/>).
    /// The first placement in a threshold-0 tier is not an upgrade: it is joining, and raises no event.
    /// Events carry <paramref name="balance"/> as their balance after, and the tier's new end as ExpiresAt
    /// (for a reminder: the end it warns about).
    /// </summary>
    public static TierDecision Decide(ProgramSettings settings, Guid customerId, TierStatus current, decimal measure, DateTimeOffset now,
        long balance = 0)
    {
        var tiers = settings.Tiers;
        if (tiers.Count == 0) return new(TierStatus.None, [], null, null);

        var events = new List<LedgerEvent>();
        var qualifying = Qualifying(settings, measure);
        var rank = Rank(settings, current.Tier);
        var reach = Rank(settings, qualifying?.Name);
        // Under a lifetime basis a tier never ends; a tier without an end under a rolling basis (the program
        // switched from lifetime) starts its first period now.
        var status = settings.TierPeriod is null ? current with { PeriodEndsAt = null, RemindedFor = null }
            : current.Tier is not null && current.PeriodEndsAt is null ? current with { PeriodEndsAt = End(settings, now) }
            : current;
        current = status;

        // Ids from the customer, the kind and the instant that makes it unique (the upgrade's time, the
        // period end), so the same decision taken twice yields one outbox row.
        LedgerEvent Event(LoyaltyEventType type, string? from, string? to, DateTimeOffset key, DateTimeOffset? until) => new()
        {
            EventId = Ids.ForCustomer(customerId, "tier", type.ToString(), key.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture)),
            Type = type,
            CustomerId = customerId,
            At = now,
            BalanceAfter = balance,
            TierFrom = from,
            TierTo = to,
            ExpiresAt = until,
        };

        if (reach > rank)
        {
            status = new(qualifying!.Name, End(settings, now));
            var joining = current.Tier is null && qualifying.Threshold == 0;
            if (!joining) events.Add(Event(LoyaltyEventType.TierUpgraded, current.Tier, qualifying.Name, now, status.PeriodEndsAt));
        }
        else if (current.PeriodEndsAt is { } end && now >= end)
        {
            // A scheduler that was down for whole periods catches up to the period containing now.
            var next = end;
            while (next <= now) next = End(settings, next)!.Value;
            if (reach >= rank)
            {
                status = new(current.Tier, next);
                events.Add(Event(LoyaltyEventType.TierRenewed, current.Tier, current.Tier, end, next));
            }
            else
            {
                status = new(qualifying?.Name, qualifying is null ? null : next);
                events.Add(Event(LoyaltyEventType.TierDowngraded, current.Tier, qualifying?.Name, end, status.PeriodEndsAt));
            }
        }
        else if (current.PeriodEndsAt is { } ends && current.RemindedFor != ends && reach < rank
            && !ProgramSettings.IsZero(settings.TierDowngradeReminderBefore)
            && now >= settings.Subtract(ends, settings.TierDowngradeReminderBefore))
        {
            status = current with { RemindedFor = ends };
            events.Add(Event(LoyaltyEventType.TierDowngradeReminder, current.Tier, qualifying?.Name, ends, ends));
        }

        var (nextTier, toNext) = Next(settings, status.Tier, measure);
        return new(status, events, nextTier, toNext);
    }

    /// <summary>The tier above <paramref name="tier"/> and what the measure lacks to reach it (null at the top).</summary>
    public static (Tier? Tier, decimal? ToReach) Next(ProgramSettings settings, string? tier, decimal measure)
    {
        var nextRank = Rank(settings, tier) + 1;
        var next = nextRank < settings.Tiers.Count ? settings.Tiers[nextRank] : null;
        return (next, next is null ? null : Math.Max(0, next.Threshold - measure));
    }

    /// <summary>When the scheduler must call <see cref="Decide"/> next: the downgrade reminder, else the period end.</summary>
    public static DateTimeOffset? NextDue(ProgramSettings settings, TierStatus status)
    {
        if (status.PeriodEndsAt is not { } end) return null;
        if (status.RemindedFor != end && !ProgramSettings.IsZero(settings.TierDowngradeReminderBefore))
            return settings.Subtract(end, settings.TierDowngradeReminderBefore);
        return end;
    }

    private static DateTimeOffset? End(ProgramSettings settings, DateTimeOffset start) =>
        settings.TierPeriod is null ? null : settings.Add(start, settings.TierPeriod);

    private static int Rank(ProgramSettings settings, string? tier)
    {
        if (tier is null) return -1;
        for (var i = 0; i < settings.Tiers.Count; i++)
        {
            if (string.Equals(settings.Tiers[i].Name, tier, StringComparison.OrdinalIgnoreCase)) return i;
        }

        return -1; // a tier since removed from the program ranks below all
    }
}
