using System.Collections.Concurrent;
using System.Data.Common;
using System.Runtime.CompilerServices;
using Tally.Events;
using Tally.Storage;

namespace Tally.Rules;

/// <summary>
/// The live, compiled rule set of every tenant, held in memory. A publish rebuilds the tenant's set from the
/// database and swaps one reference, so an evaluation sees the old set or the new one, never half of each.
/// Other processes notice a publish through the tenant's rule-set version (bumped in the publish transaction),
/// which the worker reads once per batch and the basket once per request.
/// </summary>
public sealed class RuleBook
{
    private sealed record Live(long Version, RuleSet Set, Dictionary<(Guid, int), CompiledRule> Compiled);

    private readonly ConcurrentDictionary<Guid, Live> live = new();

    // Tenants whose version was already compared within one worker batch (the context is new per batch).
    private readonly ConditionalWeakTable<ProcessingContext, HashSet<Guid>> checkedInBatch = [];

    /// <summary>
    /// The tenant's set for an event of this batch, with the rule-set version it was built from (0: no rules yet);
    /// compared with the database once per batch, inside the batch's transaction, and reloaded when stale.
    /// </summary>
    public async Task<(RuleSet Set, long Version)> ForBatchAsync(ProcessingContext ctx, Guid tenantId, CancellationToken ct)
    {
        var seen = checkedInBatch.GetOrCreateValue(ctx);
        if (seen.Contains(tenantId) && live.TryGetValue(tenantId, out var known)) return (known.Set, known.Version);
        var current = await CurrentWithVersionAsync(ctx.Connection, ctx.Tx, tenantId, ct);
        seen.Add(tenantId);
        return current;
    }

    private readonly ConcurrentDictionary<(Guid, long), RuleSet> snapshots = new();
    private readonly ConcurrentDictionary<(Guid, Guid, int), CompiledRule?> versions = new();

    /// <summary>
    /// The tenant's rule set as it was at <paramref name="version"/>, rebuilt from the recorded snapshot and the
    /// stored rule versions (kept in memory once built); null when the snapshot is unknown.
    /// </summary>
    public async Task<RuleSet?> AtVersionAsync(DbConnection c, Guid tenantId, long version, CancellationToken ct)
    {
        if (live.TryGetValue(tenantId, out var current) && current.Version == version) return current.Set; // the usual case: a recent event
        if (snapshots.TryGetValue((tenantId, version), out var cached)) return cached;
        var members = await RuleData.SnapshotAsync(c, tenantId, version, ct);
        if (members is null) return null;
        var rules = new List<CompiledRule>();
        foreach (var m in members)
        {
            if (!versions.TryGetValue((tenantId, m.RuleId, m.Version), out var rule))
            {
                var stored = await RuleData.GetVersionAsync(c, tenantId, m.RuleId, m.Version, ct);
                rule = stored is null ? null : CompiledRule.Compile(m.RuleId.ToString(), m.Version, stored.Document).Rule;
                if (versions.Count > 20_000) versions.Clear();
                versions[(tenantId, m.RuleId, m.Version)] = rule;
            }

            if (rule is not null) rules.Add(rule);
        }

        var set = RuleSet.Build(rules);
        if (snapshots.Count > 256) snapshots.Clear();
        snapshots[(tenantId, version)] = set;
        return set;
    }

    /// <summary>The tenant's set as of now: one read of its version, a reload only when it changed.</summary>
    public async Task<RuleSet> CurrentAsync(DbConnection c, DbTransaction? tx, Guid tenantId, CancellationToken ct) =>
        (await CurrentWithVersionAsync(c, tx, tenantId, ct)).Set;

    private async Task<(RuleSet Set, long Version)> CurrentWithVersionAsync(DbConnection c, DbTransaction? tx, Guid tenantId, CancellationToken ct)
    {
        var version = await RuleData.SetVersionAsync(c, tx, tenantId, ct);
        if (live.TryGetValue(tenantId, out var known) && known.Version == version) return (known.Set, version);
        if (version == 0) return (RuleSet.Empty, 0);
        return (await LoadAsync(c, tx, tenantId, version, ct), version);
    }

    public Task<RuleSet> CurrentAsync(Database db, Guid tenantId, CancellationToken ct) => db.ReadAsync(c => CurrentAsync(c, null, tenantId, ct), ct);

    private async Task<RuleSet> LoadAsync(DbConnection c, DbTransaction? tx, Guid tenantId, long version, CancellationToken ct)
    {
        var rows = await RuleData.ListAsync(c, tx, tenantId, null, null, null, withArchived: false, ct);
        live.TryGetValue(tenantId, out var previous);
        var compiled = new Dictionary<(Guid, int), CompiledRule>();
        foreach (var row in rows)
        {
            var key = (row.RuleId, row.Version);
            if (previous?.Compiled.TryGetValue(key, out var rule) != true)
            {
                // Every stored document passed validation; one that no longer compiles (a newer engine) is left out, not fatal.
                rule = CompiledRule.Compile(row.RuleId.ToString(), row.Version, row.Document).Rule;
                if (rule is null) continue;
            }

            compiled[key] = rule!;
        }

        var next = new Live(version, RuleSet.Build(compiled.Values), compiled);
        // A version this transaction published is not committed yet: used here, kept for others only once it is.
        if (RuleData.Uncommitted(tx, tenantId)) return next.Set;
        // A slower reload of an older version never replaces a newer set.
        var kept = live.AddOrUpdate(tenantId, next, (_, old) => old.Version > version ? old : next);
        return kept.Set;
    }
}
