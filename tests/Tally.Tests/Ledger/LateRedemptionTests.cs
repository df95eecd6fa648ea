using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Tally.Events;
using Tally.Ledger;
using Tally.Rules;
using Tally.Storage;
using Tally.Tests.Infrastructure;
using Tally.Tests.Rules;

namespace Tally.Tests.Ledger;

public sealed class LateRedemptionOnSqlite(LateRedemptionOnSqlite.App app) : LateRedemptionTests<LateRedemptionOnSqlite.App>(app)
{
    public sealed class App : ManualClockApp
    {
        protected override string StoreKind => "sqlite";
    }
}

public sealed class LateRedemptionOnPostgres(LateRedemptionOnPostgres.App app) : LateRedemptionTests<LateRedemptionOnPostgres.App>(app)
{
    public sealed class App : ManualClockApp
    {
        protected override string StoreKind => "postgres";
    }
}

/// <summary>Without the event worker, on a clock the test moves.</summary>
public abstract class ManualClockApp : RulesApp
{
    protected override bool RunWorker => false;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("TALLY_TEST_CLOCK", "true");
    }
}

/// <summary>
/// A redemption is accepted against the balance of the moment and applied by the worker later. If the points it was
/// promised expire in between, it cannot be applied: the event fails with the reason, nothing is spent, and the
/// promise is released (the worker is off and the clock is the test's, so the test decides when the redemption is applied).
/// </summary>
public abstract class LateRedemptionTests<TApp>(TApp app) : IClassFixture<TApp>
    where TApp : RulesApp
{
    private readonly HttpClient api = app.Api();

    [Fact]
    public async Task The_balance_asOf_counts_a_redemption_promised_then_and_applied_later_as_reserved()
    {
        var customer = Guid.NewGuid();
        await api.Adjust(customer, 100);
        var db = app.Services.GetRequiredService<Database>();
        var clock = app.Services.GetRequiredService<TimeProvider>();
        var beforeIt = clock.GetUtcNow();
        await api.PostJson("/api/v1/test-clock", new { advanceBy = "PT1M" });
        var redemption = Guid.NewGuid();
        var (status, body) = await api.PostJson("/api/v1/events/redemptions", Api.Redemption(customer, 30, redemption));
        Assert.True(status == HttpStatusCode.OK, body?.ToJsonString());
        var promised = clock.GetUtcNow();
        await api.PostJson("/api/v1/test-clock", new { advanceBy = "PT1H" });
        var processor = app.Services.GetRequiredService<EventProcessor>();
        await app.WriteAsync((c, tx) =>
            EventProcessing.ProcessPendingAsync(db, c, tx, processor, 100, clock.GetUtcNow(), new ProcessingCursor(), CancellationToken.None));
        Assert.Equal("processed", (string?)(await api.GetJson($"/api/v1/events/{redemption}")).Body!["status"]);

        async Task<(long Balance, long Reserved)> At(DateTimeOffset t)
        {
            var (s, b) = await api.GetJson($"/api/v1/customers/{customer}/balance?asOf={Uri.EscapeDataString(t.ToString("O"))}");
            Assert.Equal(HttpStatusCode.OK, s);
            return ((long)b!["balance"]!, (long)b["reserved"]!);
        }

        Assert.Equal((100, 0), await At(beforeIt));
        Assert.Equal((70, 30), await At(promised.AddMinutes(30))); // promised, not applied yet
        await api.PostJson("/api/v1/test-clock", new { advanceBy = "PT1M" });
        Assert.Equal((70, 0), await At(clock.GetUtcNow().AddSeconds(-30))); // applied: spent, no longer promised
    }

    [Fact]
    public async Task A_redemption_whose_points_expired_before_it_was_applied_fails_with_the_reason_and_releases_its_promise()
    {
        var customer = Guid.NewGuid();
        await api.Adjust(customer, 10);
        var tenant = (Guid)(await api.GetJson($"/api/v1/customers/{customer}")).Body!["tenantId"]!;
        var db = app.Services.GetRequiredService<Database>();
        var clock = app.Services.GetRequiredService<TimeProvider>();
        var earnedAt = clock.GetUtcNow();
        var award = new PointsDecision
        {
            RuleId = "7d1f5a0e-0000-4000-8000-0000000000cc", RuleVersion = 1, RuleName = "short-lived", OutcomeIndex = 0, Points = 100, ExpiresAfter = "PT1H",
        };
        Assert.True(await app.WriteAsync((c, tx) => PointsBook.EarnAsync(
            new ProcessingContext(db, c, tx, earnedAt), tenant, customer, award, Cause.Event(Guid.NewGuid().ToString(), award.RuleId, 1, 0), CancellationToken.None)));

        var redemption = Guid.NewGuid();
        var (status, body) = await api.PostJson("/api/v1/events/redemptions", Api.Redemption(customer, 50, redemption));
        Assert.True(status == HttpStatusCode.OK, body?.ToJsonString());
        Assert.Equal(110, (long)body!["startingBalance"]!);

        // The worker comes round after the 100 points expired.
        var (moved, why) = await api.PostJson("/api/v1/test-clock", new { advanceBy = "PT2H" });
        Assert.True(moved == HttpStatusCode.OK, why?.ToJsonString());
        var processor = app.Services.GetRequiredService<EventProcessor>();
        var handled = await app.WriteAsync((c, tx) =>
            EventProcessing.ProcessPendingAsync(db, c, tx, processor, 100, clock.GetUtcNow(), new ProcessingCursor(), CancellationToken.None));
        Assert.Equal(1, handled);

        var (_, stored) = await api.GetJson($"/api/v1/events/{redemption}");
        Assert.Equal("failed", (string?)stored!["status"]);
        Assert.Contains("not applied", (string?)stored["error"], StringComparison.Ordinal);
        Assert.Equal(10, await api.Balance(customer));

        // The promise of 50 is gone: the 10 left can be redeemed.
        var (again, answer) = await api.PostJson("/api/v1/events/redemptions", Api.Redemption(customer, 10));
        Assert.True(again == HttpStatusCode.OK, answer?.ToJsonString());
        Assert.Equal(10, (long)answer!["startingBalance"]!);
    }
}
