using NodaTime;
using Tally.Ledger;
using static Tally.Tests.Ledger.Given;

namespace Tally.Tests.Ledger;

public class MovementsTests
{
    private static readonly ProgramSettings Plain = ProgramSettings.Default;

    [Fact]
    public void An_earn_creates_a_lot_an_earn_entry_and_a_pointsIssued_event()
    {
        var p = Ok(Movements.Earn(Empty(), Plain, 100, Cause.Event("e1", "r1", 2), T0));

        var entry = Assert.Single(p.Entries);
        Assert.Equal(EntryType.Earn, entry.Type);
        Assert.Equal("earn", entry.TypeName);
        Assert.Equal((100, 100, 0), (entry.Points, entry.BalanceAfter, entry.PendingAfter));
        Assert.Equal(("e1", "r1@2"), (entry.EventId, entry.Rule));
        var lot = Assert.Single(p.NewLots);
        Assert.Equal((100, 100, T0, (DateTimeOffset?)null), (lot.Points, lot.Remaining, lot.AvailableAt, lot.ExpiresAt));
        Assert.Equal([new LotRef(lot.LotId, 100)], entry.Lots);
        var ev = Assert.Single(p.Events);
        Assert.Equal(("pointsIssued", 100L, 100L, "e1", "r1@2"), (ev.TypeName, ev.Points, ev.BalanceAfter, ev.CausingEventId, ev.Rule));
        Assert.Equal((100, 0, 100, T0), (p.Account.Balance, p.Account.Pending, p.Account.LifetimeEarned, p.Account.LastEarnAt!.Value));
    }

    [Fact]
    public void A_credit_that_would_take_a_figure_past_64_bits_is_refused_not_wrapped()
    {
        var rich = Ok(Movements.Earn(Empty(), Plain, Movements.MaxPoints, Cause.Event("e0", "r1", 1), T0)).Account;
        rich = rich with { Balance = long.MaxValue - 10, LifetimeEarned = long.MaxValue - 10 };
        var bob = Ok(Movements.Earn(Empty(Bob), Plain, 100, Cause.Event("e1", "r1", 1), T0)).Account;

        Assert.Equal(Refusal.PointsOverflow, Assert.IsType<Refused<Posting>>(Movements.Earn(rich, Plain, 11, Cause.Event("e2", "r1", 1), T0)).Reason);
        Assert.Equal(Refusal.PointsOverflow, Assert.IsType<Refused<Posting>>(Movements.Adjust(rich, Plain, 11, Cause.Request("k1"), T0)).Reason);
        Assert.Equal(Refusal.PointsOverflow, Assert.IsType<Refused<TwoSided>>(Movements.Transfer(bob, rich, Plain, 11, Cause.Request("k2"), T0)).Reason);
        Assert.Equal(Refusal.PointsOverflow, Assert.IsType<Refused<TwoSided>>(Movements.Merge(rich, bob, Plain, Cause.Request("k3"), T0)).Reason);
        Assert.Equal(long.MaxValue, Ok(Movements.Earn(rich, Plain, 10, Cause.Event("e3", "r1", 1), T0)).Account.Balance);
    }

    [Fact]
    public void Replaying_a_movement_yields_the_same_ids_so_the_store_rejects_the_duplicate()
    {
        var first = Ok(Movements.Earn(Empty(), Plain, 100, Cause.Event("e1", "r1", 1), T0));
        var replay = Ok(Movements.Earn(Empty(), Plain, 100, Cause.Event("e1", "r1", 1), T0));
        var other = Ok(Movements.Earn(Empty(), Plain, 100, Cause.Event("e2", "r1", 1), T0));
        var newerRule = Ok(Movements.Earn(Empty(), Plain, 100, Cause.Event("e1", "r1", 2), T0));

        Assert.Equal(first.Entries[0].EntryId, replay.Entries[0].EntryId);
        Assert.Equal(first.NewLots[0].LotId, replay.NewLots[0].LotId);
        Assert.Equal(first.Events[0].EventId, replay.Events[0].EventId);
        Assert.NotEqual(first.Entries[0].EntryId, other.Entries[0].EntryId);
        Assert.Equal(first.Entries[0].EntryId, newerRule.Entries[0].EntryId);
        Assert.Equal((first.Entries[0].MovementKey, 0), (replay.Entries[0].MovementKey, replay.Entries[0].Seq));
    }

