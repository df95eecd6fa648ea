using NodaTime;
using Tally.Ledger;

namespace Tally.Tests.Ledger;

/// <summary>Shared test vocabulary: a clock origin, settings and unwrapping of accepted decisions.</summary>
internal static class Given
{
    public static readonly DateTimeOffset T0 = new(2026, 1, 10, 12, 0, 0, TimeSpan.Zero);
    public static readonly Guid Alice = Guid.Parse("00000000-0000-0000-0000-00000000000a");
    public static readonly Guid Bob = Guid.Parse("00000000-0000-0000-0000-00000000000b");

    public static Account Empty(Guid? who = null) => Account.Open(who ?? Alice);

    public static ProgramSettings Aging(string after = "P12M") =>
        new() { ExpiryMode = ExpiryMode.Aging, ExpiryAfter = ProgramSettings.ParsePeriod(after) };

    public static T Ok<T>(Decision<T> decision) => Assert.IsType<Accepted<T>>(decision).Value;

    public static Refusal Why<T>(Decision<T> decision) => Assert.IsType<Refused<T>>(decision).Reason;

    public static Cause Key(string k) => Cause.Request(k);

    public static Posting Earn(Account a, ProgramSettings s, long points, DateTimeOffset at, string key,
        string? expiresAfter = null, string? pendingFor = null) =>
        Ok(Movements.Earn(a, s, points, Key(key), at,
            expiresAfter is null ? null : ProgramSettings.ParsePeriod(expiresAfter),
            pendingFor is null ? null : ProgramSettings.ParsePeriod(pendingFor)));

    public static Lot Lot(Account a, Guid id) => a.Lots.Single(l => l.LotId == id);

    public static long Remaining(Posting p, Posting earn) => Lot(p.Account, earn.NewLots[0].LotId).Remaining;

    /// <summary>The ledger's invariants over an account and all its entries so far.</summary>
    public static void AssertConsistent(Account a, IReadOnlyList<Entry> entries)
    {
        Assert.Equal(a.Balance, entries.Sum(e => e.Points));
        Assert.Equal(a.Pending, entries.Sum(e => e.PendingPoints));
        Assert.Equal(a.LifetimeEarned, entries.Sum(e => e.Earned));
        Assert.Equal(a.LifetimeRedeemed, entries.Sum(e => e.Redeemed));
        Assert.Equal(a.LifetimeExpired, entries.Sum(e => e.Expired));
        Assert.Equal(Math.Max(a.Balance, 0), a.Lots.Where(l => !l.IsPending).Sum(l => l.Remaining));
        Assert.Equal(a.Pending, a.Lots.Where(l => l.IsPending).Sum(l => l.Remaining));
        foreach (var lot in a.Lots)
        {
            Assert.InRange(lot.Remaining, 0, lot.Points);
            var moves = entries.SelectMany(e => e.Lots).Where(r => r.LotId == lot.LotId).Sum(r => r.Points);
            Assert.Equal(lot.Remaining, moves);
        }
    }

    public static Period P(string iso) => ProgramSettings.ParsePeriod(iso);
}
