using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Tally.Events;
using Tally.Ledger;
using Tally.Rules;
using Tally.Storage;
using Tally.Tests.Infrastructure;

namespace Tally.Tests.Ledger;

/// <summary>The server with TALLY_TEST_CLOCK=true: tests move time forward and see due work run.</summary>
public abstract class ClockApp : TallyApp
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("TALLY_TEST_CLOCK", "true");
    }

    /// <summary>Awards points as a rule outcome would, through PointsBook inside a write transaction.</summary>
    public Task<bool> EarnAsync(Guid tenantId, Guid customerId, Guid eventId, long points, string? expiresAfter = null, string? pendingFor = null, int outcome = 0)
    {
        var db = Services.GetRequiredService<Database>();
        var now = Services.GetRequiredService<TimeProvider>().GetUtcNow();
        var decision = new PointsDecision
        {
            RuleId = "7d1f5a0e-0000-4000-8000-0000000000aa", RuleVersion = 1, RuleName = "test rule", OutcomeIndex = outcome,
            Points = points, ExpiresAfter = expiresAfter, PendingFor = pendingFor,
        };
        return Services.GetRequiredService<WriteQueue>().WriteAsync((c, tx) => PointsBook.EarnAsync(
            new ProcessingContext(db, c, tx, now), tenantId, customerId, decision, Cause.Event(eventId.ToString(), decision.RuleId, 1, outcome), CancellationToken.None));
    }

    /// <summary>The expirePoints outcome, as the rule engine calls it.</summary>
    public Task<bool> ExpireAsync(Guid tenantId, Guid customerId, Guid eventId, string? olderThan = null)
    {
        var db = Services.GetRequiredService<Database>();
        var now = Services.GetRequiredService<TimeProvider>().GetUtcNow();
        var decision = new ExpirePointsDecision { RuleId = "7d1f5a0e-0000-4000-8000-0000000000bb", RuleVersion = 1, RuleName = "expire", OutcomeIndex = 0, OlderThan = olderThan };
        return Services.GetRequiredService<WriteQueue>().WriteAsync((c, tx) => PointsBook.ExpireAsync(
            new ProcessingContext(db, c, tx, now), tenantId, customerId, decision, Cause.Event(eventId.ToString(), decision.RuleId, 1, 0), CancellationToken.None));
    }
}

public sealed class SqliteClockApp : ClockApp
{
    protected override string StoreKind => "sqlite";
}

public sealed class PostgresClockApp : ClockApp
{
    protected override string StoreKind => "postgres";
}

public sealed class LedgerApiOnSqlite(SqliteClockApp app) : LedgerApiTests<SqliteClockApp>(app);

public sealed class LedgerApiOnPostgres(PostgresClockApp app) : LedgerApiTests<PostgresClockApp>(app);

