using NodaTime;

namespace Tally.Ledger;

/// <summary>
/// The ledger's decisions: account state, settings, a cause and the time in; a <see cref="Posting"/> out.
/// Every movement first posts what fell due by <c>now</c> (activations, expiries), so a movement never
/// spends points that should already have expired, even when the scheduler is behind.
/// </summary>
public static class Movements
{
    /// <summary>
    /// The most points one movement may carry (an award, an adjustment, a transfer, a redemption): 10^15. Larger input is a
    /// 400 (an outcome that would award more is skipped); with it, no balance comes near the 64-bit limit in practice, and a
    /// credit, transfer or merge that would still take a figure past it is refused (<see cref="Refusal.PointsOverflow"/>), never wrapped.
    /// </summary>
    public const long MaxPoints = 1_000_000_000_000_000;

    public const string TooManyPoints = "At most 1000000000000000 (10^15) points.";

    /// <summary>Whether crediting <paramref name="points"/> would take a figure of the account past what 64 bits hold.</summary>
    private static bool WouldOverflow(Account a, long points) =>
        (Int128)a.Balance + a.Pending + points > long.MaxValue || (Int128)a.LifetimeEarned + points > long.MaxValue;

    private static Refused<T> Overflow<T>(Account a, long points) =>
        new(Refusal.PointsOverflow, $"{points} more points would take the figures of account {a.CustomerId} past what the ledger holds.");

    /// <summary>An award (an outcome): a new lot, pending until <c>now + pendingFor</c>.</summary>
    public static Decision<Posting> Earn(Account account, ProgramSettings settings, long points, Cause cause, DateTimeOffset now,
        Period? expiresAfter = null, Period? pendingFor = null, string? reason = null) =>
        Credit(account, settings, points, cause, now, expiresAfter, pendingFor ?? settings.PendingFor, reason, manual: false);

    /// <summary>
    /// A manual adjustment: positive creates a lot spendable at once; negative spends like a redemption
    /// (locks do not apply: this is the operator's tool) and is refused when the balance does not cover it
    /// unless <paramref name="allowNegative"/>, which lets the balance go below zero.
    /// </summary>
    public static Decision<Posting> Adjust(Account account, ProgramSettings settings, long points, Cause cause, DateTimeOffset now,
        string? reason = null, bool allowNegative = false)
    {
        if (points == 0) throw new ArgumentOutOfRangeException(nameof(points), "An adjustment moves at least one point.");
        if (points > 0) return Credit(account, settings, points, cause, now, null, Period.Zero, reason, manual: true);
        if (account.IsClosed) return Closed<Posting>(account);

        var d = new Draft(account, settings, cause, now);
        d.Settle();
        var want = -points;
        if (d.Account.Balance < want && !allowNegative) return Short<Posting>(d.Account.Balance, want);

        var refs = d.Take(want);
        d.Post(EntryType.Adjustment, points, refs: refs, reason: reason);
        d.Emit(LoyaltyEventType.ManualPointsAdjustment, points, reason: reason);
        return new Accepted<Posting>(d.ToPosting());
    }

    private static Decision<Posting> Credit(Account account, ProgramSettings settings, long points, Cause cause, DateTimeOffset now,
        Period? expiresAfter, Period pendingFor, string? reason, bool manual)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(points);
        if (account.IsClosed) return Closed<Posting>(account);
        if (WouldOverflow(account, points)) return Overflow<Posting>(account, points);

        var d = new Draft(account, settings, cause, now);
        d.Settle();

