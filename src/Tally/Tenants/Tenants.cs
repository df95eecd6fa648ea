using System.Collections.Concurrent;
using System.Data.Common;
using System.Security.Cryptography;
using System.Text;
using Tally.Storage;

namespace Tally.Tenants;

public enum KeyRole
{
    Tenant,

    /// <summary>May also create tenants and keys.</summary>
    Admin,
}

/// <summary>Who a request speaks for, once its key was recognised.</summary>
public sealed record Caller(Guid TenantId, Guid KeyId, KeyRole Role);

/// <summary>A key as issued: the only moment the clear text exists outside the client.</summary>
public sealed record IssuedKey(Guid TenantId, Guid KeyId, string ApiKey, string? ApiSecret, KeyRole Role);

/// <summary>
/// Tenants and their API keys. Keys are random 256-bit strings, so a plain SHA-256 is enough to store them:
/// there is nothing to brute-force that a slow hash would protect.
/// </summary>
public sealed class TenantDirectory(Database db, TimeProvider clock)
{
    private readonly ConcurrentDictionary<string, Caller> recognised = new(StringComparer.Ordinal);

    public async Task<bool> AnyAsync(CancellationToken ct) =>
        await db.ReadAsync(async c =>
        {
            await using var cmd = c.Command("SELECT COUNT(*) FROM tenants");
            return Convert.ToInt64(await cmd.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture) > 0;
        }, ct);

    /// <summary>Creates a tenant with its first key.</summary>
    public async Task<IssuedKey> CreateTenantAsync(string name, KeyRole role, string? apiKey, bool withSecret, CancellationToken ct) =>
        (await CreateAsync(name, role, apiKey, withSecret, onlyIfFirst: false, ct))!;

    /// <summary>
    /// Creates the first tenant unless one exists; null when one does. Safe when several nodes start on the same
    /// empty database at once: on PostgreSQL they take turns on an advisory lock, on SQLite the write lock.
    /// </summary>
    public Task<IssuedKey?> CreateFirstTenantAsync(string name, KeyRole role, string? apiKey, CancellationToken ct) =>
        CreateAsync(name, role, apiKey, withSecret: false, onlyIfFirst: true, ct);

    private async Task<IssuedKey?> CreateAsync(string name, KeyRole role, string? apiKey, bool withSecret, bool onlyIfFirst, CancellationToken ct)
    {
        var tenantId = Guid.CreateVersion7(clock.GetUtcNow());
        await using var c = await db.OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        if (onlyIfFirst)
        {
            var take = db.Kind == StoreKind.Postgres
                ? "SELECT pg_advisory_xact_lock(727275)"
                : "UPDATE tenants SET name = name WHERE 0 = 1"; // a write: takes SQLite's write lock for the transaction
            await using (var lockCmd = c.Command(take, tx))
            {
                await lockCmd.ExecuteNonQueryAsync(ct);
            }

            await using var count = c.Command("SELECT COUNT(*) FROM tenants", tx);
            if (Convert.ToInt64(await count.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture) > 0) return null;
        }

        await using (var cmd = c.Command("INSERT INTO tenants (tenant_id, name, created_at) VALUES (@t, @n, @at)", tx))
        {
            await cmd.With("@t", tenantId).With("@n", name).With("@at", clock.GetUtcNow()).ExecuteNonQueryAsync(ct);
        }

        var key = await InsertKeyAsync(c, tx, tenantId, role, apiKey, withSecret, name, ct);
        await tx.CommitAsync(ct);
        return key;
    }

    /// <summary>Issues another key for an existing tenant; null when the tenant does not exist.</summary>
    public async Task<IssuedKey?> CreateKeyAsync(Guid tenantId, KeyRole role, bool withSecret, string? name, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        await using (var cmd = c.Command("SELECT COUNT(*) FROM tenants WHERE tenant_id = @t", tx))
        {
            var n = Convert.ToInt64(await cmd.With("@t", tenantId).ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture);
            if (n == 0) return null;
        }

        var key = await InsertKeyAsync(c, tx, tenantId, role, null, withSecret, name, ct);
        await tx.CommitAsync(ct);
        return key;
    }

    private async Task<IssuedKey> InsertKeyAsync(
        DbConnection c, DbTransaction tx, Guid tenantId, KeyRole role, string? apiKey, bool withSecret, string? name, CancellationToken ct)
    {
        var keyId = Guid.CreateVersion7(clock.GetUtcNow());
        var key = apiKey ?? "tk_" + RandomToken();
        var secret = withSecret ? "ts_" + RandomToken() : null;
        await using var cmd = c.Command(
            "INSERT INTO api_keys (key_id, tenant_id, key_hash, secret_hash, role, name, created_at) VALUES (@k, @t, @h, @s, @r, @n, @at)", tx);
        await cmd.With("@k", keyId).With("@t", tenantId).With("@h", Hash(key)).With("@s", secret is null ? null : Hash(secret))
            .With("@r", role == KeyRole.Admin ? "admin" : "tenant").With("@n", name).With("@at", clock.GetUtcNow())
            .ExecuteNonQueryAsync(ct);
        return new IssuedKey(tenantId, keyId, key, secret, role);
    }

    /// <summary>
    /// Recognises a key, or the Tallymarks triple (tenant id, key, secret) for keys issued with a secret.
    /// Null means 401: the caller learns nothing about which part was wrong.
    /// </summary>
    public async Task<Caller?> RecogniseAsync(string apiKey, Guid? tenantId, string? secret, CancellationToken ct)
    {
        var keyHash = Hash(apiKey);
        var cacheKey = secret is null ? keyHash : keyHash + "|" + tenantId + "|" + Hash(secret);
        if (recognised.TryGetValue(cacheKey, out var known)) return known;

        var found = await db.ReadAsync(async c =>
        {
            await using var cmd = c.Command(
                "SELECT key_id, tenant_id, secret_hash, role FROM api_keys WHERE key_hash = @h AND revoked_at IS NULL");
            await using var r = await cmd.With("@h", keyHash).ExecuteReaderAsync(ct);
            if (!await r.ReadAsync(ct)) return null;
            var caller = new Caller(r.GetGuidValue(1), r.GetGuidValue(0), r.GetString(3) == "admin" ? KeyRole.Admin : KeyRole.Tenant);
            var secretHash = r.GetStringOrNull(2);
            if (secret is not null)
            {
                if (secretHash is null || tenantId != caller.TenantId) return null;
                if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(secretHash), Encoding.ASCII.GetBytes(Hash(secret)))) return null;
            }

            return caller;
        }, ct);
        if (found is not null) recognised[cacheKey] = found;
        return found;
    }

    private static string RandomToken() => Base64Url(RandomNumberGenerator.GetBytes(32));

    private static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    internal static string Hash(string value) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(value)));
}
