using System.Data.Common;
using Tally.Storage;
using Tally.Tests.Infrastructure;

namespace Tally.Tests.Storage;

public sealed class RowWritesOnSqlite() : RowWriteTests("sqlite");

public sealed class RowWritesOnPostgres() : RowWriteTests("postgres");

/// <summary>
/// <see cref="Sql.ExecuteRowsAsync"/> writes many rows at once (multi-row statements on PostgreSQL, a prepared single-row
/// statement per row on SQLite): each row must be stored exactly as a statement with bound parameters stores it, in the
/// rows' order, with the statement's ON CONFLICT and its other parameters, as an insert, an UPDATE ... FROM and an IN list.
/// </summary>
public abstract class RowWriteTests(string kind) : QueuedStoreTest(kind)
{
    private const string LotInsert =
        "INSERT INTO lots (tenant_id, lot_id, customer_id, ledger, points, remaining, reversed, expired, earned_at, available_at, is_pending, expires_at, source_key, source_event_id, from_lot_id)";

    private static object?[] Lot(Guid tenant, Guid lot, string sourceKey, Guid? fromLot, DateTimeOffset? expiresAt, bool pending, long points) =>
        [tenant, lot, Guid.NewGuid(), "main", points, points, 0L, 0, DateTimeOffset.UnixEpoch.AddDays(20_000.5), DateTimeOffset.UnixEpoch, pending, expiresAt, sourceKey, null, fromLot];

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // a decimal: not bound by SQLite's own row path, so written through Microsoft.Data.Sqlite's commands
    public async Task Rows_are_stored_exactly_as_bound_parameters_store_them(bool decimalSourceKey)
    {
        var tenant = Guid.NewGuid();
        // Text that JSON must escape, non-ASCII and a surrogate pair; a null id beside a set one; both booleans; a long past 2^53.
        var rows = new[]
        {
            Lot(tenant, Guid.NewGuid(), "quote \" backslash \\ tab \t newline \n é 漢 🎉 </script>", Guid.NewGuid(), DateTimeOffset.UnixEpoch.AddYears(60), true, long.MaxValue - 7),
            Lot(tenant, Guid.NewGuid(), "", null, null, false, -3),
        };
        if (decimalSourceKey) rows[1][12] = 12.50m;
        var bound = rows.Select(r => r.ToArray()).ToArray();
        foreach (var b in bound) b[1] = Guid.NewGuid();

        await Queue.WriteAsync(async (c, tx) =>
        {
            await c.ExecuteRowsAsync(tx, LotInsert, "", rows, r => r, default);
            foreach (var b in bound)
            {
                await using var cmd = c.Command(LotInsert + " VALUES (@p0, @p1, @p2, @p3, @p4, @p5, @p6, @p7, @p8, @p9, @p10, @p11, @p12, @p13, @p14)", tx);
                for (var i = 0; i < b.Length; i++) cmd.With($"@p{i}", b[i]);
                await cmd.ExecuteNonQueryAsync();
            }

            return true;
        });

        for (var i = 0; i < rows.Length; i++)
        {
            var (written, reference) = (await StoredAsync(tenant, (Guid)rows[i][1]!), await StoredAsync(tenant, (Guid)bound[i][1]!));
            Assert.Equal(reference.Length, written.Length);
            for (var col = 0; col < written.Length; col++)
            {
                if (col == 1) continue; // the lot id differs on purpose
                Assert.Equal(reference[col], written[col]);
            }
        }
    }

    // Each column as text with its storage type (SQLite keeps a type per value: 1 and '1' are different values there).
    private Task<string[]> StoredAsync(Guid tenant, Guid lot) => Db.ReadAsync(async c =>
    {
        var columns = new[] { "tenant_id", "lot_id", "customer_id", "ledger", "points", "remaining", "reversed", "expired", "earned_at", "available_at", "is_pending", "expires_at", "source_key", "source_event_id", "from_lot_id" };
        var select = Db.Kind == StoreKind.Sqlite
            ? string.Join(", ", columns.Select(col => $"typeof({col}) || ':' || quote({col})"))
            : string.Join(", ", columns.Select(col => $"pg_typeof({col})::text || ':' || COALESCE({col}::text, 'NULL')"));
        await using var cmd = c.Command($"SELECT {select} FROM lots WHERE tenant_id = @t AND lot_id = @l");
        await using var r = await cmd.With("@t", tenant).With("@l", lot).ExecuteReaderAsync();
        Assert.True(await r.ReadAsync());
        return Enumerable.Range(0, columns.Length).Select(r.GetString).ToArray();
    }, default);

