using System.Data.Common;
using Microsoft.Extensions.Options;
using Tally.Events;
using Tally.Storage;

namespace Tally.Server.Events;

/// <summary>
/// Drains the durable queue (the events table) in arrival order. Each batch is one unit of the write queue:
/// effects and "processed" commit together, so a crash replays unfinished events and nothing happens twice.
/// An event that throws is marked failed with the error; a database error is retried before that.
/// </summary>
public sealed partial class EventWorker(
    Database db, WriteQueue writes, EventProcessor processor, EventSignal signal, TimeProvider clock,
    IOptions<TallyOptions> options, ILogger<EventWorker> logger) : BackgroundService
{
    private const int DatabaseRetries = 3;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        var failures = (Seq: 0L, Count: 0);
        var pacing = BatchPacing.Start(o);
        while (!stoppingToken.IsCancellationRequested)
        {
            int processed;
            var cursor = new ProcessingCursor();
            try
            {
                // The unit itself runs to completion once queued: a shutdown never cuts a batch in half.
                processed = await writes.WriteAsync(
                    (c, tx) => EventProcessing.ProcessPendingAsync(
                        db, c, tx, processor, pacing.Claim, clock.GetUtcNow(), cursor, CancellationToken.None, pacing.Budget),
                    CancellationToken.None);
            }
            catch (Exception ex) when (cursor.Current is { } seq)
            {
                failures = failures.Seq == seq ? (seq, failures.Count + 1) : (seq, 1);
                if (ex is DbException && failures.Count < DatabaseRetries)
                {
                    LogRetrying(ex, seq);
                    await Task.Delay(TimeSpan.FromMilliseconds(100 * failures.Count), stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                    continue;
                }

                LogFailed(ex, seq);
                var error = $"{ex.GetType().Name}: {ex.Message}";
                await writes.WriteAsync((c, tx) => MarkFailedAsync(c, tx, seq, error), CancellationToken.None);
                continue;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                LogBatchError(ex);
                await Task.Delay(o.WorkerPollInterval, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                continue;
            }

            pacing = pacing.Next(o, processed, cursor.MorePending, cursor.OutOfTime);
            if (processed == 0 || !cursor.MorePending) await signal.WaitAsync(o.WorkerPollInterval, stoppingToken);
        }
    }

    private async Task<bool> MarkFailedAsync(DbConnection c, DbTransaction tx, long seq, string error)
    {
        await EventProcessing.MarkFailedAsync(c, tx, seq, error, clock.GetUtcNow(), CancellationToken.None);
        return true;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Database error processing event #{Seq}; retrying")]
    private partial void LogRetrying(Exception ex, long seq);

    [LoggerMessage(Level = LogLevel.Error, Message = "Event #{Seq} failed and is marked failed")]
    private partial void LogFailed(Exception ex, long seq);

    [LoggerMessage(Level = LogLevel.Error, Message = "Event batch failed before any event; retrying after the poll interval")]
    private partial void LogBatchError(Exception ex);
}
