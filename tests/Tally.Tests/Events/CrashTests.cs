using System.Collections.Concurrent;
using System.Net;
using Tally.Tests.Infrastructure;

namespace Tally.Tests.Events;

public sealed class CrashOnSqlite() : CrashTests("sqlite");

public sealed class CrashOnPostgres() : CrashTests("postgres");

/// <summary>Acknowledged means durable: SIGKILL the real server process, start it again, and count.</summary>
public abstract class CrashTests(string storeKind) : IAsyncLifetime
{
    private readonly TestStore store = TestStore.Create(storeKind);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await store.DisposeAsync();

    [Fact]
    public async Task Every_acknowledged_event_survives_a_kill_and_queued_work_is_finished_after_restart()
    {
        var wallet = Guid.NewGuid();
        var acknowledged = new ConcurrentBag<Guid>();
        var redemptions = new ConcurrentBag<Guid>();
        await using (var first = await ServerProcess.StartAsync(store, runWorker: false))
        {
            var api = first.Api();
            await api.Adjust(wallet, 1000);
            await Parallel.ForEachAsync(Enumerable.Range(0, 240), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, _) =>
            {
                if (i % 12 == 0)
                {
                    var id = Guid.NewGuid();
                    var (status, _) = await api.PostJson("/api/v1/events/redemptions", Api.Redemption(wallet, 10, id));
                    Assert.Equal(HttpStatusCode.OK, status);
                    redemptions.Add(id);
                    acknowledged.Add(id);
                }
                else
                {
                    var id = Guid.NewGuid();
                    var (status, _) = await api.PostJson("/api/v1/events/actions", Api.Action(Guid.NewGuid(), id));
                    Assert.Equal(HttpStatusCode.OK, status);
                    acknowledged.Add(id);
                }
            });
            first.Kill();
        }

        await using var second = await ServerProcess.StartAsync(store, runWorker: true);
        var again = second.Api();
        foreach (var id in acknowledged) Assert.Equal("processed", (string?)(await again.Processed(id))["status"]);
        Assert.Equal(1000 - (10 * redemptions.Count), await again.Balance(wallet));

        // Replays after the restart are recognised and change nothing.
        foreach (var id in redemptions)
        {
            var (status, body) = await again.PostJson("/api/v1/events/redemptions", Api.Redemption(wallet, 10, id));
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.True((bool)body!["isExisting"]!);
        }

        await Task.Delay(300);
        Assert.Equal(1000 - (10 * redemptions.Count), await again.Balance(wallet));
    }

    [Fact]
    public async Task A_kill_while_the_worker_runs_applies_every_redemption_exactly_once()
    {
        var wallet = Guid.NewGuid();
        var acknowledged = new ConcurrentBag<Guid>();
        await using (var first = await ServerProcess.StartAsync(store, runWorker: true))
        {
            var api = first.Api();
            await api.Adjust(wallet, 100_000);
            using var stop = new CancellationTokenSource();
            var load = Parallel.ForEachAsync(Enumerable.Range(0, 2000), new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = stop.Token }, async (_, ct) =>
            {
                var id = Guid.NewGuid();
                try
                {
                    var (status, _) = await api.PostJson("/api/v1/events/redemptions", Api.Redemption(wallet, 1, id));
                    if (status == HttpStatusCode.OK) acknowledged.Add(id);
                }
                catch (HttpRequestException)
                {
                    // The server died under this request: it was never acknowledged.
                }
            });
            while (acknowledged.Count < 300) await Task.Delay(10);
            first.Kill();
            await stop.CancelAsync();
            try
            {
                await load;
            }
            catch (OperationCanceledException)
            {
            }
        }

        await using var second = await ServerProcess.StartAsync(store, runWorker: true);
        var again = second.Api();
        foreach (var id in acknowledged) await again.Processed(id);

        // Every redeem entry belongs to a distinct event, every acknowledged one is there, and the balance is their sum.
        var entries = new List<(Guid EventId, long Points)>();
        string? cursor = null;
        do
        {
            var (_, page) = await again.GetJson($"/api/v1/customers/{wallet}/ledger?limit=500" + (cursor is null ? "" : $"&cursor={cursor}"));
            entries.AddRange(page!["items"]!.AsArray().Where(e => (string?)e!["type"] == "redeem").Select(e => ((Guid)e!["eventId"]!, (long)e["points"]!)));
            cursor = (string?)page["next"];
        }
        while (cursor is not null);

        Assert.Equal(entries.Count, entries.Select(e => e.EventId).Distinct().Count());
        Assert.Subset(entries.Select(e => e.EventId).ToHashSet(), acknowledged.ToHashSet());
        Assert.Equal(100_000 + entries.Sum(e => e.Points), await again.Balance(wallet));
    }
}