    [Fact]
    public async Task Rows_keep_their_order_a_duplicate_in_the_same_statement_is_skipped_and_the_statements_other_parameters_apply()
    {
        var tenant = Guid.NewGuid();
        var customer = Guid.NewGuid();
        var ids = Enumerable.Range(0, 5).Select(_ => Guid.NewGuid()).ToArray();
        var rows = new[] { ids[3], ids[0], ids[4], ids[0], ids[1] }; // ids[0] twice: the first one stands
        var at = DateTimeOffset.UnixEpoch.AddDays(1);

        await Queue.WriteAsync(async (c, tx) =>
        {
            await c.ExecuteRowsAsync(tx, "INSERT INTO activity (tenant_id, customer_id, event_id, type, ledger, data, created_at)",
                " ON CONFLICT (tenant_id, event_id) DO NOTHING", [.. rows.Select((id, i) => (id, i))],
                x => [tenant, customer, x.id, $"t{x.i}", "main", $$"""{"n":{{x.i}}}""", at], default);
            return true;
        });

        var stored = await Db.ReadAsync(async c =>
        {
            await using var cmd = c.Command("SELECT event_id, type FROM activity WHERE tenant_id = @t ORDER BY seq");
            await using var r = await cmd.With("@t", tenant).ExecuteReaderAsync();
            var list = new List<(Guid, string)>();
            while (await r.ReadAsync()) list.Add((r.GetGuidValue(0), r.GetString(1)));
            return list;
        }, default);
        Assert.Equal([(ids[3], "t0"), (ids[0], "t1"), (ids[4], "t2"), (ids[1], "t4")], stored);
    }

    [Fact]
    public async Task An_update_from_rows_and_an_in_list_of_rows_touch_exactly_the_rows_named()
    {
        var tenant = Guid.NewGuid();
        var lots = Enumerable.Range(0, 4).Select(i => Lot(tenant, Guid.NewGuid(), $"s{i}", null, null, false, 10 + i)).ToArray();
        await Queue.WriteAsync(async (c, tx) =>
        {
            await c.ExecuteRowsAsync(tx, LotInsert, "", lots, r => r, default);
            await c.ExecuteRowsAsync(tx, "UPDATE lots SET remaining = v.column3, is_pending = v.column4 FROM (",
                ") AS v WHERE lots.tenant_id = v.column1 AND lots.lot_id = v.column2", [lots[1], lots[2]],
                l => [tenant, l[1], 0L, true], default);
            await c.ExecuteRowsAsync(tx, "UPDATE lots SET expired = @x WHERE tenant_id = @t AND lot_id IN (", ")", [lots[2], lots[3]],
                l => [l[1]], default, cmd => cmd.With("@x", 99L).With("@t", tenant));
            return true;
        });

        var stored = await Db.ReadAsync(async c =>
        {
            await using var cmd = c.Command("SELECT source_key, remaining, is_pending, expired FROM lots WHERE tenant_id = @t ORDER BY source_key");
            await using var r = await cmd.With("@t", tenant).ExecuteReaderAsync();
            var list = new List<(string, long, bool, long)>();
            while (await r.ReadAsync()) list.Add((r.GetString(0), r.GetInt64(1), r.GetBool(2), r.GetInt64(3)));
            return list;
        }, default);
        Assert.Equal([("s0", 10L, false, 0L), ("s1", 0L, true, 0L), ("s2", 0L, true, 99L), ("s3", 13L, false, 99L)], stored);
    }

    [Fact]
    public async Task A_row_the_database_refuses_fails_the_write_with_its_error_and_the_next_write_goes_through()
    {
        var tenant = Guid.NewGuid();
        var bad = Lot(tenant, Guid.NewGuid(), "k", null, null, false, 5);
        bad[3] = null; // ledger is NOT NULL
        var error = await Assert.ThrowsAnyAsync<DbException>(() =>
            Queue.WriteAsync(async (c, tx) => { await c.ExecuteRowsAsync(tx, LotInsert, "", [bad], r => r, default); return true; }));
        Assert.Contains("ledger", error.Message, StringComparison.OrdinalIgnoreCase);

        var good = Lot(tenant, Guid.NewGuid(), "k", null, null, false, 5);
        await Queue.WriteAsync(async (c, tx) => { await c.ExecuteRowsAsync(tx, LotInsert, "", [good], r => r, default); return true; });
        Assert.Equal("integer:5", (await StoredAsync(tenant, (Guid)good[1]!))[4].Replace("bigint", "integer", StringComparison.Ordinal));
    }
}
