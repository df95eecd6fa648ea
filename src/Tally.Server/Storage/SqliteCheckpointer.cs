using Microsoft.Extensions.Options;
using Tally.Storage;

namespace Tally.Server.Storage;

/// <summary>
/// Copies the embedded store's write-ahead log back into the database file on its own connection, so that this
/// work (reading the log, writing pages, syncing the file) runs beside the single writer instead of inside it.
/// </summary>
/// <remarks>
/// SQLite's own automatic checkpoint runs in the committing connection: every ~1,000 pages of log the writer
/// stopped to copy them all and sync, and every request queued behind it waited. Here a PASSIVE checkpoint (it
/// never blocks the writer, nor waits for it) copies what has accumulated every <see cref="TallyOptions.CheckpointInterval"/>.
/// The writer keeps SQLite's automatic checkpoint as it was: when it comes round, almost every page has been
/// copied already, so it only finishes the tail, and the log then starts again from its beginning (a log copied
/// only by another connection while the writer keeps appending would never be wholly copied, so never restarted).
/// Durability is SQLite's: a commit is on disk in the log before it is acknowledged; checkpointing only moves it.
/// </remarks>
public sealed partial class SqliteCheckpointer(Database db, IOptions<TallyOptions> options, ILogger<SqliteCheckpointer> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = options.Value.CheckpointInterval;
        if (db.Kind != StoreKind.Sqlite || interval <= TimeSpan.Zero) return;
        await using var c = await db.OpenAsync(stoppingToken);
        await using var cmd = c.Command("PRAGMA wal_checkpoint(PASSIVE)");
        while (!stoppingToken.IsCancellationRequested)
        {
            var copied = false;
            try
            {
                await using var r = await cmd.ExecuteReaderAsync(stoppingToken);
                // (busy, pages in the log, pages of it now in the database file)
                copied = await r.ReadAsync(stoppingToken) && r.GetInt64(1) > 0;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                LogFailed(ex);
            }

            // While writes come in, copy often and a little at a time; when the log is empty, look less often.
            await Task.Delay(copied ? interval : interval * 10, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Checkpoint of the write-ahead log failed; the writer's own checkpoint still runs")]
    private partial void LogFailed(Exception ex);
}
