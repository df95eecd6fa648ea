using System.Net;
using Tally.Tests.Infrastructure;

namespace Tally.Tests.Events;

/// <summary>The embedded store's log is copied into the database file beside the writer, not only when the writer stops for it.</summary>
public sealed class CheckpointTests(SqliteApp app) : IClassFixture<SqliteApp>
{
    [Fact]
    public async Task Acknowledged_events_reach_the_database_file_without_waiting_for_the_writers_own_checkpoint()
    {
        var api = app.Api();
        var file = new FileInfo(Path.Combine(app.Store.Settings["TALLY_DATA_DIR"], "tally.db"));
        var before = file.Length;

        // A hundred or so pages of log: well under the 1,000 at which the writer would copy them itself.
        for (var i = 0; i < 20; i++)
        {
            var (status, _) = await api.PostJson("/api/v1/events/actions", Api.Action(Guid.NewGuid()));
            Assert.Equal(HttpStatusCode.OK, status);
        }

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            file.Refresh();
            if (file.Length > before) break;
            Assert.True(DateTime.UtcNow < deadline, $"tally.db stayed at {before} bytes: the log was not copied into it");
            await Task.Delay(20);
        }
    }
}
