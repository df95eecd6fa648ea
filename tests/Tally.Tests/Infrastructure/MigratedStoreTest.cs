using Tally.Storage;

namespace Tally.Tests.Infrastructure;

/// <summary>A test class with its own migrated store of <paramref name="kind"/> ("sqlite" or "postgres").</summary>
public abstract class MigratedStoreTest(string kind) : IAsyncLifetime
{
    private readonly TestStore store = TestStore.Create(kind);

    protected Database Db { get; private set; } = null!;

    public virtual async Task InitializeAsync() => Db = await store.OpenMigratedAsync();

    public virtual async Task DisposeAsync()
    {
        await Db.DisposeAsync();
        await store.DisposeAsync();
    }
}
