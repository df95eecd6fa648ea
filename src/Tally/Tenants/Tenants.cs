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

/// <summary>A role's name as stored and shown ("tenant", "admin").</summary>
public static class KeyRoles
{
    public static string Name(this KeyRole role) => role == KeyRole.Admin ? "admin" : "tenant";

    /// <summary>The role a stored or requested name stands for; null for a name that is not one.</summary>
    public static KeyRole? Parse(string? name) => name switch
    {
        "admin" => KeyRole.Admin,
        "tenant" => KeyRole.Tenant,
        _ => null,
    };
}

/// <summary>Who a request speaks for, once its key was recognised.</summary>
public sealed record Caller(Guid TenantId, Guid KeyId, KeyRole Role);

/// <summary>A key as issued: the only moment the clear text exists outside the client.</summary>
public sealed record IssuedKey(Guid TenantId, Guid KeyId, string ApiKey, string? ApiSecret, KeyRole Role);

/// <summary>A key as listed: what it is called and whether it still works; never its hash.</summary>
public sealed record KeyInfo(Guid KeyId, string? Name, KeyRole Role, bool HasSecret, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt);

public enum Revocation
{
    Revoked,
    NotFound,

    /// <summary>The last working admin key of any tenant: revoking it would leave no one able to create tenants or keys over the API.</summary>
    LastAdminKey,
}

/// <summary>
/// Tenants and their API keys. Keys are random 256-bit strings, so a plain SHA-256 is enough to store them:
/// there is nothing to brute-force that a slow hash would protect.
/// </summary>
/// <remarks>
/// A recognised key is remembered for <see cref="RecheckAfter"/>, so a request does not read the store to know its caller.
/// A revocation forgets the key at once on the node that revoked it; another node sharing the store stops accepting it
/// when its memory of the key is that old.
/// </remarks>
public sealed class TenantDirectory(Database db, TimeProvider clock)
{
    /// <summary>How long a node trusts its memory of a recognised key before reading the store again.</summary>
    public static readonly TimeSpan RecheckAfter = TimeSpan.FromSeconds(30);

    private readonly ConcurrentDictionary<string, (Caller Caller, DateTimeOffset At)> recognised = new(StringComparer.Ordinal);

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
        if (!await TenantExistsAsync(c, tx, tenantId, ct)) return null;

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
            .With("@r", role.Name()).With("@n", name).With("@at", clock.GetUtcNow())
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
        var now = clock.GetUtcNow();
        if (recognised.TryGetValue(cacheKey, out var known) && now - known.At < RecheckAfter) return known.Caller;

        var found = await db.ReadAsync(async c =>
        {
            await using var cmd = c.Command(
                "SELECT key_id, tenant_id, secret_hash, role FROM api_keys WHERE key_hash = @h AND revoked_at IS NULL");
            await using var r = await cmd.With("@h", keyHash).ExecuteReaderAsync(ct);
            if (!await r.ReadAsync(ct)) return null;
            var caller = new Caller(r.GetGuidValue(1), r.GetGuidValue(0), KeyRoles.Parse(r.GetString(3)) ?? KeyRole.Tenant);
            var secretHash = r.GetStringOrNull(2);
            if (secret is not null)
            {
                if (secretHash is null || tenantId != caller.TenantId) return null;
                if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(secretHash), Encoding.ASCII.GetBytes(Hash(secret)))) return null;
            }

            return caller;
        }, ct);
        if (found is not null) recognised[cacheKey] = (found, now);
        else recognised.TryRemove(cacheKey, out _);
        return found;
    }

    /// <summary>The tenant's keys, oldest first; null when the tenant does not exist.</summary>
    public Task<IReadOnlyList<KeyInfo>?> ListKeysAsync(Guid tenantId, CancellationToken ct) =>
        db.ReadAsync<IReadOnlyList<KeyInfo>?>(async c =>
        {
            if (!await TenantExistsAsync(c, null, tenantId, ct)) return null;
            await using var cmd = c.Command(
                "SELECT key_id, name, role, secret_hash, created_at, revoked_at FROM api_keys WHERE tenant_id = @t ORDER BY created_at, key_id");
            await using var r = await cmd.With("@t", tenantId).ExecuteReaderAsync(ct);
            var keys = new List<KeyInfo>();
            while (await r.ReadAsync(ct))
            {
                keys.Add(new KeyInfo(r.GetGuidValue(0), r.GetStringOrNull(1), KeyRoles.Parse(r.GetString(2)) ?? KeyRole.Tenant, !r.IsDBNull(3),
                    r.GetInstant(4), r.GetInstantOrNull(5)));
            }

            return keys;
        }, ct);

    /// <summary>
    /// Revokes a key of the tenant: from now on it is refused (401). Revoking a revoked key changes nothing and answers
    /// <see cref="Revocation.Revoked"/>, so a retry is safe.
    /// </summary>
    public async Task<Revocation> RevokeKeyAsync(Guid tenantId, Guid keyId, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        // Revocations take turns, so two racing for the last two admin keys cannot both pass the check below. On SQLite
        // the transaction already holds the write lock (Microsoft.Data.Sqlite begins IMMEDIATE); PostgreSQL needs a lock.
        if (db.Kind == StoreKind.Postgres)
        {
            await using var lockCmd = c.Command("SELECT pg_advisory_xact_lock(727276)", tx);
            await lockCmd.ExecuteNonQueryAsync(ct);
        }

        string? role = null;
        var revoked = false;
        await using (var cmd = c.Command("SELECT role, revoked_at FROM api_keys WHERE tenant_id = @t AND key_id = @k", tx))
        {
            await using var r = await cmd.With("@t", tenantId).With("@k", keyId).ExecuteReaderAsync(ct);
            if (await r.ReadAsync(ct)) (role, revoked) = (r.GetString(0), !r.IsDBNull(1));
        }

        if (role is null) return Revocation.NotFound;
        if (!revoked)
        {
            if (role == "admin")
            {
                await using var others = c.Command("SELECT key_id FROM api_keys WHERE role = 'admin' AND revoked_at IS NULL AND key_id <> @k", tx);
                await using var r = await others.With("@k", keyId).ExecuteReaderAsync(ct);
                if (!await r.ReadAsync(ct)) return Revocation.LastAdminKey;
            }

            await using var update = c.Command("UPDATE api_keys SET revoked_at = @at WHERE tenant_id = @t AND key_id = @k AND revoked_at IS NULL", tx);
            await update.With("@at", clock.GetUtcNow()).With("@t", tenantId).With("@k", keyId).ExecuteNonQueryAsync(ct);
            await tx.CommitAsync(ct);
        }

        foreach (var (cacheKey, known) in recognised)
        {
            if (known.Caller.KeyId == keyId) recognised.TryRemove(cacheKey, out _);
        }

        return Revocation.Revoked;
    }

    private static async Task<bool> TenantExistsAsync(DbConnection c, DbTransaction? tx, Guid tenantId, CancellationToken ct)
    {
        await using var cmd = c.Command("SELECT COUNT(*) FROM tenants WHERE tenant_id = @t", tx);
        return Convert.ToInt64(await cmd.With("@t", tenantId).ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture) > 0;
    }

    private static string RandomToken() => Base64Url(RandomNumberGenerator.GetBytes(32));

    private static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    internal static string Hash(string value) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(value)));
}
