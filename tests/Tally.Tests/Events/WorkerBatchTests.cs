using Microsoft.Extensions.Logging.Abstractions;
using Tally.Events;
using Tally.Rules;
using Tally.Server;
using Tally.Server.Events;
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

    private static readonly TallyOptions Pacing = new()
    {
        WorkerBatchSize = 256,
        WorkerBatchBudget = TimeSpan.FromMilliseconds(20),
        WorkerBatchSizeMax = 4096,
        WorkerBatchBudgetMax = TimeSpan.FromMilliseconds(100),
    };

    [Fact]
    public void A_worker_behind_stretches_its_batches_up_to_the_maximum_and_a_caught_up_one_goes_back_to_the_base()
    {
        var p = BatchPacing.Start(Pacing);
        Assert.Equal(new BatchPacing(256, TimeSpan.FromMilliseconds(20)), p);

        // Full batches, still behind: claim and budget double until their maxima.
        var budgets = new List<double>();
        for (var i = 0; i < 6; i++)
        {
            p = p.Next(Pacing, p.Claim, morePending: true, outOfTime: false);
            budgets.Add(p.Budget.TotalMilliseconds);
        }

        Assert.Equal([40, 80, 100, 100, 100, 100], budgets);
        Assert.Equal(4096, p.Claim);

        // A batch that caught up goes back to the base pacing at once.
        Assert.Equal(BatchPacing.Start(Pacing), p.Next(Pacing, 10, morePending: false, outOfTime: false));
    }

    [Fact]
    public void A_batch_out_of_time_makes_the_next_claim_what_its_budget_held_scaled_to_the_next_budget()
    {
        var p = BatchPacing.Start(Pacing).Next(Pacing, 40, morePending: true, outOfTime: true);
        Assert.Equal(TimeSpan.FromMilliseconds(40), p.Budget);
        Assert.Equal(100, p.Claim); // 40 held in 20 ms: 80 in 40 ms, a quarter to spare

        // At the maximum budget the claim follows what the batch held; never under 16.
        var top = new BatchPacing(4096, TimeSpan.FromMilliseconds(100));
        Assert.Equal(new BatchPacing(250, TimeSpan.FromMilliseconds(100)), top.Next(Pacing, 200, morePending: true, outOfTime: true));
        Assert.Equal(16, top.Next(Pacing, 1, morePending: true, outOfTime: true).Claim);
    }

    [Fact]
    public void A_maximum_below_the_base_keeps_the_base()
    {
        var fixedPacing = new TallyOptions { WorkerBatchSize = 256, WorkerBatchBudget = TimeSpan.FromMilliseconds(20), WorkerBatchSizeMax = 1, WorkerBatchBudgetMax = TimeSpan.Zero };
        var p = BatchPacing.Start(fixedPacing).Next(fixedPacing, 256, morePending: true, outOfTime: false);
        Assert.Equal(new BatchPacing(256, TimeSpan.FromMilliseconds(20)), p);
    }
}
