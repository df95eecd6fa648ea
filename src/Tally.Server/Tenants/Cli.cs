using Microsoft.Extensions.Logging.Abstractions;
using Tally.Server.Storage;
using Tally.Storage;
using Tally.Tenants;

namespace Tally.Server.Tenants;

/// <summary>
/// The host doubles as an operator's CLI: <c>tenants create NAME [--with-secret]</c>,
/// <c>keys create TENANT_ID [--with-secret] [--admin]</c>, <c>keys list TENANT_ID</c>, <c>keys revoke TENANT_ID KEY_ID</c>. Same configuration (and so the same store) as the server.
/// </summary>
public static class Cli
{
    public static bool IsCommand(string[] args) => args is ["tenants" or "keys", ..];

    public static async Task<int> RunAsync(string[] args)
    {
        var configuration = new ConfigurationBuilder().AddEnvironmentVariables().AddCommandLine(args.Where(a => a.StartsWith("--", StringComparison.Ordinal) && a.Contains('=', StringComparison.Ordinal)).ToArray()).Build();
        await using var db = StoreSetup.Open(configuration, configuration.GetSection("Tally").Get<TallyOptions>() ?? new TallyOptions());
        await Migrations.MigrateAsync(db, NullLogger.Instance, CancellationToken.None);
        var tenants = new Tally.Tenants.TenantDirectory(db, TimeProvider.System);
        var withSecret = args.Contains("--with-secret");
        switch (args)
        {
            case ["tenants", "create", var name, ..]:
                Print(await tenants.CreateTenantAsync(name, KeyRole.Tenant, null, withSecret, CancellationToken.None));
                return 0;
            case ["keys", "create", var tenant, ..] when Guid.TryParse(tenant, out var tenantId):
                var key = await tenants.CreateKeyAsync(tenantId, args.Contains("--admin") ? KeyRole.Admin : KeyRole.Tenant, withSecret, null, CancellationToken.None);
                if (key is null)
                {
                    await Console.Error.WriteLineAsync($"No tenant {tenantId}.");
                    return 1;
                }

                Print(key);
                return 0;
            case ["keys", "list", var tenant, ..] when Guid.TryParse(tenant, out var tenantId):
                var keys = await tenants.ListKeysAsync(tenantId, CancellationToken.None);
                if (keys is null)
                {
                    await Console.Error.WriteLineAsync($"No tenant {tenantId}.");
                    return 1;
                }

                foreach (var k in keys)
                {
                    Console.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                        $"{k.KeyId}  {k.Role.Name(),-6}  {k.CreatedAt:yyyy-MM-dd HH:mm}  {(k.RevokedAt is { } r ? $"revoked {r:yyyy-MM-dd HH:mm}" : "active")}  {k.Name}"));
                }

                return 0;
            case ["keys", "revoke", var tenant, var keyText, ..] when Guid.TryParse(tenant, out var tenantId) && Guid.TryParse(keyText, out var keyId):
                switch (await tenants.RevokeKeyAsync(tenantId, keyId, CancellationToken.None))
                {
                    case Revocation.Revoked:
                        Console.WriteLine($"revoked:   {keyId}");
                        return 0;
                    case Revocation.LastAdminKey:
                        await Console.Error.WriteLineAsync($"Key {keyId} is the last admin key that works: issue another admin key first.");
                        return 1;
                    default:
                        await Console.Error.WriteLineAsync($"No key {keyId} for tenant {tenantId}.");
                        return 1;
                }
            default:
                await Console.Error.WriteLineAsync("usage: tenants create NAME [--with-secret] | keys create TENANT_ID [--with-secret] [--admin] | keys list TENANT_ID | keys revoke TENANT_ID KEY_ID");
                return 2;
        }
    }

    private static void Print(IssuedKey key)
    {
        Console.WriteLine($"tenantId:  {key.TenantId}");
        Console.WriteLine($"keyId:     {key.KeyId}");
        Console.WriteLine($"apiKey:    {key.ApiKey}");
        if (key.ApiSecret is not null) Console.WriteLine($"apiSecret: {key.ApiSecret}");
    }
}
