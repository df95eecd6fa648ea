using System.Globalization;

namespace Tally.Ledger;

/// <summary>
/// The working copy of one account while a movement is decided: every change goes through
/// <see cref="Post"/> so that figures, entries and lots cannot drift apart. Not shared, not reused.
/// </summary>
internal sealed class Draft
{
    private readonly ProgramSettings settings;
    private readonly Cause cause;
    private readonly DateTimeOffset now;
    private readonly List<Lot> lots;
    private readonly HashSet<Guid> created = [];
    private readonly HashSet<Guid> changed = [];
    private readonly List<Entry> entries = [];
    private readonly List<LedgerEvent> events = [];
    private Account account;
    private DateTimeOffset lastAt = DateTimeOffset.MinValue;
    private int lotCount;

    public Draft(Account account, ProgramSettings settings, Cause cause, DateTimeOffset now)
    {
        this.account = account;
        this.settings = settings;
        this.cause = cause;
        this.now = now;
        lots = [.. account.Lots];
    }

    public Account Account => account;
    public long Spendable => lots.Where(l => !l.IsPending).Sum(l => l.Remaining);

    public Lot Get(Guid lotId) =>
        lots.Find(l => l.LotId == lotId)
        ?? throw new ArgumentException($"Lot {lotId} was not loaded with the account.", nameof(lotId));

    public void Put(Lot lot)
    {
        var i = lots.FindIndex(l => l.LotId == lot.LotId);
        lots[i] = lot;
        if (!created.Contains(lot.LotId)) changed.Add(lot.LotId);
    }

    public void Update(Func<Account, Account> change) => account = change(account);

    public Lot NewLot(long points, DateTimeOffset availableAt, DateTimeOffset? expiresAt, DateTimeOffset? earnedAt = null,
        Guid? fromLotId = null, string? sourceEventId = null)
    {
        var lot = new Lot
        {
            LotId = Ids.ForCustomer(account.CustomerId, cause.Key, account.Ledger, "lot", (lotCount++).ToString(CultureInfo.InvariantCulture)),
            CustomerId = account.CustomerId,
            Ledger = account.Ledger,
            Points = points,
            Remaining = points,
            EarnedAt = earnedAt ?? now,
            AvailableAt = availableAt,
            IsPending = availableAt > now,
            ExpiresAt = expiresAt,
            SourceKey = cause.Key,
            SourceEventId = sourceEventId ?? cause.EventId,
            FromLotId = fromLotId,
        };
        lots.Add(lot);
        created.Add(lot.LotId);
        return lot;
    }

    /// <summary>Spendable lots in the order they are spent: the points that expire first, then the oldest.</summary>
    public IEnumerable<Lot> SpendOrder() =>
        lots.Where(l => !l.IsPending && l.Remaining > 0)
            .OrderBy(l => l.ExpiresAt ?? DateTimeOffset.MaxValue)
            .ThenBy(l => l.EarnedAt)
            .ThenBy(l => l.LotId)
            .ToList();

    /// <summary>Takes up to <paramref name="points"/> from the spendable lots; the refs say how much from which.</summary>
    public List<LotRef> Take(long points)
    {
        var refs = new List<LotRef>();
        foreach (var lot in SpendOrder())
        {
            if (points == 0) break;
            var x = Math.Min(points, lot.Remaining);
            refs.Add(TakeFrom(lot, x));
            points -= x;
        }

        return refs;
    }

    public LotRef TakeFrom(Lot lot, long points)
    {
        Put(lot with { Remaining = lot.Remaining - points });
        return new(lot.LotId, -points);
    }

    public LotRef GiveTo(Lot lot, long points)
    {
        Put(lot with { Remaining = lot.Remaining + points });
        return new(lot.LotId, points);
    }

    public Entry Post(EntryType type, long points, long pending = 0, long earned = 0, long redeemed = 0, long expired = 0,
        long unrecovered = 0, IReadOnlyList<LotRef>? refs = null, DateTimeOffset? at = null, string? reason = null,
        Guid? counterparty = null, Guid? reverses = null)
    {
        account = account with
        {
            Balance = account.Balance + points,
            Pending = account.Pending + pending,
            LifetimeEarned = account.LifetimeEarned + earned,
            LifetimeRedeemed = account.LifetimeRedeemed + redeemed,
            LifetimeExpired = account.LifetimeExpired + expired,
        };

        // Late postings (a scheduler that was down) keep their due time, but never go back before an
        // entry this movement already posted, so the order of At matches the order of BalanceAfter.
        var when = Max(at ?? now, lastAt);
        lastAt = when;
        var entry = new Entry
        {
            EntryId = Ids.ForCustomer(account.CustomerId, cause.Key, account.Ledger, "entry", entries.Count.ToString(CultureInfo.InvariantCulture)),
            CustomerId = account.CustomerId,
            Ledger = account.Ledger,
            Type = type,
            At = when,
            Points = points,
            PendingPoints = pending,
            BalanceAfter = account.Balance,
            PendingAfter = account.Pending,
            Earned = earned,
            Redeemed = redeemed,
            Expired = expired,
            Unrecovered = unrecovered,
            MovementKey = cause.Key,
            Seq = entries.Count,
            EventId = cause.EventId,
            Rule = cause.Rule,
            RequestKey = cause.RequestKey,
            Reason = reason,
            CounterpartyId = counterparty,
            ReversesEntryId = reverses,
            Lots = refs ?? [],
        };
        entries.Add(entry);
        return entry;
    }

