using System.Diagnostics;
using System.Net;
using Tally.Tests.Infrastructure;

namespace Tally.Tests.Tenants;

public sealed class CliOnSqlite() : CliTests("sqlite");

public sealed class CliOnPostgres() : CliTests("postgres");

/// <summary>The operator's CLI (the server binary with a verb) against the store a running server uses.</summary>
public abstract class CliTests(string storeKind) : IAsyncLifetime
{
    private readonly TestStore store = TestStore.Create(storeKind);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await store.DisposeAsync();

    [Fact]
    public async Task Tenants_and_keys_made_listed_and_revoked_on_the_command_line_are_what_the_server_accepts()
    {
        await using var server = await ServerProcess.StartAsync(store, runWorker: false);

        var tenant = Fields(await RunAsync(0, "tenants", "create", "Cli shop"));
        var tenantId = tenant["tenantId"];
        var admin = Fields(await RunAsync(0, "keys", "create", tenantId, "--admin"));
        var spare = Fields(await RunAsync(0, "keys", "create", tenantId, "--with-secret"));
        Assert.StartsWith("ts_", spare["apiSecret"], StringComparison.Ordinal);

        var listed = (await RunAsync(0, "keys", "list", tenantId)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, listed.Length);
        Assert.Contains(listed, l => l.StartsWith(admin["keyId"], StringComparison.Ordinal) && l.Contains(" admin ", StringComparison.Ordinal));
        Assert.All(listed, l => Assert.Contains("active", l, StringComparison.Ordinal));

        var shop = server.Api();
        shop.DefaultRequestHeaders.Authorization = new("Bearer", tenant["apiKey"]);
        var (status, ack) = await shop.PostJson("/api/v1/events/actions", Api.Action(Guid.NewGuid()));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(tenantId, (string?)ack!["tenantId"]);
        var operatorClient = server.Api();
        operatorClient.DefaultRequestHeaders.Authorization = new("Bearer", admin["apiKey"]);
        Assert.Equal(HttpStatusCode.OK, (await operatorClient.GetJson($"/api/v1/admin/tenants/{tenantId}/keys")).Status);

        Assert.Contains(spare["keyId"], await RunAsync(0, "keys", "revoke", tenantId, spare["keyId"]), StringComparison.Ordinal);
        var refused = server.Api();
        refused.DefaultRequestHeaders.Authorization = new("Bearer", spare["apiKey"]);
        Assert.Equal(HttpStatusCode.Unauthorized, (await refused.PostJson("/api/v1/events/actions", Api.Action(Guid.NewGuid()))).Status);
        Assert.Contains("revoked", (await RunAsync(0, "keys", "list", tenantId)).Split('\n').Single(l => l.StartsWith(spare["keyId"], StringComparison.Ordinal)),
            StringComparison.Ordinal);

        await RunAsync(1, "keys", "revoke", tenantId, Guid.NewGuid().ToString());
        await RunAsync(1, "keys", "list", Guid.NewGuid().ToString());
        await RunAsync(1, "keys", "create", Guid.NewGuid().ToString());
        await RunAsync(2, "keys", "rotate", tenantId);
    }

    /// <summary>The "name: value" lines the CLI prints for an issued key.</summary>
    private static Dictionary<string, string> Fields(string output) =>
        output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(':', 2))
            .ToDictionary(p => p[0].Trim(), p => p[1].Trim(), StringComparer.Ordinal);

    private async Task<string> RunAsync(int expectedExit, params string[] args)
    {
        using var p = Process.Start(ServerProcess.StartInfo(store, args))!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await p.WaitForExitAsync(timeout.Token);
        Assert.True(p.ExitCode == expectedExit, $"'{string.Join(' ', args)}' exited with {p.ExitCode}, expected {expectedExit}:\n{await stdout}\n{await stderr}");
        return await stdout;
    }
}