/// <summary>Every movement over HTTP (shared/contracts/ledger.md), on a server whose clock the tests move.</summary>
public abstract class LedgerApiTests<TApp>(TApp app) : IClassFixture<TApp>
    where TApp : ClockApp
{
    private readonly HttpClient api = app.Api();

    private async Task<(Guid Tenant, Guid Customer)> NewCustomer(object? profile = null)
    {
        var id = Guid.NewGuid();
        var (status, body) = await api.SendJson(HttpMethod.Put, $"/api/v1/customers/{id}", profile ?? new { firstName = "Lot" });
        Assert.Equal(HttpStatusCode.Created, status);
        return ((Guid)body!["tenantId"]!, id);
    }

    private async Task<JsonNode> BalanceOf(Guid customer)
    {
        var (status, body) = await api.GetJson($"/api/v1/customers/{customer}/balance");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal((long)body!["balance"]!, await api.Balance(customer));
        return body;
    }

    private async Task Program(object program)
    {
        var (status, body) = await api.SendJson(HttpMethod.Put, "/api/v1/program", program);
        Assert.True(status == HttpStatusCode.OK, body?.ToJsonString());
    }

    private async Task Advance(string by)
    {
        var (status, body) = await api.PostJson("/api/v1/test-clock", new { advanceBy = by });
        Assert.True(status == HttpStatusCode.OK, body?.ToJsonString());
    }

    private async Task<List<string>> ActivityTypes(Guid customer)
    {
        var (status, body) = await api.GetJson($"/api/v1/customers/{customer}/activity?limit=500");
        Assert.Equal(HttpStatusCode.OK, status);
        return body!["items"]!.AsArray().Select(x => (string)x!["type"]!).ToList();
    }

    /// <summary>A new customer under <paramref name="program"/> with a first award of 100 points, and the event that awarded it.</summary>
    private async Task<(Guid Tenant, Guid Customer, Guid EventId)> AwardedCustomer(object program)
    {
        await Program(program);
        var (tenant, customer) = await NewCustomer();
        var eventId = await Action(customer);
        Assert.True(await app.EarnAsync(tenant, customer, eventId, 100));
        return (tenant, customer, eventId);
    }

    private async Task<Guid> Action(Guid customer)
    {
        var eventId = Guid.NewGuid();
        Assert.Equal(HttpStatusCode.OK, (await api.PostJson("/api/v1/events/actions", Api.Action(customer, eventId))).Status);
        return eventId;
    }

    [Fact]
    public async Task The_program_round_trips_and_bad_settings_are_a_400_naming_each_path()
    {
        var (status, body) = await api.SendJson(HttpMethod.Put, "/api/v1/program", new
        {
            timezone = "Mars/Olympus", expiry = new { mode = "aging" }, pendingFor = "soon",
            tiers = new[] { new { name = "Gold", threshold = 100 }, new { name = "Silver", threshold = 10 } },
        });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("validation_failed", (string?)body!["code"]);
        var paths = body["errors"]!.AsArray().Select(e => (string?)e!["path"]).ToHashSet();
        Assert.Superset(new HashSet<string?> { "$.timezone", "$.expiry.after", "$.pendingFor", "$.tiers[1].threshold" }, paths);

        await Program(new { timezone = "Australia/Sydney", expiry = new { mode = "none" } });
        var (_, got) = await api.GetJson("/api/v1/program");
        Assert.Equal("Australia/Sydney", (string?)got!["timezone"]);
        Assert.Equal("none", (string?)got["expiry"]!["mode"]);
    }

    [Fact]
    public async Task An_award_is_pending_until_its_availableAt_then_the_scheduler_activates_it()
    {
        await Program(new { });
        var (tenant, customer) = await NewCustomer();
        var eventId = await Action(customer);

        Assert.True(await app.EarnAsync(tenant, customer, eventId, 80, pendingFor: "P2D"));
        Assert.False(await app.EarnAsync(tenant, customer, eventId, 80, pendingFor: "P2D")); // a replay posts nothing
        var before = await BalanceOf(customer);
        Assert.Equal(0, (long)before["balance"]!);
        Assert.Equal(80, (long)before["pending"]!);
        Assert.Equal(80, (long)before["lifetimeEarned"]!);

        await Advance("P3D");

        var after = await BalanceOf(customer);
        Assert.Equal(80, (long)after["balance"]!);
        Assert.Equal(0, (long)after["pending"]!);
        Assert.Contains("promisedToCurrentPointsConversion", await ActivityTypes(customer));
        Assert.Contains("pointsIssued", await ActivityTypes(customer));
    }

    [Fact]
    public async Task Aging_points_expire_when_due_and_the_balance_asOf_still_shows_them()
    {
        await Program(new { expiry = new { mode = "aging", after = "P30D" }, reminders = new { expiryBefore = "P5D" } });
        var (_, customer) = await NewCustomer();
        await api.Adjust(customer, 100, create: false);
        var earnedAt = DateTimeOffset.Parse((string)(await api.GetJson("/api/v1/test-clock")).Body!["now"]!, System.Globalization.CultureInfo.InvariantCulture);

        await Advance("P26D");
        var soon = await BalanceOf(customer);
        Assert.Equal(100, (long)soon["expiring"]![0]!["points"]!);
        Assert.Contains("pointsExpiryReminder", await ActivityTypes(customer));

        await Advance("P5D");
        var after = await BalanceOf(customer);
        Assert.Equal(0, (long)after["balance"]!);
        Assert.Equal(100, (long)after["expired"]!);
        Assert.Contains("pointsExpired", await ActivityTypes(customer));
        var (_, ledger) = await api.GetJson($"/api/v1/customers/{customer}/ledger");
        Assert.Equal("expire", (string?)ledger!["items"]![0]!["type"]);

        var asOf = earnedAt.AddDays(1).ToString("O");
        var (_, past) = await api.GetJson($"/api/v1/customers/{customer}/balance?asOf={Uri.EscapeDataString(asOf)}");
        Assert.Equal(100, (long)past!["balance"]!);
        await Program(new { });
    }

    [Fact]
    public async Task The_balance_asOf_a_past_instant_has_that_instants_expiring_list_and_tier()
    {
        await Program(new
        {
            expiry = new { mode = "aging", after = "P30D" },
            reminders = new { expiryBefore = "P30D" },
            tiers = new[] { new { name = "Silver", threshold = 0 }, new { name = "Gold", threshold = 150 } },
            tierBasis = new { measure = "points", period = "lifetime" },
        });
        var (_, customer) = await NewCustomer();
        var start = DateTimeOffset.Parse((string)(await api.GetJson("/api/v1/test-clock")).Body!["now"]!, System.Globalization.CultureInfo.InvariantCulture);
        await api.Adjust(customer, 100, create: false); // lot A, expires ≈ 30 days after start
        var a = Expiring(await BalanceOf(customer))[0].Item2;
        await Advance("P10D");
        await api.Adjust(customer, 100, create: false); // lot B, expires ≈ 40 days after start; Gold from here
        var b = Expiring(await BalanceOf(customer))[1].Item2;
        await Advance("P1D");
        await api.Adjust(customer, -30, create: false); // spends from A, which expires first
        await Advance("P14D");

        static List<(long, DateTimeOffset)> Expiring(JsonNode body) =>
            [.. body["expiring"]!.AsArray().Select(x => ((long)x!["points"]!, DateTimeOffset.Parse((string)x["expiresAt"]!, System.Globalization.CultureInfo.InvariantCulture)))];

        async Task<JsonNode> At(TimeSpan sinceStart)
        {
            var (status, body) = await api.GetJson($"/api/v1/customers/{customer}/balance?asOf={Uri.EscapeDataString(start.Add(sinceStart).ToString("O"))}");
            Assert.Equal(HttpStatusCode.OK, status);
            return body!;
        }

        var unborn = await At(TimeSpan.FromDays(-1));
        Assert.Equal((0L, 0, (string?)null, "Silver"), ((long)unborn["balance"]!, unborn["expiring"]!.AsArray().Count, (string?)unborn["tier"], (string?)unborn["nextTier"]));

        var first = await At(TimeSpan.FromDays(5));
        Assert.Equal(100, (long)first["balance"]!);
        Assert.Equal([(100L, a)], Expiring(first));
        Assert.Equal("Silver", (string?)first["tier"]);
        Assert.Equal("Gold", (string?)first["nextTier"]);
        Assert.Equal(50m, (decimal)first["pointsToNextTier"]!);

        var both = await At(TimeSpan.FromDays(10.5));
        Assert.Equal(200, (long)both["balance"]!);
        Assert.Equal([(100L, a), (100L, b)], Expiring(both));
        Assert.Equal("Gold", (string?)both["tier"]);
        Assert.Null((string?)both["nextTier"]);

        var spent = await At(TimeSpan.FromDays(12));
        Assert.Equal(170, (long)spent["balance"]!);
        Assert.Equal([(70L, a), (100L, b)], Expiring(spent));

        var now = await BalanceOf(customer);
        Assert.Equal(Expiring(now), Expiring(await At(TimeSpan.FromDays(25) - TimeSpan.FromSeconds(1))));
        Assert.Equal("Gold", (string?)now["tier"]);
        await Program(new { });
    }

    [Fact]
    public async Task Under_inactivity_the_whole_balance_expires_after_a_period_without_earning()
    {
        await Program(new { expiry = new { mode = "inactivity", after = "P60D" } });
        var (_, customer) = await NewCustomer();
        await api.Adjust(customer, 40, create: false);
        await Advance("P40D");
        await api.Adjust(customer, 10, create: false); // earning restarts the period
        await Advance("P40D");
        Assert.Equal(50, (long)(await BalanceOf(customer))["balance"]!);

        await Advance("P21D");
        var after = await BalanceOf(customer);
        Assert.Equal(0, (long)after["balance"]!);
        Assert.Equal(50, (long)after["expired"]!);
        await Program(new { });
    }

    [Fact]
    public async Task A_redemption_spends_the_points_that_expire_first_and_releases_its_reservation()
    {
        await Program(new { });
        var (tenant, customer) = await NewCustomer();
        var late = await Action(customer);
        var early = await Action(customer);
        Assert.True(await app.EarnAsync(tenant, customer, late, 50, expiresAfter: "P90D"));
        Assert.True(await app.EarnAsync(tenant, customer, early, 50, expiresAfter: "P10D"));

        var redemption = Guid.NewGuid();
        var (status, accepted) = await api.PostJson("/api/v1/events/redemptions", Api.Redemption(customer, 60, redemption));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(40, (long)accepted!["pendingBalance"]!);
        Assert.Equal(40, await api.Balance(customer)); // the promise counts at once
        await api.Processed(redemption);

        var after = await BalanceOf(customer);
        Assert.Equal(40, (long)after["balance"]!);
        Assert.Equal(0, (long)after["reserved"]!);
        Assert.Equal(60, (long)after["lifetimeRedeemed"]!);
        await Advance("P11D"); // the early lot was spent whole: nothing expires
        Assert.Equal(40, (long)(await BalanceOf(customer))["balance"]!);
        Assert.Contains("pointsRedeemed", await ActivityTypes(customer));
    }

    [Fact]
    public async Task Adjustments_are_lots_with_their_activity_and_a_points_event()
    {
        await Program(new { });
        await WatchBalanceChanges();
        var (_, customer) = await NewCustomer();
        var (status, body) = await api.PostJson($"/api/v1/customers/{customer}/adjustments", new { points = 30, reason = "goodwill" });
        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal(30, (long)body!["balanceAfter"]!);

        Assert.Equal(["manualPointsAdjustment", "customerAdded"], await ActivityTypes(customer));
        var (_, activity) = await api.GetJson($"/api/v1/customers/{customer}/activity");
        Assert.Equal("manualPointsAdjustment", (string?)activity!["items"]![0]!["data"]!["type"]); // by name, never a number
        await api.SendJson(HttpMethod.Patch, $"/api/v1/customers/{customer}", new { lastName = "Changed" });
        Assert.Equal("customerUpdated", (await ActivityTypes(customer))[0]);
        var (_, events) = await api.GetJson($"/api/v1/customers/{customer}/events");
        var points = events!["items"]!.AsArray().Single(e => (string?)e!["type"] == "points")!;
        Assert.Equal(30, (long)points["payload"]!["points"]!["quantity"]!);
        Assert.Equal(0, (long)points["payload"]!["points"]!["previousBalance"]!);
        Assert.Equal(30, (long)points["payload"]!["points"]!["balance"]!);
    }

    [Fact]
    public async Task An_award_is_reversed_in_part_then_in_full_and_not_beyond()
    {
        await Program(new { });
        var (tenant, customer) = await NewCustomer();
        var order = await Action(customer);
        Assert.True(await app.EarnAsync(tenant, customer, order, 100));
        var key = new Dictionary<string, string> { ["Idempotency-Key"] = Guid.NewGuid().ToString() };

        var partial = await api.PostJson($"/api/v1/events/{order}/reversal", new { points = 30 }, key);
        var replay = await api.PostJson($"/api/v1/events/{order}/reversal", new { points = 30 }, key);
        Assert.Equal(HttpStatusCode.Created, partial.Status);
        Assert.Equal(HttpStatusCode.OK, replay.Status);
        Assert.Equal(70, (long)(await BalanceOf(customer))["balance"]!);

        var rest = await api.PostJson($"/api/v1/events/{order}/reversal", new { });
        Assert.Equal(HttpStatusCode.Created, rest.Status);
        Assert.Equal(70, (long)rest.Body!["points"]!);
        var b = await BalanceOf(customer);
        Assert.Equal(0, (long)b["balance"]!);
        Assert.Equal(0, (long)b["lifetimeEarned"]!);

        var again = await api.PostJson($"/api/v1/events/{order}/reversal", new { });
        Assert.Equal(HttpStatusCode.Conflict, again.Status);
        Assert.Equal("nothing_to_reverse", (string?)again.Body!["code"]);
        Assert.Equal(2, (await ActivityTypes(customer)).Count(t => t == "issuedPointsReversed"));
    }

    [Fact]
    public async Task Reversing_an_event_takes_back_every_award_it_made_and_only_those()
    {
        await Program(new { });
        var (tenant, customer) = await NewCustomer();
        var order = await Action(customer);
        var other = await Action(customer);
        Assert.True(await app.EarnAsync(tenant, customer, order, 100));
        Assert.True(await app.EarnAsync(tenant, customer, order, 50, outcome: 1));
        Assert.True(await app.EarnAsync(tenant, customer, other, 30));

        // The event's two awards are found through its entries; the other event's lot is not one of them.
        var partial = await api.PostJson($"/api/v1/events/{order}/reversal", new { points = 120 });
        Assert.Equal(HttpStatusCode.Created, partial.Status);
        Assert.Equal(60, (long)(await BalanceOf(customer))["balance"]!);
        var rest = await api.PostJson($"/api/v1/events/{order}/reversal", new { });
        Assert.Equal(HttpStatusCode.Created, rest.Status);
        Assert.Equal(30, (long)rest.Body!["points"]!);
        var b = await BalanceOf(customer);
        Assert.Equal((30, 30), ((long)b["balance"]!, (long)b["lifetimeEarned"]!));
        var again = await api.PostJson($"/api/v1/events/{order}/reversal", new { points = 1 });
        Assert.Equal("nothing_to_reverse", (string?)again.Body!["code"]);
        var otherRefund = await api.PostJson($"/api/v1/events/{other}/reversal", new { });
        Assert.Equal(30, (long)otherRefund.Body!["points"]!);
    }

    [Fact]
    public async Task Reversing_a_spent_award_under_clamp_records_the_unrecovered_points()
    {
        await Program(new { negativeBalance = "clamp" });
        var (tenant, customer) = await NewCustomer();
        var order = await Action(customer);
        Assert.True(await app.EarnAsync(tenant, customer, order, 100));
        var redemption = Guid.NewGuid();
        await api.PostJson("/api/v1/events/redemptions", Api.Redemption(customer, 80, redemption));
        await api.Processed(redemption);

        var (status, body) = await api.PostJson($"/api/v1/events/{order}/reversal", new { });
        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal(80, (long)body!["unrecovered"]!);
        Assert.Equal(0, (long)(await BalanceOf(customer))["balance"]!);
    }

    [Fact]
    public async Task A_redemption_is_given_back_to_its_lots()
    {
        await Program(new { });
        var (_, customer) = await NewCustomer();
        await api.Adjust(customer, 100, create: false);
        var redemption = Guid.NewGuid();
        await api.PostJson("/api/v1/events/redemptions", Api.Redemption(customer, 60, redemption));
        await api.Processed(redemption);

        var (status, body) = await api.PostJson($"/api/v1/events/{redemption}/reversal", new { points = 20 });
        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal("redemption_reversal", (string?)body!["type"]);
        var b = await BalanceOf(customer);
        Assert.Equal(60, (long)b["balance"]!);
        Assert.Equal(40, (long)b["lifetimeRedeemed"]!);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await api.PostJson($"/api/v1/events/{redemption}/reversal", new { points = 41 })).Status);
        Assert.Contains("redeemedPointsReversed", await ActivityTypes(customer));
    }

    [Fact]
    public async Task A_transfer_moves_points_on_both_sides_once_and_never_beyond_the_balance()
    {
        await Program(new { });
        var (_, from) = await NewCustomer();
        var (_, to) = await NewCustomer();
        await api.Adjust(from, 100, create: false);
        var key = new Dictionary<string, string> { ["Idempotency-Key"] = Guid.NewGuid().ToString() };

        var first = await api.PostJson($"/api/v1/customers/{from}/transfers", new { toCustomerId = to, points = 30, reason = "gift" }, key);
        var again = await api.PostJson($"/api/v1/customers/{from}/transfers", new { toCustomerId = to, points = 30, reason = "gift" }, key);
        Assert.Equal(HttpStatusCode.Created, first.Status);
        Assert.Equal(HttpStatusCode.OK, again.Status);
        Assert.Equal(70, (long)(await BalanceOf(from))["balance"]!);
        Assert.Equal(30, (long)(await BalanceOf(to))["balance"]!);

        var tooMuch = await api.PostJson($"/api/v1/customers/{from}/transfers", new { toCustomerId = to, points = 71 });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, tooMuch.Status);
        Assert.Equal("insufficient_points", (string?)tooMuch.Body!["code"]);
        Assert.Contains("pointsTransferredInitiated", await ActivityTypes(from));
        Assert.Contains("pointsTransferredReceived", await ActivityTypes(to));
    }

    [Fact]
    public async Task Racing_opposite_transfers_never_overdraw_nor_create_points()
    {
        await Program(new { });
        var (_, a) = await NewCustomer();
        var (_, b) = await NewCustomer();
        await api.Adjust(a, 50, create: false);
        await api.Adjust(b, 50, create: false);

        var results = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => i % 2 == 0
            ? api.PostJson($"/api/v1/customers/{a}/transfers", new { toCustomerId = b, points = 7 })
            : api.PostJson($"/api/v1/customers/{b}/transfers", new { toCustomerId = a, points = 9 })));

        Assert.All(results, r => Assert.True(r.Status is HttpStatusCode.Created or HttpStatusCode.UnprocessableEntity, r.Body?.ToJsonString()));
        var balanceA = (long)(await BalanceOf(a))["balance"]!;
        var balanceB = (long)(await BalanceOf(b))["balance"]!;
        Assert.True(balanceA >= 0 && balanceB >= 0);
        Assert.Equal(100, balanceA + balanceB);
    }

    [Fact]
    public async Task A_merge_moves_balance_and_lifetime_figures_and_closes_the_source()
    {
        await Program(new { });
        var (_, target) = await NewCustomer();
        var (_, source) = await NewCustomer();
        await api.Adjust(target, 10, create: false);
        await api.Adjust(source, 45, create: false);

        var (status, body) = await api.PostJson($"/api/v1/customers/{target}/merge", new { fromCustomerId = source });
        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal(45, (long)body!["pointsMoved"]!);
        Assert.Equal(HttpStatusCode.OK, (await api.PostJson($"/api/v1/customers/{target}/merge", new { fromCustomerId = source })).Status);

        var t = await BalanceOf(target);
        Assert.Equal(55, (long)t["balance"]!);
        Assert.Equal(55, (long)t["lifetimeEarned"]!);
        Assert.Equal(0, (long)(await BalanceOf(source))["balance"]!);
        var closed = await api.PostJson($"/api/v1/customers/{source}/adjustments", new { points = 5, reason = "late" });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, closed.Status);
        Assert.Equal("account_closed", (string?)closed.Body!["code"]);
        Assert.Contains("loyaltyCustomerMerge", await ActivityTypes(target));
    }

    [Fact]
    public async Task Customers_who_existed_before_tiers_were_added_get_their_tier_without_a_new_movement()
    {
        await Program(new { });
        var (_, customer) = await NewCustomer();
        await api.Adjust(customer, 150, create: false);
        var (_, before) = await api.GetJson($"/api/v1/customers/{customer}");
        Assert.Null((string?)before!["tier"]);

        await Program(new
        {
            tiers = new[] { new { name = "Silver", threshold = 0 }, new { name = "Gold", threshold = 100 } },
            tierBasis = new { measure = "points", period = "lifetime" },
        });
        await Advance("PT1S");

        var (_, after) = await api.GetJson($"/api/v1/customers/{customer}");
        Assert.Equal("Gold", (string?)after!["tier"]);
        Assert.Equal("Gold", (string?)(await BalanceOf(customer))["tier"]);
        Assert.Single(await ActivityTypes(customer), t => t == "tierUpgraded");
        Assert.Equal(150, await api.Balance(customer));
        await Program(new { });
    }

    [Fact]
    public async Task Tiers_upgrade_at_once_and_downgrade_at_the_end_of_the_period_after_a_reminder()
    {
        await Program(new
        {
            tiers = new[] { new { name = "Silver", threshold = 0 }, new { name = "Gold", threshold = 100 } },
            tierBasis = new { measure = "points", period = "P1M" },
            reminders = new { tierDowngradeBefore = "P7D" },
        });
        var (_, customer) = await NewCustomer();
        await api.Adjust(customer, 60, create: false);
        await Advance("P20D"); // so that by the reminder the first 60 have left the rolling window
        var silver = await BalanceOf(customer);
        Assert.Equal("Silver", (string?)silver["tier"]);
        Assert.Equal("Gold", (string?)silver["nextTier"]);
        Assert.Equal(40m, (decimal)silver["pointsToNextTier"]!);

        await api.Adjust(customer, 50, create: false);
        var (_, view) = await api.GetJson($"/api/v1/customers/{customer}");
        Assert.Equal("Gold", (string?)view!["tier"]);
        Assert.Contains("tierUpgraded", await ActivityTypes(customer));

        await Advance("P25D");
        Assert.DoesNotContain("tierDowngraded", await ActivityTypes(customer));
        Assert.Contains("tierDowngradeReminder", await ActivityTypes(customer));
        await Advance("P7D");
        (_, view) = await api.GetJson($"/api/v1/customers/{customer}");
        Assert.Equal("Silver", (string?)view!["tier"]);
        Assert.Contains("tierDowngraded", await ActivityTypes(customer));
        await Program(new { });
    }

    [Fact]
    public async Task A_birthday_queues_one_calendar_event_on_the_day_in_the_program_timezone()
    {
        await Program(new { timezone = "Australia/Sydney" });
        var now = DateTimeOffset.Parse((string)(await api.GetJson("/api/v1/test-clock")).Body!["now"]!, System.Globalization.CultureInfo.InvariantCulture);
        var birthday = now.AddDays(10);
        var (_, customer) = await NewCustomer(new { firstName = "Bday", dateOfBirth = $"1990-{birthday:MM-dd}" });
        await Advance("PT1S"); // lets the scheduler plan the new customer's calendar
        await Advance("P12D");

        await Advance("PT1S");
        var (_, events) = await api.GetJson($"/api/v1/customers/{customer}/events");
        var calendar = events!["items"]!.AsArray().Where(e => (string?)e!["type"] == "calendar").ToList();
        Assert.Single(calendar);
        Assert.Equal("birthday", (string?)calendar[0]!["nameSpace"]);
        await Program(new { });
    }

    [Fact]
    public async Task The_join_anniversary_queues_a_calendar_event_with_the_years_since_joining()
    {
        await Program(new { });
        var now = DateTimeOffset.Parse((string)(await api.GetJson("/api/v1/test-clock")).Body!["now"]!, System.Globalization.CultureInfo.InvariantCulture);
        var joined = now.AddYears(-1).AddDays(5);
        var (_, customer) = await NewCustomer(new { firstName = "Anni", createdAt = joined.ToString("O") });
        await Advance("PT1S");
        await Advance("P6D");

        await Advance("PT1S");
        var (_, events) = await api.GetJson($"/api/v1/customers/{customer}/events");
        var calendar = events!["items"]!.AsArray().Single(e => (string?)e!["type"] == "calendar")!;
        Assert.Equal("anniversary", (string?)calendar["nameSpace"]);
        Assert.Equal(1, (int)calendar["payload"]!["calendar"]!["yearsSinceJoining"]!);
    }

    [Fact]
    public async Task The_expirePoints_outcome_expires_the_points_earned_long_enough_ago_once()
    {
        await Program(new { });
        var (tenant, customer) = await NewCustomer();
        await api.Adjust(customer, 70, create: false);
        await Advance("P10D");
        await api.Adjust(customer, 5, create: false);
        var cause = await Action(customer);

        Assert.True(await app.ExpireAsync(tenant, customer, cause, olderThan: "P5D"));
        Assert.False(await app.ExpireAsync(tenant, customer, cause, olderThan: "P5D"));
        var b = await BalanceOf(customer);
        Assert.Equal(5, (long)b["balance"]!);
        Assert.Equal(70, (long)b["expired"]!);
    }

    [Fact]
    public async Task A_movement_caused_by_a_points_event_queues_no_further_points_event()
    {
        await Program(new { });
        await WatchBalanceChanges();
        var (tenant, customer) = await NewCustomer();
        await api.Adjust(customer, 10, create: false);
        var (_, events) = await api.GetJson($"/api/v1/customers/{customer}/events");
        var pointsEvent = (Guid)events!["items"]!.AsArray().Single(e => (string?)e!["type"] == "points")!["eventId"]!;

        Assert.True(await app.EarnAsync(tenant, customer, pointsEvent, 25));

        Assert.Equal(35, (long)(await BalanceOf(customer))["balance"]!);
        (_, events) = await api.GetJson($"/api/v1/customers/{customer}/events");
        Assert.Single(events!["items"]!.AsArray(), e => (string?)e!["type"] == "points");
    }

    [Fact]
    public async Task A_spend_based_tier_counts_the_totals_of_processed_orders()
    {
        await Program(new
        {
            tiers = new[] { new { name = "Bronze", threshold = 0 }, new { name = "Gold", threshold = 500 } },
            tierBasis = new { measure = "spend", period = "lifetime" },
        });
        var (_, customer) = await NewCustomer();
        var order = new { order = new { orderId = "o-1", total = 620.5m }, eventId = Guid.NewGuid(), customerId = customer };
        Assert.Equal(HttpStatusCode.OK, (await api.PostJson("/api/v1/events/orders", order)).Status);
        await api.Processed(order.eventId); // the spend counts once the worker processed the order

        await api.Adjust(customer, 1, create: false);

        var (_, view) = await api.GetJson($"/api/v1/customers/{customer}");
        Assert.Equal("Gold", (string?)view!["tier"]);
        await Program(new { });
    }

    [Fact]
    public async Task A_spend_based_upgrade_takes_effect_when_the_order_is_processed_with_no_points_moved()
    {
        await Program(new
        {
            tiers = new[] { new { name = "Bronze", threshold = 0 }, new { name = "Gold", threshold = 500 } },
            tierBasis = new { measure = "spend", period = "lifetime" },
        });
        var (_, customer) = await NewCustomer();
        async Task Order(decimal total)
        {
            var eventId = Guid.NewGuid();
            var order = new { order = new { orderId = $"o-{eventId:N}", total }, eventId, customerId = customer };
            Assert.Equal(HttpStatusCode.OK, (await api.PostJson("/api/v1/events/orders", order)).Status);
            Assert.Equal("processed", (string?)(await api.Processed(eventId))["status"]);
        }

        await Order(200m); // placed in the threshold-0 tier: joining, not an upgrade
        Assert.Equal("Bronze", (string?)(await api.GetJson($"/api/v1/customers/{customer}")).Body!["tier"]);
        await Order(320.5m);

        var (_, view) = await api.GetJson($"/api/v1/customers/{customer}");
        Assert.Equal("Gold", (string?)view!["tier"]);
        Assert.Equal("Gold", (string?)(await BalanceOf(customer))["tier"]);
        Assert.Single(await ActivityTypes(customer), t => t == "tierUpgraded");
        var (_, ledger) = await api.GetJson($"/api/v1/customers/{customer}/ledger");
        Assert.Empty(ledger!["items"]!.AsArray());

        await Order(10m); // still Gold: nothing more is written
        Assert.Single(await ActivityTypes(customer), t => t == "tierUpgraded");
        await Program(new { });
    }

    [Fact]
    public async Task A_switch_to_spend_based_tiers_counts_the_orders_processed_before_it()
    {
        await Program(new { });
        var (_, customer) = await NewCustomer();
        var eventId = Guid.NewGuid();
        var order = new { order = new { orderId = $"o-{eventId:N}", total = 300.25m }, eventId, customerId = customer };
        Assert.Equal(HttpStatusCode.OK, (await api.PostJson("/api/v1/events/orders", order)).Status);
        await api.Processed(eventId);
        var second = Guid.NewGuid();
        Assert.Equal(HttpStatusCode.OK, (await api.PostJson("/api/v1/events/transactions",
            new { transaction = new { total = 200m, source = "pos" }, eventId = second, customerId = customer })).Status);
        await api.Processed(second);

        await Program(new
        {
            tiers = new[] { new { name = "Bronze", threshold = 0 }, new { name = "Gold", threshold = 500 } },
            tierBasis = new { measure = "spend", period = "P12M" },
        });
        await Advance("PT1S"); // the settle jobs a tier change schedules decide every customer's tier

        Assert.Equal("Gold", (string?)(await api.GetJson($"/api/v1/customers/{customer}")).Body!["tier"]);
        Assert.Equal("Gold", (string?)(await BalanceOf(customer))["tier"]);
        await Program(new { });
    }

    [Fact]
    public async Task After_every_kind_of_movement_balance_and_pending_are_the_sums_of_the_entries()
    {
        await Program(new { expiry = new { mode = "aging", after = "P20D" }, negativeBalance = "allow" });
        var (tenant, a) = await NewCustomer();
        var (_, b) = await NewCustomer();
        var award = await Action(a);
        Assert.True(await app.EarnAsync(tenant, a, award, 300));
        Assert.True(await app.EarnAsync(tenant, a, await Action(a), 50, pendingFor: "P3D"));
        await api.Adjust(a, 40, create: false);
        await api.Adjust(b, 15, create: false);
        var redemption = Guid.NewGuid();
        await api.PostJson("/api/v1/events/redemptions", Api.Redemption(a, 120, redemption));
        await api.Processed(redemption);
        await api.PostJson($"/api/v1/customers/{a}/transfers", new { toCustomerId = b, points = 60 });
        await api.PostJson($"/api/v1/events/{redemption}/reversal", new { points = 20 });
        await api.PostJson($"/api/v1/events/{award}/reversal", new { points = 250 });
        await Advance("P5D");
        await api.PostJson($"/api/v1/customers/{a}/adjustments", new { points = -5, reason = "fix" });
        await Advance("P16D");

        foreach (var customer in new[] { a, b })
        {
            var (_, ledger) = await api.GetJson($"/api/v1/customers/{customer}/ledger?limit=500");
            var items = ledger!["items"]!.AsArray();
            var balance = await BalanceOf(customer);
            Assert.Equal((long)balance["balance"]!, items.Sum(e => (long)e!["points"]!));
            Assert.Equal((long)balance["pending"]!, items.Sum(e => (long)e!["pendingPoints"]!));
        }

        await Program(new { });
    }

    [Fact]
    public async Task A_tier_whose_measure_still_holds_at_the_period_end_is_renewed_without_a_reminder()
    {
        await Program(new
        {
            tiers = new[] { new { name = "Silver", threshold = 0 }, new { name = "Gold", threshold = 100 } },
            tierBasis = new { measure = "points", period = "P1M" },
            reminders = new { tierDowngradeBefore = "P7D" },
        });
        var (_, customer) = await NewCustomer();
        await api.Adjust(customer, 150, create: false);
        await Advance("P20D");
        await api.Adjust(customer, 150, create: false);
        await Advance("P12D");

        var types = await ActivityTypes(customer);
        Assert.Contains("tierRenewed", types);
        Assert.DoesNotContain("tierDowngradeReminder", types);
        var (_, view) = await api.GetJson($"/api/v1/customers/{customer}");
        Assert.Equal("Gold", (string?)view!["tier"]);
        await Program(new { });
    }

    [Fact]
    public async Task A_credit_transfer_or_merge_that_would_overflow_a_figure_is_a_422_and_changes_nothing()
    {
        var (tenant, rich) = await NewCustomer();
        var (_, other) = await NewCustomer();
        await api.Adjust(rich, 10, create: false);
        await api.Adjust(other, 10, create: false);
        // Nine thousand adjustments of 10^15 would get there too; the figures are set directly instead.
        var near = long.MaxValue - 5;
        await app.Services.GetRequiredService<WriteQueue>().WriteAsync(async (c, tx) =>
        {
            await using var cmd = c.Command("UPDATE customers SET points_balance = @b, lifetime_earned = @b WHERE tenant_id = @t AND customer_id = @c", tx);
            return await cmd.With("@b", near).With("@t", tenant).With("@c", rich).ExecuteNonQueryAsync();
        });

        var adjustment = await api.PostJson($"/api/v1/customers/{rich}/adjustments", new { points = 10, reason = "x" });
        var transfer = await api.PostJson($"/api/v1/customers/{other}/transfers", new { toCustomerId = rich, points = 10 });
        var merge = await api.PostJson($"/api/v1/customers/{rich}/merge", new { fromCustomerId = other });

        foreach (var (status, body) in new[] { adjustment, transfer, merge })
            Assert.Equal((HttpStatusCode.UnprocessableEntity, "points_overflow"), (status, (string?)body!["code"]));
        Assert.Equal(near, await api.Balance(rich));
        Assert.Equal(10, await api.Balance(other));
    }

    [Fact]
    public async Task Bad_ledger_requests_are_400s_naming_the_field_and_unknown_customers_404s()
    {
        var (_, customer) = await NewCustomer();
        var badAsOf = await api.GetJson($"/api/v1/customers/{customer}/balance?asOf=yesterday");
        Assert.Equal(HttpStatusCode.BadRequest, badAsOf.Status);
        Assert.Equal(HttpStatusCode.NotFound, (await api.GetJson($"/api/v1/customers/{Guid.NewGuid()}/balance")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await api.GetJson($"/api/v1/customers/{Guid.NewGuid()}/activity")).Status);

        var (status, body) = await api.PostJson($"/api/v1/customers/{customer}/transfers", new { toCustomerId = "nope", points = 0 });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        var paths = body!["errors"]!.AsArray().Select(e => (string?)e!["path"]).ToHashSet();
        Assert.Equal(new HashSet<string?> { "$.toCustomerId", "$.points" }, paths);

        var tooMany = Movements.MaxPoints + 1;
        var transfer = await api.PostJson($"/api/v1/customers/{customer}/transfers", new { toCustomerId = Guid.NewGuid(), points = tooMany });
        Assert.Equal((HttpStatusCode.BadRequest, "$.points"), (transfer.Status, (string?)transfer.Body!["errors"]![0]!["path"]));
        foreach (var points in new[] { -tooMany, long.MinValue }) // the smallest long has no absolute value: it was a 500
        {
            var adjustment = await api.PostJson($"/api/v1/customers/{customer}/adjustments", new { points, reason = "x" });
            Assert.Equal((HttpStatusCode.BadRequest, "$.points"), (adjustment.Status, (string?)adjustment.Body!["errors"]![0]!["path"]));
        }

        var toNobody = await api.PostJson($"/api/v1/customers/{customer}/transfers", new { toCustomerId = Guid.NewGuid(), points = 1 });
        Assert.Equal(HttpStatusCode.NotFound, toNobody.Status);
        Assert.Equal(HttpStatusCode.NotFound, (await api.PostJson($"/api/v1/events/{Guid.NewGuid()}/reversal", new { })).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await api.PostJson("/api/v1/test-clock", new { advanceBy = "P1D", now = DateTimeOffset.UtcNow })).Status);

        // Moves that would take the calendar's arithmetic past its end are refused, not failed (they used to be 500s).
        var tooFar = await api.PostJson("/api/v1/test-clock", new { advanceBy = "P101Y" });
        Assert.Equal(HttpStatusCode.BadRequest, tooFar.Status);
        Assert.Equal("$.advanceBy", (string?)tooFar.Body!["errors"]![0]!["path"]);
        var tooLate = await api.PostJson("/api/v1/test-clock", new { now = "9999-12-31T23:59:59Z" });
        Assert.Equal(HttpStatusCode.BadRequest, tooLate.Status);
        Assert.Equal("$.now", (string?)tooLate.Body!["errors"]![0]!["path"]);
        var program = await api.SendJson(HttpMethod.Put, "/api/v1/program", new { expiry = new { mode = "aging", after = "P9999999Y" } });
        Assert.Equal(HttpStatusCode.BadRequest, program.Status);
        Assert.Equal("$.expiry.after", (string?)program.Body!["errors"]![0]!["path"]);
    }

    [Fact]
    public async Task The_period_end_is_still_scheduled_when_the_reminder_check_passed_without_a_reminder()
    {
        await Program(new
        {
            tiers = new[] { new { name = "Silver", threshold = 0 }, new { name = "Gold", threshold = 100 } },
            tierBasis = new { measure = "points", period = "P1M" },
            reminders = new { tierDowngradeBefore = "P7D" },
        });
        var (_, customer) = await NewCustomer();
        await api.Adjust(customer, 150, create: false);
        await Advance("P25D"); // the reminder check runs; the measure still holds Gold
        Assert.DoesNotContain("tierDowngradeReminder", await ActivityTypes(customer));

        await Advance("P10D"); // the period end: the upgrade's own earn is no longer in the window

        var (_, view) = await api.GetJson($"/api/v1/customers/{customer}");
        Assert.Equal("Silver", (string?)view!["tier"]);
        Assert.Contains("tierDowngraded", await ActivityTypes(customer));
        await Program(new { });
    }

    [Fact]
    public async Task An_award_decided_without_the_open_lots_still_schedules_its_own_earlier_expiry()
    {
        // The customer's first lot is awarded with every lot loaded (none); the next one without them.
        var (tenant, customer, eventId) = await AwardedCustomer(new { expiry = new { mode = "aging", after = "P12M" } });
        Assert.True(await app.EarnAsync(tenant, customer, eventId, 30, expiresAfter: "P2D", outcome: 1)); // nothing due: without them

        await Advance("P3D");

        var after = await BalanceOf(customer);
        Assert.Equal(100, (long)after["balance"]!);
        Assert.Equal(30, (long)after["expired"]!);
        Assert.Contains("pointsExpired", await ActivityTypes(customer));
        await Program(new { });
    }

    [Fact]
    public async Task The_balance_lists_points_expiring_within_the_reminder_period_and_nothing_when_none_do()
    {
        var (tenant, customer, eventId) = await AwardedCustomer(new { expiry = new { mode = "aging", after = "P12M" }, reminders = new { expiryBefore = "P30D" } });
        var far = await BalanceOf(customer); // nothing falls due within the next 30 days: read without the open lots
        Assert.Equal(100, (long)far["balance"]!);
        Assert.Empty(far["expiring"]!.AsArray());

        // Already inside its reminder period when earned: its reminder time has passed, its expiry has not.
        Assert.True(await app.EarnAsync(tenant, customer, eventId, 30, expiresAfter: "P7D", outcome: 1));
        var soon = await BalanceOf(customer);
        Assert.Equal(130, (long)soon["balance"]!);
        var expiring = Assert.Single(soon["expiring"]!.AsArray());
        Assert.Equal(30, (long)expiring!["points"]!);
        await Program(new { });
    }

    [Fact]
    public async Task Reminders_turned_on_after_points_were_earned_still_come_before_those_points_expire()
    {
        var (tenant, customer, eventId) = await AwardedCustomer(new { expiry = new { mode = "aging", after = "P60D" }, reminders = new { expiryBefore = "P0D" } });
        await Program(new { expiry = new { mode = "aging", after = "P60D" }, reminders = new { expiryBefore = "P30D" } });
        await Advance("P10D");
        Assert.True(await app.EarnAsync(tenant, customer, eventId, 5, outcome: 1)); // its own reminder falls at day 40

        await Advance("P21D"); // day 31: the first award's reminder (day 30) is due

        Assert.Contains("pointsExpiryReminder", await ActivityTypes(customer));
        await Program(new { });
    }

    [Fact]
    public async Task An_order_that_introduces_a_customer_records_customerAdded_then_transactionAdded_once()
    {
        var customer = Guid.NewGuid();
        var eventId = Guid.NewGuid();
        var order = new { order = new { orderId = "o-9", total = 42.5m }, eventId, customerId = customer };
        Assert.Equal(HttpStatusCode.OK, (await api.PostJson("/api/v1/events/orders", order)).Status);
        await api.Processed(eventId);
        Assert.Equal(HttpStatusCode.OK, (await api.PostJson("/api/v1/events/orders", order)).Status); // a replay adds nothing

        Assert.Equal(["transactionAdded", "customerAdded"], await ActivityTypes(customer));
        var (_, activity) = await api.GetJson($"/api/v1/customers/{customer}/activity");
        var added = activity!["items"]![0]!["data"]!;
        Assert.Equal(42.5m, (decimal)added["total"]!);
        Assert.Equal(eventId, (Guid)added["causingEventId"]!);
    }

    [Fact]
    public async Task Without_an_active_points_rule_a_balance_change_queues_no_points_event()
    {
        // A tenant of its own: the class's tenant may have a points rule from another test.
        var (created, tenant) = await api.PostJson("/api/v1/admin/tenants", new { name = "No points rules " + Guid.NewGuid() });
        Assert.Equal(HttpStatusCode.Created, created);
        var own = app.Api((string)tenant!["apiKey"]!);
        var customer = Guid.NewGuid();
        await own.Adjust(customer, 10);
        var (_, events) = await own.GetJson($"/api/v1/customers/{customer}/events");
        Assert.DoesNotContain(events!["items"]!.AsArray(), e => (string?)e!["type"] == "points");
        var (_, balance) = await own.GetJson($"/api/v1/customers/{customer}/balance");
        Assert.Equal(10, (long)balance!["balance"]!);
    }

    /// <summary>An active points rule that never fires: balance changes are then queued as points events for it.</summary>
    private async Task WatchBalanceChanges()
    {
        if (await TenantHasPointsRule()) return;
        var (status, body) = await api.PostJson("/api/v1/rules", new
        {
            name = "watch balance changes",
            eventType = "points",
            status = "active",
            conditions = new { all = new object[] { new { field = "points.quantity", op = "gt", value = 1_000_000_000 } } },
            outcomes = new object[] { new { type = "addToSegment", segment = "never" } },
        });
        Assert.True(status == HttpStatusCode.Created, body?.ToJsonString());
    }

    private async Task<bool> TenantHasPointsRule()
    {
        var (_, rules) = await api.GetJson("/api/v1/rules?eventType=points&status=active");
        return rules!["items"]!.AsArray().Count > 0;
    }
}

public sealed class TestClockAbsentOnSqlite(SqliteApp app) : IClassFixture<SqliteApp>
{
    [Fact]
    public async Task Without_TALLY_TEST_CLOCK_the_test_clock_is_404()
    {
        var api = app.Api();
        Assert.Equal(HttpStatusCode.NotFound, (await api.GetJson("/api/v1/test-clock")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await api.PostJson("/api/v1/test-clock", new { advanceBy = "P1D" })).Status);
    }
}
