using Tally.Storage;
using Tally.Tests.Infrastructure;

namespace Tally.Tests.Storage;

/// <summary>A test class with its own embedded store, opened as a <see cref="Database"/> (not migrated: each test decides).</summary>
public abstract class SqliteDatabaseTest : IAsyncLifetime
{
    private readonly SqliteStore store = new();

    protected Database Db { get; private set; } = null!;

    public Task InitializeAsync()
    {
        Db = Database.Sqlite(store.Settings["TALLY_DATA_DIR"]);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await Db.DisposeAsync();
        await store.DisposeAsync();
    }
}
