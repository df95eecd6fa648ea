using NodaTime;

namespace Tally.Ledger;

/// <summary>The figures of an account, as cached on the customer row or as they stood at an instant.</summary>
public sealed record Figures(long Balance, long Pending, long LifetimeEarned, long LifetimeRedeemed, long LifetimeExpired)
{
    public static Figures Of(Account a) => new(a.Balance, a.Pending, a.LifetimeEarned, a.LifetimeRedeemed, a.LifetimeExpired);
}

public sealed record ExpiringPoints(long Points, DateTimeOffset ExpiresAt);

/// <summary>The answer of <c>GET /customers/{id}/balance</c> (ledger.md).</summary>
public sealed record Statement(
    long Balance,
    long Pending,
    long LifetimeEarned,
    long LifetimeRedeemed,
    long Expired,
    IReadOnlyList<ExpiringPoints> Expiring,
    string? Tier,
    string? NextTier,
    decimal? PointsToNextTier);

/// <summary>Reads over an account's entries and lots: time travel, what expires soon, what the scheduler must do next.</summary>
public static class History
{
    /// <summary>The figures as the ledger stood at <paramref name="asOf"/>: the sums of the entries that had taken effect.</summary>
    public static Figures AsOf(IEnumerable<Entry> entries, DateTimeOffset asOf)
    {
        long balance = 0, pending = 0, earned = 0, redeemed = 0, expired = 0;
        foreach (var e in entries.Where(e => e.At <= asOf))
        {
            balance += e.Points;
            pending += e.PendingPoints;
            earned += e.Earned;
            redeemed += e.Redeemed;
            expired += e.Expired;
        }

        return new(balance, pending, earned, redeemed, expired);
    }

    /// <summary>
    /// The account as it stood at <paramref name="asOf"/>, from its <paramref name="entries"/> and the <paramref name="lots"/> they
    /// name: the figures are the sums of the entries that had taken effect, a lot's remaining the sum of its refs among them
    /// (a lot no such entry names did not exist yet), a lot was pending while its <c>availableAt</c> lay ahead, and the last
    /// earn is the latest earn, positive adjustment or transfer received, or, for a merge, the latest earn date of the lots it
    /// brought (the source's own last earn is not in this account's entries).
    /// </summary>
    public static Account AccountAsOf(Account current, IEnumerable<Entry> entries, IEnumerable<Lot> lots, DateTimeOffset asOf)
    {
        var taken = entries.Where(e => e.At <= asOf).ToList();
        var f = AsOf(taken, asOf);
        var remaining = new Dictionary<Guid, long>();
        foreach (var r in taken.SelectMany(e => e.Lots)) remaining[r.LotId] = remaining.GetValueOrDefault(r.LotId) + r.Points;
        var past = lots.Where(l => remaining.ContainsKey(l.LotId))
            .Select(l => l with { Remaining = remaining[l.LotId], IsPending = l.AvailableAt > asOf })
            .ToList();
        var byId = past.ToDictionary(l => l.LotId);

        DateTimeOffset? lastEarn = null;
        foreach (var e in taken)
        {
            DateTimeOffset? earn = e.Type switch
            {
                EntryType.Earn or EntryType.Adjustment when e.Earned > 0 => e.At,
                EntryType.TransferIn => e.At,
                EntryType.MergeIn => e.Lots.Select(r => byId.TryGetValue(r.LotId, out var l) ? l.EarnedAt : (DateTimeOffset?)null).Max(),
                _ => null,
            };
            if (earn is { } t && (lastEarn is null || t > lastEarn)) lastEarn = t;
        }

        return current with
        {
            Balance = f.Balance,
            Pending = f.Pending,
            LifetimeEarned = f.LifetimeEarned,
            LifetimeRedeemed = f.LifetimeRedeemed,
            LifetimeExpired = f.LifetimeExpired,
            LastEarnAt = lastEarn,
            Lots = past,
        };
    }

    /// <summary>
    /// The balance answer from the cached figures, the account's lots and the tier decided for the current
    /// measure. Pass the account as settled up to now (see <see cref="Movements.Settle"/>) when the scheduler may be behind.
    /// </summary>
    public static Statement Statement(Account account, ProgramSettings settings, DateTimeOffset now, TierDecision? tier = null) =>
        new(account.Balance, account.Pending, account.LifetimeEarned, account.LifetimeRedeemed, account.LifetimeExpired,
            Expiring(account, settings, now), tier?.Status.Tier, tier?.NextTier?.Name, tier?.ToNextTier);

    /// <summary>Spendable points that expire in (now, now + within], grouped by expiry, soonest first; within defaults to the reminder period.</summary>
    public static IReadOnlyList<ExpiringPoints> Expiring(Account account, ProgramSettings settings, DateTimeOffset now, Period? within = null)
    {
        var until = settings.Add(now, within ?? settings.ExpiryReminderBefore);
        var result = account.Lots
            .Where(l => l.Remaining > 0 && l.ExpiresAt > now && l.ExpiresAt <= until)
            .GroupBy(l => l.ExpiresAt!.Value)
            .Select(g => new ExpiringPoints(g.Sum(l => l.Remaining), g.Key))
            .ToList();

        // What no lot expiry takes earlier goes at the inactivity deadline.
        if (InactivityDeadline(account, settings) is { } deadline && deadline > now && deadline <= until)
        {
            var atDeadline = account.Lots.Where(l => !l.IsPending && (l.ExpiresAt is null || l.ExpiresAt > deadline)).Sum(l => l.Remaining);
            if (atDeadline > 0) result.Add(new(atDeadline, deadline));
        }

        return [.. result.GroupBy(r => r.ExpiresAt).Select(g => new ExpiringPoints(g.Sum(r => r.Points), g.Key)).OrderBy(r => r.ExpiresAt)];
    }

