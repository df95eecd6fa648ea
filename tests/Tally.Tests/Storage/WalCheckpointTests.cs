using Microsoft.Extensions.Logging.Abstractions;
using Tally.Storage;
using Tally.Tests.Infrastructure;

namespace Tally.Tests.Storage;

/// <summary>
/// On SQLite the WAL is copied into the database file beside the writer, not by it, and the writer's next transaction
/// starts the WAL again from its beginning even when commits landed while the copy ran: a steady writer neither copies
/// in front of its groups nor lets the WAL grow.
/// </summary>
public sealed class WalCheckpointTests() : MigratedStoreTest("sqlite")
{
    [Fact]
    public async Task A_commit_that_lands_during_a_checkpoint_does_not_keep_the_wal_from_starting_over()
    {
        // The background loop off: the test runs the checkpoint itself, at the moment that matters.
        await using var queue = new WriteQueue(Db, NullLogger<WriteQueue>.Instance, writerCount: 1, checkpointInterval: Timeout.InfiniteTimeSpan);
        await queue.WriteAsync((c, tx) => ExecuteAsync(c, tx, "CREATE TABLE bulk (b BLOB NOT NULL)"));
        // ≈ 2,000 pages: over SQLite's own threshold (1,000), under the writer's, so only a checkpoint call copies them.
        for (var group = 0; group < 40; group++)
            await queue.WriteAsync((c, tx) => ExecuteAsync(c, tx, Hundred));

        // A group begins (its snapshot is the WAL as it is), the checkpoint copies everything, then the group commits:
        // SQLite starts the WAL over only at a transaction that begins with every frame copied, and this one did not.
        var begun = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var copied = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var during = queue.WriteAsync(async (c, tx) =>
        {
            await ExecuteAsync(c, tx, "INSERT INTO bulk (b) VALUES (x'01')");
            begun.SetResult();
            await copied.Task;
            return await ExecuteAsync(c, tx, Hundred);
        });
        await begun.Task;
        await queue.CheckpointAsync(CancellationToken.None);
        copied.SetResult();
        await during;

        // The next group: the writer copies what that commit added, so this group starts the WAL over. (Without that copy
        // the WAL would still hold all ≈ 2,100 pages and go on growing.)
        await queue.WriteAsync((c, tx) => ExecuteAsync(c, tx, "INSERT INTO bulk (b) VALUES (x'02')"));
        Assert.InRange(await WalFramesAsync(), 1, 20);
        Assert.Equal(1, queue.Checkpoints);
    }

    /// <summary>A hundred rows of 2,000 random bytes: ≈ 50 pages.</summary>
    private const string Hundred = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100) INSERT INTO bulk (b) SELECT randomblob(2000) FROM n";

    private static async Task<int> ExecuteAsync(System.Data.Common.DbConnection c, System.Data.Common.DbTransaction tx, string sql)
    {
        await using var cmd = c.Command(sql, tx);
        return await cmd.ExecuteNonQueryAsync();
    }

    /// <summary>The frames in the WAL now: the second column of a PASSIVE checkpoint (which copies, but never starts the WAL over).</summary>
    private async Task<long> WalFramesAsync()
    {
        await using var c = await Db.OpenAsync(CancellationToken.None);
        await using var cmd = c.Command("PRAGMA wal_checkpoint(PASSIVE)");
        await using var r = await cmd.ExecuteReaderAsync();
        Assert.True(await r.ReadAsync());
        return r.GetInt64(1);
    }
}
