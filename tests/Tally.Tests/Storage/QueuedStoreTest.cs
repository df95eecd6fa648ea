using Microsoft.Extensions.Logging.Abstractions;
using Tally.Storage;
using Tally.Tests.Infrastructure;

namespace Tally.Tests.Storage;

/// <summary>A test class with its own migrated store of <paramref name="kind"/> and a write queue with one writer over it.</summary>
public abstract class QueuedStoreTest(string kind) : IAsyncLifetime
{
    private readonly TestStore store = TestStore.Create(kind);

    protected Database Db { get; private set; } = null!;

    protected WriteQueue Queue { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Db = await store.OpenMigratedAsync();
        Queue = new WriteQueue(Db, NullLogger<WriteQueue>.Instance, writerCount: 1);
    }

    public async Task DisposeAsync()
    {
        await Queue.DisposeAsync();
        await Db.DisposeAsync();
        await store.DisposeAsync();
    }
}
