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
/// </remarks>
public sealed class WriteQueue : IAsyncDisposable
{
    private readonly Database db;
    private readonly ILogger logger;
    private readonly Channel<Unit> channel;
    private readonly Task[] writers;
    private readonly int maxBatch;

    /// <param name="maxBatch">Units per group. It must hold what arrives while one long unit runs (a stretched worker batch:
    /// ≈ 100 ms at 5k requests/s is ≈ 500), or those arrivals are served a group at a time behind each batch and fall behind.</param>
    public WriteQueue(Database db, ILogger<WriteQueue> logger, int writerCount = 0, int maxBatch = 4096)
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
        var count = writerCount > 0 ? writerCount : db.Kind == StoreKind.Sqlite ? 1 : 4;
        writers = new Task[count];
        for (var i = 0; i < count; i++) writers[i] = Task.Run(RunWriterAsync);
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
                connection = await queue.db.OpenAsync(CancellationToken.None);
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