    [Fact]
    public void A_customers_lots_and_events_share_the_customers_id_prefix_so_they_sit_together_in_the_indexes()
    {
        var bob = Guid.Parse("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0");
        var alice = Ok(Movements.Earn(Empty(), Plain, 100, Cause.Event("e1", "r1", 1), T0));
        var first = Ok(Movements.Earn(Empty(bob), Plain, 100, Cause.Event("e1", "r1", 1), T0));
        var second = Ok(Movements.Earn(first.Account, Plain, 50, Cause.Event("e2", "r1", 1), T0));

        static string Prefix(Guid id) => id.ToString("N")[..12];
        Assert.All(new[] { first.NewLots[0].LotId, first.Events[0].EventId, second.NewLots[0].LotId, second.Events[0].EventId },
            id => Assert.Equal("0f1e2d3c4b5a", Prefix(id)));
        Assert.Equal(Prefix(Alice), Prefix(alice.NewLots[0].LotId));
        Assert.Equal(4, new[] { first.NewLots[0].LotId, first.Events[0].EventId, second.NewLots[0].LotId, second.Events[0].EventId }.Distinct().Count());
        Assert.NotEqual(alice.NewLots[0].LotId, first.NewLots[0].LotId);
        Assert.Equal(8, first.NewLots[0].LotId.Version);
    }

    [Fact]
    public void A_customer_holds_several_named_ledgers_that_never_mix()
    {
        var main = Ok(Movements.Earn(Empty(), Plain, 100, Cause.Event("e1", "r1", 1), T0));
        var miles = Ok(Movements.Earn(Account.Open(Alice, "miles"), Plain, 7, Cause.Event("e1", "r1", 1), T0));

        Assert.Equal(("miles", "miles", "miles"), (miles.Entries[0].Ledger, miles.NewLots[0].Ledger, miles.Events[0].Ledger));
        Assert.Equal("main", main.Entries[0].Ledger);
        Assert.NotEqual(main.Entries[0].EntryId, miles.Entries[0].EntryId);
        Assert.NotEqual(main.NewLots[0].LotId, miles.NewLots[0].LotId);
    }

    [Fact]
    public void Pending_points_cannot_be_spent_until_they_activate()
    {
        var s = Plain with { PendingFor = P("P14D") };
        var earn = Earn(Empty(), s, 100, T0, "k1");
        Assert.Equal((0, 100), (earn.Account.Balance, earn.Account.Pending));
        Assert.Equal((0, 100), (earn.Entries[0].Points, earn.Entries[0].PendingPoints));

        Assert.Equal(Refusal.InsufficientPoints, Why(Movements.Redeem(earn.Account, s, 1, Key("r1"), T0.AddDays(13))));
        Assert.True(Movements.Settle(earn.Account, s, Cause.Schedule("tick"), T0.AddDays(13)).IsEmpty);

        var activated = Movements.Settle(earn.Account, s, Cause.Schedule("tick"), T0.AddDays(15));
        var entry = Assert.Single(activated.Entries);
        Assert.Equal((EntryType.Activate, 100, -100, T0.AddDays(14)), (entry.Type, entry.Points, entry.PendingPoints, entry.At));
        Assert.Equal(LoyaltyEventType.PromisedToCurrentPointsConversion, Assert.Single(activated.Events).Type);
        Assert.Equal((100, 0), (activated.Account.Balance, activated.Account.Pending));
        Assert.False(Assert.Single(activated.ChangedLots).IsPending);
        AssertConsistent(activated.Account, [.. earn.Entries, .. activated.Entries]);
    }