        // An outcome's own expiresAfter wins over the program, even where the program does not age points.
        DateTimeOffset? expiresAt = expiresAfter is not null ? settings.Add(now, expiresAfter)
            : settings.ExpiryMode == ExpiryMode.Aging ? settings.Add(now, settings.ExpiryAfter)
            : null;
        var lot = d.NewLot(points, settings.Add(now, pendingFor), expiresAt);
        var type = manual ? EntryType.Adjustment : EntryType.Earn;
        d.Update(a => a with { LastEarnAt = now });
        if (lot.IsPending) d.Post(type, 0, pending: points, earned: points, refs: [new(lot.LotId, points)], reason: reason);
        else d.Post(type, points, earned: points, refs: [new(lot.LotId, points)], reason: reason);
        d.PayDebt();
        d.Emit(manual ? LoyaltyEventType.ManualPointsAdjustment : LoyaltyEventType.PointsIssued, points, expiresAt, reason: reason);
        return new Accepted<Posting>(d.ToPosting());
    }

    /// <summary>Spends <paramref name="points"/>, those that expire first, then the oldest.</summary>
    public static Decision<Posting> Redeem(Account account, ProgramSettings settings, long points, Cause cause, DateTimeOffset now,
        string? reason = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(points);
        if (account.IsClosed) return Closed<Posting>(account);
        if (account.IsLocked) return new Refused<Posting>(Refusal.AccountLocked, $"Account {account.CustomerId} is locked.");

        var d = new Draft(account, settings, cause, now);
        d.Settle();
        if (d.Account.Balance < points) return Short<Posting>(d.Account.Balance, points);

        var refs = d.Take(points);
        d.Post(EntryType.Redeem, -points, redeemed: points, refs: refs, reason: reason);
        d.Emit(LoyaltyEventType.PointsRedeemed, points, reason: reason);
        return new Accepted<Posting>(d.ToPosting());
    }

    /// <summary>
    /// The scheduler's call: posts the activations (pending → spendable) and expiries (aging lots, or the
    /// whole balance after inactivity) due by now. An empty posting when nothing was due.
    /// </summary>
    public static Posting Settle(Account account, ProgramSettings settings, Cause cause, DateTimeOffset now)
    {
        var d = new Draft(account, settings, cause, now);
        d.Settle();
        return d.ToPosting();
    }

    /// <summary>The <c>expirePoints</c> outcome: expires the spendable points earned at least <paramref name="olderThan"/> ago (all when null).</summary>
    public static Posting ExpireOlderThan(Account account, ProgramSettings settings, Period? olderThan, Cause cause, DateTimeOffset now)
    {
        var d = new Draft(account, settings, cause, now);
        d.Settle();
        var cutoff = olderThan is null ? now : settings.Subtract(now, olderThan);
        foreach (var lot in d.SpendOrder().Where(l => l.EarnedAt <= cutoff))
            d.Expire(lot, now, lot.ExpiresAt, reason: "expirePoints");
        return d.ToPosting();
    }

    /// <summary>
    /// Reverses an award, all of it or <paramref name="points"/> of it (a refund). The points come back from
    /// the award's own lots first; those of its points that expired need no taking back; the rest was spent,
    /// and comes from the other spendable lots, then makes the balance negative under <c>allow</c> or is
    /// recorded as unrecovered under <c>clamp</c>.
    /// </summary>
    /// <param name="awardLotIds">The lots the award created, loaded with the account even when spent.</param>
    public static Decision<Posting> ReverseAward(Account account, ProgramSettings settings, IReadOnlyList<Guid> awardLotIds, long? points,
        Cause cause, DateTimeOffset now, string? reason = null)
    {
        if (account.IsClosed) return Closed<Posting>(account);
        var d = new Draft(account, settings, cause, now);
        var reversible = awardLotIds.Sum(id => d.Get(id).Points - d.Get(id).Reversed);
        if (reversible == 0) return new Refused<Posting>(Refusal.NothingToReverse, "The award has been reversed already.");
        var want = points ?? reversible;
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(want, nameof(points));
        if (want > reversible)
            return new Refused<Posting>(Refusal.ExceedsAward, $"Only {reversible} points of the award are left to reverse, not {want}.");

        d.Settle();
        var refs = new List<LotRef>();
        long fromBalance = 0, fromPending = 0, toMark = want, left = want;
        foreach (var id in awardLotIds)
        {
            var lot = d.Get(id);
            var mark = Math.Min(toMark, lot.Points - lot.Reversed);
            toMark -= mark;
            var x = Math.Min(left, lot.Remaining);
            left -= x;
            var expired = Math.Min(left, lot.Expired);
            left -= expired;
            if (lot.IsPending) fromPending += x;
            else fromBalance += x;
            d.Put(lot with { Reversed = lot.Reversed + mark, Remaining = lot.Remaining - x, Expired = lot.Expired - expired });
            if (x > 0) refs.Add(new(lot.LotId, -x));
        }

        var others = d.Take(left);
        refs.AddRange(others);
        var taken = others.Sum(r => -r.Points);
        fromBalance += taken;
        left -= taken;

        var allow = settings.NegativeBalance == NegativeBalance.Allow;
        var unrecovered = allow ? 0 : left;
        d.Post(EntryType.Reversal, -fromBalance - (allow ? left : 0), pending: -fromPending, earned: -want, unrecovered: unrecovered,
            refs: refs, reason: reason);
        d.Emit(LoyaltyEventType.IssuedPointsReversed, want, reason: reason, unrecovered: unrecovered);
        return new Accepted<Posting>(d.ToPosting());
    }

    /// <summary>
    /// Gives back a redemption, all of it or <paramref name="points"/> of it. The points return to the lots
    /// they were taken from, with their original expiry (a reversal must not extend the life of points);
    /// the latest-expiring first. Points whose lot has expired meanwhile expire again at once.
    /// </summary>
    /// <param name="redemption">The redeem entry; its lots must be loaded with the account.</param>
    /// <param name="earlierReversals">The redemption_reversal entries already posted for it.</param>
    public static Decision<Posting> ReverseRedemption(Account account, ProgramSettings settings, Entry redemption,
        IReadOnlyList<Entry> earlierReversals, long? points, Cause cause, DateTimeOffset now, string? reason = null)
    {
        if (redemption.Type != EntryType.Redeem) throw new ArgumentException("Not a redeem entry.", nameof(redemption));
        if (account.IsClosed) return Closed<Posting>(account);

        // Only the positive refs of earlier reversals are give-backs: a negative one there paid a debt.
        var returnable = redemption.Lots
            .Select(r => (r.LotId, Points: -r.Points))
            .Concat(earlierReversals.Where(e => e.ReversesEntryId == redemption.EntryId).SelectMany(e => e.Lots)
                .Where(r => r.Points > 0).Select(r => (r.LotId, Points: -r.Points)))
            .GroupBy(r => r.LotId)
            .Select(g => (LotId: g.Key, Points: g.Sum(r => r.Points)))
            .ToList();
        var total = returnable.Sum(r => r.Points);
        if (total == 0) return new Refused<Posting>(Refusal.NothingToReverse, "The redemption has been reversed already.");
        var want = points ?? total;
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(want, nameof(points));
        if (want > total) return new Refused<Posting>(Refusal.ExceedsAward, $"Only {total} points of the redemption are left to give back, not {want}.");

        var d = new Draft(account, settings, cause, now);
        d.Settle();
        var refs = new List<LotRef>();
        var left = want;
        for (var i = returnable.Count - 1; i >= 0 && left > 0; i--)
        {
            var x = Math.Min(left, returnable[i].Points);
            if (x == 0) continue;
            refs.Add(d.GiveTo(d.Get(returnable[i].LotId), x));
            left -= x;
        }

        d.Post(EntryType.RedemptionReversal, want, redeemed: -want, refs: refs, reason: reason, reverses: redemption.EntryId);
        d.PayDebt();
        d.Emit(LoyaltyEventType.RedeemedPointsReversed, want, reason: reason);
        d.Settle();
        return new Accepted<Posting>(d.ToPosting());
    }

    /// <summary>
    /// Moves points between two customers' same-named ledgers: both sides or neither. The sender's lots
    /// are spent as a redemption would spend them; the receiver gets one lot per slice, keeping its expiry.
    /// Receiving counts as earning for inactivity, so received points are not expired on arrival.
    /// </summary>
    public static Decision<TwoSided> Transfer(Account from, Account to, ProgramSettings settings, long points, Cause cause,
        DateTimeOffset now, string? reason = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(points);
        if (Mismatch<TwoSided>(from, to) is { } refused) return refused;
        if (from.IsLocked) return new Refused<TwoSided>(Refusal.AccountLocked, $"Account {from.CustomerId} is locked.");
        if (WouldOverflow(to, points)) return Overflow<TwoSided>(to, points);

        var sender = new Draft(from, settings, cause, now);
        var receiver = new Draft(to, settings, cause, now);
        sender.Settle();
        receiver.Settle();
        if (sender.Account.Balance < points) return Short<TwoSided>(sender.Account.Balance, points);

        var outRefs = sender.Take(points);
        var inRefs = new List<LotRef>();
        foreach (var r in outRefs)
        {
            var source = sender.Get(r.LotId);
            var lot = receiver.NewLot(-r.Points, now, source.ExpiresAt, fromLotId: source.LotId, sourceEventId: source.SourceEventId);
            inRefs.Add(new(lot.LotId, lot.Points));
        }

        sender.Post(EntryType.TransferOut, -points, refs: outRefs, reason: reason, counterparty: to.CustomerId);
        sender.Emit(LoyaltyEventType.PointsTransferredInitiated, points, counterparty: to.CustomerId, reason: reason);
        receiver.Update(a => a with { LastEarnAt = a.LastEarnAt > now ? a.LastEarnAt : now });
        receiver.Post(EntryType.TransferIn, points, refs: inRefs, reason: reason, counterparty: from.CustomerId);
        receiver.PayDebt();
        receiver.Emit(LoyaltyEventType.PointsTransferredReceived, points, counterparty: from.CustomerId, reason: reason);
        return new Accepted<TwoSided>(new(sender.ToPosting(), receiver.ToPosting()));
    }

    /// <summary>
    /// Merges <paramref name="source"/> into <paramref name="target"/>: every lot with points left (pending
    /// included, with their dates), the balances and the lifetime figures move; the source is closed.
    /// The result's <c>From</c> is the source.
    /// </summary>
    public static Decision<TwoSided> Merge(Account target, Account source, ProgramSettings settings, Cause cause, DateTimeOffset now)
    {
        if (Mismatch<TwoSided>(source, target) is { } refused) return refused;
        if ((Int128)target.Balance + target.Pending + Math.Max(0, source.Balance) + source.Pending > long.MaxValue
            || (Int128)target.LifetimeEarned + source.LifetimeEarned > long.MaxValue || (Int128)target.LifetimeRedeemed + source.LifetimeRedeemed > long.MaxValue
            || (Int128)target.LifetimeExpired + source.LifetimeExpired > long.MaxValue)
            return Overflow<TwoSided>(target, source.Balance);

        var from = new Draft(source, settings, cause, now);
        var into = new Draft(target, settings, cause, now);
        from.Settle();
        into.Settle();

        var s = from.Account;
        var outRefs = new List<LotRef>();
        var inRefs = new List<LotRef>();
        foreach (var lot in s.Lots.Select(l => from.Get(l.LotId)).Where(l => l.Remaining > 0).ToList())
        {
            var moved = into.NewLot(lot.Remaining, lot.AvailableAt, lot.ExpiresAt, lot.EarnedAt, lot.LotId, lot.SourceEventId);
            into.Put(moved with { IsPending = lot.IsPending });
            outRefs.Add(from.TakeFrom(lot, lot.Remaining));
            inRefs.Add(new(moved.LotId, moved.Points));
        }

        from.Post(EntryType.MergeOut, -s.Balance, -s.Pending, -s.LifetimeEarned, -s.LifetimeRedeemed, -s.LifetimeExpired,
            refs: outRefs, counterparty: target.CustomerId);
        from.Update(a => a with { IsClosed = true });
        into.Update(a => a with { LastEarnAt = Later(a.LastEarnAt, s.LastEarnAt) });
        into.Post(EntryType.MergeIn, s.Balance, s.Pending, s.LifetimeEarned, s.LifetimeRedeemed, s.LifetimeExpired,
            refs: inRefs, counterparty: source.CustomerId);
        into.PayDebt();
        into.Emit(LoyaltyEventType.LoyaltyCustomerMerge, s.Balance, counterparty: source.CustomerId);
        return new Accepted<TwoSided>(new(from.ToPosting(), into.ToPosting()));
    }

    private static DateTimeOffset? Later(DateTimeOffset? a, DateTimeOffset? b) => a is null ? b : b is null ? a : a > b ? a : b;

    private static Refused<T>? Mismatch<T>(Account from, Account to)
    {
        if (from.CustomerId == to.CustomerId) return new(Refusal.SameAccount, "Both sides are the same customer.");
        if (!string.Equals(from.Ledger, to.Ledger, StringComparison.Ordinal))
            return new(Refusal.LedgerMismatch, $"Ledger '{from.Ledger}' is not ledger '{to.Ledger}'.");
        if (from.IsClosed) return Closed<T>(from);
        if (to.IsClosed) return Closed<T>(to);
        return null;
    }

    private static Refused<T> Closed<T>(Account a) => new(Refusal.AccountClosed, $"Account {a.CustomerId} is closed (merged).");

    private static Refused<T> Short<T>(long balance, long wanted) =>
        new(Refusal.InsufficientPoints, $"{wanted} points wanted, {Math.Max(balance, 0)} spendable.");
}
