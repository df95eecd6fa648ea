using Tally.Storage;
using Tally.Tests.Infrastructure;
using static Tally.Tests.Rules.RuleApi;

namespace Tally.Tests.Rules;

public sealed class ReplayOnSqlite(RulesSqliteApp app) : ReplayTests<RulesSqliteApp>(app);

public sealed class ReplayOnPostgres(RulesPostgresApp app) : ReplayTests<RulesPostgresApp>(app);

/// <summary>
/// Replaying any sequence of events (as after a crash, or an operator re-queueing them) leaves counters, usages,
/// balances and every fulfilment exactly as the first run left them.
/// </summary>
public abstract class ReplayTests<TApp>(TApp app) : IClassFixture<TApp>
    where TApp : RulesApp
{
    private readonly HttpClient api = app.Api();

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Replaying_a_random_event_sequence_changes_no_counter_usage_balance_or_fulfilment(int seed)
    {
        var ns = $"Replay{seed}." + Guid.NewGuid().ToString("N")[..8];
        var segment = "replay-" + Guid.NewGuid().ToString("N")[..8];
        await api.Create(Rule("action", OnNameSpace(ns, """{"everyNth": 2}"""), """[{"type": "points", "points": 10}]"""));
        await api.Create(Rule("action", OnNameSpace(ns, """{"nth": 3}"""), $$"""[{"type": "points", "points": 100}, {"type": "addToSegment", "segment": "{{segment}}"}]"""));
        await api.Create(Rule("action", OnNameSpace(ns, """{"repeat": {"times": 2, "within": "P10D"}}"""), """[{"type": "points", "points": 1}]""", "\"limits\": {\"perCustomer\": 3},"));
        await api.Create(Rule("spend", OnNameSpace(ns, """{"lifetimeValue": {"op": "gte", "value": 100}}"""),
            """[{"type": "pointsRate", "rate": 0.5, "of": "spend.total", "rounding": "nearest"}, {"type": "voucher", "discount": {"amount": 5}}]""",
            "\"limits\": {\"total\": 4},"));
        await api.Create(Rule("order", OnNameSpace(ns, $$"""{"segment": "{{segment}}"}"""), """[{"type": "points", "points": 1000}]"""));

        var random = new Random(seed);
        var customers = Enumerable.Range(0, 3).Select(_ => Guid.NewGuid()).ToList();
        var start = DateTimeOffset.UtcNow.AddDays(-20);
        var events = new List<Guid>();
        for (var i = 0; i < 24; i++)
        {
            var customer = customers[random.Next(customers.Count)];
            var at = start.AddHours(i * 18);
            events.Add(random.Next(3) switch
            {
                0 => await api.Post("orders", new { customerId = customer, nameSpace = ns, createdAt = at, order = new { total = random.Next(1, 80) + 0.25m } }),
                1 => await api.Post("transactions", new { customerId = customer, nameSpace = ns, createdAt = at, transaction = new { total = random.Next(1, 50) + 0.5m } }),
                _ => await api.Post("actions", Action(customer, ns, createdAt: at)),
            });
        }

        foreach (var e in events) await api.ProcessedOk(e);
        var first = await Snapshot(customers);

        // Re-queue a random half of the events (or all of them), in their original order, and let the worker run them again.
        var replayed = seed == 3 ? events : events.Where(_ => random.Next(2) == 0).ToList();
        await app.WriteAsync(async (c, tx) =>
        {
            await using var cmd = c.Command("UPDATE events SET status = 'pending' WHERE event_id = @e", tx);
            cmd.With("@e", Guid.Empty);
            foreach (var e in replayed)
            {
                cmd.Parameters["@e"].Value = c is Npgsql.NpgsqlConnection ? e : e.ToString();
                await cmd.ExecuteNonQueryAsync();
            }

            return true;
        });
        foreach (var e in replayed) await api.ProcessedOk(e);

        Assert.Equal(first, await Snapshot(customers));
    }

    private Task<string> Snapshot(List<Guid> customers) => app.ReadAsync(async c =>
    {
        var parts = new List<string>();
        foreach (var customer in customers)
        {
            foreach (var sql in new[]
            {
                "SELECT COUNT(*) FROM rule_counters WHERE customer_id = @c",
                "SELECT COALESCE(SUM(amount_e4), 0) FROM rule_counters WHERE customer_id = @c",
                "SELECT COALESCE(SUM(used), 0) FROM rule_usages WHERE customer_id = @c",
                "SELECT COUNT(*) FROM rule_fires WHERE customer_id = @c",
                "SELECT COUNT(*) FROM ledger_entries WHERE customer_id = @c",
                "SELECT points_balance FROM customers WHERE customer_id = @c",
                "SELECT COUNT(*) FROM segment_members WHERE customer_id = @c",
                "SELECT COUNT(*) FROM vouchers WHERE customer_id = @c",
            })
            {
                await using var cmd = c.Command(sql);
                parts.Add(Convert.ToString(await cmd.With("@c", customer).ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture)!);
            }
        }

        await using var total = c.Command("SELECT COALESCE(SUM(used), 0) FROM rule_usages WHERE customer_id = @all");
        parts.Add(Convert.ToString(await total.With("@all", Guid.Empty).ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture)!);
        return string.Join("/", parts);
    });
}
