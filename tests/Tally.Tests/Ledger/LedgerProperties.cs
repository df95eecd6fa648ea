using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Tally.Ledger;
using static Tally.Tests.Ledger.Given;

namespace Tally.Tests.Ledger;

/// <summary>
/// Random sequences of movements and clock advances over two customers, checked after every step
/// against the ledger's invariants. Each generated int is one step: it picks the movement, the customer
/// and the size.
/// </summary>
public class LedgerProperties
{
    // Histories of 10 to 150 steps, each step a full-range int; shrinking drops steps (halves, then one at a time).
    private static readonly Arbitrary<int[]> Histories = Arb.From(
        Gen.Choose(10, 150).SelectMany(n => Gen.Choose(0, int.MaxValue).ArrayOf(n)),
        steps => Enumerable.Range(0, Math.Min(steps.Length, 50))
            .Select(i => steps.Where((_, j) => j != i).ToArray())
            .Prepend(steps[..(steps.Length / 2)])
            .Prepend(steps[(steps.Length / 2)..])
            .Where(s => s.Length > 0 && s.Length < steps.Length));

    [Property(MaxTest = 300)]
    public Property Random_histories_keep_every_invariant(bool allowNegative, int expiryChoice, bool pending, bool sydney) =>
        Prop.ForAll(Histories, steps => new World(Settings(allowNegative, expiryChoice, pending, sydney)).Run(steps));

    [Property(MaxTest = 100)]
    public void A_transfer_conserves_points_across_the_two_customers(int[] earns, int points)
    {
        var s = ProgramSettings.Default;
        var alice = Empty(Alice);
        var i = 0;
        foreach (var e in earns) alice = Earn(alice, s, 1 + Math.Abs(e % 500), T0.AddHours(i), $"e{i++}").Account;
        var bob = Earn(Empty(Bob), s, 7, T0, "b").Account;
        var amount = 1 + Math.Abs(points % 2000);

        switch (Movements.Transfer(alice, bob, s, amount, Key("t"), T0.AddDays(1)))
        {
            case Accepted<TwoSided> { Value: var t }:
                Assert.Equal(alice.Balance + bob.Balance, t.From.Account.Balance + t.To.Account.Balance);
                Assert.Equal(amount, t.To.NewLots.Sum(l => l.Points));
                Assert.Equal(-amount, t.From.Entries.Single().Lots.Sum(r => r.Points));
                break;
            case Refused<TwoSided> r:
                Assert.Equal(Refusal.InsufficientPoints, r.Reason);
                Assert.True(amount > alice.Balance);
                break;
        }
    }

    private static ProgramSettings Settings(bool allowNegative, int expiryChoice, bool pending, bool sydney) =>
        new()
        {
            TimeZone = sydney ? NodaTime.DateTimeZoneProviders.Tzdb["Australia/Sydney"] : NodaTime.DateTimeZone.Utc,
            NegativeBalance = allowNegative ? NegativeBalance.Allow : NegativeBalance.Clamp,
            ExpiryMode = (ExpiryMode)Math.Abs(expiryChoice % 3),
            ExpiryAfter = Math.Abs(expiryChoice % 3) == 2 ? P("P3M") : P("P2M"),
            PendingFor = pending ? P("P7D") : P("P0D"),
        };

    private sealed class World(ProgramSettings s)
    {
        private readonly Dictionary<Guid, Account> accounts = new() { [Alice] = Empty(Alice), [Bob] = Empty(Bob) };
        private readonly Dictionary<Guid, List<Entry>> entries = new() { [Alice] = [], [Bob] = [] };
        private readonly List<(Guid Customer, Guid Lot)> awards = [];
        private readonly List<(Guid Customer, Entry Redeem)> redemptions = [];

        // What the customer row keeps as settle_due_at (LedgerStore): unknown at first, as for a customer from before it existed.
        private readonly Dictionary<Guid, DateTimeOffset?> known = new() { [Alice] = null, [Bob] = null };

        // What the store's unique keys hold: entries by (customer, ledger, movement key, seq), movements by key.
        private readonly HashSet<string> keys = [];
        private readonly HashSet<string> movements = [];
        private readonly List<string> replays = [];
        private DateTimeOffset now = T0;
        private int n;

