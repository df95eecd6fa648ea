using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Tally.Storage;
using Tally.Tests.Infrastructure;

namespace Tally.Tests.Ledger;

public sealed class ExpirySweepOnSqlite(SqliteClockApp app) : ExpirySweepTests<SqliteClockApp>(app);

public sealed class ExpirySweepOnPostgres(PostgresClockApp app) : ExpirySweepTests<PostgresClockApp>(app);

/// <summary>The scheduler settles many accounts together (docs/ledger.md "The expiry sweep"), as exactly as one by one.</summary>
public abstract class ExpirySweepTests<TApp>(TApp app) : IClassFixture<TApp>
    where TApp : ClockApp
{
    // More customers than one round of the sweep (SettleJobHandler.RoundSize), so a pass spans several rounds.
    private const int Customers = 300;

    private readonly HttpClient api = app.Api();

    [Fact]
    public async Task Lots_of_many_customers_expire_in_one_sweep_spent_and_pending_ones_included_and_a_second_run_changes_nothing()
    {
        var (status, body) = await api.SendJson(HttpMethod.Put, "/api/v1/program",
            new { expiry = new { mode = "aging", after = "P30D" }, reminders = new { expiryBefore = "P5D" } });
        Assert.True(status == HttpStatusCode.OK, body?.ToJsonString());
        var customers = Enumerable.Range(0, Customers).Select(_ => Guid.NewGuid()).ToList();
        await api.Adjust(customers[0], 100);
        var tenant = (Guid)(await api.GetJson($"/api/v1/customers/{customers[0]}")).Body!["tenantId"]!;

        // Every customer has a lot that expires whole; some spent part of it, some have a pending award that
        // expires before it could be spent, some an award that outlives the sweep.
        await Parallel.ForEachAsync(Enumerable.Range(0, Customers), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, _) =>
        {
            var c = customers[i];
            if (i > 0) await api.Adjust(c, 100);
            if (i % 3 == 0)
            {
                var (spent, why) = await api.PostJson($"/api/v1/customers/{c}/adjustments", new { points = -30, reason = "spent" });
                Assert.True(spent == HttpStatusCode.Created, why?.ToJsonString());
            }

            if (i % 5 == 0) Assert.True(await app.EarnAsync(tenant, c, Guid.NewGuid(), 40, pendingFor: "P40D"));
            if (i % 7 == 0) Assert.True(await app.EarnAsync(tenant, c, Guid.NewGuid(), 20, expiresAfter: "P90D"));
        });

        await Advance("P26D"); // the reminders
        await Advance("P5D"); // the expiries

        var seen = new Dictionary<Guid, (int Entries, int Activity)>();
        for (var i = 0; i < Customers; i++)
        {
            var c = customers[i];
            var balance = await BalanceOf(c);
            Assert.Equal(i % 7 == 0 ? 20 : 0, (long)balance["balance"]!);
            Assert.Equal(0, (long)balance["pending"]!);
            Assert.Equal((i % 3 == 0 ? 70 : 100) + (i % 5 == 0 ? 40 : 0), (long)balance["expired"]!);

            var entries = await Items($"/api/v1/customers/{c}/ledger?limit=500");
            Assert.Equal((long)balance["balance"]!, entries.Sum(e => (long)e!["points"]!));
            Assert.Equal(0, entries.Sum(e => (long)e!["pendingPoints"]!));
            var expiredLots = i % 5 == 0 ? 2 : 1;
            Assert.Equal(expiredLots, entries.Count(e => (string?)e!["type"] == "expire"));

            var activity = (await Items($"/api/v1/customers/{c}/activity?limit=500")).Select(a => (string?)a!["type"]).ToList();
            Assert.Equal(expiredLots, activity.Count(t => t == "pointsExpired"));
            Assert.Equal(expiredLots, activity.Count(t => t == "pointsExpiryReminder"));
            seen[c] = (entries.Count, activity.Count);
        }

        // Every job run again, as after a crash between effects and "done" or on a second node: settled is settled.
        var db = app.Services.GetRequiredService<Database>();
        await using (var c = await db.OpenAsync(CancellationToken.None))
        {
            await using var reset = c.Command("UPDATE scheduled_jobs SET status = 'due' WHERE kind = 'ledger'");
            Assert.True(await reset.ExecuteNonQueryAsync() >= Customers);
        }

        await Advance("PT1M");
        foreach (var c in customers)
        {
            Assert.Equal(seen[c].Entries, (await Items($"/api/v1/customers/{c}/ledger?limit=500")).Count);
            Assert.Equal(seen[c].Activity, (await Items($"/api/v1/customers/{c}/activity?limit=500")).Count);
        }

        await api.SendJson(HttpMethod.Put, "/api/v1/program", new { });
    }

    private async Task Advance(string by)
    {
        var (status, body) = await api.PostJson("/api/v1/test-clock", new { advanceBy = by });
        Assert.True(status == HttpStatusCode.OK, body?.ToJsonString());
    }

    private async Task<JsonNode> BalanceOf(Guid customer)
    {
        var (status, body) = await api.GetJson($"/api/v1/customers/{customer}/balance");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal((long)body!["balance"]!, await api.Balance(customer));
        return body;
    }

    private async Task<List<JsonNode?>> Items(string path)
    {
        var (status, body) = await api.GetJson(path);
        Assert.Equal(HttpStatusCode.OK, status);
        return [.. body!["items"]!.AsArray()];
    }
}
