using Tally.Ledger;
using static Tally.Tests.Ledger.Given;

namespace Tally.Tests.Ledger;

public class ReversalTests
{
    private static ProgramSettings With(NegativeBalance n) => ProgramSettings.Default with { NegativeBalance = n };

    [Theory]
    [InlineData(null, 0, 100)]
    [InlineData(30L, 70, 30)]
    public void Reversing_an_unspent_award_takes_the_points_back_from_its_lot(long? points, long balance, long reversed)
    {
        var s = With(NegativeBalance.Clamp);
        var earn = Earn(Empty(), s, 100, T0, "order-1");
        var p = Ok(Movements.ReverseAward(earn.Account, s, [earn.NewLots[0].LotId], points, Cause.Event("order-1-refund"), T0.AddDays(1)));

        var entry = Assert.Single(p.Entries);
        Assert.Equal((EntryType.Reversal, -reversed, -reversed, 0), (entry.Type, entry.Points, entry.Earned, entry.Unrecovered));
        Assert.Equal([new LotRef(earn.NewLots[0].LotId, -reversed)], entry.Lots);
        Assert.Equal((balance, 100 - reversed), (p.Account.Balance, p.Account.LifetimeEarned));
        var lot = Assert.Single(p.ChangedLots);
        Assert.Equal((balance, reversed), (lot.Remaining, lot.Reversed));
        Assert.Equal(LoyaltyEventType.IssuedPointsReversed, Assert.Single(p.Events).Type);
    }

    [Fact]
    public void Partial_reversals_add_up_to_the_award_and_never_beyond()
    {
        var s = With(NegativeBalance.Clamp);
        var earn = Earn(Empty(), s, 100, T0, "order-1");
        var lot = earn.NewLots[0].LotId;
        var first = Ok(Movements.ReverseAward(earn.Account, s, [lot], 60, Key("refund-1"), T0));
        Assert.Equal(Refusal.ExceedsAward, Why(Movements.ReverseAward(first.Account, s, [lot], 41, Key("refund-2"), T0)));
        var second = Ok(Movements.ReverseAward(first.Account, s, [lot], null, Key("refund-2"), T0));
        Assert.Equal((-40, 0), (second.Entries[0].Points, second.Account.Balance));
        Assert.Equal(Refusal.NothingToReverse, Why(Movements.ReverseAward(second.Account, s, [lot], null, Key("refund-3"), T0)));
    }

    // Award 100 (day 0), other earn 50 (day 1), redeem 120 (takes the award's 100, then 20 of the other).
    // Reversing the award finds 0 in its lot, takes the other lot's 30, and 70 were spent already.
    [Theory]
    [InlineData(NegativeBalance.Allow, 100L, -70, 0)]
    [InlineData(NegativeBalance.Clamp, 100L, 0, 70)]
    [InlineData(NegativeBalance.Allow, 20L, 10, 0)]
    [InlineData(NegativeBalance.Clamp, 40L, 0, 10)]
    public void Reversing_a_spent_award_goes_negative_under_allow_and_stops_at_zero_under_clamp(
        NegativeBalance mode, long? points, long balance, long unrecovered)
    {
        var s = With(mode);
        var award = Earn(Empty(), s, 100, T0, "award");
        var other = Earn(award.Account, s, 50, T0.AddDays(1), "other");
        var redeem = Ok(Movements.Redeem(other.Account, s, 120, Key("r"), T0.AddDays(2)));
        var p = Ok(Movements.ReverseAward(redeem.Account, s, [award.NewLots[0].LotId], points, Key("rev"), T0.AddDays(3)));

        Assert.Equal(balance, p.Account.Balance);
        Assert.Equal(unrecovered, p.Entries[0].Unrecovered);
        Assert.Equal(unrecovered, p.Events[0].Unrecovered);
        Assert.Equal(150 - points, p.Account.LifetimeEarned);
        AssertConsistent(p.Account, [.. award.Entries, .. other.Entries, .. redeem.Entries, .. p.Entries]);
    }

    [Theory]
    [InlineData(NegativeBalance.Allow)]
    [InlineData(NegativeBalance.Clamp)]
    public void Reversing_an_award_whose_points_expired_takes_nothing_for_them(NegativeBalance mode)
    {
        var s = Aging("P1M") with { NegativeBalance = mode };
        var award = Earn(Empty(), s, 100, T0, "award");
        var spent = Ok(Movements.Redeem(award.Account, s, 30, Key("r"), T0.AddDays(1)));
        var other = Earn(spent.Account, s, 50, T0.AddDays(40), "other");
        Assert.Equal((50, 70), (other.Account.Balance, other.Account.LifetimeExpired));

        // 100 reversed: 70 had expired (nothing to take), 30 had been spent (taken from the other lot).
        var p = Ok(Movements.ReverseAward(other.Account, s, [award.NewLots[0].LotId], null, Key("rev"), T0.AddDays(41)));
        Assert.Equal((20, 0), (p.Account.Balance, p.Entries[0].Unrecovered));
        Assert.Equal(-30, p.Entries[0].Points);
        AssertConsistent(p.Account, [.. award.Entries, .. spent.Entries, .. other.Entries, .. p.Entries]);
    }

