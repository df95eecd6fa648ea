using System.Collections.Concurrent;
using System.Data.Common;

namespace Tally.Tests.Storage;

public sealed class WriteQueueGroupsOnSqlite() : WriteQueueGroupTests("sqlite");

public sealed class WriteQueueGroupsOnPostgres() : WriteQueueGroupTests("postgres");

/// <summary>
/// Everything that queued while a long unit ran (a stretched worker batch) commits in the next group, well past a few
/// hundred units: a group capped near one batch's arrivals would let ingestion fall behind a worker that is behind.
/// </summary>
public abstract class WriteQueueGroupTests(string kind) : QueuedStoreTest(kind)
{
    [Fact]
    public async Task Two_thousand_units_queued_behind_a_long_one_commit_in_one_group()
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var longUnit = Queue.WriteAsync(async (_, _) =>
        {
            started.SetResult();
            await release.Task;
            return true;
        });
        await started.Task;

        var transactions = new ConcurrentDictionary<DbTransaction, int>(ReferenceEqualityComparer.Instance);
        var queued = Enumerable.Range(0, 2_000)
            .Select(_ => Queue.WriteAsync((_, tx) => Task.FromResult(transactions.AddOrUpdate(tx, 1, (_, n) => n + 1))))
            .ToArray();
        release.SetResult();
        await longUnit;
        await Task.WhenAll(queued);

        Assert.Equal([2_000], transactions.Values);
    }
}