    [Fact]
    public void A_redemption_activates_what_became_available_before_spending()
    {
        var s = Plain with { PendingFor = P("P1D") };
        var earn = Earn(Empty(), s, 100, T0, "k1");
        var redeem = Ok(Movements.Redeem(earn.Account, s, 60, Key("r1"), T0.AddDays(2)));
        Assert.Equal([EntryType.Activate, EntryType.Redeem], redeem.Entries.Select(e => e.Type));
        Assert.Equal(40, redeem.Account.Balance);
        Assert.Equal([0, 1], redeem.Entries.Select(e => e.Seq));
    }

    [Theory]
    [InlineData("P0D", 100, 0)]
    [InlineData("P7D", 0, 100)]
    public void An_outcomes_pendingFor_overrides_the_programs(string outcomePendingFor, long balance, long pending)
    {
        var s = Plain with { PendingFor = P("P14D") };
        var earn = Earn(Empty(), s, 100, T0, "k1", pendingFor: outcomePendingFor);
        Assert.Equal((balance, pending), (earn.Account.Balance, earn.Account.Pending));
    }

    // Lots: A (day 0, never expires), B (day 1, expires after 6 months), C (day 2, after 3 months), D (day 3, never).
    [Theory]
    [InlineData(50, "C")]
    [InlineData(100, "C")]
    [InlineData(150, "C,B")]
    [InlineData(250, "C,B,A")]
    [InlineData(400, "C,B,A,D")]
    public void A_redemption_spends_the_points_that_expire_first_then_the_oldest(long points, string expectedLots)
    {
        var a = Empty();
        var lots = new Dictionary<Guid, string>();
        foreach (var (name, day, expiry) in new[] { ("A", 0, (string?)null), ("B", 1, "P6M"), ("C", 2, "P3M"), ("D", 3, null) })
        {
            var p = Earn(a, Plain, 100, T0.AddDays(day), name, expiresAfter: expiry);
            lots[p.NewLots[0].LotId] = name;
            a = p.Account;
        }

        var redeem = Ok(Movements.Redeem(a, Plain, points, Key("r"), T0.AddDays(10)));
        var entry = Assert.Single(redeem.Entries);
        Assert.Equal(expectedLots, string.Join(',', entry.Lots.Select(r => lots[r.LotId])));
        Assert.Equal(-points, entry.Lots.Sum(r => r.Points));
        Assert.Equal((400 - points, points), (redeem.Account.Balance, redeem.Account.LifetimeRedeemed));
        Assert.Equal(LoyaltyEventType.PointsRedeemed, Assert.Single(redeem.Events).Type);
    }

    [Fact]
    public void A_redemption_is_refused_when_points_are_short_or_the_account_locked_or_closed()
    {
        var a = Earn(Empty(), Plain, 100, T0, "k").Account;
        Assert.Equal(Refusal.InsufficientPoints, Why(Movements.Redeem(a, Plain, 101, Key("r"), T0)));
        Assert.Equal(Refusal.AccountLocked, Why(Movements.Redeem(a with { IsLocked = true }, Plain, 1, Key("r"), T0)));
        Assert.Equal(Refusal.AccountClosed, Why(Movements.Redeem(a with { IsClosed = true }, Plain, 1, Key("r"), T0)));
    }

    [Fact]
    public void Aging_expires_each_lot_at_its_own_date_even_when_the_scheduler_runs_late()
    {
        var s = Aging("P12M");
        var a = Earn(Empty(), s, 100, T0, "k1").Account;
        a = Earn(a, s, 50, T0.AddMonths(2), "k2").Account;
        a = Ok(Movements.Redeem(a, s, 30, Key("r"), T0.AddMonths(3))).Account;

        Assert.True(Movements.Settle(a, s, Cause.Schedule("t"), T0.AddMonths(12).AddTicks(-1)).IsEmpty);
        var late = Movements.Settle(a, s, Cause.Schedule("t"), T0.AddMonths(13));
        var entry = Assert.Single(late.Entries);
        Assert.Equal((EntryType.Expire, -70, 70, T0.AddMonths(12)), (entry.Type, entry.Points, entry.Expired, entry.At));
        var ev = Assert.Single(late.Events);
        Assert.Equal((LoyaltyEventType.PointsExpired, 70, T0.AddMonths(12)), (ev.Type, ev.Points, ev.ExpiresAt!.Value));
        Assert.Equal((50, 70), (late.Account.Balance, late.Account.LifetimeExpired));
    }