    public void Emit(LoyaltyEventType type, long points, DateTimeOffset? expiresAt = null, Guid? counterparty = null,
        string? reason = null, long unrecovered = 0, DateTimeOffset? at = null)
    {
        events.Add(new LedgerEvent
        {
            EventId = Ids.ForCustomer(account.CustomerId, cause.Key, account.Ledger, "event", events.Count.ToString(CultureInfo.InvariantCulture)),
            Type = type,
            CustomerId = account.CustomerId,
            Ledger = account.Ledger,
            At = at ?? now,
            Points = points,
            BalanceAfter = account.Balance,
            Unrecovered = unrecovered,
            ExpiresAt = expiresAt,
            Rule = cause.Rule,
            CausingEventId = cause.EventId,
            RequestKey = cause.RequestKey,
            CounterpartyId = counterparty,
            Reason = reason,
        });
    }

    /// <summary>
    /// Keeps the invariant "active lots hold max(balance, 0)": points credited while the balance is
    /// negative first pay the debt, taken from the lots just credited (recorded on the last entry).
    /// </summary>
    public void PayDebt()
    {
        var excess = Spendable - Math.Max(account.Balance, 0);
        if (excess <= 0) return;
        var refs = Take(excess);
        var last = entries[^1];
        entries[^1] = last with { Lots = [.. last.Lots, .. refs] };
    }

    /// <summary>Posts what fell due by now, in time order: pending lots becoming spendable, and expiries.</summary>
    public void Settle()
    {
        while (true)
        {
            var activation = lots.Where(l => l.IsPending && l.AvailableAt <= now).MinBy(l => l.AvailableAt);
            var aging = lots.Where(l => l.Remaining > 0 && l.ExpiresAt <= now).MinBy(l => l.ExpiresAt);
            var deadline = InactivityDeadline();
            var inactivity = deadline <= now && Spendable > 0 ? deadline : null;

            var next = new[] { activation?.AvailableAt, aging?.ExpiresAt, inactivity }.Where(t => t is not null).Min();
            if (next is null) return;

            if (activation is not null && activation.AvailableAt == next) Activate(activation);
            else if (aging is not null && aging.ExpiresAt == next) Expire(aging, next.Value, aging.ExpiresAt);
            else ExpireAll(next.Value, deadline);
        }
    }

    public DateTimeOffset? InactivityDeadline() =>
        settings.ExpiryMode == ExpiryMode.Inactivity && account.LastEarnAt is { } last
            ? settings.Add(last, settings.ExpiryAfter)
            : null;

    private void Activate(Lot lot)
    {
        Put(lot with { IsPending = false });
        if (lot.Remaining == 0) return; // reversed while pending: nothing turns spendable
        Post(EntryType.Activate, lot.Remaining, pending: -lot.Remaining, refs: [new(lot.LotId, 0)], at: lot.AvailableAt);
        PayDebt();
        Emit(LoyaltyEventType.PromisedToCurrentPointsConversion, lot.Remaining, lot.ExpiresAt);
    }

    public void Expire(Lot lot, DateTimeOffset at, DateTimeOffset? expiresAt, string? reason = null)
    {
        var x = lot.Remaining;
        var r = TakeFrom(lot, x);
        var expired = Get(lot.LotId);
        Put(expired with { Expired = expired.Expired + x });
        if (lot.IsPending) Post(EntryType.Expire, 0, pending: -x, expired: x, refs: [r], at: at, reason: reason);
        else Post(EntryType.Expire, -x, expired: x, refs: [r], at: at, reason: reason);
        Emit(LoyaltyEventType.PointsExpired, x, expiresAt, reason: reason);
    }

    private void ExpireAll(DateTimeOffset at, DateTimeOffset? deadline)
    {
        var x = Spendable;
        var refs = Take(x);
        foreach (var r in refs)
        {
            var lot = Get(r.LotId);
            Put(lot with { Expired = lot.Expired - r.Points });
        }
        Post(EntryType.Expire, -x, expired: x, refs: refs, at: at, reason: "inactivity");
        Emit(LoyaltyEventType.PointsExpired, x, deadline, reason: "inactivity");
    }

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    public Posting ToPosting()
    {
        var final = account with { Lots = [.. lots] };
        return new(
            final,
            [.. entries],
            [.. lots.Where(l => created.Contains(l.LotId))],
            [.. lots.Where(l => changed.Contains(l.LotId))],
            [.. events]);
    }
}
