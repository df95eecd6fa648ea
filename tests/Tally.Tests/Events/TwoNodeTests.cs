using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using Tally.Tests.Infrastructure;

namespace Tally.Tests.Events;

/// <summary>
/// Two real server processes on one PostgreSQL database, both taking requests and both running the worker:
/// no redemption is applied twice or skipped, no wallet is overdrawn, and each customer's events are applied
/// in the order they were accepted.
/// </summary>
public sealed class TwoNodeTests : IAsyncLifetime
{
    private const int Wallets = 12;
    private const int RedemptionsPerWallet = 14;
    private readonly TestStore store = TestStore.Create("postgres");

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await store.DisposeAsync();

    [Fact]
    public async Task Two_nodes_share_the_queue_and_apply_every_event_once_in_customer_order()
    {
        // Both start at once on the empty database (migrations and the first tenant race too); one failing to start
        // must not leave the other running.
        var starting = new[] { ServerProcess.StartAsync(store, runWorker: true), ServerProcess.StartAsync(store, runWorker: true) };
        try
        {
            await Task.WhenAll(starting);
        }
        catch
        {
            foreach (var started in starting.Where(t => t.IsCompletedSuccessfully)) await (await started).DisposeAsync();
            throw;
        }

        await using var a = await starting[0];
        await using var b = await starting[1];
        HttpClient[] apis = [a.Api(), b.Api()];
        var wallets = Enumerable.Range(0, Wallets).Select(_ => Guid.NewGuid()).ToArray();
        foreach (var (wallet, i) in wallets.Select((w, i) => (w, i))) await apis[i % 2].Adjust(wallet, 100);

        // 14 redemptions of 10 against 100 per wallet, sent to both nodes at once: at most 10 can be accepted.
        var accepted = new ConcurrentDictionary<Guid, ConcurrentBag<Guid>>();
        var work = wallets.SelectMany(w => Enumerable.Range(0, RedemptionsPerWallet).Select(n => (Wallet: w, N: n))).ToArray();
        await Parallel.ForEachAsync(work, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (x, _) =>
        {
            var id = Guid.NewGuid();
            var (status, _) = await apis[x.N % 2].PostJson("/api/v1/events/redemptions", Api.Redemption(x.Wallet, 10, id));
            if (status == HttpStatusCode.OK) accepted.GetOrAdd(x.Wallet, _ => []).Add(id);
            else Assert.True(status == HttpStatusCode.UnprocessableEntity, $"{status}\n{a.Output}\n{b.Output}");
        });

        foreach (var wallet in wallets)
        {
            var ids = accepted[wallet];
            Assert.Equal(10, ids.Count);
            foreach (var id in ids) Assert.Equal("processed", (string?)(await apis[0].Processed(id))["status"]);

            var redeemed = (await ListAsync(apis[1], $"/api/v1/customers/{wallet}/ledger"))
                .Where(e => (string?)e["type"] == "redeem").Select(e => (Guid)e["eventId"]!).Reverse().ToList();
            var arrived = (await ListAsync(apis[0], $"/api/v1/customers/{wallet}/events"))
                .Where(e => (string?)e["type"] == "redemption").Select(e => (Guid)e["eventId"]!).Reverse().ToList();
            if (!arrived.SequenceEqual(redeemed)) Assert.Fail(await DumpAsync(wallet));
            Assert.Equal(ids.ToHashSet(), redeemed.ToHashSet());
            Assert.Equal(0, await apis[1].Balance(wallet));
        }
    }

    private async Task<string> DumpAsync(Guid wallet)
    {
        await using var c = new Npgsql.NpgsqlConnection(((PostgresStore)store).ConnectionString);
        await c.OpenAsync();
        var sb = new System.Text.StringBuilder();
        await using (var cmd = new Npgsql.NpgsqlCommand($"SELECT seq, event_id, received_at, processed_at FROM events WHERE customer_id = '{wallet}' ORDER BY seq", c))
        await using (var r = await cmd.ExecuteReaderAsync())
            while (await r.ReadAsync()) sb.AppendLine($"event seq={r.GetInt64(0)} id={r.GetGuid(1)} at={r.GetInt64(2)} processed={r.GetInt64(3)}");
        await using (var cmd = new Npgsql.NpgsqlCommand($"SELECT entry_id, event_id, created_at FROM ledger_entries WHERE customer_id = '{wallet}' ORDER BY entry_id", c))
        await using (var r = await cmd.ExecuteReaderAsync())
            while (await r.ReadAsync()) sb.AppendLine($"entry {r.GetInt64(0)} event={(r.IsDBNull(1) ? "" : r.GetGuid(1).ToString())} at={r.GetInt64(2)}");
        return sb.ToString();
    }

    private static async Task<List<JsonNode>> ListAsync(HttpClient api, string path)
    {
        var items = new List<JsonNode>();
        string? cursor = null;
        do
        {
            var (status, page) = await api.GetJson($"{path}?limit=100" + (cursor is null ? "" : $"&cursor={cursor}"));
            Assert.Equal(HttpStatusCode.OK, status);
            items.AddRange(page!["items"]!.AsArray().Select(e => e!));
            cursor = (string?)page["next"];
        }
        while (cursor is not null);
        return items;
    }
}
