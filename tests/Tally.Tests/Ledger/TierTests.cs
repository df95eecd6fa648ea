using Tally.Ledger;
using static Tally.Tests.Ledger.Given;

namespace Tally.Tests.Ledger;

public class TierTests
{
    private static readonly ProgramSettings Program = ProgramSettings.Parse("""
        {"tiers":[{"name":"Silver","threshold":0},{"name":"Gold","threshold":1000},{"name":"Platinum","threshold":5000}],
         "tierBasis":{"measure":"points","period":"P12M"},"reminders":{"tierDowngradeBefore":"P30D"}}
        """).Settings!;

    private static readonly DateTimeOffset End = T0.AddMonths(12);

    public static TheoryData<string?, decimal, DateTimeOffset, string?, LoyaltyEventType?, DateTimeOffset?> Cases => new()
    {
        // current tier, measure, now → tier, event, new period end
        { null, 0m, T0, "Silver", null, End },
        { null, 1500m, T0, "Gold", LoyaltyEventType.TierUpgraded, End },
        { "Silver", 1200m, T0.AddMonths(3), "Gold", LoyaltyEventType.TierUpgraded, T0.AddMonths(15) },
        { "Gold", 6000m, T0.AddMonths(3), "Platinum", LoyaltyEventType.TierUpgraded, T0.AddMonths(15) },
        { "Gold", 500m, T0.AddMonths(3), "Gold", null, End },
        { "Gold", 500m, End.AddDays(-30), "Gold", LoyaltyEventType.TierDowngradeReminder, End },
        { "Gold", 1200m, End.AddDays(-30), "Gold", null, End },
        { "Gold", 1200m, End, "Gold", LoyaltyEventType.TierRenewed, T0.AddMonths(24) },
        { "Gold", 500m, End, "Silver", LoyaltyEventType.TierDowngraded, T0.AddMonths(24) },
        { "Platinum", 500m, End.AddDays(1), "Silver", LoyaltyEventType.TierDowngraded, T0.AddMonths(24) },
        { "Gold", 1200m, End.AddMonths(25), "Gold", LoyaltyEventType.TierRenewed, T0.AddMonths(48) },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Upgrades_happen_at_once_and_downgrades_or_renewals_at_the_end_of_the_period(
        string? tier, decimal measure, DateTimeOffset now, string? expectedTier, LoyaltyEventType? expectedEvent, DateTimeOffset? expectedEnd)
    {
        var current = tier is null ? TierStatus.None : new TierStatus(tier, End);
        var d = Tiers.Decide(Program, Alice, current, measure, now);

        Assert.Equal(expectedTier, d.Status.Tier);
        Assert.Equal(expectedEnd, d.Status.PeriodEndsAt);
        Assert.Equal(expectedEvent, d.Events.SingleOrDefault()?.Type);
        if (d.Events.SingleOrDefault() is { } e)
        {
            Assert.Equal((tier, expectedEvent == LoyaltyEventType.TierDowngradeReminder ? "Silver" : expectedTier), (e.TierFrom, e.TierTo));
            Assert.Equal(expectedEnd, e.ExpiresAt);
        }
    }

    [Fact]
    public void A_downgrade_reminder_goes_out_once_per_period()
    {
        var first = Tiers.Decide(Program, Alice, new TierStatus("Gold", End), 500m, End.AddDays(-20));
        Assert.Equal(End, first.Status.RemindedFor);
        Assert.Equal(End, first.Events[0].ExpiresAt);
        Assert.Empty(Tiers.Decide(Program, Alice, first.Status, 500m, End.AddDays(-10)).Events);
        Assert.Equal(End, Tiers.NextDue(Program, first.Status));
        Assert.Equal(End.AddDays(-30), Tiers.NextDue(Program, new TierStatus("Gold", End)));
    }

    [Theory]
    [InlineData(null, 400, "Gold", 600)]
    [InlineData("Silver", 999, "Gold", 1)]
    [InlineData("Gold", 1000, "Platinum", 4000)]
    [InlineData("Platinum", 9000, null, null)]
    public void The_decision_names_the_next_tier_and_the_points_to_it(string? tier, int measure, string? next, int? toNext)
    {
        var current = tier is null ? TierStatus.None : new TierStatus(tier, End);
        var d = Tiers.Decide(Program, Alice, current, measure, T0);
        Assert.Equal(next, d.NextTier?.Name);
        Assert.Equal(toNext, (int?)d.ToNextTier);
    }

    [Fact]
    public void Under_a_lifetime_basis_a_tier_is_never_downgraded()
    {
        var lifetime = Program with { TierPeriod = null };
        var d = Tiers.Decide(lifetime, Alice, TierStatus.None, 2000m, T0);
        Assert.Equal(("Gold", (DateTimeOffset?)null), (d.Status.Tier, d.Status.PeriodEndsAt));
        Assert.Empty(Tiers.Decide(lifetime, Alice, d.Status, 0m, T0.AddYears(10)).Events);
        Assert.Null(Tiers.NextDue(lifetime, d.Status));
    }

    [Fact]
    public void Switching_the_basis_to_lifetime_ends_tier_periods_and_back_starts_one()
    {
        var lifetime = Program with { TierPeriod = null };
        var ended = Tiers.Decide(lifetime, Alice, new TierStatus("Gold", End), 0m, End.AddDays(1));
        Assert.Equal(("Gold", (DateTimeOffset?)null), (ended.Status.Tier, ended.Status.PeriodEndsAt));
        Assert.Empty(ended.Events);

        var rolling = Tiers.Decide(Program, Alice, ended.Status, 0m, End.AddDays(2));
        Assert.Equal(End.AddDays(2).AddMonths(12), rolling.Status.PeriodEndsAt);
    }

    [Fact]
    public void No_tiers_means_no_tier_and_no_events()
    {
        var d = Tiers.Decide(ProgramSettings.Default, Alice, TierStatus.None, 10_000m, T0);
        Assert.Equal((null, 0), (d.Status.Tier, d.Events.Count));
    }

    [Fact]
    public void The_points_measure_counts_what_was_earned_in_the_rolling_window_net_of_reversals()
    {
        var s = Program;
        var earn1 = Earn(Empty(), s, 700, T0, "k1");
        var earn2 = Earn(earn1.Account, s, 500, T0.AddMonths(6), "k2");
        var redeem = Ok(Movements.Redeem(earn2.Account, s, 300, Key("r"), T0.AddMonths(7)));
        var refund = Ok(Movements.ReverseAward(redeem.Account, s, [earn2.NewLots[0].LotId], 100, Key("rev"), T0.AddMonths(8)));
        Entry[] entries = [.. earn1.Entries, .. earn2.Entries, .. redeem.Entries, .. refund.Entries];

        Assert.Equal(1100m, Tiers.PointsMeasure(entries, s, T0.AddMonths(9)));
        Assert.Equal(400m, Tiers.PointsMeasure(entries, s, T0.AddMonths(12)));
        Assert.Equal(1100m, Tiers.PointsMeasure(entries, s with { TierPeriod = null }, T0.AddMonths(30)));
    }
}
