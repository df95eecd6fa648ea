using System.ComponentModel.DataAnnotations;

namespace Tally.Server;

/// <summary>Server settings (section "Tally"), with defaults that need no configuration at all.</summary>
public sealed class TallyOptions
{
    /// <summary>Where the embedded store lives; TALLY_DATA_DIR overrides it.</summary>
    public string DataDir { get; set; } = "./data";

    /// <summary>SQLite's page cache per connection, in MB. Larger keeps more index pages in memory as the store grows, but
    /// every commit walks the whole cache (docs/decisions.md).</summary>
    [Range(1, 4096)]
    public int SqliteCacheMb { get; set; } = Tally.Storage.Database.DefaultCacheMegabytes;

    /// <summary>The largest request body accepted (413 above it).</summary>
    [Range(1024, 64 * 1024 * 1024)]
    public int MaxBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>Events the worker processes per transaction.</summary>
    [Range(1, 10_000)]
    public int WorkerBatchSize { get; set; } = 256;

    /// <summary>
    /// How long one worker batch may run before it commits what it did and lets queued requests in (the batch
    /// holds the write queue, on SQLite the only writer).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:01:00")]
    public TimeSpan WorkerBatchBudget { get; set; } = TimeSpan.FromMilliseconds(20);

    /// <summary>
    /// How far a worker that is behind may stretch its batches: each batch that leaves events pending doubles the budget
    /// (and the number it claims, up to <see cref="WorkerBatchSizeMax"/>) until this; a batch that catches up goes back
    /// to <see cref="WorkerBatchBudget"/>. Longer batches spend less per event on commits and set-up, so a backlog drains
    /// faster, at the price of requests waiting longer behind a batch while it lasts.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:01:00")]
    public TimeSpan WorkerBatchBudgetMax { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>The most events a stretched batch claims (see <see cref="WorkerBatchBudgetMax"/>).</summary>
    [Range(1, 100_000)]
    public int WorkerBatchSizeMax { get; set; } = 4_096;

    /// <summary>How often the worker looks for work nobody told it about (other nodes, restarts).</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:10:00")]
    public TimeSpan WorkerPollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Writer connections of the group-commit queue; 0 picks 1 on SQLite and 4 on PostgreSQL.</summary>
    [Range(0, 64)]
    public int Writers { get; set; }

    /// <summary>Run the event worker in this process (turn off for API-only nodes).</summary>
    public bool RunWorker { get; set; } = true;

    /// <summary>Scheduled jobs (expiries, activations, reminders, calendar dates) claimed per pass, at most.</summary>
    [Range(1, 10_000)]
    public int SchedulerBatchSize { get; set; } = 2_000;

    /// <summary>
    /// How long one scheduler pass may run before it commits what it did (what it claimed but did not reach stays due):
    /// the pass holds the write queue, on SQLite the only writer.
    /// </summary>
    public TimeSpan SchedulerBatchBudget { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// While requests wait for the writer, the scheduler pauses between passes so that it holds the writer for about this
    /// share of the time; ingestion keeps the rest. Unset: 10% on SQLite (one writer for everything), 50% on PostgreSQL,
    /// whose several writers let ingestion go on beside a pass (see <see cref="WriterShareFor"/>).
    /// </summary>
    [Range(0.01, 1.0)]
    public double? SchedulerWriterShare { get; set; }

    /// <summary>The scheduler's writer share on <paramref name="store"/>: the setting, or the store's default.</summary>
    public double WriterShareFor(Tally.Storage.StoreKind store) =>
        SchedulerWriterShare ?? (store == Tally.Storage.StoreKind.Postgres ? 0.5 : 0.10);

    /// <summary>How often the scheduler looks for due jobs when nothing woke it.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:10:00")]
    public TimeSpan SchedulerPollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// SQLite: how often the events stored since the last time are added to the customers' event index (listing a customer's
    /// events scans those not added yet). Longer means fewer index pages written per event, and a longer scan meanwhile.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:10:00")]
    public TimeSpan CustomerEventsInterval { get; set; } = TimeSpan.FromSeconds(2);
}
