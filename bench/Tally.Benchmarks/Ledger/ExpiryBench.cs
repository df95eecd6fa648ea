using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Tally.Events;
using Tally.Ledger;
using Tally.Scheduling;
using Tally.Server;
using Tally.Server.Events;
using Tally.Server.Scheduling;
using Tally.Storage;

namespace Tally.Benchmarks.Ledger;

/// <summary>
/// Not a BenchmarkDotNet benchmark: seeds N lots that are all due, then times the scheduler expiring them,
/// while 32 writers ingest action events through the same write queue (ingest rate idle vs during expiry).
/// Usage: expiry [lots=1000000] [lotsPerCustomer=10] [batch=2000] [postgres connection string];
/// BENCH_BUDGET_MS and BENCH_SHARE override the pass budget and the scheduler's writer share.
/// </summary>
public static class ExpiryBench
{
    public static async Task RunAsync(string[] args)
    {
        var lots = args.Length > 0 ? long.Parse(args[0], CultureInfo.InvariantCulture) : 1_000_000;
        var perCustomer = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 10;
        var batch = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 2_000;
        var pg = args.Length > 3 ? args[3] : null;
        var dir = Path.Combine(Path.GetTempPath(), "tally-bench-" + Guid.NewGuid().ToString("N"));
        await using var db = pg is null ? Database.Sqlite(dir) : Database.Postgres(pg);
        await Migrations.MigrateAsync(db, NullLogger.Instance, CancellationToken.None);
        var tenant = Guid.NewGuid();
        var now = DateTimeOffset.UtcNow;
        var customers = (int)(lots / perCustomer);
        Console.WriteLine($"store {db.Description}; {lots:N0} due lots, {perCustomer} per customer ({customers:N0} customers, one settle job each); batch {batch}");

        var seed = Stopwatch.StartNew();
        await SeedAsync(db, tenant, customers, perCustomer, now);
        Console.WriteLine($"seeded in {seed.Elapsed.TotalSeconds:F1} s");

        var options = new TallyOptions { SchedulerBatchSize = batch };
        if (Environment.GetEnvironmentVariable("BENCH_BUDGET_MS") is { } ms) options.SchedulerBatchBudget = TimeSpan.FromMilliseconds(int.Parse(ms, CultureInfo.InvariantCulture));
        if (Environment.GetEnvironmentVariable("BENCH_SHARE") is { } share) options.SchedulerWriterShare = double.Parse(share, CultureInfo.InvariantCulture);
        Console.WriteLine($"pass budget {options.SchedulerBatchBudget.TotalMilliseconds} ms, writer share {options.WriterShareFor(db.Kind):P0}");
        await using var writes = new WriteQueue(db, NullLogger<WriteQueue>.Instance);
        var runner = new SchedulerRunner(db, writes, [new SettleJobHandler(), new CalendarJobHandler()], new SchedulerSignal(), new EventSignal(),
            TimeProvider.System, Options.Create(options), NullLogger<SchedulerRunner>.Instance);

        if (Environment.GetEnvironmentVariable("BENCH_PASSES") is "1")
        {
            for (var pass = 0; pass < 5; pass++)
            {
                var t = Stopwatch.StartNew();
                var (_, n) = await runner.RunOnceAsync();
                Console.WriteLine($"pass {pass}: {n} jobs in {t.Elapsed.TotalMilliseconds:F0} ms");
            }
        }

        var idle = await IngestAsync(writes, tenant, TimeSpan.FromSeconds(5), null);
        Console.WriteLine($"ingest idle: {idle:F0} events/s");

        var clock = Stopwatch.StartNew();
        var expiry = runner.CatchUpAsync(CancellationToken.None, yieldToWrites: true);
        var during = await IngestAsync(writes, tenant, null, expiry);
        await expiry;
        var seconds = clock.Elapsed.TotalSeconds;

        var (open, balance, entries, expired, activity) = await db.ReadAsync(async c =>
        {
            async Task<long> Scalar(string sql)
            {
                await using var cmd = c.Command(sql);
                return Convert.ToInt64(await cmd.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
            }

            return (await Scalar("SELECT COUNT(*) FROM lots WHERE remaining > 0"), await Scalar("SELECT COALESCE(SUM(points_balance), 0) FROM customers"),
                await Scalar("SELECT COUNT(*) FROM ledger_entries WHERE type = 'expire'"), await Scalar("SELECT COALESCE(SUM(lifetime_expired), 0) FROM customers"),
                await Scalar("SELECT COUNT(*) FROM activity WHERE type = 'pointsExpired'"));
        }, CancellationToken.None);
        Console.WriteLine($"expired {lots:N0} lots in {seconds:F1} s ({lots / seconds:N0} lots/s); open lots left {open}, balance left {balance}");
        Console.WriteLine($"expire entries {entries:N0}, pointsExpired events {activity:N0}, lifetime expired {expired:N0} (of {10 * lots:N0})");
        Console.WriteLine($"ingest during expiry: {during:F0} events/s = {during / idle:P0} of idle");
        if (pg is null) Directory.Delete(dir, recursive: true);
    }

    private static async Task<double> IngestAsync(WriteQueue writes, Guid tenant, TimeSpan? duration, Task? until)
    {
        long count = 0;
        var sw = Stopwatch.StartNew();
        bool Running() => until is null ? sw.Elapsed < duration : !until.IsCompleted;
        var payload = """{"action":{"amount":1},"nameSpace":"Bench"}""";
        await Task.WhenAll(Enumerable.Range(0, 32).Select(async _ =>
        {
            while (Running())
            {
                var e = new NewEvent(tenant, Guid.CreateVersion7(), Guid.NewGuid(), EventType.Action, "Bench", payload, DateTimeOffset.UtcNow);
                await writes.WriteAsync((c, tx) => EventData.IngestAsync(c, tx, e, CancellationToken.None));
                Interlocked.Increment(ref count);
            }
        }));
        return count / sw.Elapsed.TotalSeconds;
    }

    private static async Task SeedAsync(Database db, Guid tenant, int customers, int perCustomer, DateTimeOffset now)
    {
        var due = now.AddMinutes(-1);
        var earned = now.AddDays(-365);
        const int chunk = 20_000;
        for (var start = 0; start < customers; start += chunk)
        {
            await using var c = await db.OpenAsync(CancellationToken.None);
            await using var tx = await c.BeginTransactionAsync();
            await using var customer = c.Command(
                """
                INSERT INTO customers (tenant_id, customer_id, created_at, changed_at, points_balance, lifetime_earned, last_earn_at, reminded_until, calendar_planned)
                VALUES (@t, @c, @e, @e, @b, @b, @e, @now, @planned)
                """, tx);
            await using var lot = c.Command(
                """
                INSERT INTO lots (tenant_id, lot_id, customer_id, ledger, points, remaining, reversed, expired, earned_at, available_at, is_pending, expires_at, source_key)
                VALUES (@t, @id, @c, 'main', 10, 10, 0, 0, @e, @e, @pending, @due, 'bench')
                """, tx);
            await using var job = c.Command(
                "INSERT INTO scheduled_jobs (tenant_id, customer_id, kind, job_key, due_at, status, attempts) VALUES (@t, @c, 'ledger', @k, @due, 'due', 0)", tx);
            for (var i = start; i < Math.Min(customers, start + chunk); i++)
            {
                var id = Guid.NewGuid();
                await Exec(customer.With("@t", tenant).With("@c", id).With("@e", earned).With("@b", 10L * perCustomer).With("@now", now).With("@planned", true));
                for (var l = 0; l < perCustomer; l++)
                    await Exec(lot.With("@t", tenant).With("@id", Ids.ForCustomer(id, "bench", "lot", l.ToString(CultureInfo.InvariantCulture))).With("@c", id).With("@e", earned.AddMinutes(-l)).With("@pending", false).With("@due", due.AddMinutes(-l)));
                await Exec(job.With("@t", tenant).With("@c", id).With("@k", $"ledger:{id:N}:main:bench").With("@due", due));
            }

            await tx.CommitAsync();
        }
    }

    private static async Task Exec(DbCommand cmd)
    {
        await cmd.ExecuteNonQueryAsync();
        cmd.Parameters.Clear();
    }
}
