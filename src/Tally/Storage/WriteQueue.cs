using System.Data.Common;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Tally.Storage;

/// <summary>
/// Group commit: every write of the process is a unit of work queued here; a writer runs as many queued
/// units as it finds in one transaction, commits once, then completes them all. A caller's task completes
/// only after its commit reached the disk, so "200" means durable, and one fsync serves many requests.
/// </summary>
/// <remarks>
/// A unit must not leave half its writes behind when it decides to refuse: it checks first, then writes.
/// If a unit throws, the batch is rolled back and each unit is run again in its own transaction, so one
/// bad unit fails alone and nothing half-written survives.
/// SQLite gets one writer (it has one write lock anyway); PostgreSQL several, with row locks in the SQL.
/// On SQLite the WAL is checkpointed (its pages copied into the database file) mostly by a background task on its own
/// connection, beside the next group instead of in front of it; the writer copies only the few pages left after it.
/// </remarks>
public sealed class WriteQueue : IAsyncDisposable
{
    private readonly Database db;
    private readonly ILogger logger;
    private readonly Channel<Unit> channel;
    private readonly Task[] writers;
    private readonly int maxBatch;
    private readonly Task? checkpointer;
    private readonly SemaphoreSlim committed = new(0, 1);
    private readonly CancellationTokenSource stopping = new();

    /// <summary>How long the checkpointer lets commits gather before copying them: a page written by several commits is copied once.</summary>
    public static readonly TimeSpan CheckpointInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// The writer's own checkpoint threshold, in pages (64 MB): a backstop that only a checkpointer far behind lets the WAL
    /// reach. SQLite's default of 1,000 pages had the writer copy ≈ 4 MB every few groups: about half of a worker group's commit.
    /// </summary>
    private const int WriterAutoCheckpointPages = 16_384;

    private const int MaxCheckpointRounds = 4;

    private const int SmallCheckpointPages = 128;

