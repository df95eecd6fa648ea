using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Tally.Events;
using Tally.Storage;
using Tally.Tests.Infrastructure;
using static Tally.Tests.Rules.RuleApi;

namespace Tally.Tests.Rules;

public sealed class RuleRaceOnSqlite(ManualSqliteApp app) : RuleRaceTests<ManualSqliteApp>(app);

public sealed class RuleRaceOnPostgres(ManualPostgresApp app) : RuleRaceTests<ManualPostgresApp>(app);

/// <summary>Limits under concurrency: events processed in two transactions at once, as two worker nodes would.</summary>
public abstract class RuleRaceTests<TApp>(TApp app) : IClassFixture<TApp>
    where TApp : RulesApp
{
    private readonly HttpClient api = app.Api();

    [Fact]
    public async Task Two_racing_events_take_a_total_limit_of_one_exactly_once()
    {
        var ns = "Race." + Guid.NewGuid().ToString("N")[..8];
        await api.Create(Rule("action", OnNameSpace(ns), """[{"type": "points", "points": 100}]""", "\"limits\": {\"total\": 1},"));
        var (a, b) = (Guid.NewGuid(), Guid.NewGuid());
        var first = await Stored(await api.Post("actions", Action(a, ns)));
        var second = await Stored(await api.Post("actions", Action(b, ns)));
        var db = app.Services.GetRequiredService<Database>();
        var processor = app.Services.GetRequiredService<EventProcessor>();

        await using var c1 = await db.OpenAsync(CancellationToken.None);
        await using var c2 = await db.OpenAsync(CancellationToken.None);
        await using var tx1 = await c1.BeginTransactionAsync();
        await processor.ProcessAsync(new ProcessingContext(db, c1, tx1, DateTimeOffset.UtcNow), first, CancellationToken.None);

        // The second event runs while the first one's claim is not committed yet: it waits on the usage row
        // (PostgreSQL) or on the write lock (SQLite), then finds the limit taken.
        var racing = Task.Run(async () =>
        {
            await using var tx2 = await c2.BeginTransactionAsync();
            await processor.ProcessAsync(new ProcessingContext(db, c2, tx2, DateTimeOffset.UtcNow), second, CancellationToken.None);
            await tx2.CommitAsync();
        });
        await Task.Delay(300);
        await tx1.CommitAsync();
        await racing;

        Assert.Equal(100, await api.Balance(a) + await api.Balance(b));
        Assert.Equal(100, await api.Balance(a));
        var total = await app.ReadAsync(async c =>
        {
            await using var cmd = c.Command("SELECT used FROM rule_usages WHERE customer_id = @all");
            return Convert.ToInt64(await cmd.With("@all", Guid.Empty).ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
        });
        Assert.Equal(1, total);
    }

    [Fact]
    public async Task Racing_events_of_many_customers_never_exceed_a_total_limit()
    {
        var ns = "Race." + Guid.NewGuid().ToString("N")[..8];
        await api.Create(Rule("action", OnNameSpace(ns), """[{"type": "points", "points": 1}]""", "\"limits\": {\"total\": 3},"));
        var customers = Enumerable.Range(0, 8).Select(_ => Guid.NewGuid()).ToList();
        var events = new List<StoredEvent>();
        foreach (var customer in customers) events.Add(await Stored(await api.Post("actions", Action(customer, ns))));
        var db = app.Services.GetRequiredService<Database>();
        var processor = app.Services.GetRequiredService<EventProcessor>();

        await Task.WhenAll(events.Select(e => Task.Run(async () =>
        {
            await using var c = await db.OpenAsync(CancellationToken.None);
            await using var tx = await c.BeginTransactionAsync();
            await processor.ProcessAsync(new ProcessingContext(db, c, tx, DateTimeOffset.UtcNow), e, CancellationToken.None);
            await tx.CommitAsync();
        })));

        var sum = 0L;
        foreach (var customer in customers) sum += await api.Balance(customer);
        Assert.Equal(3, sum);
    }

    [Fact]
    public async Task A_crash_mid_event_rolls_everything_back_and_the_replay_fulfils_once()
    {
        var ns = "Crash." + Guid.NewGuid().ToString("N")[..8];
        await api.Create(Rule("action", OnNameSpace(ns, """{"nth": 1}"""),
            """[{"type": "points", "points": 10}, {"type": "voucher", "discount": {"amount": 5}}]""", "\"limits\": {\"perCustomer\": 1},"));
        var customer = Guid.NewGuid();
        var e = await Stored(await api.Post("actions", Action(customer, ns)));
        var db = app.Services.GetRequiredService<Database>();
        var processor = app.Services.GetRequiredService<EventProcessor>();

        for (var run = 0; run < 3; run++)
        {
            await using var c = await db.OpenAsync(CancellationToken.None);
            await using var tx = await c.BeginTransactionAsync();
            await processor.ProcessAsync(new ProcessingContext(db, c, tx, DateTimeOffset.UtcNow), e, CancellationToken.None);
            if (run == 0) await tx.RollbackAsync(); // the process died before the commit
            else await tx.CommitAsync();
        }

        Assert.Equal(10, await api.Balance(customer));
        Assert.Single((await api.Items($"/api/v1/customers/{customer}/vouchers")).AsArray());
        var (_, trace) = await api.GetJson($"/api/v1/events/{e.EventId}/trace");
        Assert.True((bool)trace!["trace"]![0]!["matched"]!);
    }

    [Fact]
    public async Task A_publish_on_one_node_is_seen_by_the_worker_of_another_node()
    {
        // This node runs no worker; the second one, on the same store, processes every event.
        await using var other = new OtherNode(app.Store.Settings);
        _ = other.Server;
        var ns = "Node." + Guid.NewGuid().ToString("N")[..8];
        var customer = Guid.NewGuid();
        var id = await api.Create(Rule("action", OnNameSpace(ns), """[{"type": "points", "points": 1}]"""));
        await api.ProcessedOk(await api.Post("actions", Action(customer, ns)));
        Assert.Equal(1, await api.Balance(customer));

        await api.SendJson(HttpMethod.Put, $"/api/v1/rules/{id}", Rule("action", OnNameSpace(ns), """[{"type": "points", "points": 10}]"""));
        await api.ProcessedOk(await api.Post("actions", Action(customer, ns)));
        Assert.Equal(11, await api.Balance(customer));
    }

    private sealed class OtherNode(IReadOnlyDictionary<string, string> settings) : Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactory<Program>
    {
        protected override void ConfigureWebHost(Microsoft.AspNetCore.Hosting.IWebHostBuilder builder)
        {
            foreach (var (key, value) in settings) builder.UseSetting(key, value);
            builder.UseSetting("Tally:WorkerPollInterval", "00:00:00.050");
            builder.UseSetting("Tally:Webhooks:Send", "false");
            builder.UseEnvironment("Testing");
        }
    }

    private Task<StoredEvent> Stored(Guid eventId) =>
        app.ReadAsync(async c =>
        {
            await using var cmd = c.Command("SELECT tenant_id FROM events WHERE event_id = @e");
            var tenantId = Sql.GuidOf(await cmd.With("@e", eventId).ExecuteScalarAsync());
            return (await EventData.FindAsync(c, null, tenantId, eventId, CancellationToken.None))!.Value.Event;
        });
}
