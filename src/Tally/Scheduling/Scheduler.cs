using System.Data.Common;
using Tally.Events;
using Tally.Storage;

namespace Tally.Scheduling;

/// <summary>A unit of future work: due at <see cref="DueAt"/>, run once by the handler registered for <see cref="Kind"/>.</summary>
public sealed record ScheduledJob(long Id, Guid TenantId, Guid? CustomerId, string Kind, string Key, DateTimeOffset DueAt, string? Payload);

/// <summary>Runs the jobs of one kind, inside the transaction that marks the job done, so a job's effects and its completion commit together.</summary>
public interface IJobHandler
{
    string Kind { get; }

    Task RunAsync(ProcessingContext ctx, ScheduledJob job, CancellationToken ct);
}

/// <summary>
/// A handler that runs many due jobs of its kind together, with a few statements for the lot instead of several per
/// job. It runs the jobs in the order given, in rounds, and stops after the round in which <c>outOfTime</c> became true;
/// it answers how many of the jobs (from the first) it ran. Their effects are in the caller's transaction.
/// </summary>
public interface IBatchJobHandler : IJobHandler
{
    Task<int> RunManyAsync(ProcessingContext ctx, IReadOnlyList<ScheduledJob> jobs, Func<bool> outOfTime, CancellationToken ct);
}

/// <summary>
/// The durable scheduler's table: work is written in the transaction that decided it (a trigger outcome, a
/// lot that will expire), keyed so deciding it twice schedules it once.
/// </summary>
public static class Scheduler
{
    /// <summary>Schedules a job unless one with the same key exists for the tenant; answers whether it was new.</summary>
    public static async Task<bool> ScheduleAsync(
        DbConnection c, DbTransaction tx, Guid tenantId, Guid? customerId, string kind, string key, DateTimeOffset dueAt, string? payload, CancellationToken ct)
    {
        var cmd = c.Prepared(
            """
            INSERT INTO scheduled_jobs (tenant_id, customer_id, kind, job_key, due_at, payload, status, attempts)
            VALUES (@t, @c, @kind, @key, @due, @payload, 'due', 0)
            ON CONFLICT (tenant_id, job_key) DO NOTHING
            """, tx);
        return await cmd.With("@t", tenantId).With("@c", customerId).With("@kind", kind).With("@key", key).With("@due", dueAt)
            .With("@payload", payload).ExecuteNonQueryAsync(ct) == 1;
    }
}
