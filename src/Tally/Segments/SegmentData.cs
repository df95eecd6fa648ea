using System.Data.Common;
using Tally.Storage;

namespace Tally.Segments;

public sealed record Segment(string Name, string? Description, long Members, DateTimeOffset CreatedAt);

public sealed record SegmentMember(long Seq, Guid CustomerId, DateTimeOffset AddedAt);

/// <summary>Segments are named per tenant; a rule that adds a customer to an unknown segment creates it.</summary>
public static class SegmentData
{
    /// <summary>Creates the segment unless it exists; answers whether it was new.</summary>
    public static async Task<bool> CreateAsync(DbConnection c, DbTransaction tx, Guid tenantId, string name, string? description, DateTimeOffset now, CancellationToken ct)
    {
        await using var cmd = c.Command(
            "INSERT INTO segments (tenant_id, name, description, created_at) VALUES (@t, @n, @d, @now) ON CONFLICT (tenant_id, name) DO NOTHING", tx);
        return await cmd.With("@t", tenantId).With("@n", name).With("@d", description).With("@now", now).ExecuteNonQueryAsync(ct) == 1;
    }

    public static async Task AddAsync(DbConnection c, DbTransaction tx, Guid tenantId, string segment, Guid customerId, DateTimeOffset now, CancellationToken ct)
    {
        await CreateAsync(c, tx, tenantId, segment, null, now, ct);
        await using var cmd = c.Command(
            """
            INSERT INTO segment_members (tenant_id, segment, customer_id, added_at) VALUES (@t, @s, @c, @now)
            ON CONFLICT (tenant_id, segment, customer_id) DO NOTHING
            """, tx);
        await cmd.With("@t", tenantId).With("@s", segment).With("@c", customerId).With("@now", now).ExecuteNonQueryAsync(ct);
    }

    public static async Task RemoveAsync(DbConnection c, DbTransaction tx, Guid tenantId, string segment, Guid customerId, CancellationToken ct)
    {
        await using var cmd = c.Command("DELETE FROM segment_members WHERE tenant_id = @t AND segment = @s AND customer_id = @c", tx);
        await cmd.With("@t", tenantId).With("@s", segment).With("@c", customerId).ExecuteNonQueryAsync(ct);
    }

    /// <summary>The segments a customer belongs to, by name.</summary>
    public static async Task<List<string>> OfCustomerAsync(DbConnection c, DbTransaction? tx, Guid tenantId, Guid customerId, CancellationToken ct)
    {
        var cmd = c.Hot("SELECT segment FROM segment_members WHERE tenant_id = @t AND customer_id = @c ORDER BY segment", tx);
        await using var r = await cmd.With("@t", tenantId).With("@c", customerId).ExecuteReaderAsync(ct);
        var names = new List<string>();
        while (await r.ReadAsync(ct)) names.Add(r.GetString(0));
        return names;
    }

    public static async Task<List<Segment>> ListAsync(DbConnection c, Guid tenantId, CancellationToken ct)
    {
        await using var cmd = c.Command(
            """
            SELECT s.name, s.description, (SELECT COUNT(*) FROM segment_members m WHERE m.tenant_id = s.tenant_id AND m.segment = s.name), s.created_at
            FROM segments s WHERE s.tenant_id = @t ORDER BY s.name
            """);
        await using var r = await cmd.With("@t", tenantId).ExecuteReaderAsync(ct);
        var list = new List<Segment>();
        while (await r.ReadAsync(ct)) list.Add(new(r.GetString(0), r.GetStringOrNull(1), r.GetInt64(2), r.GetInstant(3)));
        return list;
    }

    public static async Task<Segment?> GetAsync(DbConnection c, DbTransaction? tx, Guid tenantId, string name, CancellationToken ct)
    {
        await using var cmd = c.Command(
            """
            SELECT s.name, s.description, (SELECT COUNT(*) FROM segment_members m WHERE m.tenant_id = s.tenant_id AND m.segment = s.name), s.created_at
            FROM segments s WHERE s.tenant_id = @t AND s.name = @n
            """, tx);
        await using var r = await cmd.With("@t", tenantId).With("@n", name).ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? new(r.GetString(0), r.GetStringOrNull(1), r.GetInt64(2), r.GetInstant(3)) : null;
    }

    /// <summary>Members, newest first; the cursor is the position of the last one shown.</summary>
    public static async Task<Page<SegmentMember>> MembersAsync(DbConnection c, Guid tenantId, string segment, int limit, long? before, CancellationToken ct)
    {
        await using var cmd = c.Command(
            """
            SELECT member_seq, customer_id, added_at FROM segment_members
            WHERE tenant_id = @t AND segment = @s AND member_seq < @before ORDER BY member_seq DESC LIMIT @n
            """);
        await using var r = await cmd.With("@t", tenantId).With("@s", segment).With("@before", before ?? long.MaxValue).With("@n", limit + 1).ExecuteReaderAsync(ct);
        var rows = new List<SegmentMember>();
        while (await r.ReadAsync(ct)) rows.Add(new(r.GetInt64(0), r.GetGuidValue(1), r.GetInstant(2)));
        return Page<SegmentMember>.Of(rows, limit, m => m.Seq);
    }
}
