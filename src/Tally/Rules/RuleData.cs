using System.Data.Common;
using System.Text.Json;
using Tally.Storage;

namespace Tally.Rules;

/// <summary>A stored rule: its current version's document (the text as posted) and the columns lists filter on.</summary>
/// <summary>One rule at one version: a member of a published rule set.</summary>
public sealed record RuleRef(Guid RuleId, int Version);

public sealed record StoredRule(
    Guid RuleId, int Version, string Status, string EventType, string? Campaign, string Name, int Priority, string Document,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

/// <summary>
/// The rules tables. Every publish (create, update, archive) bumps the tenant's rule-set version in the same
/// transaction, so any process can tell with one read that its compiled set is stale.
/// </summary>
public static class RuleData
{
    private const string Columns = "r.rule_id, r.version, r.status, r.event_type, r.campaign, r.name, r.priority, v.document, r.created_at, r.updated_at";
    private const string From = "FROM rules r JOIN rule_versions v ON v.tenant_id = r.tenant_id AND v.rule_id = r.rule_id AND v.version = r.version";

    public static string Name(RuleEventType type) => JsonNamingPolicy.CamelCase.ConvertName(type.ToString());

    public static string Name(RuleStatus status) => JsonNamingPolicy.CamelCase.ConvertName(status.ToString());

    public static async Task<StoredRule> CreateAsync(
        DbConnection c, DbTransaction tx, Guid tenantId, Guid ruleId, RuleDocument doc, string json, DateTimeOffset now, CancellationToken ct)
    {
        await using (var cmd = c.Command(
            """
            INSERT INTO rules (tenant_id, rule_id, version, status, event_type, campaign, name, priority, created_at, updated_at)
            VALUES (@t, @r, 1, @s, @et, @camp, @n, @p, @now, @now)
            """, tx))
        {
            await cmd.With("@t", tenantId).With("@r", ruleId).With("@s", Name(doc.Status)).With("@et", Name(doc.EventType))
                .With("@camp", doc.Campaign).With("@n", doc.Name).With("@p", doc.Priority).With("@now", now).ExecuteNonQueryAsync(ct);
        }

        await InsertVersionAsync(c, tx, tenantId, ruleId, 1, json, now, ct);
        await BumpAsync(c, tx, tenantId, ct);
        return new(ruleId, 1, Name(doc.Status), Name(doc.EventType), doc.Campaign, doc.Name, doc.Priority, json, now, now);
    }

    /// <summary>Stores a new version of an existing rule; null when there is no such rule.</summary>
    public static async Task<StoredRule?> UpdateAsync(
        DbConnection c, DbTransaction tx, Database db, Guid tenantId, Guid ruleId, RuleDocument doc, string json, DateTimeOffset now, CancellationToken ct)
    {
        var current = await GetAsync(c, tx, tenantId, ruleId, ct, db.ForUpdate);
        if (current is null) return null;
        var version = current.Version + 1;
        await using (var cmd = c.Command(
            """
            UPDATE rules SET version = @v, status = @s, event_type = @et, campaign = @camp, name = @n, priority = @p, updated_at = @now
            WHERE tenant_id = @t AND rule_id = @r
            """, tx))
        {
            await cmd.With("@t", tenantId).With("@r", ruleId).With("@v", version).With("@s", Name(doc.Status)).With("@et", Name(doc.EventType))
                .With("@camp", doc.Campaign).With("@n", doc.Name).With("@p", doc.Priority).With("@now", now).ExecuteNonQueryAsync(ct);
        }

        await InsertVersionAsync(c, tx, tenantId, ruleId, version, json, now, ct);
        await BumpAsync(c, tx, tenantId, ct);
        return current with { Version = version, Status = Name(doc.Status), EventType = Name(doc.EventType), Campaign = doc.Campaign, Name = doc.Name,
            Priority = doc.Priority, Document = json, UpdatedAt = now };
    }

    /// <summary>Archives a rule: it leaves the live set; its versions stay readable. False when there is no such rule.</summary>
    public static async Task<bool> ArchiveAsync(DbConnection c, DbTransaction tx, Guid tenantId, Guid ruleId, DateTimeOffset now, CancellationToken ct)
    {
        await using var cmd = c.Command("UPDATE rules SET status = 'archived', updated_at = @now WHERE tenant_id = @t AND rule_id = @r", tx);
        if (await cmd.With("@now", now).With("@t", tenantId).With("@r", ruleId).ExecuteNonQueryAsync(ct) == 0) return false;
        await BumpAsync(c, tx, tenantId, ct);
        return true;
    }

    private static async Task InsertVersionAsync(DbConnection c, DbTransaction tx, Guid tenantId, Guid ruleId, int version, string json, DateTimeOffset now, CancellationToken ct)
    {
        await using var cmd = c.Command(
            "INSERT INTO rule_versions (tenant_id, rule_id, version, document, created_at) VALUES (@t, @r, @v, @d, @now)", tx);
        await cmd.With("@t", tenantId).With("@r", ruleId).With("@v", version).With("@d", json).With("@now", now).ExecuteNonQueryAsync(ct);
    }

    /// <summary>
    /// Bumps the tenant's rule-set version and records which rule versions make up the new set, so the trace of
    /// an event assessed against it can be worked out again later (see <see cref="SnapshotAsync"/>).
    /// </summary>
    private static async Task BumpAsync(DbConnection c, DbTransaction tx, Guid tenantId, CancellationToken ct)
    {
        long version;
        await using (var cmd = c.Command(
            "INSERT INTO rule_sets (tenant_id, version) VALUES (@t, 1) ON CONFLICT (tenant_id) DO UPDATE SET version = rule_sets.version + 1 RETURNING version", tx))
        {
            version = Convert.ToInt64(await cmd.With("@t", tenantId).ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture);
        }

        // Later units of the same write batch see the new version; nothing built from it is kept beyond the transaction
        // until it has committed (a rollback would free the number for a different publish).
        TransactionMemo.Of(tx)?[(VersionMemo, tenantId)] = version;
        TransactionMemo.Of(tx)?[(BumpedMemo, tenantId)] = true;

        var members = (await ListAsync(c, tx, tenantId, null, null, null, withArchived: false, ct)).Select(r => new RuleRef(r.RuleId, r.Version)).ToList();
        await using var snapshot = c.Command("INSERT INTO rule_set_snapshots (tenant_id, version, rules) VALUES (@t, @v, @rules)", tx);
        await snapshot.With("@t", tenantId).With("@v", version).With("@rules", JsonSerializer.Serialize(members, TallyJson.Options)).ExecuteNonQueryAsync(ct);
    }

    /// <summary>The rule versions that made up the tenant's rule set at <paramref name="version"/>; null when unknown.</summary>
    public static async Task<IReadOnlyList<RuleRef>?> SnapshotAsync(DbConnection c, Guid tenantId, long version, CancellationToken ct)
    {
        await using var cmd = c.Command("SELECT rules FROM rule_set_snapshots WHERE tenant_id = @t AND version = @v");
        return await cmd.With("@t", tenantId).With("@v", version).ExecuteScalarAsync(ct) is string json
            ? JsonSerializer.Deserialize<List<RuleRef>>(json, TallyJson.Options)
            : null;
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<Guid, (long Version, HashSet<string> Types)> ActiveTypesByTenant = new();

    /// <summary>
    /// Whether the tenant has an active <c>points</c> rule, as of its current rule-set version. The ledger queues a
    /// <c>points</c> event for a balance change only then: without such a rule the event would be stored and
    /// processed to assess nothing.
    /// </summary>
    public static Task<bool> HasActivePointsRulesAsync(DbConnection c, DbTransaction? tx, Guid tenantId, CancellationToken ct) =>
        HasActiveRulesAsync(c, tx, tenantId, "points", ct);

    /// <summary>
    /// Whether the tenant has an active rule for events of <paramref name="eventType"/> (a rule document's
    /// <c>eventType</c>), as of its current rule-set version read in the caller's transaction: one small read, the
    /// answer kept per version. A rule's activeFrom/activeTo are not looked at: a rule not yet active still counts.
    /// </summary>
    public static async Task<bool> HasActiveRulesAsync(DbConnection c, DbTransaction? tx, Guid tenantId, string eventType, CancellationToken ct)
    {
        var version = await SetVersionAsync(c, tx, tenantId, ct);
        if (ActiveTypesByTenant.TryGetValue(tenantId, out var known) && known.Version == version) return known.Types.Contains(eventType);
        await using var cmd = c.Command("SELECT DISTINCT event_type FROM rules WHERE tenant_id = @t AND status = 'active'", tx);
        await using var r = await cmd.With("@t", tenantId).ExecuteReaderAsync(ct);
        var types = new HashSet<string>(StringComparer.Ordinal);
        while (await r.ReadAsync(ct)) types.Add(r.GetString(0));
        if (!Uncommitted(tx, tenantId)) ActiveTypesByTenant[tenantId] = (version, types);
        return types.Contains(eventType);
    }

    private const string VersionMemo = "rule-set version";
    private const string BumpedMemo = "rule-set version bumped";

    /// <summary>
    /// Whether this transaction published for the tenant: its version is not committed yet, so what is built from it must
    /// not be cached for other transactions (if it rolled back, the next publish would reuse the number). Without a memo
    /// (a transaction outside the write queue) it answers true: caching waits for a read that knows.
    /// </summary>
    public static bool Uncommitted(DbTransaction? tx, Guid tenantId) =>
        tx is not null && (TransactionMemo.Of(tx) is not { } memo || memo.ContainsKey((BumpedMemo, tenantId)));

    /// <summary>
    /// The tenant's rule-set version: 0 before its first publish. In a write-queue transaction it is read once and kept for
    /// the rest of it (<see cref="TransactionMemo"/>; a publish in the same transaction updates it), so the events of one
    /// write batch see one rule set and read its version once.
    /// </summary>
    public static async Task<long> SetVersionAsync(DbConnection c, DbTransaction? tx, Guid tenantId, CancellationToken ct)
    {
        var memo = TransactionMemo.Of(tx);
        if (memo is not null && memo.TryGetValue((VersionMemo, tenantId), out var known)) return (long)known;
        var cmd = c.Hot("SELECT version FROM rule_sets WHERE tenant_id = @t", tx);
        var value = await cmd.With("@t", tenantId).ExecuteScalarAsync(ct);
        var version = value is null or DBNull ? 0 : Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture);
        memo?[(VersionMemo, tenantId)] = version;
        return version;
    }

    public static async Task<StoredRule?> GetAsync(DbConnection c, DbTransaction? tx, Guid tenantId, Guid ruleId, CancellationToken ct, string lockClause = "")
    {
        var sql = lockClause.Length == 0
            ? $"SELECT {Columns} {From} WHERE r.tenant_id = @t AND r.rule_id = @r"
            : $"SELECT {Columns} {From} WHERE r.tenant_id = @t AND r.rule_id = @r FOR UPDATE OF r";
        await using var cmd = c.Command(sql, tx);
        await using var r = await cmd.With("@t", tenantId).With("@r", ruleId).ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? Read(r) : null;
    }

    /// <summary>One version of a rule, current or not (its status column is the rule's current one).</summary>
    public static async Task<StoredRule?> GetVersionAsync(DbConnection c, Guid tenantId, Guid ruleId, int version, CancellationToken ct)
    {
        await using var cmd = c.Command(
            """
            SELECT r.rule_id, v.version, r.status, r.event_type, r.campaign, r.name, r.priority, v.document, r.created_at, v.created_at
            FROM rules r JOIN rule_versions v ON v.tenant_id = r.tenant_id AND v.rule_id = r.rule_id
            WHERE r.tenant_id = @t AND r.rule_id = @r AND v.version = @v
            """);
        await using var r = await cmd.With("@t", tenantId).With("@r", ruleId).With("@v", version).ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? Read(r) : null;
    }

    /// <summary>The tenant's rules, by priority then id; each filter applies when given.</summary>
    public static async Task<List<StoredRule>> ListAsync(
        DbConnection c, DbTransaction? tx, Guid tenantId, string? eventType, string? status, string? campaign, bool withArchived, CancellationToken ct)
    {
        await using var cmd = c.Command(
            $"""
            SELECT {Columns} {From}
            WHERE r.tenant_id = @t AND (@et = '' OR r.event_type = @et) AND (@s = '' OR r.status = @s)
              AND (@camp = '' OR r.campaign = @camp) AND (@all = 1 OR r.status <> 'archived')
            ORDER BY r.priority, r.rule_id
            """, tx);
        await using var r = await cmd.With("@t", tenantId).With("@et", eventType ?? "").With("@s", status ?? "").With("@camp", campaign ?? "")
            .With("@all", withArchived ? 1 : 0).ExecuteReaderAsync(ct);
        var rules = new List<StoredRule>();
        while (await r.ReadAsync(ct)) rules.Add(Read(r));
        return rules;
    }

    private static StoredRule Read(DbDataReader r) => new(
        r.GetGuidValue(0), r.GetInt32(1), r.GetString(2), r.GetString(3), r.GetStringOrNull(4), r.GetString(5), r.GetInt32(6), r.GetString(7),
        r.GetInstant(8), r.GetInstant(9));
}
