using Microsoft.Extensions.Logging.Abstractions;
using Tally.Events;
using Tally.Rules;
using Tally.Storage;
using Tally.Tests.Infrastructure;

namespace Tally.Tests.Events;

/// <summary>A worker batch that runs out of its time budget commits what it did and says more is pending; order is kept.</summary>
public sealed class WorkerBatchTests : IAsyncLifetime
{
    private readonly SqliteStore store = new();
    private Database db = null!;

    public async Task InitializeAsync()
    {
        db = Database.Sqlite(store.Settings["TALLY_DATA_DIR"]);
        await Migrations.MigrateAsync(db, NullLogger.Instance, default);
    }

    public async Task DisposeAsync()
    {
        await db.DisposeAsync();
        await store.DisposeAsync();
    }

    [Fact]
    public async Task A_batch_past_its_budget_stops_after_the_event_in_hand_and_the_rest_follow_in_order()
    {
        var tenant = Guid.NewGuid();
        var customer = Guid.NewGuid();
        var now = DateTimeOffset.UtcNow;
        var ids = Enumerable.Range(0, 3).Select(_ => Guid.NewGuid()).ToArray();
        await using (var c = await db.OpenAsync(default))
        await using (var tx = await c.BeginTransactionAsync())
        {
            foreach (var id in ids)
                await EventData.IngestAsync(c, tx, new NewEvent(tenant, id, customer, EventType.Order, null, "{}", now), default);
            await tx.CommitAsync();
        }

        var processor = new EventProcessor(new RuleProcessing(new RuleBook()));
        var statuses = new List<string[]>();
        var more = new List<bool>();
        for (var round = 0; round < 3; round++)
        {
            var cursor = new ProcessingCursor();
            await using var c = await db.OpenAsync(default);
            await using var tx = await c.BeginTransactionAsync();
            Assert.Equal(1, await EventProcessing.ProcessPendingAsync(db, c, tx, processor, 10, now, cursor, default, budget: TimeSpan.Zero));
            await tx.CommitAsync();
            more.Add(cursor.MorePending);
            var seen = new List<string>();
            foreach (var id in ids) seen.Add((await EventData.FindAsync(c, null, tenant, id, default))!.Value.Event.Status);
            statuses.Add([.. seen]);
        }

        Assert.Equal([true, true, false], more);
        Assert.Equal(["processed", "pending", "pending"], statuses[0]);
        Assert.Equal(["processed", "processed", "pending"], statuses[1]);
        Assert.Equal(["processed", "processed", "processed"], statuses[2]);
    }
}
