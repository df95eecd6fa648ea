using System.Data.Common;
using System.Diagnostics;
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
/// A pass stops taking jobs once <see cref="TallyOptions.SchedulerBatchBudget"/> has passed (what it claimed but did not
/// reach stays due), and under load the runner pauses between passes so that it holds the writer for about
/// <see cref="TallyOptions.SchedulerWriterShare"/> of the time: ingestion, which shares the write queue, is never starved.
/// Settle jobs go to their handler all at once (<see cref="IBatchJobHandler"/>, the expiry sweep).
/// </summary>
public sealed partial class SchedulerRunner(
    Database db, WriteQueue writes, IEnumerable<IJobHandler> handlers, SchedulerSignal signal, EventSignal events, TimeProvider clock,
    IOptions<TallyOptions> options, ILogger<SchedulerRunner> logger) : BackgroundService
{
    private const int MaxAttempts = 5;

    // Customers whose calendar is planned per pass: planning is one customer at a time, so this bounds the pass.
    private const int PlanBatch = 100;
    private readonly Dictionary<string, IJobHandler> byKind = handlers.ToDictionary(h => h.Kind, StringComparer.Ordinal);

    // After a sweep failed, the next pass runs its jobs one by one, so the job at fault is the one marked failed.
    private volatile bool oneByOne;

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
                var (planned, ran, held, others) = await PassOnceAsync();
                busy = planned >= PlanBatch || ran > 0;
                if (busy) await YieldToWritesAsync((held, others), stoppingToken);
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
            // Done when no job was due; planning alone never ends while new customers keep arriving.
            var (planned, ran, held, others) = await PassOnceAsync();
            idlePasses = ran == 0 ? idlePasses + 1 : 0;
            if (ran == 0 && (planned < PlanBatch || idlePasses >= 3)) return;
            if (yieldToWrites) await YieldToWritesAsync((held, others), ct);
        }
    }

    // The scheduler shares the writer with ingestion. When others wrote during its pass (or wait now), it pauses long
    // enough after the pass that the pass's time in the writer is SchedulerWriterShare of the whole.
    private async Task YieldToWritesAsync((TimeSpan Held, long Others) pass, CancellationToken ct)
    {
        var (held, others) = pass;
        if (others == 0 && writes.Waiting == 0) return;
        var share = options.Value.WriterShareFor(db.Kind);
        await Task.Delay(held * ((1 - share) / share), ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    /// <summary>One pass: plans the calendar of new customers, then runs a batch of due jobs; answers how many of each.</summary>
    public async Task<(int Planned, int Ran)> RunOnceAsync()
    {
        var (planned, ran, _, _) = await PassOnceAsync();
        return (planned, ran);
    }

    /// <summary>A pass, with how long its units held the writer and how many units others queued meanwhile.</summary>
    private async Task<(int Planned, int Ran, TimeSpan Held, long Others)> PassOnceAsync()
    {
        await passes.WaitAsync();
        try
        {
            var before = writes.Arrived;
            var (planned, ran, held, ours) = await PassAsync();
            return (planned, ran, held, writes.Arrived - before - ours);
        }
        finally
        {
            passes.Release();
        }
    }

    private async Task<(int Planned, int Ran, TimeSpan Held, int Units)> PassAsync()
    {
        var batch = options.Value.SchedulerBatchSize;
        var cursor = new Cursor();
        var planned = await writes.WriteAsync(async (c, tx) =>
        {
            var started = Stopwatch.GetTimestamp();
            var n = await CalendarJobHandler.PlanNewCustomersAsync(new ProcessingContext(db, c, tx, clock.GetUtcNow()), PlanBatch, CancellationToken.None);
            cursor.Held += Stopwatch.GetElapsedTime(started);
            return n;
        });
        var single = oneByOne;
        try
        {
            var ran = await writes.WriteAsync((c, tx) => RunDueAsync(c, tx, batch, cursor, single), CancellationToken.None);
            if (ran > 0) events.Notify(); // jobs queue events (points, calendar) for the worker
            oneByOne = false;
            return (planned, ran, cursor.Held, 2);
        }
        catch (Exception ex) when (cursor.Job is { } job)
        {
            LogJobFailed(ex, job.Kind, job.Key);
            var error = $"{ex.GetType().Name}: {ex.Message}";
            await writes.WriteAsync((c, tx) => MarkFailedAsync(c, tx, job.Id, error), CancellationToken.None);
            return (planned, 1, cursor.Held, 3);
        }
        catch (Exception ex) when (cursor.Sweep is { } kind)
        {
            // Which job broke the sweep is not known: the next pass runs them one by one and marks that one failed.
            LogSweepFailed(ex, kind);
            oneByOne = true;
            return (planned, 1, cursor.Held, 2);
        }
    }

    private sealed class Cursor
    {
        /// <summary>The job running alone, if one is.</summary>
        public ScheduledJob? Job { get; set; }

        /// <summary>The kind whose jobs are running together, if some are.</summary>
        public string? Sweep { get; set; }

        /// <summary>How long the pass's units ran in the writer.</summary>
        public TimeSpan Held { get; set; }
    }

    private async Task<int> RunDueAsync(DbConnection c, DbTransaction tx, int limit, Cursor cursor, bool single)
    {
        var started = Stopwatch.GetTimestamp();
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

        if (jobs.Count == 0)
        {
            cursor.Held += Stopwatch.GetElapsedTime(started);
            return 0;
        }

        var ctx = new ProcessingContext(db, c, tx, now);
        var budget = options.Value.SchedulerBatchBudget;
        bool OutOfTime() => Stopwatch.GetElapsedTime(started) > budget;

        // Customers in one order on every node, so two nodes' batches that lock the same customers cannot deadlock.
        var ordered = jobs.OrderBy(j => j.CustomerId?.ToString("D"), StringComparer.Ordinal).ThenBy(j => j.DueAt).ToList();
        var ran = new List<ScheduledJob>(jobs.Count);
        // Jobs that run alone first (few, each bounded), then each kind that runs its jobs together.
        foreach (var job in ordered.Where(j => single || byKind[j.Kind] is not IBatchJobHandler))
        {
            if (ran.Count > 0 && OutOfTime()) break;
            cursor.Job = job;
            await byKind[job.Kind].RunAsync(ctx, job, CancellationToken.None);
            ran.Add(job);
        }

        cursor.Job = null;
        foreach (var kind in single ? [] : ordered.Where(j => byKind[j.Kind] is IBatchJobHandler).GroupBy(j => j.Kind))
        {
            if (ran.Count > 0 && OutOfTime()) break;
            cursor.Sweep = kind.Key;
            var group = kind.ToList();
            var n = await ((IBatchJobHandler)byKind[kind.Key]).RunManyAsync(ctx, group, OutOfTime, CancellationToken.None);
            ran.AddRange(group.Take(n));
        }

        // All done in one statement, still in the transaction that holds the jobs' effects.
        cursor.Sweep = null;
        await c.ExecuteRowsAsync(tx, "UPDATE scheduled_jobs SET status = 'done', done_at = @now, attempts = attempts + 1 WHERE job_id IN (", ")",
            ran, j => [j.Id], CancellationToken.None, cmd => cmd.With("@now", now));
        cursor.Held += Stopwatch.GetElapsedTime(started);
        return ran.Count;
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

    [LoggerMessage(Level = LogLevel.Error, Message = "Scheduled {Kind} jobs failed together; the next pass runs them one by one")]
    private partial void LogSweepFailed(Exception ex, string kind);

    [LoggerMessage(Level = LogLevel.Error, Message = "Scheduler pass failed; retrying after the poll interval")]
    private partial void LogPassFailed(Exception ex);
}