    [Fact]
    public void Points_earned_while_the_balance_is_negative_pay_the_debt_first()
    {
        var s = With(NegativeBalance.Allow);
        var award = Earn(Empty(), s, 100, T0, "award");
        var redeem = Ok(Movements.Redeem(award.Account, s, 100, Key("r"), T0));
        var reversal = Ok(Movements.ReverseAward(redeem.Account, s, [award.NewLots[0].LotId], null, Key("rev"), T0));
        Assert.Equal(-100, reversal.Account.Balance);

        var next = Earn(reversal.Account, s, 130, T0.AddDays(1), "next");
        Assert.Equal(30, next.Account.Balance);
        Assert.Equal(30, next.NewLots[0].Remaining);
        Assert.Equal(Refusal.InsufficientPoints, Why(Movements.Redeem(next.Account, s, 31, Key("r2"), T0.AddDays(1))));
        AssertConsistent(next.Account, [.. award.Entries, .. redeem.Entries, .. reversal.Entries, .. next.Entries]);
    }

    [Fact]
    public void Reversing_a_pending_award_takes_the_points_from_pending()
    {
        var s = ProgramSettings.Default with { PendingFor = P("P14D") };
        var earn = Earn(Empty(), s, 100, T0, "award");
        var p = Ok(Movements.ReverseAward(earn.Account, s, [earn.NewLots[0].LotId], 40, Key("rev"), T0.AddDays(1)));
        Assert.Equal((0, 60), (p.Account.Balance, p.Account.Pending));
        Assert.Equal((0, -40), (p.Entries[0].Points, p.Entries[0].PendingPoints));
        var later = Movements.Settle(p.Account, s, Cause.Schedule("t"), T0.AddDays(14));
        Assert.Equal(60, later.Account.Balance);
    }

    [Fact]
    public void Reversing_a_redemption_returns_the_points_to_the_original_lots_with_their_expiry()
    {
        var s = Aging("P12M");
        var a = Earn(Empty(), s, 100, T0, "k1");
        var b = Earn(a.Account, s, 100, T0.AddMonths(1), "k2");
        var redeem = Ok(Movements.Redeem(b.Account, s, 150, Key("r"), T0.AddMonths(2)));

        // The latest-expiring slice comes back first: 50 to the second lot, then the first lot.
        var part = Ok(Movements.ReverseRedemption(redeem.Account, s, redeem.Entries[0], [], 60, Key("rr1"), T0.AddMonths(3)));
        Assert.Equal([new LotRef(b.NewLots[0].LotId, 50), new LotRef(a.NewLots[0].LotId, 10)], part.Entries[0].Lots);
        Assert.Equal((EntryType.RedemptionReversal, "redemption_reversal"), (part.Entries[0].Type, part.Entries[0].TypeName));
        Assert.Equal(redeem.Entries[0].EntryId, part.Entries[0].ReversesEntryId);
        Assert.Equal((110, 90), (part.Account.Balance, part.Account.LifetimeRedeemed));
        Assert.Empty(part.NewLots);
        Assert.Equal(LoyaltyEventType.RedeemedPointsReversed, Assert.Single(part.Events).Type);

        var rest = Ok(Movements.ReverseRedemption(part.Account, s, redeem.Entries[0], part.Entries, null, Key("rr2"), T0.AddMonths(3)));
        Assert.Equal(90, rest.Entries[0].Points);
        Assert.Equal((200, 0), (rest.Account.Balance, rest.Account.LifetimeRedeemed));
        Assert.Equal(Refusal.NothingToReverse,
            Why(Movements.ReverseRedemption(rest.Account, s, redeem.Entries[0], [.. part.Entries, .. rest.Entries], null, Key("rr3"), T0.AddMonths(3))));
        AssertConsistent(rest.Account, [.. a.Entries, .. b.Entries, .. redeem.Entries, .. part.Entries, .. rest.Entries]);
    }

    [Fact]
    public void Points_given_back_to_a_lot_that_has_expired_meanwhile_expire_at_once()
    {
        var s = Aging("P1M");
        var earn = Earn(Empty(), s, 100, T0, "k1");
        var redeem = Ok(Movements.Redeem(earn.Account, s, 100, Key("r"), T0.AddDays(1)));
        var back = Ok(Movements.ReverseRedemption(redeem.Account, s, redeem.Entries[0], [], null, Key("rr"), T0.AddMonths(2)));

        Assert.Equal([EntryType.RedemptionReversal, EntryType.Expire], back.Entries.Select(e => e.Type));
        Assert.Equal(T0.AddMonths(2), back.Entries[1].At);
        Assert.Equal((0, 0, 100), (back.Account.Balance, back.Account.LifetimeRedeemed, back.Account.LifetimeExpired));
    }
}
