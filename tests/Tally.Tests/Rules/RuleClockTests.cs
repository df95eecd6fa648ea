using System.Net;
using Microsoft.AspNetCore.Hosting;
using Tally.Tests.Infrastructure;
using static Tally.Tests.Rules.RuleApi;

namespace Tally.Tests.Rules;

/// <summary>The rules server with TALLY_TEST_CLOCK=true: tests move time and see scheduled work run.</summary>
public abstract class RulesClockApp : RulesApp
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("TALLY_TEST_CLOCK", "true");
    }
}

public sealed class RulesClockSqliteApp : RulesClockApp
{
    protected override string StoreKind => "sqlite";
}

public sealed class RulesClockPostgresApp : RulesClockApp
{
    protected override string StoreKind => "postgres";
}

public sealed class RuleClockOnSqlite(RulesClockSqliteApp app) : RuleClockTests<RulesClockSqliteApp>(app);

public sealed class RuleClockOnPostgres(RulesClockPostgresApp app) : RuleClockTests<RulesClockPostgresApp>(app);

/// <summary>Outcomes that act later: triggers through the scheduler runner, pending points through the ledger.</summary>
public abstract class RuleClockTests<TApp>(TApp app) : IClassFixture<TApp>
    where TApp : RulesClockApp
{
    private readonly HttpClient api = app.Api();

    private async Task Advance(string by)
    {
        var (status, body) = await api.PostJson("/api/v1/test-clock", new { advanceBy = by });
        Assert.True(status == HttpStatusCode.OK, body?.ToJsonString());
    }

    [Fact]
    public async Task A_trigger_creates_the_future_action_event_when_it_falls_due_and_its_rules_fire()
    {
        var ns = "Trig." + Guid.NewGuid().ToString("N")[..8];
        await api.Create(Rule("action", OnNameSpace(ns), $$"""[{"type": "trigger", "nameSpace": "{{ns}}.followUp", "after": "P7D"}]"""));
        await api.Create(Rule("action", OnNameSpace(ns + ".followUp"), """[{"type": "points", "points": 9}]"""));
        var customer = Guid.NewGuid();
        await api.ProcessedOk(await api.Post("actions", new { customerId = customer, nameSpace = ns }));

        await Advance("P6D");
        await Task.Delay(200);
        Assert.Equal(0, await api.Balance(customer));
        Assert.Single((await api.Items($"/api/v1/customers/{customer}/events")).AsArray());

        await Advance("P1D");
        await Eventually(async () => await api.Balance(customer) == 9, "the triggered action did not award its points");
        var events = (await api.Items($"/api/v1/customers/{customer}/events")).AsArray();
        Assert.Contains(events, e => (string?)e!["nameSpace"] == ns + ".followUp" && (string?)e["type"] == "action");
    }

    [Fact]
    public async Task Points_with_a_pendingFor_override_become_spendable_when_the_period_ends()
    {
        var ns = "Pend." + Guid.NewGuid().ToString("N")[..8];
        await api.Create(Rule("order", OnNameSpace(ns), """[{"type": "points", "points": 30, "pendingFor": "P14D"}, {"type": "points", "points": 5}]"""));
        var customer = Guid.NewGuid();
        await api.ProcessedOk(await api.Post("orders", Order(customer, ns, 10m)));
        Assert.Equal(5, await api.Balance(customer));

        await Advance("P15D");
        await Eventually(async () => await api.Balance(customer) == 35, "the pending points were not activated");
    }

    [Fact]
    public async Task An_expirePoints_outcome_on_a_calendar_event_expires_points_older_than_its_period()
    {
        var ns = "Exp." + Guid.NewGuid().ToString("N")[..8];
        await api.Create(Rule("action", OnNameSpace(ns), """[{"type": "points", "points": 40}]"""));
        await api.Create(Rule("calendar", OnNameSpace(ns + ".sweep"), """[{"type": "expirePoints", "olderThan": "P30D"}]"""));
        var customer = Guid.NewGuid();
        await api.ProcessedOk(await api.Post("actions", new { customerId = customer, nameSpace = ns }));
        await Advance("P10D");
        await api.ProcessedOk(await api.Post("actions", new { customerId = customer, nameSpace = ns }));
        Assert.Equal(80, await api.Balance(customer));
        await Advance("P25D");

        var tenantId = await app.ReadAsync(async c =>
        {
            await using var cmd = Tally.Storage.Sql.Command(c, "SELECT tenant_id FROM customers WHERE customer_id = @c");
            return Tally.Storage.Sql.GuidOf(await Tally.Storage.Sql.With(cmd, "@c", customer).ExecuteScalarAsync());
        });
        var sweep = Tally.Events.EventData.DerivedId(tenantId, $"test-sweep:{customer}");
        var now = DateTimeOffset.Parse((string)(await api.GetJson("/api/v1/test-clock")).Body!["now"]!, System.Globalization.CultureInfo.InvariantCulture);
        await app.WriteAsync(async (c, tx) => await Tally.Events.EventData.EnqueueInternalAsync(c, tx, new(tenantId, sweep, customer, Tally.Events.EventType.Calendar,
            ns + ".sweep", $$$"""{"nameSpace": "{{{ns}}}.sweep", "calendar": {"kind": "trigger"}}""", now), CancellationToken.None));
        await api.ProcessedOk(sweep);

        Assert.Equal(40, await api.Balance(customer));
    }
}
