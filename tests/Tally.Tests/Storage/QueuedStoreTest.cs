using Microsoft.Extensions.Logging.Abstractions;
using Tally.Storage;
using Tally.Tests.Infrastructure;

namespace Tally.Tests.Storage;

/// <summary>A test class with its own migrated store of <paramref name="kind"/> and a write queue with one writer over it.</summary>
public abstract class QueuedStoreTest(string kind) : MigratedStoreTest(kind)
{
    protected WriteQueue Queue { get; private set; } = null!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Queue = new WriteQueue(Db, NullLogger<WriteQueue>.Instance, writerCount: 1);
    }

    public override async Task DisposeAsync()
    {
        await Queue.DisposeAsync();
        await base.DisposeAsync();
    }
}
