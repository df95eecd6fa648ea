using Tally.Ledger;
using static Tally.Tests.Ledger.Given;

namespace Tally.Tests.Ledger;

public class TransferAndMergeTests
{
    [Fact]
    public void A_transfer_moves_points_and_the_receiver_keeps_their_expiry_dates()
    {
        var s = Aging("P12M");
        var a = Earn(Empty(Alice), s, 100, T0, "k1");
        var a2 = Earn(a.Account, s, 100, T0.AddMonths(1), "k2");
        var b = Earn(Empty(Bob), s, 10, T0, "k3");

        var t = Ok(Movements.Transfer(a2.Account, b.Account, s, 150, Key("t1"), T0.AddMonths(2), "gift"));
        Assert.Equal((50, 160), (t.From.Account.Balance, t.To.Account.Balance));
        var outEntry = Assert.Single(t.From.Entries);
        var inEntry = Assert.Single(t.To.Entries);
        Assert.Equal((EntryType.TransferOut, -150, Bob), (outEntry.Type, outEntry.Points, outEntry.CounterpartyId!.Value));
        Assert.Equal((EntryType.TransferIn, 150, Alice), (inEntry.Type, inEntry.Points, inEntry.CounterpartyId!.Value));
        Assert.Equal([T0.AddMonths(12), T0.AddMonths(13)], t.To.NewLots.Select(l => l.ExpiresAt!.Value));
        Assert.Equal([100L, 50L], t.To.NewLots.Select(l => l.Points));
        Assert.Equal(a.NewLots[0].LotId, t.To.NewLots[0].FromLotId);
        Assert.Equal(LoyaltyEventType.PointsTransferredInitiated, Assert.Single(t.From.Events).Type);
        Assert.Equal(LoyaltyEventType.PointsTransferredReceived, Assert.Single(t.To.Events).Type);
        Assert.Equal((0, 0), (t.To.Account.LifetimeEarned - 10, t.From.Account.LifetimeRedeemed));
        AssertConsistent(t.From.Account, [.. a.Entries, .. a2.Entries, .. t.From.Entries]);
        AssertConsistent(t.To.Account, [.. b.Entries, .. t.To.Entries]);
    }

    [Fact]
    public void A_transfer_is_refused_as_a_whole_when_it_cannot_happen()
    {
        var s = ProgramSettings.Default;
        var alice = Earn(Empty(Alice), s, 100, T0, "k").Account;
        var bob = Empty(Bob);
        Assert.Equal(Refusal.InsufficientPoints, Why(Movements.Transfer(alice, bob, s, 101, Key("t"), T0)));
        Assert.Equal(Refusal.AccountLocked, Why(Movements.Transfer(alice with { IsLocked = true }, bob, s, 1, Key("t"), T0)));
        Assert.Equal(Refusal.AccountClosed, Why(Movements.Transfer(alice, bob with { IsClosed = true }, s, 1, Key("t"), T0)));
        Assert.Equal(Refusal.SameAccount, Why(Movements.Transfer(alice, alice, s, 1, Key("t"), T0)));
        Assert.Equal(Refusal.LedgerMismatch, Why(Movements.Transfer(alice, Account.Open(Bob, "miles"), s, 1, Key("t"), T0)));
    }

    [Fact]
    public void A_merge_moves_lots_balances_and_lifetime_figures_and_closes_the_source()
    {
        var s = Aging("P12M") with { PendingFor = P("P30D") };
        var src = Earn(Empty(Bob), s, 100, T0, "b1");
        var srcActive = Movements.Settle(src.Account, s, Cause.Schedule("t"), T0.AddDays(31));
        var srcRedeem = Ok(Movements.Redeem(srcActive.Account, s, 30, Key("br"), T0.AddDays(32)));
        var srcPending = Earn(srcRedeem.Account, s, 40, T0.AddDays(33), "b2");
        var target = Earn(Empty(Alice), s, 5, T0, "a1");

        var m = Ok(Movements.Merge(target.Account, srcPending.Account, s, Key("merge"), T0.AddDays(34)));
        Assert.True(m.From.Account.IsClosed);
        Assert.Equal(new Figures(0, 0, 0, 0, 0), Figures.Of(m.From.Account));
        Assert.Equal(new Figures(75, 40, 145, 30, 0), Figures.Of(m.To.Account));
        Assert.Equal([(70L, false), (40L, true)], m.To.NewLots.Select(l => (l.Remaining, l.IsPending)));
        Assert.Equal([T0.AddMonths(12), T0.AddDays(33).AddMonths(12)], m.To.NewLots.Select(l => l.ExpiresAt!.Value));
        Assert.Equal(EntryType.MergeOut, Assert.Single(m.From.Entries).Type);
        Assert.Equal(EntryType.MergeIn, m.To.Entries[^1].Type);
        Assert.Equal((LoyaltyEventType.LoyaltyCustomerMerge, Bob), (m.To.Events[^1].Type, m.To.Events[^1].CounterpartyId!.Value));
        Assert.Equal(Refusal.AccountClosed, Why(Movements.Earn(m.From.Account, s, 1, Key("x"), T0.AddDays(35))));
        AssertConsistent(m.From.Account, [.. src.Entries, .. srcActive.Entries, .. srcRedeem.Entries, .. srcPending.Entries, .. m.From.Entries]);
        AssertConsistent(m.To.Account, [.. target.Entries, .. m.To.Entries]);
        Assert.Equal(EntryType.Activate, m.To.Entries[0].Type); // the target's own pending lot fell due first

        // The merged pending lot activates on the target at its original date.
        var later = Movements.Settle(m.To.Account, s, Cause.Schedule("t"), T0.AddDays(63));
        Assert.Equal(115, later.Account.Balance);
    }

    [Fact]
    public void Merging_a_source_in_debt_takes_the_debt_from_the_targets_points()
    {
        var s = ProgramSettings.Default with { NegativeBalance = NegativeBalance.Allow };
        var award = Earn(Empty(Bob), s, 100, T0, "b1");
        var spent = Ok(Movements.Redeem(award.Account, s, 100, Key("br"), T0));
        var debt = Ok(Movements.ReverseAward(spent.Account, s, [award.NewLots[0].LotId], 60, Key("rev"), T0));
        var target = Earn(Empty(Alice), s, 100, T0, "a1");

        var m = Ok(Movements.Merge(target.Account, debt.Account, s, Key("merge"), T0));
        Assert.Equal(40, m.To.Account.Balance);
        AssertConsistent(m.To.Account, [.. target.Entries, .. m.To.Entries]);
    }
}
