using System.Data.Common;
using Tally.Storage;

namespace Tally.Events;

/// <summary>
/// Where a customer's events are found. PostgreSQL indexes them as they are stored (<c>events_customer</c>). SQLite keeps
/// that index off the request path: an ingested event is found by a scan of the events stored since the watermark
/// (<c>customer_events_state.indexed_upto</c>), and every event up to the watermark through <c>customer_events</c>, which
/// <see cref="CatchUpAsync"/> fills in key order, a few thousand events at a time. A B-tree keyed by customer costs one
/// random leaf per event when it is written as events arrive; written sorted, a customer's events of a batch share theirs
/// (docs/decisions.md). On SQLite <c>seq</c> is commit order (a write transaction holds the database's one write lock until
/// it commits), so no event below the watermark can commit after the catch-up that passed it.
/// </summary>
public static class CustomerEvents
{
    /// <summary>The events one catch-up reads and sorts, at most.</summary>
    public const int DefaultBatch = 50_000;

    /// <summary>Index entries per write unit: each is one small unit of the write queue, so none holds the writer long.</summary>
    public const int DefaultChunk = 1_000;

    private const string Watermark = "(SELECT indexed_upto FROM customer_events_state)";

    internal readonly record struct Key(object Tenant, object Customer, long Seq);

    /// <summary>
    /// A <c>SELECT</c> of <paramref name="columns"/> (of <c>events e</c>) for the events of customer <c>@t</c>/<c>@c</c> that
    /// match <paramref name="where"/> (over <c>e</c>): with a <paramref name="limit"/> (SQL), the newest that many, newest
    /// first (the columns then start with <c>e.seq</c>); without, all of them in no particular order. On SQLite the indexed
    /// part and the scanned tail are one statement, so one snapshot answers both.
    /// </summary>
    public static string Select(StoreKind kind, string columns, string where, string? limit)
    {
        var newest = limit is null ? "" : $" ORDER BY e.seq DESC LIMIT {limit}";
        if (kind != StoreKind.Sqlite)
        {
            return $"SELECT {columns} FROM events e WHERE e.tenant_id = @t AND e.customer_id = @c AND {where}{newest}";
        }

        // The tail is scanned by seq, down from the newest: the unary + keeps the planner off the tenant's events_event_id
        // range (all of the tenant's events), which it otherwise prefers.
        var parts = $"""
            SELECT * FROM (SELECT {columns} FROM events e
                WHERE e.seq > {Watermark} AND +e.tenant_id = @t AND +e.customer_id = @c AND {where}{newest})
            UNION ALL
            SELECT * FROM (SELECT {columns} FROM customer_events i CROSS JOIN events e ON e.seq = i.seq
                WHERE i.tenant_id = @t AND i.customer_id = @c AND i.seq <= {Watermark} AND {where}{newest.Replace("e.seq", "i.seq", StringComparison.Ordinal)})
            """;
        return limit is null ? parts : $"{parts}\nORDER BY 1 DESC LIMIT {limit}";
    }

    /// <summary>The events up to which <c>customer_events</c> is complete (SQLite).</summary>
    public static async Task<long> IndexedUpToAsync(DbConnection c, CancellationToken ct)
    {
        await using var cmd = c.Command("SELECT indexed_upto FROM customer_events_state");
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Indexes the events stored since the watermark, up to <paramref name="batch"/> of them: reads their keys off the writer
    /// and sorts them, writes them through the write queue <paramref name="chunk"/> at a time, and the last chunk moves the watermark
    /// in its transaction. A crash between chunks leaves the watermark where it was: the next catch-up writes the same keys
    /// again (a duplicate is ignored), and until then readers scan those events. Answers how many events it indexed (0 on
    /// PostgreSQL).
    /// </summary>
    public static async Task<int> CatchUpAsync(Database db, WriteQueue writes, CancellationToken ct, int batch = DefaultBatch, int chunk = DefaultChunk)
    {
        if (db.Kind != StoreKind.Sqlite) return 0;
        var (from, keys) = await ReadKeysAsync(db, batch, ct);
        if (keys.Count == 0) return 0;

        var to = keys.Max(k => k.Seq);
        for (var start = 0; start < keys.Count; start += chunk)
        {
            var slice = keys.GetRange(start, Math.Min(chunk, keys.Count - start));
            var last = start + chunk >= keys.Count;
            await writes.WriteAsync((c, tx) => WriteAsync(c, tx, slice, last ? (from, to) : null, ct), ct);
        }

        return keys.Count;
    }

    /// <summary>
    /// The keys of up to <paramref name="batch"/> events after the watermark, in the index's order. Read on a connection of
    /// its own with a small page cache: the scan passes over pages once, and a pooled reader's cache kept filled by it
    /// was ≈ 40 MB of resident memory for nothing.
    /// </summary>
    private static async Task<(long From, List<Key> Keys)> ReadKeysAsync(Database db, int batch, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        await using (var small = c.Command("PRAGMA cache_size = -512"))
        {
            await small.ExecuteNonQueryAsync(ct);
        }

        var upto = await IndexedUpToAsync(c, ct);
        await using var cmd = c.Command("SELECT tenant_id, customer_id, seq FROM events WHERE seq > @w ORDER BY seq LIMIT @n");
        await using var r = await cmd.With("@w", upto).With("@n", batch).ExecuteReaderAsync(ct);
        var found = new List<Key>();
        while (await r.ReadAsync(ct)) found.Add(new Key(r.GetValue(0), r.GetValue(1), r.GetInt64(2)));
        found.Sort(InKeyOrder);
        return (upto, found);
    }

    /// <summary>The index's order: ids as SQLite compares BLOBs (bytes, then length), then seq.</summary>
    private static int InKeyOrder(Key a, Key b)
    {
        var t = ((byte[])a.Tenant).AsSpan().SequenceCompareTo((byte[])b.Tenant);
        if (t != 0) return t;
        var c = ((byte[])a.Customer).AsSpan().SequenceCompareTo((byte[])b.Customer);
        return c != 0 ? c : a.Seq.CompareTo(b.Seq);
    }

    /// <summary>Writes index entries; with <paramref name="advance"/>, moves the watermark from its first value to its second.</summary>
    internal static async Task<int> WriteAsync(DbConnection c, DbTransaction tx, IReadOnlyList<Key> keys, (long From, long To)? advance, CancellationToken ct)
    {
        await c.ExecuteRowsAsync(tx, "INSERT INTO customer_events (tenant_id, customer_id, seq)", " ON CONFLICT DO NOTHING", keys,
            k => [k.Tenant, k.Customer, k.Seq], ct);
        if (advance is not { } a) return 0;

        // Only from where this catch-up started: were another catch-up to have moved it meanwhile, neither range is lost,
        // since the watermark never passes events whose entries were not all written before it.
        await using var cmd = c.Command("UPDATE customer_events_state SET indexed_upto = @to WHERE indexed_upto = @from", tx);
        return await cmd.With("@to", a.To).With("@from", a.From).ExecuteNonQueryAsync(ct);
    }
}