    [Fact]
    public void A_redemption_never_spends_points_whose_expiry_has_passed()
    {
        var s = Aging("P1M");
        var a = Earn(Empty(), s, 100, T0, "k1").Account;
        Assert.Equal(Refusal.InsufficientPoints, Why(Movements.Redeem(a, s, 10, Key("r"), T0.AddMonths(1))));
    }

    [Fact]
    public void Aging_expiry_follows_the_local_calendar_of_the_program()
    {
        // 2026-01-30 13:30Z is 31 January 00:30 in Sydney: a month later is 28 February 00:30 local.
        var s = Aging("P1M") with { TimeZone = DateTimeZoneProviders.Tzdb["Australia/Sydney"] };
        var earnedAt = new DateTimeOffset(2026, 1, 30, 13, 30, 0, TimeSpan.Zero);
        var lot = Earn(Empty(), s, 100, earnedAt, "k").NewLots[0];
        Assert.Equal(new DateTimeOffset(2026, 2, 27, 13, 30, 0, TimeSpan.Zero), lot.ExpiresAt);
    }

    [Fact]
    public void Inactivity_expires_the_whole_balance_after_the_last_earn_only()
    {
        var s = Plain with { ExpiryMode = ExpiryMode.Inactivity, ExpiryAfter = P("P6M") };
        var a = Earn(Empty(), s, 100, T0, "k1").Account;
        a = Earn(a, s, 50, T0.AddMonths(5), "k2").Account;
        a = Ok(Movements.Redeem(a, s, 20, Key("r"), T0.AddMonths(7))).Account;
        Assert.Null(a.Lots[0].ExpiresAt);

        Assert.True(Movements.Settle(a, s, Cause.Schedule("t"), T0.AddMonths(11).AddTicks(-1)).IsEmpty);
        var expired = Movements.Settle(a, s, Cause.Schedule("t"), T0.AddMonths(11));
        var entry = Assert.Single(expired.Entries);
        Assert.Equal((-130, "inactivity"), (entry.Points, entry.Reason));
        Assert.Equal(0, expired.Account.Balance);
        Assert.Equal(T0.AddMonths(11), Assert.Single(expired.Events).ExpiresAt);
    }

    [Fact]
    public void Inactivity_deadline_is_counted_in_the_program_timezone()
    {
        var s = new ProgramSettings
        {
            TimeZone = DateTimeZoneProviders.Tzdb["Australia/Sydney"],
            ExpiryMode = ExpiryMode.Inactivity,
            ExpiryAfter = P("P1M"),
        };
        var earnedAt = new DateTimeOffset(2026, 1, 30, 13, 30, 0, TimeSpan.Zero); // 31 Jan 00:30 local
        var a = Earn(Empty(), s, 100, earnedAt, "k").Account;
        var deadline = new DateTimeOffset(2026, 2, 27, 13, 30, 0, TimeSpan.Zero);
        Assert.True(Movements.Settle(a, s, Cause.Schedule("t"), deadline.AddTicks(-1)).IsEmpty);
        Assert.Equal(-100, Assert.Single(Movements.Settle(a, s, Cause.Schedule("t"), deadline).Entries).Points);
    }

    [Theory]
    [InlineData(null, 150)]
    [InlineData("P2M", 100)]
    [InlineData("P12M", 0)]
    public void ExpirePoints_expires_the_points_older_than_asked(string? olderThan, long expired)
    {
        var a = Earn(Empty(), Plain, 100, T0, "k1").Account;
        a = Earn(a, Plain, 50, T0.AddMonths(3), "k2").Account;
        var p = Movements.ExpireOlderThan(a, Plain, olderThan is null ? null : P(olderThan), Cause.Event("cal"), T0.AddMonths(4));
        Assert.Equal(expired, p.Account.LifetimeExpired);
        Assert.Equal(150 - expired, p.Account.Balance);
    }