    /// <param name="maxBatch">Units per group. It must hold what arrives while one long unit runs (a stretched worker batch:
    /// ≈ 100 ms at 5k requests/s is ≈ 500), or those arrivals are served a group at a time behind each batch and fall behind.</param>
    /// <param name="checkpointInterval">SQLite: how long after a commit the background checkpoint runs (default
    /// <see cref="CheckpointInterval"/>); <see cref="Timeout.InfiniteTimeSpan"/> leaves it to <see cref="CheckpointAsync"/> calls (tests).</param>
    public WriteQueue(Database db, ILogger<WriteQueue> logger, int writerCount = 0, int maxBatch = 4096, TimeSpan? checkpointInterval = null)
    {
        this.db = db;
        this.logger = logger;
        this.maxBatch = maxBatch;
        channel = Channel.CreateBounded<Unit>(new BoundedChannelOptions(20_000)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = false,
            SingleWriter = false,
        });
        if (db.Kind == StoreKind.Sqlite)
        {
            var interval = checkpointInterval ?? CheckpointInterval;
            checkpointer = interval == Timeout.InfiniteTimeSpan ? Task.CompletedTask : Task.Run(() => CheckpointLoopAsync(interval));
        }
        var count = writerCount > 0 ? writerCount : db.Kind == StoreKind.Sqlite ? 1 : 4;
        writers = new Task[count];
        for (var i = 0; i < count; i++) writers[i] = Task.Run(RunWriterAsync);
    }

    /// <summary>Background checkpoints completed since the start (SQLite).</summary>
    public long Checkpoints => Interlocked.Read(ref checkpoints);

    private long checkpoints;

    /// <summary>A background checkpoint finished: the writer copies the little committed since before its next group (see TryRunAsync).</summary>
    private volatile bool caughtUp;

    /// <summary>
    /// After a commit, waits the checkpoint interval and runs <see cref="CheckpointAsync"/>. Durability does not depend on
    /// any of it: a commit is durable in the WAL (synchronous=FULL), and SQLite recovers an interrupted checkpoint.
    /// </summary>
    private async Task CheckpointLoopAsync(TimeSpan interval)
    {
        var ct = stopping.Token;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                await committed.WaitAsync(ct);
                await Task.Delay(interval, ct);
                try
                {
                    await CheckpointAsync(ct);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // The writer's backstop threshold still bounds the WAL; try again after the next commit.
                    logger.LogWarning(ex, "WAL checkpoint failed");
                    if (checkpointConnection is not null) await checkpointConnection.DisposeAsync();
                    checkpointConnection = null;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private DbConnection? checkpointConnection;

    /// <summary>
    /// Copies the WAL into the database file on the checkpointer's connection: PASSIVE checkpoints, which copy what no reader
    /// still needs and never block the writer or readers, in rounds until one finds little new (what was committed while
    /// the previous one copied). The writer then copies the little left before its next group (see Writer.TryRunAsync), so
    /// its next transaction starts the WAL again from its beginning and the file stays the size of an interval's writes.
    /// </summary>
    internal async Task CheckpointAsync(CancellationToken ct)
    {
        checkpointConnection ??= await db.OpenAsync(ct);
        long before = -1;
        for (var round = 0; round < MaxCheckpointRounds; round++)
        {
            await using var cmd = checkpointConnection.Command("PRAGMA wal_checkpoint(PASSIVE)");
            await using var r = await cmd.ExecuteReaderAsync(ct);
            if (!await r.ReadAsync(ct)) break;
            var copied = r.GetInt64(2); // (busy, frames in the WAL, frames copied so far)
            if (before >= 0 && copied >= before && copied - before <= SmallCheckpointPages) break;
            before = copied;
        }

        Interlocked.Increment(ref checkpoints);
        caughtUp = true;
    }

    private void Committed()
    {
        if (checkpointer is null || committed.CurrentCount > 0) return;
        try
        {
            committed.Release();
        }
        catch (SemaphoreFullException)
        {
            // Another commit signalled first: one checkpoint serves both.
        }
    }

    private long arrived;

    /// <summary>Units waiting for a writer: background work (the scheduler) yields while others wait.</summary>
    public int Waiting => channel.Reader.Count;

    /// <summary>Units queued since the start. Under a steady load the queue is often empty at the instant one looks (every
    /// client waits for its commit), so background work also compares this count over its own pass to see others writing.</summary>
    public long Arrived => Interlocked.Read(ref arrived);

    /// <summary>Runs <paramref name="work"/> in a transaction shared with other queued units; completes after commit.</summary>
    public Task<T> WriteAsync<T>(Func<DbConnection, DbTransaction, Task<T>> work, CancellationToken ct = default) => WriteAsync(work, null, ct);

    /// <summary>
    /// As <see cref="WriteAsync{T}(Func{DbConnection, DbTransaction, Task{T}}, CancellationToken)"/>, for a unit that locks the row
    /// named by <paramref name="lockOrder"/> (e.g. its customer): a batch runs its units in that order, so two
    /// writers' batches take their row locks in the same order and do not deadlock each other.
    /// </summary>
    public async Task<T> WriteAsync<T>(Func<DbConnection, DbTransaction, Task<T>> work, string? lockOrder, CancellationToken ct = default)
    {
        var unit = new Unit<T>(work) { LockOrder = lockOrder ?? "" };
        Interlocked.Increment(ref arrived);
        await channel.Writer.WriteAsync(unit, ct);
        return await unit.Completion;
    }

    private async Task RunWriterAsync()
    {
        var batch = new List<Unit>(maxBatch);
        var writer = new Writer(this);
        try
        {
            while (await channel.Reader.WaitToReadAsync())
            {
                batch.Clear();
                while (batch.Count < maxBatch && channel.Reader.TryRead(out var unit)) batch.Add(unit);
                if (batch.Count == 0) continue;
                if (batch.Count > 1) batch.Sort(ByLockOrder);
                if (await writer.TryRunAsync(batch) is null)
                {
                    Committed();
                    foreach (var unit in batch) unit.Complete();
                    continue;
                }

                // Something in the batch failed: run each unit alone so only the bad one fails.
                foreach (var unit in batch) await writer.RunAloneAsync(unit);
            }
        }
        catch (Exception ex)
        {
            logger.LogCritical(ex, "Write queue writer stopped");
            foreach (var unit in batch) unit.Fail(ex);
            throw;
        }
        finally
        {
            await writer.DisposeAsync();
        }
    }

    /// <summary>Stable: units with the same lock order keep their arrival order.</summary>
    private static int ByLockOrder(Unit a, Unit b)
    {
        var c = string.CompareOrdinal(a.LockOrder, b.LockOrder);
        return c != 0 ? c : a.Arrival.CompareTo(b.Arrival);
    }

    /// <summary>One writer's connection, kept open across batches.</summary>
    private sealed class Writer(WriteQueue queue) : IAsyncDisposable
    {
        /// <summary>A unit alone that meets a deadlock or serialization failure (another node's locks) is run again.</summary>
        private const int TransientAttempts = 6;

        private DbConnection? connection;

        public async Task RunAloneAsync(Unit unit)
        {
            for (var attempt = 1; ; attempt++)
            {
                var error = await TryRunAsync([unit]);
                if (error is null)
                {
                    queue.Committed();
                    unit.Complete();
                    return;
                }

                if (error is not DbException { IsTransient: true } || attempt == TransientAttempts)
                {
                    unit.Fail(error);
                    return;
                }

                await Task.Delay(Random.Shared.Next(1, 10 * attempt));
            }
        }

        /// <summary>Runs the units in one transaction; null when it committed, else what went wrong (rolled back).</summary>
        public async Task<Exception?> TryRunAsync(List<Unit> units)
        {
            if (connection is not { State: System.Data.ConnectionState.Open })
            {
                if (connection is not null) await connection.DisposeAsync();
                connection = null;
                DbConnection? opened = null;
                try
                {
                    opened = await queue.db.OpenAsync(CancellationToken.None);
                    if (queue.checkpointer is not null)
                    {
                        await using var cmd = opened.Command(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                            $"PRAGMA wal_autocheckpoint={WriterAutoCheckpointPages}"));
                        await cmd.ExecuteNonQueryAsync();
                    }

                    connection = opened;
                }
                catch (Exception ex)
                {
                    // The database is out of reach (a restart, a network cut): these units fail, the writer lives on and
                    // opens a connection again for the next ones.
                    if (opened is not null) await opened.DisposeAsync();
                    queue.logger.LogWarning(ex, "The writer could not open its connection");
                    return ex;
                }
            }

            if (queue.caughtUp)
            {
                // SQLite starts the WAL again from its beginning only when a write transaction begins with every frame
                // copied; under a steady load commits land while the background copy runs, so that moment never comes and
                // the WAL would grow to the backstop. Copying the few frames since, here, makes it come (readers allowing).
                queue.caughtUp = false;
                try
                {
                    await using var cmd = connection.Command("PRAGMA wal_checkpoint(PASSIVE)");
                    await cmd.ExecuteNonQueryAsync();
                }
                catch (DbException ex)
                {
                    // Only the WAL's restart is lost: the next background checkpoint will ask again.
                    queue.logger.LogWarning(ex, "WAL checkpoint in the writer failed");
                }
            }

            DbTransaction? tx = null;
            try
            {
                tx = await connection.BeginTransactionAsync();
                TransactionMemo.Begin(tx);
                foreach (var unit in units) await unit.RunAsync(connection, tx);
                await tx.CommitAsync();
                return null;
            }
            catch (Exception ex)
            {
                if (tx is not null)
                {
                    try
                    {
                        await tx.RollbackAsync();
                    }
                    catch (Exception rollbackError)
                    {
                        queue.logger.LogWarning(rollbackError, "Rollback failed; the connection will be reopened");
                        await connection.CloseAsync();
                    }
                }

                if (units.Count > 1) queue.logger.LogDebug(ex, "Batch of {Count} failed; retrying one by one", units.Count);
                return ex;
            }
            finally
            {
                if (tx is not null)
                {
                    TransactionMemo.End(tx);
                    await tx.DisposeAsync();
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (connection is not null) await connection.DisposeAsync();
        }
    }

    /// <summary>Stops taking work, finishes what is queued, closes the writers.</summary>
    public async ValueTask DisposeAsync()
    {
        channel.Writer.TryComplete();
        try
        {
            await Task.WhenAll(writers);
        }
        catch (Exception ex)
        {
            logger.LogError(ex, "Write queue stopped with an error");
        }

        await stopping.CancelAsync();
        if (checkpointer is not null) await checkpointer;
        if (checkpointConnection is not null) await checkpointConnection.DisposeAsync();
        stopping.Dispose();
        committed.Dispose();
    }

    private abstract class Unit
    {
        private static long arrivals;

        public string LockOrder { get; init; } = "";

        public long Arrival { get; } = Interlocked.Increment(ref arrivals);

        public abstract Task RunAsync(DbConnection connection, DbTransaction tx);

        public abstract void Complete();

        public abstract void Fail(Exception error);
    }

    private sealed class Unit<T>(Func<DbConnection, DbTransaction, Task<T>> work) : Unit
    {
        private readonly TaskCompletionSource<T> tcs = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private T? result;

        public Task<T> Completion => tcs.Task;

        public override async Task RunAsync(DbConnection connection, DbTransaction tx) => result = await work(connection, tx);

        public override void Complete() => tcs.TrySetResult(result!);

        public override void Fail(Exception error) => tcs.TrySetException(error);
    }
}
