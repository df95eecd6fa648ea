using System.Net.Http.Headers;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Tally.Tests.Infrastructure;

/// <summary>The real server, in memory, over a real store; one per test class.</summary>
public abstract class TallyApp : WebApplicationFactory<Program>, IAsyncLifetime
{
    public const string AdminKey = "test-admin-key-0123456789";

    private TestStore? store;

    protected abstract string StoreKind { get; }

    public TestStore Store => store ??= TestStore.Create(StoreKind);

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        foreach (var (key, value) in Store.Settings) builder.UseSetting(key, value);
        builder.UseSetting("TALLY_BOOTSTRAP_API_KEY", AdminKey);
        builder.UseSetting("Tally:WorkerPollInterval", "00:00:00.050");
        builder.UseSetting("Tally:CustomerEventsInterval", "00:00:00.050"); // listings meet both the indexed part and the tail
        builder.UseSetting("Tally:MaxBodyBytes", "65536");
        builder.UseEnvironment("Testing");
    }

    /// <summary>A client that speaks as the default tenant (whose key is also the admin key).</summary>
    public HttpClient Api(string key = AdminKey)
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    public Task InitializeAsync()
    {
        _ = Server; // start now, so the store is migrated before the first test
        return Task.CompletedTask;
    }

    async Task IAsyncLifetime.DisposeAsync()
    {
        await base.DisposeAsync();
        await Store.DisposeAsync();
    }
}

public sealed class SqliteApp : TallyApp
{
    protected override string StoreKind => "sqlite";
}

public sealed class PostgresApp : TallyApp
{
    protected override string StoreKind => "postgres";
}
