using System.Data.Common;
using Tally.Storage;

namespace Tally.Ledger;

/// <summary>A ledger entry as stored and shown: immutable, signed, with the balance it left behind.</summary>
public sealed record PostedEntry(
    long Id,
    Guid CustomerId,
    string Ledger,
    string Type,
    long Points,
    long BalanceAfter,
    Guid? EventId,
    string? Reason,
    string? Reference,
    Guid? RuleId,
    int? RuleVersion,
    DateTimeOffset CreatedAt,
    long PendingPoints = 0,
    DateTimeOffset? EffectiveAt = null);

public static class LedgerData
{
    private const string Columns =
        "entry_id, customer_id, ledger, type, points, balance_after, event_id, reason, reference, rule_id, rule_version, created_at, pending_points, effective_at";

    public static async Task<PostedEntry?> FindByIdAsync(DbConnection c, DbTransaction? tx, Guid tenantId, long entryId, CancellationToken ct)
    {
        await using var cmd = c.Command($"SELECT {Columns} FROM ledger_entries WHERE tenant_id = @t AND entry_id = @id", tx);
        await using var r = await cmd.With("@t", tenantId).With("@id", entryId).ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? Read(r) : null;
    }

    /// <summary>Newest first; the cursor is the id of the last entry of the previous page.</summary>
    public static async Task<Page<PostedEntry>> ListAsync(DbConnection c, Guid tenantId, Guid customerId, int limit, long? before, CancellationToken ct)
    {
        await using var cmd = c.Command(
            $"SELECT {Columns} FROM ledger_entries WHERE tenant_id = @t AND customer_id = @c AND entry_id < @before ORDER BY entry_id DESC LIMIT @n");
        await using var r = await cmd.With("@t", tenantId).With("@c", customerId).With("@before", before ?? long.MaxValue).With("@n", limit + 1)
            .ExecuteReaderAsync(ct);
        var items = new List<PostedEntry>();
        while (await r.ReadAsync(ct)) items.Add(Read(r));
        return Page<PostedEntry>.Of(items, limit, e => e.Id);
    }

    private static PostedEntry Read(DbDataReader r) => new(
        r.GetInt64(0), r.GetGuidValue(1), r.GetString(2), r.GetString(3), r.GetInt64(4), r.GetInt64(5), r.GetGuidOrNull(6),
        r.GetStringOrNull(7), r.GetStringOrNull(8), r.GetGuidOrNull(9), r.IsDBNull(10) ? null : r.GetInt32(10), r.GetInstant(11), r.GetInt64(12),
        r.GetInstantOrNull(13));
}
