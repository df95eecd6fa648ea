using System.Data.Common;
using Tally.Storage;

namespace Tally.Tests.Storage;

/// <summary>SQLite reads run on a few connections kept open with their prepared statements; one whose read threw is not reused.</summary>
public sealed class ReadConnectionTests : SqliteDatabaseTest
{
    [Fact]
    public void SQLite_runs_multi_threaded_because_every_connection_is_opened_through_Database()
    {
        // The setting only takes before SQLite's first connection: a connection opened some other way first would leave
        // SQLite serialized (a mutex per call) and this process, the suite, testing another mode than the server runs in.
        Assert.Equal(SQLitePCL.raw.SQLITE_OK, Database.SqliteThreadingResult);
    }

    [Fact]
    public async Task A_read_connection_is_kept_with_its_prepared_statements_unless_its_read_failed()
    {
        var (first, statement) = await Db.ReadAsync(c => Task.FromResult((c, c.Hot("SELECT 1", null))), default);
        Assert.True(Database.IsLongLived(first));
        var (again, same) = await Db.ReadAsync(c => Task.FromResult((c, c.Hot("SELECT 1", null))), default);
        Assert.Same(first, again);
        Assert.Same(statement, same);

        DbConnection? failed = null;
        await Assert.ThrowsAsync<InvalidOperationException>(() => Db.ReadAsync<int>(c =>
        {
            failed = c;
            throw new InvalidOperationException("the read failed");
        }, default));
        Assert.Equal(System.Data.ConnectionState.Closed, failed!.State);
        var answer = await Db.ReadAsync(async c =>
        {
            Assert.NotSame(failed, c);
            return Convert.ToInt64(await c.Hot("SELECT 41 + 1", null).ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
        }, default);
        Assert.Equal(42, answer);
    }
}