        public void Run(int[] steps)
        {
            for (var i = 0; i < steps.Length; i++)
            {
                var v = steps[i];
                var points = 1 + (v / 11 % 200);
                var who = v / 7 % 2 == 0 ? Alice : Bob;
                var other = who == Alice ? Bob : Alice;
                var key = Key($"m{n++}");
                switch (v % 11)
                {
                    case 0 or 1:
                        var (expiresAfter, pendingFor) = (v % 3 == 0 ? P("P1M") : null, v % 5 == 0 ? P("P0D") : null);
                        Credit(who, key, a => Movements.Earn(a, s, points, key, now, expiresAfter, pendingFor));
                        break;
                    case 2:
                        Apply(() => Movements.Redeem(accounts[who], s, points, key, now), key);
                        break;
                    case 3 or 4:
                        now = now.AddDays(v / 13 % 40);
                        Apply(() => Movements.Settle(accounts[who], s, Cause.Schedule($"tick{n}"), now), null);
                        break;
                    case 5 when awards.Count > 0:
                        var award = awards[v / 17 % awards.Count];
                        Apply(() => Movements.ReverseAward(accounts[award.Customer], s, [award.Lot], v % 2 == 0 ? null : points, key, now), key);
                        break;
                    case 6 when redemptions.Count > 0:
                        var (c, redeem) = redemptions[v / 17 % redemptions.Count];
                        Apply(() => Movements.ReverseRedemption(accounts[c], s, redeem,
                            [.. entries[c].Where(e => e.ReversesEntryId == redeem.EntryId)], v % 2 == 0 ? null : points, key, now), key);
                        break;
                    case 7:
                        Apply(() => Movements.Transfer(accounts[who], accounts[other], s, points, key, now), key);
                        break;
                    case 8 when v % 2 == 0:
                        Credit(who, key, a => Movements.Adjust(a, s, points, key, now));
                        break;
                    case 8:
                        Apply(() => Movements.Adjust(accounts[who], s, -points, key, now), key);
                        break;
                    case 9:
                        Apply(() => Movements.ExpireOlderThan(accounts[who], s, v % 2 == 0 ? P("P1M") : null, key, now), key);
                        break;
                    case 10 when v / 11 % 8 == 0: // rare: a merge closes one of the two accounts for the rest of the run
                        Apply(() => Movements.Merge(accounts[who], accounts[other], s, key, now), key);
                        break;
                    case 10 when replays.Count > 0:
                        Replay(replays[v / 17 % replays.Count]);
                        break;
                }

                foreach (var id in accounts.Keys) Check(id);
            }
        }

        /// <summary>
        /// A credit (an award, a positive adjustment) as the store makes it: when nothing of the account can be due it is
        /// decided without the open lots, and must then post exactly what the full account would; the kept due instant must
        /// still bound every open lot.
        /// </summary>
        private void Credit(Guid who, Cause key, Func<Account, Decision<Posting>> decide)
        {
            var full = accounts[who];
            var before = known[who];
            Apply(() => decide(full), key);
            if (!History.NothingDue(before, full, s, now)) return;

            var (whole, part) = (decide(full), decide(full with { Lots = [] }));
            Assert.Equal(whole.GetType(), part.GetType());
            if (whole is not Accepted<Posting> { Value: var w } || part is not Accepted<Posting> { Value: var p }) return;
            Assert.Equal(w.Entries.Select(Shape), p.Entries.Select(Shape));
            Assert.Equal(w.Events.Select(e => (e.EventId, e.Type, e.Points, e.BalanceAfter, e.ExpiresAt)), p.Events.Select(e => (e.EventId, e.Type, e.Points, e.BalanceAfter, e.ExpiresAt)));
            Assert.Equal(w.NewLots, p.NewLots);
            // The one thing left behind: a pending lot reversed to nothing keeps its pending flag until a load with every lot.
            Assert.Empty(p.ChangedLots);
            Assert.All(w.ChangedLots, l => Assert.Equal((0L, false, true), (l.Remaining, l.IsPending, full.Lots.Single(x => x.LotId == l.LotId).IsPending)));
            Assert.Equal(Figures.Of(w.Account), Figures.Of(p.Account));
            known[who] = History.KeptDue(before, allLots: false, History.NextDue(p.Account, s, now));
            Check(who);
        }

        private static string Shape(Entry e) =>
            $"{e.EntryId} {e.TypeName} {e.Points} {e.PendingPoints} {e.BalanceAfter} {e.PendingAfter} {e.At:O} {string.Join(",", e.Lots)}";

        private void Apply(Func<object> decide, Cause? cause)
        {
            var decision = decide();
            var before = accounts.ToDictionary(a => a.Key, a => a.Value);
            var postings = decision switch
            {
                Posting p => [p],
                Accepted<Posting> a => [a.Value],
                Accepted<TwoSided> t => new[] { t.Value.From, t.Value.To },
                _ => [],
            };
            if (postings.Length == 0) return;

            // A pure core decides the same thing twice from the same state: same ids, same figures.
            var again = decide() switch
            {
                Posting p => [p],
                Accepted<Posting> a => [a.Value],
                Accepted<TwoSided> t => new[] { t.Value.From, t.Value.To },
                _ => [],
            };
            Assert.Equal(postings.SelectMany(p => p.Entries.Select(e => (e.EntryId, e.Points, e.BalanceAfter))),
                again.SelectMany(p => p.Entries.Select(e => (e.EntryId, e.Points, e.BalanceAfter))));

            foreach (var p in postings)
            {
                foreach (var e in p.Entries) Assert.True(keys.Add(StoreKey(e)), $"A new movement collided on {StoreKey(e)}.");
                accounts[p.Account.CustomerId] = p.Account;
                known[p.Account.CustomerId] = History.KeptDue(known[p.Account.CustomerId], allLots: true,
                    p.Account.IsClosed ? null : History.NextDue(p.Account, s, now));
                entries[p.Account.CustomerId].AddRange(p.Entries);
                foreach (var e in p.Entries)
                {
                    if (e.Type is EntryType.Earn or EntryType.Adjustment && e.Lots.Count > 0 && e.Lots[0].Points > 0)
                        awards.Add((e.CustomerId, e.Lots[0].LotId));
                    if (e.Type == EntryType.Redeem) redemptions.Add((e.CustomerId, e));
                    CheckNegative(e, before[e.CustomerId]);
                }
            }

            if (cause is not null)
            {
                Assert.True(movements.Add(cause.Key));
                replays.Add(cause.Key);
            }
        }

