using System.Net;
using System.Text.Json.Nodes;
using Npgsql;
using Tally.Tests.Infrastructure;

namespace Tally.Tests.Ledger;

public sealed class SchedulerCrashOnSqlite() : SchedulerCrashTests("sqlite");

public sealed class SchedulerCrashOnPostgres() : SchedulerCrashTests("postgres");

/// <summary>The scheduler is durable: work scheduled before a SIGKILL runs after the restart, once.</summary>
public abstract class SchedulerCrashTests(string storeKind) : IAsyncLifetime
{
    private readonly TestStore store = TestStore.Create(storeKind);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await store.DisposeAsync();

    [Fact]
    public async Task An_expiry_scheduled_before_a_kill_runs_once_after_the_restart()
    {
        var customer = Guid.NewGuid();
        await using (var first = await ServerProcess.StartAsync(store, runWorker: true,
            environment: new Dictionary<string, string> { ["Tally__RunScheduler"] = "false" }))
        {
            var api = first.Api();
            Assert.Equal(HttpStatusCode.OK, (await api.SendJson(HttpMethod.Put, "/api/v1/program", new { expiry = new { mode = "aging", after = "PT2S" } })).Status);
            await api.Adjust(customer, 100);
            await Task.Delay(2500); // due now, but this node runs no scheduler
            Assert.Equal(100, await api.Balance(customer));
            first.Kill();
        }

        await using var second = await ServerProcess.StartAsync(store, runWorker: true);
        var again = second.Api();
        await Wait.Eventually(async () => await again.Balance(customer) == 0);
        await Task.Delay(500);

        var (_, ledger) = await again.GetJson($"/api/v1/customers/{customer}/ledger?limit=500");
        Assert.Single(ledger!["items"]!.AsArray(), e => (string?)e!["type"] == "expire");
        var (_, activity) = await again.GetJson($"/api/v1/customers/{customer}/activity?limit=500");
        Assert.Single(activity!["items"]!.AsArray(), e => (string?)e!["type"] == "pointsExpired");
    }
}

/// <summary>Two server processes on one PostgreSQL database: each due job runs on exactly one of them.</summary>
public sealed class TwoSchedulersOnPostgres : IAsyncLifetime
{
    private readonly PostgresStore store = (PostgresStore)TestStore.Create("postgres");

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await store.DisposeAsync();

    [Fact]
    public async Task Every_due_expiry_runs_on_exactly_one_of_two_nodes()
    {
        await using var a = await ServerProcess.StartAsync(store, runWorker: true,
            environment: new Dictionary<string, string> { ["Tally__SchedulerPollInterval"] = "00:00:00.050", ["Tally__SchedulerBatchSize"] = "5" });
        await using var b = await ServerProcess.StartAsync(store, runWorker: true,
            environment: new Dictionary<string, string> { ["Tally__SchedulerPollInterval"] = "00:00:00.050", ["Tally__SchedulerBatchSize"] = "5" });
        var apiA = a.Api();
        var apiB = b.Api();
        Assert.Equal(HttpStatusCode.OK, (await apiA.SendJson(HttpMethod.Put, "/api/v1/program", new { expiry = new { mode = "aging", after = "PT3S" } })).Status);
        var customers = Enumerable.Range(0, 60).Select(_ => Guid.NewGuid()).ToList();
        await Parallel.ForEachAsync(customers.Select((c, i) => (c, i)), new ParallelOptions { MaxDegreeOfParallelism = 8 },
            async (x, _) => await (x.i % 2 == 0 ? apiA : apiB).Adjust(x.c, 10));

        foreach (var c in customers) await Wait.Eventually(async () => await apiA.Balance(c) == 0);
        await Task.Delay(500);

        foreach (var c in customers)
        {
            var (_, ledger) = await apiB.GetJson($"/api/v1/customers/{c}/ledger?limit=500");
            Assert.Single(ledger!["items"]!.AsArray(), e => (string?)e!["type"] == "expire");
            var (_, activity) = await apiA.GetJson($"/api/v1/customers/{c}/activity?limit=500");
            Assert.Single(activity!["items"]!.AsArray(), e => (string?)e!["type"] == "pointsExpired");
        }

        await using var conn = new NpgsqlConnection(store.ConnectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand("SELECT COUNT(*) FILTER (WHERE status = 'done' AND attempts = 1), COUNT(*) FILTER (WHERE attempts > 1) FROM scheduled_jobs WHERE kind = 'ledger'", conn);
        await using var r = await cmd.ExecuteReaderAsync();
        await r.ReadAsync();
        Assert.True(r.GetInt64(0) >= customers.Count);
        Assert.Equal(0, r.GetInt64(1));
    }
}

internal static class Wait
{
    public static async Task Eventually(Func<Task<bool>> condition, int seconds = 20)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("The condition did not hold in time.");
            await Task.Delay(50);
        }
    }
}

/// <summary>On a node without the event worker, accepted redemptions stay unapplied (reserved), so the test can hold them.</summary>
public sealed class ReservedPointsOnSqlite : IAsyncLifetime
{
    private readonly TestStore store = TestStore.Create("sqlite");

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await store.DisposeAsync();

    [Fact]
    public async Task Unapplied_redemptions_count_against_deductions_transfers_and_merges()
    {
        await using var server = await ServerProcess.StartAsync(store, runWorker: false);
        var api = server.Api();
        var (source, target) = (Guid.NewGuid(), Guid.NewGuid());
        await api.Adjust(source, 50);
        await api.Adjust(target, 5);
        Assert.Equal(HttpStatusCode.OK, (await api.PostJson("/api/v1/events/redemptions", Api.Redemption(source, 40))).Status);

        var (_, balance) = await api.GetJson($"/api/v1/customers/{source}/balance");
        Assert.Equal(10, (long)balance!["balance"]!);
        Assert.Equal(40, (long)balance["reserved"]!);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await api.PostJson($"/api/v1/customers/{source}/adjustments", new { points = -11, reason = "x" })).Status);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await api.PostJson($"/api/v1/customers/{source}/transfers", new { toCustomerId = target, points = 11 })).Status);
        Assert.Equal(HttpStatusCode.Created, (await api.PostJson($"/api/v1/customers/{source}/transfers", new { toCustomerId = target, points = 10 })).Status);
        var merge = await api.PostJson($"/api/v1/customers/{target}/merge", new { fromCustomerId = source });
        Assert.Equal(HttpStatusCode.Conflict, merge.Status);
        Assert.Equal("redemptions_pending", (string?)merge.Body!["code"]);
    }
}