    /// <summary>
    /// The <c>pointsExpiryReminder</c> events whose reminder time falls in (from, to]: a scheduler that was
    /// down passes the whole window it missed, and each reminder comes out once. Ids are derived from the
    /// customer and expiry, so a window that overlaps a previous one yields duplicates the outbox rejects.
    /// </summary>
    public static IReadOnlyList<LedgerEvent> ExpiryReminders(Account account, ProgramSettings settings, DateTimeOffset from, DateTimeOffset to)
    {
        if (ProgramSettings.IsZero(settings.ExpiryReminderBefore)) return [];
        var due = Expiring(account, settings, from, Period.FromYears(1000))
            .Where(x => x.ExpiresAt > to)
            .Select(x => (x, RemindAt: settings.Subtract(x.ExpiresAt, settings.ExpiryReminderBefore)))
            .Where(r => r.RemindAt > from && r.RemindAt <= to);

        return
        [
            .. due.Select(r => new LedgerEvent
            {
                EventId = Ids.ForCustomer(account.CustomerId, "reminder", account.Ledger, r.x.ExpiresAt.ToUnixTimeMilliseconds().ToString(System.Globalization.CultureInfo.InvariantCulture)),
                Type = LoyaltyEventType.PointsExpiryReminder,
                CustomerId = account.CustomerId,
                Ledger = account.Ledger,
                At = r.RemindAt,
                Points = r.x.Points,
                BalanceAfter = account.Balance,
                ExpiresAt = r.x.ExpiresAt,
            }),
        ];
    }

    /// <summary>
    /// The next instant after <paramref name="after"/> at which something is due for this account (an
    /// activation, an expiry, an expiry reminder), for the scheduler's next-due column; null when nothing is.
    /// </summary>
    public static DateTimeOffset? NextDue(Account account, ProgramSettings settings, DateTimeOffset after)
    {
        var expiries = account.Lots.Where(l => l.Remaining > 0 && l.ExpiresAt is not null).Select(l => l.ExpiresAt!.Value).ToList();
        var spendable = account.Lots.Where(l => !l.IsPending).Sum(l => l.Remaining);
        if (InactivityDeadline(account, settings) is { } deadline && (spendable > 0 || account.Pending > 0)) expiries.Add(deadline);

        var times = account.Lots.Where(l => l.IsPending && l.Remaining > 0).Select(l => l.AvailableAt).Concat(expiries);
        if (!ProgramSettings.IsZero(settings.ExpiryReminderBefore))
            times = times.Concat(expiries.Select(t => settings.Subtract(t, settings.ExpiryReminderBefore)));

        var next = times.Where(t => t > after).DefaultIfEmpty(DateTimeOffset.MaxValue).Min();
        return next == DateTimeOffset.MaxValue ? null : next;
    }

    /// <summary>The due instant of an account with nothing ever due (kept as Unix milliseconds, so whole milliseconds).</summary>
    public static readonly DateTimeOffset Never = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.MaxValue.ToUnixTimeMilliseconds());

    /// <summary>
    /// Whether none of the account's lots can be due at <paramref name="now"/>, so that a movement which only credits (an
    /// award) or only reads the balance may be decided without them: <paramref name="settleDueAt"/> (a lower bound of
    /// every lot's activation, expiry and reminder time, null when unknown) lies ahead, and so does the inactivity
    /// deadline, the one due time that does not come from a lot.
    /// </summary>
    public static bool NothingDue(DateTimeOffset? settleDueAt, Account account, ProgramSettings settings, DateTimeOffset now) =>
        settleDueAt > now && !(InactivityDeadline(account, settings) <= now);

    /// <summary>
    /// The due instant an account keeps after a movement (the customer row's <c>settle_due_at</c>): <paramref name="next"/>,
    /// worked out over the lots the movement had, when it had every open lot; otherwise the earlier of that and the
    /// instant <paramref name="found"/> at load, which still bounds the lots it did not load. <see cref="Never"/> for none.
    /// </summary>
    public static DateTimeOffset KeptDue(DateTimeOffset? found, bool allLots, DateTimeOffset? next)
    {
        var due = next ?? Never;
        if (allLots) return due;
        var kept = found ?? throw new ArgumentException("A movement decided without the open lots found a due instant.", nameof(found));
        return kept < due ? kept : due;
    }

    private static DateTimeOffset? InactivityDeadline(Account a, ProgramSettings s) =>
        s.ExpiryMode == ExpiryMode.Inactivity && a.LastEarnAt is { } last ? s.Add(last, s.ExpiryAfter) : null;
}