    [Fact]
    public void Expiring_lists_the_points_due_within_the_period_grouped_by_date()
    {
        var s = Aging("P3M");
        var a = Earn(Empty(), s, 100, T0, "k1").Account;
        a = Earn(a, s, 50, T0, "k2").Account;
        a = Earn(a, s, 70, T0.AddMonths(1), "k3").Account;

        var soon = History.Expiring(a, s, T0.AddMonths(2).AddDays(15), P("P30D"));
        Assert.Equal([new ExpiringPoints(150, T0.AddMonths(3))], soon);
        Assert.Equal(2, History.Expiring(a, s, T0.AddMonths(2).AddDays(15), P("P60D")).Count);
    }

    [Fact]
    public void Expiry_reminders_come_out_once_across_consecutive_and_missed_windows()
    {
        var s = Aging("P3M") with { ExpiryReminderBefore = P("P7D") };
        var a = Earn(Empty(), s, 100, T0, "k1").Account;
        var remindAt = T0.AddMonths(3).AddDays(-7);

        Assert.Empty(History.ExpiryReminders(a, s, T0, remindAt.AddTicks(-1)));
        var once = Assert.Single(History.ExpiryReminders(a, s, remindAt.AddTicks(-1), remindAt));
        Assert.Equal((LoyaltyEventType.PointsExpiryReminder, 100, T0.AddMonths(3)), (once.Type, once.Points, once.ExpiresAt!.Value));
        Assert.Empty(History.ExpiryReminders(a, s, remindAt, remindAt.AddDays(1)));

        var missed = Assert.Single(History.ExpiryReminders(a, s, T0, remindAt.AddDays(3)));
        Assert.Equal(once.EventId, missed.EventId);
        Assert.Empty(History.ExpiryReminders(a, s, T0, T0.AddMonths(4)));
    }

    [Fact]
    public void Under_inactivity_the_whole_balance_is_listed_and_reminded_at_the_deadline()
    {
        var s = Plain with { ExpiryMode = ExpiryMode.Inactivity, ExpiryAfter = P("P6M"), ExpiryReminderBefore = P("P14D") };
        var a = Earn(Empty(), s, 100, T0, "k1").Account;
        a = Earn(a, s, 20, T0.AddMonths(1), "k2", expiresAfter: "P3M").Account; // its own, earlier expiry
        var deadline = T0.AddMonths(7);

        Assert.Equal([new ExpiringPoints(20, T0.AddMonths(4)), new ExpiringPoints(100, deadline)],
            History.Expiring(a, s, T0.AddMonths(3).AddDays(20), P("P6M")));
        var reminder = Assert.Single(History.ExpiryReminders(a, s, T0.AddMonths(5), deadline.AddDays(-1)));
        Assert.Equal((100, deadline), (reminder.Points, reminder.ExpiresAt!.Value));
        Assert.Equal(deadline.AddDays(-14), History.NextDue(a, s, T0.AddMonths(5)));
    }

    [Fact]
    public void NextDue_tells_the_scheduler_the_next_activation_reminder_or_expiry()
    {
        var s = Aging("P3M") with { PendingFor = P("P7D"), ExpiryReminderBefore = P("P10D") };
        var a = Earn(Empty(), s, 100, T0, "k1").Account;
        Assert.Equal(T0.AddDays(7), History.NextDue(a, s, T0));
        Assert.Equal(T0.AddMonths(3).AddDays(-10), History.NextDue(a, s, T0.AddDays(7)));
        Assert.Equal(T0.AddMonths(3), History.NextDue(a, s, T0.AddMonths(3).AddDays(-10)));
        Assert.Null(History.NextDue(a, s, T0.AddMonths(3)));
    }

