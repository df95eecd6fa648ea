using System.Data.Common;
using Microsoft.Extensions.Options;
using Tally.Events;
using Tally.Ledger;
using Tally.Scheduling;
using Tally.Server.Events;
using Tally.Storage;

namespace Tally.Server.Scheduling;

/// <summary>Wakes the scheduler (the test clock moved, or something became due sooner than the next poll).</summary>
public sealed class SchedulerSignal
{
    private readonly EventSignal inner = new();

    public void Notify() => inner.Notify();

    public Task WaitAsync(TimeSpan timeout, CancellationToken ct) => inner.WaitAsync(timeout, ct);
}

/// <summary>
/// Runs due scheduled jobs through their <see cref="IJobHandler"/>: a batch is one write-queue unit, so each
/// job's effects and its "done" commit together (a crash re-runs the unfinished batch, never a finished job).
/// On PostgreSQL jobs are claimed FOR UPDATE SKIP LOCKED, so with several nodes a due job runs on one.
/// Batches are bounded so ingestion, which shares the write queue, is never starved.
/// </summary>
public sealed partial class SchedulerRunner(
    Database db, WriteQueue writes, IEnumerable<IJobHandler> handlers, SchedulerSignal signal, EventSignal events, TimeProvider clock,
    IOptions<TallyOptions> options, ILogger<SchedulerRunner> logger) : BackgroundService
{
    private const int MaxAttempts = 5;
    private readonly Dictionary<string, IJobHandler> byKind = handlers.ToDictionary(h => h.Kind, StringComparer.Ordinal);

    // One pass at a time in this process: a catch-up (the test clock) then waits for the background pass
    // instead of skipping the rows it holds locked and answering before they are done.
    private readonly SemaphoreSlim passes = new(1, 1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var busy = false;
            try
            {
                var started = clock.GetTimestamp();
                var (planned, ran) = await RunOnceAsync();
                busy = planned >= options.Value.SchedulerBatchSize || ran >= options.Value.SchedulerBatchSize;
                if (busy) await YieldToWritesAsync(clock.GetElapsedTime(started), stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                LogPassFailed(ex);
            }

            if (!busy) await signal.WaitAsync(options.Value.SchedulerPollInterval, stoppingToken);
        }
    }

    /// <summary>
    /// Runs everything due now, pass after pass, until nothing is left (the test clock waits on this).
    /// <paramref name="yieldToWrites"/>: behave as the background loop does under load.
    /// </summary>
    public async Task CatchUpAsync(CancellationToken ct, bool yieldToWrites = false)
    {
        var idlePasses = 0;
        while (!ct.IsCancellationRequested)
        {
            var started = clock.GetTimestamp();
            // Done when no job was due; planning alone never ends while new customers keep arriving.
            var (planned, ran) = await RunOnceAsync();
            idlePasses = ran == 0 ? idlePasses + 1 : 0;
            if (ran == 0 && (planned < options.Value.SchedulerBatchSize || idlePasses >= 3)) return;
            if (yieldToWrites) await YieldToWritesAsync(clock.GetElapsedTime(started), ct);
        }
    }

    // The scheduler shares the writer with ingestion. When other units wait, it pauses for twice as long as its
    // last pass held the writer, so a long expiry backlog takes at most about a third of the writer's time.
    private async Task YieldToWritesAsync(TimeSpan pass, CancellationToken ct)
    {
        if (writes.Waiting == 0) return;
        await Task.Delay(pass * 2, ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    /// <summary>One pass: plans the calendar of new customers, then runs a batch of due jobs; answers how many of each.</summary>
    public async Task<(int Planned, int Ran)> RunOnceAsync()
    {
        await passes.WaitAsync();
        try
        {
            return await PassAsync();
        }
        finally
        {
            passes.Release();
        }
    }

    private async Task<(int Planned, int Ran)> PassAsync()
    {
        var batch = options.Value.SchedulerBatchSize;
        var planned = await writes.WriteAsync(
            (c, tx) => CalendarJobHandler.PlanNewCustomersAsync(new ProcessingContext(db, c, tx, clock.GetUtcNow()), batch, CancellationToken.None));
        var cursor = new Cursor();
        try
        {
            var ran = await writes.WriteAsync((c, tx) => RunDueAsync(c, tx, batch, cursor), CancellationToken.None);
            if (ran > 0) events.Notify(); // jobs queue events (points, calendar) for the worker
            return (planned, ran);
        }
        catch (Exception ex) when (cursor.Job is { } job)
        {
            LogJobFailed(ex, job.Kind, job.Key);
            var error = $"{ex.GetType().Name}: {ex.Message}";
            await writes.WriteAsync((c, tx) => MarkFailedAsync(c, tx, job.Id, error), CancellationToken.None);
            return (planned, 1);
        }
    }

    private sealed class Cursor
    {
        public ScheduledJob? Job { get; set; }
    }

    private async Task<int> RunDueAsync(DbConnection c, DbTransaction tx, int limit, Cursor cursor)
    {
        var now = clock.GetUtcNow();
        var kinds = byKind.Keys.ToArray();
        var inList = string.Join(", ", kinds.Select((_, i) => $"@k{i}"));
        var jobs = new List<ScheduledJob>();
        await using (var cmd = c.Command(
            $"""
            SELECT job_id, tenant_id, customer_id, kind, job_key, due_at, payload FROM scheduled_jobs
            WHERE status = 'due' AND due_at <= @now AND kind IN ({inList}) ORDER BY due_at LIMIT @n{db.ForUpdateSkipLocked}
            """, tx))
        {
            cmd.With("@now", now).With("@n", limit);
            for (var i = 0; i < kinds.Length; i++) cmd.With($"@k{i}", kinds[i]);
            await using var r = await cmd.ExecuteReaderAsync();
            while (await r.ReadAsync())
            {
                jobs.Add(new ScheduledJob(r.GetInt64(0), r.GetGuidValue(1), r.GetGuidOrNull(2), r.GetString(3), r.GetString(4), r.GetInstant(5),
                    r.GetStringOrNull(6)));
            }
        }

        if (jobs.Count == 0) return 0;
        var ctx = new ProcessingContext(db, c, tx, now);
        // Customers in one order on every node, so two nodes' batches that lock the same customers cannot deadlock.
        foreach (var job in jobs.OrderBy(j => j.CustomerId?.ToString("D"), StringComparer.Ordinal).ThenBy(j => j.DueAt))
        {
            cursor.Job = job;
            await byKind[job.Kind].RunAsync(ctx, job, CancellationToken.None);
        }

        // All done in one statement, still in the transaction that holds the jobs' effects.
        cursor.Job = null;
        await using var done = c.Command(
            $"UPDATE scheduled_jobs SET status = 'done', done_at = @now, attempts = attempts + 1 WHERE job_id IN ({string.Join(", ", jobs.Select((_, i) => $"@j{i}"))})", tx);
        done.With("@now", now);
        for (var i = 0; i < jobs.Count; i++) done.With($"@j{i}", jobs[i].Id);
        await done.ExecuteNonQueryAsync();
        return jobs.Count;
    }

    private async Task<bool> MarkFailedAsync(DbConnection c, DbTransaction tx, long jobId, string error)
    {
        var now = clock.GetUtcNow();
        await using var cmd = c.Command(
            """
            UPDATE scheduled_jobs SET attempts = attempts + 1, last_error = @err, due_at = @retry,
                status = CASE WHEN attempts + 1 >= @max THEN 'failed' ELSE 'due' END
            WHERE job_id = @id AND status = 'due'
            """, tx);
        await cmd.With("@err", error).With("@retry", now.AddSeconds(5)).With("@max", MaxAttempts).With("@id", jobId).ExecuteNonQueryAsync();
        return true;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Scheduled job {Kind} {Key} failed; it is retried, then marked failed")]
    private partial void LogJobFailed(Exception ex, string kind, string key);

    [LoggerMessage(Level = LogLevel.Error, Message = "Scheduler pass failed; retrying after the poll interval")]
    private partial void LogPassFailed(Exception ex);
}
