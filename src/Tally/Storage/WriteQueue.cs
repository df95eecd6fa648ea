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

    public WriteQueue(Database db, ILogger<WriteQueue> logger, int writerCount = 0, int maxBatch = 512)
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

    /// <summary>Units waiting for a writer: background work (the scheduler) yields while others wait.</summary>
    public int Waiting => channel.Reader.Count;

    /// <summary>Runs <paramref name="work"/> in a transaction shared with other queued units; completes after commit.</summary>
    public async Task<T> WriteAsync<T>(Func<DbConnection, DbTransaction, Task<T>> work, CancellationToken ct = default)
    {
        var unit = new Unit<T>(work);
        await channel.Writer.WriteAsync(unit, ct);
        return await unit.Completion;
    }

    private async Task RunWriterAsync()
    {
        var batch = new List<Unit>(maxBatch);
        DbConnection? connection = null;
        try
        {
            while (await channel.Reader.WaitToReadAsync())
            {
                batch.Clear();
                while (batch.Count < maxBatch && channel.Reader.TryRead(out var unit)) batch.Add(unit);
                if (batch.Count == 0) continue;
                connection = await EnsureOpenAsync(connection);
                if (await TryRunAsync(connection, batch))
                {
                    foreach (var unit in batch) unit.Complete();
                    continue;
                }

                // Something in the batch failed: run each unit alone so only the bad one fails.
                foreach (var unit in batch)
                {
                    connection = await EnsureOpenAsync(connection);
                    if (await TryRunAsync(connection, [unit])) unit.Complete();
                }
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
            if (connection is not null) await connection.DisposeAsync();
        }
    }

    private async Task<DbConnection> EnsureOpenAsync(DbConnection? connection)
    {
        if (connection is { State: System.Data.ConnectionState.Open }) return connection;
        if (connection is not null) await connection.DisposeAsync();
        return await db.OpenAsync(CancellationToken.None);
    }

    private async Task<bool> TryRunAsync(DbConnection connection, List<Unit> units)
    {
        DbTransaction? tx = null;
        var current = units[0];
        try
        {
            tx = await connection.BeginTransactionAsync();
            foreach (var unit in units)
            {
                current = unit;
                await unit.RunAsync(connection, tx);
            }

            await tx.CommitAsync();
            return true;
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
                    logger.LogWarning(rollbackError, "Rollback failed; the connection will be reopened");
                    await connection.CloseAsync();
                }
            }

            if (units.Count == 1) current.Fail(ex);
            else logger.LogDebug(ex, "Batch of {Count} failed; retrying one by one", units.Count);
            return false;
        }
        finally
        {
            if (tx is not null) await tx.DisposeAsync();
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