        // The caller records each accepted movement's key (even when it posted nothing) under a unique
        // constraint, so a replay fails there and changes nothing; the core's part is that the ids it
        // derives never collide between different movements (checked in Apply) and repeat on a replay.
        private void Replay(string key) => Assert.Contains(key, movements);

        private static string StoreKey(Entry e) => $"{e.CustomerId}|{e.Ledger}|{e.MovementKey}|{e.Seq}";

        private void CheckNegative(Entry e, Account before)
        {
            if (e.BalanceAfter >= 0 || e.Points >= 0) return;
            // Only a reversal under allow makes a balance negative (a merge only carries an existing debt over).
            Assert.True(
                (e.Type == EntryType.Reversal && s.NegativeBalance == NegativeBalance.Allow) || e.Type == EntryType.MergeIn,
                $"{e.TypeName} took the balance of {before.CustomerId} from {before.Balance} to {e.BalanceAfter}.");
        }

        private void Check(Guid id)
        {
            var a = accounts[id];
            var list = entries[id];
            AssertConsistent(a, list);
            Assert.Equal(a.Balance + a.Pending, list.Sum(e => e.Points + e.PendingPoints));
            if (s.NegativeBalance == NegativeBalance.Clamp) Assert.True(a.Balance >= 0);

            // The kept due instant bounds every open lot's activation and expiry, or an award could skip what fell due.
            if (known[id] is { } due)
            {
                foreach (var lot in a.Lots.Where(l => l.IsPending && l.Remaining > 0)) Assert.True(due <= lot.AvailableAt, $"Kept {due:O}, lot {lot.LotId} activates at {lot.AvailableAt:O}.");
                foreach (var lot in a.Lots.Where(l => l.Remaining > 0 && l.ExpiresAt is not null))
                    Assert.True(due <= lot.ExpiresAt, $"Kept {due:O}, lot {lot.LotId} expires at {lot.ExpiresAt:O}.");
            }

            foreach (var lot in a.Lots)
            {
                var spent = list.SelectMany(e => e.Lots)
                    .Where(r => r.LotId == lot.LotId && r.Points < 0).Sum(r => -r.Points);
                var returned = list.Where(e => e.Type == EntryType.RedemptionReversal).SelectMany(e => e.Lots)
                    .Where(r => r.LotId == lot.LotId && r.Points > 0).Sum(r => r.Points);
                Assert.True(spent - returned <= lot.Points, $"Lot {lot.LotId} was spent beyond its {lot.Points} points.");
            }

            // Time travel: entries take effect in the order they were posted, so the balance as of any
            // entry's instant is the balance after the last entry of that instant.
            for (var i = 1; i < list.Count; i++) Assert.True(list[i - 1].At <= list[i].At, "Entries went back in time.");
            if (list.Count > 0)
            {
                var last = list[^1];
                Assert.Equal((last.BalanceAfter, last.PendingAfter), (History.AsOf(list, last.At).Balance, History.AsOf(list, last.At).Pending));
            }

            // The balance asOf replays the entries over the lots they name: the figures and every lot's remaining come back.
            var replayed = History.AccountAsOf(a, list, a.Lots, DateTimeOffset.MaxValue);
            Assert.Equal((a.Balance, a.Pending, a.LifetimeEarned, a.LifetimeRedeemed, a.LifetimeExpired),
                (replayed.Balance, replayed.Pending, replayed.LifetimeEarned, replayed.LifetimeRedeemed, replayed.LifetimeExpired));
            Assert.Equal(a.Lots.Where(l => l.Remaining != 0).Select(l => (l.LotId, l.Remaining)).OrderBy(x => x.LotId),
                replayed.Lots.Where(l => l.Remaining != 0).Select(l => (l.LotId, l.Remaining)).OrderBy(x => x.LotId));

            var transfers = entries.Values.SelectMany(l => l).Where(e => e.Type is EntryType.TransferIn or EntryType.TransferOut).Sum(e => e.Points);
            var merges = entries.Values.SelectMany(l => l).Where(e => e.Type is EntryType.MergeIn or EntryType.MergeOut)
                .Sum(e => e.Points + e.PendingPoints);
            Assert.Equal((0, 0), (transfers, merges));
        }
    }
}
