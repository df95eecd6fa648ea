using System.Data.Common;
using Tally.Storage;
using Tally.Tests.Infrastructure;

namespace Tally.Tests.Storage;

/// <summary>SQLite reads run on a few connections kept open with their prepared statements; one whose read threw is not reused.</summary>
public sealed class ReadConnectionTests : IAsyncLifetime
{
    private readonly SqliteStore store = new();
    private Database db = null!;

    public Task InitializeAsync()
    {
        db = Database.Sqlite(store.Settings["TALLY_DATA_DIR"]);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await db.DisposeAsync();
        await store.DisposeAsync();
    }

    [Fact]
    public async Task A_read_connection_is_kept_with_its_prepared_statements_unless_its_read_failed()
    {
        var (first, statement) = await db.ReadAsync(c => Task.FromResult((c, c.Hot("SELECT 1", null))), default);
        Assert.True(Database.IsLongLived(first));
        var (again, same) = await db.ReadAsync(c => Task.FromResult((c, c.Hot("SELECT 1", null))), default);
        Assert.Same(first, again);
        Assert.Same(statement, same);

        DbConnection? failed = null;
        await Assert.ThrowsAsync<InvalidOperationException>(() => db.ReadAsync<int>(c =>
        {
            failed = c;
            throw new InvalidOperationException("the read failed");
        }, default));
        Assert.Equal(System.Data.ConnectionState.Closed, failed!.State);
        var answer = await db.ReadAsync(async c =>
        {
            Assert.NotSame(failed, c);
            return Convert.ToInt64(await c.Hot("SELECT 41 + 1", null).ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
        }, default);
        Assert.Equal(42, answer);
    }
}
