using Microsoft.Extensions.Options;
using Tally.Events;
using Tally.Storage;

namespace Tally.Server.Events;

/// <summary>
/// SQLite: adds the events stored since its last pass to the customers' event index every
/// <see cref="TallyOptions.CustomerEventsInterval"/>, in key order (<see cref="CustomerEvents.CatchUpAsync"/>). Nothing
/// depends on it for correctness: what it has not indexed yet, a customer's listing scans.
/// </summary>
public sealed partial class CustomerEventIndexer(Database db, WriteQueue writes, IOptions<TallyOptions> options, ILogger<CustomerEventIndexer> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (db.Kind != StoreKind.Sqlite) return;
        while (!stoppingToken.IsCancellationRequested)
        {
            // Machine pacing, not business time: the test clock does not move it.
            await Task.Delay(options.Value.CustomerEventsInterval, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (stoppingToken.IsCancellationRequested) break;
            await CatchUpAsync(CancellationToken.None);
        }
    }

    private async Task CatchUpAsync(CancellationToken ct)
    {
        try
        {
            while (await CustomerEvents.CatchUpAsync(db, writes, ct) == CustomerEvents.DefaultBatch)
            {
                // A full batch: more may wait.
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The next pass starts again from the watermark; meanwhile listings scan a longer tail.
            LogFailed(ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Indexing customers' events failed; the next pass retries")]
    private partial void LogFailed(Exception ex);
}
