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

/// <summary>One movement to post. The idempotency key is unique per tenant: a replay finds the first entry.</summary>
public sealed record LedgerWrite(
    string Type,
    long Points,
    Guid? EventId = null,
    string? IdempotencyKey = null,
    string? Reason = null,
    string? Reference = null,
    Guid? RuleId = null,
    int? RuleVersion = null,
    long ReservedDelta = 0,
    string Ledger = "main");

public static class LedgerData
{
    private const string Columns =
        "entry_id, customer_id, ledger, type, points, balance_after, event_id, reason, reference, rule_id, rule_version, created_at, pending_points, effective_at";

    /// <summary>
    /// Appends an entry and moves the customer's cached figures in the same transaction, so the balance the
    /// API shows is always the sum of the entries. The caller holds the customer row (or is the single writer).
    /// </summary>
    public static async Task<PostedEntry> PostAsync(DbConnection c, DbTransaction tx, Guid tenantId, Guid customerId, LedgerWrite p, DateTimeOffset now, CancellationToken ct)
    {
        long balanceAfter;
        await using (var update = c.Command(
            """
            UPDATE customers SET points_balance = points_balance + @p, reserved_points = reserved_points + @r,
                lifetime_earned = lifetime_earned + @earned, lifetime_redeemed = lifetime_redeemed + @redeemed, changed_at = @now
            WHERE tenant_id = @t AND customer_id = @c
            RETURNING points_balance
            """, tx))
        {
            var earned = p.Points > 0 && p.Type is "earn" or "adjustment" ? p.Points : 0;
            var redeemed = p.Type == "redeem" ? -p.Points : 0;
            var result = await update.With("@p", p.Points).With("@r", p.ReservedDelta).With("@earned", earned).With("@redeemed", redeemed)
                .With("@now", now).With("@t", tenantId).With("@c", customerId).ExecuteScalarAsync(ct);
            balanceAfter = result is null ? throw new InvalidOperationException($"Customer {customerId} does not exist") : Convert.ToInt64(result, System.Globalization.CultureInfo.InvariantCulture);
        }

        await using var insert = c.Command(
            """
            INSERT INTO ledger_entries (tenant_id, customer_id, ledger, type, points, balance_after, event_id, idempotency_key, reason, reference, rule_id, rule_version, created_at)
            VALUES (@t, @c, @l, @type, @p, @b, @e, @k, @reason, @ref, @rule, @rv, @now)
            RETURNING entry_id
            """, tx);
        var id = Convert.ToInt64(await insert.With("@t", tenantId).With("@c", customerId).With("@l", p.Ledger).With("@type", p.Type)
            .With("@p", p.Points).With("@b", balanceAfter).With("@e", p.EventId).With("@k", p.IdempotencyKey).With("@reason", p.Reason)
            .With("@ref", p.Reference).With("@rule", p.RuleId).With("@rv", p.RuleVersion).With("@now", now)
            .ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture);
        return new PostedEntry(id, customerId, p.Ledger, p.Type, p.Points, balanceAfter, p.EventId, p.Reason, p.Reference, p.RuleId, p.RuleVersion, now);
    }

    public static async Task<PostedEntry?> FindByIdempotencyKeyAsync(DbConnection c, DbTransaction? tx, Guid tenantId, string key, CancellationToken ct)
    {
        await using var cmd = c.Command($"SELECT {Columns} FROM ledger_entries WHERE tenant_id = @t AND idempotency_key = @k", tx);
        await using var r = await cmd.With("@t", tenantId).With("@k", key).ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? Read(r) : null;
    }

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
