using Tally.Customers;
using Tally.Events;
using Tally.Ledger;
using Tally.Storage;
using Tally.Tests.Storage;

namespace Tally.Tests.Calendar;

public sealed class CalendarPlanningOnSqlite() : CalendarPlanningTests("sqlite");

public sealed class CalendarPlanningOnPostgres() : CalendarPlanningTests("postgres");

/// <summary>
/// One planner pass plans every new customer it takes and marks each of them planned, so the next pass finds none. On
/// PostgreSQL the store runs with Npgsql's auto-prepare on (as the server does), under which a command reused with its
/// parameters cleared and added anew stopped marking the customers it named: passes planned the same customers again.
/// </summary>
public abstract class CalendarPlanningTests(string kind) : QueuedStoreTest(kind)
{
    private static readonly DateTimeOffset Now = DateTimeOffset.Parse("2026-03-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture);

    private readonly Guid tenant = Guid.NewGuid();

    [Fact]
    public async Task A_pass_marks_every_customer_it_plans()
    {
        var customers = Enumerable.Range(0, 30).Select(_ => Guid.NewGuid()).ToArray();
        await Queue.WriteAsync(async (c, tx) =>
        {
            foreach (var id in customers) await CustomerData.EnsureAsync(c, tx, tenant, id, Now, default);
            return true;
        });

        Assert.Equal(30, await PassAsync(limit: 100));
        Assert.Equal(0, await CountAsync("SELECT COUNT(*) FROM customers WHERE tenant_id = @t AND NOT calendar_planned"));
        Assert.Equal(30, await CountAsync("SELECT COUNT(DISTINCT customer_id) FROM scheduled_jobs WHERE tenant_id = @t"));
        Assert.Equal(0, await PassAsync(limit: 100));
    }

    private Task<int> PassAsync(int limit) =>
        Queue.WriteAsync((c, tx) => CalendarJobHandler.PlanNewCustomersAsync(new ProcessingContext(Db, c, tx, Now), limit, default));

    private Task<long> CountAsync(string sql) => Db.ReadAsync(async c =>
    {
        await using var cmd = c.Command(sql).With("@t", tenant);
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }, default);
}