    [Fact]
    public void The_statement_answers_the_balance_call_with_expiring_points_and_the_tier()
    {
        var s = Aging("P2M") with { Tiers = [new("Silver", 0), new("Gold", 500)], ExpiryReminderBefore = P("P30D") };
        var a = Earn(Empty(), s, 120, T0, "k1").Account;
        var tier = Tiers.Decide(s, Alice, TierStatus.None, 120m, T0.AddMonths(1).AddDays(15));
        var st = History.Statement(a, s, T0.AddMonths(1).AddDays(15), tier);
        Assert.Equal((120, 0, 120), (st.Balance, st.Pending, st.LifetimeEarned));
        Assert.Equal([new ExpiringPoints(120, T0.AddMonths(2))], st.Expiring);
        Assert.Equal(("Silver", "Gold", 380m), (st.Tier, st.NextTier, st.PointsToNextTier));
    }

    [Fact]
    public void The_balance_as_of_an_instant_sums_the_entries_that_had_taken_effect()
    {
        var s = Aging("P2M") with { PendingFor = P("P1D") };
        var entries = new List<Entry>();
        var a = Empty();
        foreach (var p in new Func<Account, Posting>[]
        {
            x => Earn(x, s, 100, T0, "k1"),
            x => Ok(Movements.Redeem(x, s, 30, Key("r"), T0.AddDays(5))),
            x => Earn(x, s, 40, T0.AddDays(10), "k2"),
            x => Movements.Settle(x, s, Cause.Schedule("t"), T0.AddMonths(3)),
        })
        {
            var posting = p(a);
            entries.AddRange(posting.Entries);
            a = posting.Account;
        }

        Assert.Equal(new Figures(0, 0, 0, 0, 0), History.AsOf(entries, T0.AddTicks(-1)));
        Assert.Equal(new Figures(0, 100, 100, 0, 0), History.AsOf(entries, T0));
        Assert.Equal(new Figures(100, 0, 100, 0, 0), History.AsOf(entries, T0.AddDays(1)));
        Assert.Equal(new Figures(70, 0, 100, 30, 0), History.AsOf(entries, T0.AddDays(5)));
        Assert.Equal(new Figures(110, 0, 140, 30, 0), History.AsOf(entries, T0.AddDays(12)));
        Assert.Equal(new Figures(40, 0, 140, 30, 70), History.AsOf(entries, T0.AddMonths(2)));
        Assert.Equal(Figures.Of(a), History.AsOf(entries, T0.AddYears(1)));
        AssertConsistent(a, entries);
    }

    [Fact]
    public void A_positive_adjustment_creates_a_lot_spendable_at_once()
    {
        var s = Plain with { PendingFor = P("P14D") };
        var p = Ok(Movements.Adjust(Empty(), s, 25, Key("adj"), T0, "goodwill"));
        Assert.Equal((EntryType.Adjustment, 25, "goodwill"), (p.Entries[0].Type, p.Account.Balance, p.Entries[0].Reason));
        Assert.Equal(LoyaltyEventType.ManualPointsAdjustment, p.Events[0].Type);
        Assert.Single(p.NewLots);
    }

    [Fact]
    public void A_negative_adjustment_spends_like_a_redemption_and_is_refused_when_short_unless_allowed()
    {
        var a = Earn(Empty(), Plain, 100, T0, "k").Account;
        var p = Ok(Movements.Adjust(a, Plain, -40, Key("adj"), T0));
        Assert.Equal((60, 0), (p.Account.Balance, p.Account.LifetimeRedeemed));
        Assert.Equal(-40, p.Entries[0].Lots.Sum(r => r.Points));

        Assert.Equal(Refusal.InsufficientPoints, Why(Movements.Adjust(p.Account, Plain, -61, Key("adj2"), T0)));
        var forced = Ok(Movements.Adjust(p.Account, Plain, -61, Key("adj2"), T0, allowNegative: true));
        Assert.Equal(-1, forced.Account.Balance);
        AssertConsistent(forced.Account, [.. Earn(Empty(), Plain, 100, T0, "k").Entries, .. p.Entries, .. forced.Entries]);
    }
}
