using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace Tally.Storage;

/// <summary>The few conversions that let one SQL text serve both engines.</summary>
public static class Sql
{
    public static DbCommand Command(this DbConnection connection, string sql, DbTransaction? tx = null)
    {
        var cmd = connection.CreateCommand();
#pragma warning disable CA2100 // every caller passes constant SQL; values always go in parameters
        cmd.CommandText = sql;
#pragma warning restore CA2100
        cmd.Transaction = tx;
        return cmd;
    }

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<DbConnection, Dictionary<string, DbCommand>> PreparedByConnection = [];

    /// <summary>
    /// A command kept with its connection and reused, so a hot statement is parsed once per connection rather
    /// than once per call (the write queue's connections live for the process). Its parameters are cleared.
    /// The caller must NOT dispose it, and must not hold it across another use of the same SQL.
    /// </summary>
    /// <remarks>
    /// SQLite only: Microsoft.Data.Sqlite parses a new command's text on every first execution. A reused
    /// NpgsqlCommand with re-added parameters was seen to report a conflict that was not there, and once auto-prepared
    /// to run with other values than its new ones (see Database.WithAutoPrepare), so other engines get a fresh command
    /// (Npgsql prepares its text once per connection anyway), which needs no disposing.
    /// </remarks>
    public static DbCommand Prepared(this DbConnection connection, string sql, DbTransaction? tx)
    {
        if (connection is not SqliteConnection) return connection.Command(sql, tx);
        var cache = PreparedByConnection.GetOrCreateValue(connection);
        if (!cache.TryGetValue(sql, out var cmd))
        {
            cmd = connection.Command(sql, tx);
            cache[sql] = cmd;
        }

        cmd.Parameters.Clear();
        cmd.Transaction = tx;
        return cmd;
    }

    /// <summary>
    /// A hot statement: kept prepared (<see cref="Prepared"/>) on a connection that lives for many uses (a writer's, inside
    /// its transaction, or a reader of <see cref="Database.ReadAsync{T}"/>); a plain command on any other. Never dispose it.
    /// </summary>
    public static DbCommand Hot(this DbConnection connection, string sql, DbTransaction? tx) =>
        tx is null && !Database.IsLongLived(connection) ? connection.Command(sql) : connection.Prepared(sql, tx);

    /// <summary>
    /// Adds a parameter. Guids are 16-byte BLOBs on SQLite (big-endian, so they sort as their text does) and uuid on
    /// PostgreSQL; instants are Unix milliseconds.
    /// </summary>
    public static DbCommand With(this DbCommand cmd, string name, object? value)
    {
        var p = cmd.CreateParameter();
        p.ParameterName = name;
        p.Value = ToDb(cmd, value);
        cmd.Parameters.Add(p);
        return cmd;
    }

    private static object ToDb(DbCommand cmd, object? value) => value switch
    {
        null => DBNull.Value,
        Guid g when cmd is SqliteCommand => g.ToByteArray(bigEndian: true),
        DateTimeOffset t => t.ToUnixTimeMilliseconds(),
        DateOnly d => d.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture),
        _ => value,
    };

    /// <summary>
    /// Runs <c><paramref name="head"/> VALUES (...), (...) <paramref name="tail"/></c> over <paramref name="rows"/> (an insert,
    /// an <c>UPDATE ... FROM (VALUES ...)</c>, a <c>... IN (VALUES ...)</c>); <paramref name="extra"/> adds the statement's
    /// other parameters. PostgreSQL gets multi-row statements of up to 1,000 rows or about 30,000 parameters (its limit
    /// is 65,535). SQLite gets one prepared single-row statement run once per row: it looks a parameter up by name in a
    /// list, so binding a statement of P parameters costs P², and a prepared statement's step is cheap anyway.
    /// </summary>
    public static async Task ExecuteRowsAsync<T>(this DbConnection c, DbTransaction tx, string head, string tail, IReadOnlyList<T> rows,
        Func<T, object?[]> values, CancellationToken ct, Action<DbCommand>? extra = null)
    {
        if (rows.Count == 0) return;
        if (c is SqliteConnection sqlite)
        {
            await ExecuteRowByRowAsync(sqlite, tx, head, tail, rows, values, ct, extra);
            return;
        }

        var width = values(rows[0]).Length;
        var chunk = Math.Clamp(30_000 / width, 1, 1_000);
        for (var start = 0; start < rows.Count; start += chunk)
        {
            var count = Math.Min(chunk, rows.Count - start);
            var sql = new System.Text.StringBuilder(head).Append(" VALUES ");
            await using var cmd = c.Command("", tx);
            for (var i = 0; i < count; i++)
            {
                var v = values(rows[start + i]);
                sql.Append(i == 0 ? "(" : ", (");
                for (var j = 0; j < v.Length; j++)
                {
                    var name = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"@v{i}_{j}");
                    sql.Append(j == 0 ? name : ", " + name);
                    cmd.With(name, v[j]);
                }

                sql.Append(')');
            }

            sql.Append(tail);
            extra?.Invoke(cmd);
#pragma warning disable CA2100 // the text is built from constants and parameter names only
            cmd.CommandText = sql.ToString();
#pragma warning restore CA2100
            await cmd.ExecuteNonQueryAsync(ct);
        }
    }

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<DbConnection, Dictionary<(string Head, string Tail), DbCommand>> RowCommands = [];

    /// <summary>
    /// SQLite's side of <see cref="ExecuteRowsAsync"/>: <see cref="SqliteRows"/> steps one prepared single-row statement per row;
    /// rows holding a value it does not bind come here, to one single-row command per (head, tail) kept with the connection with
    /// its row parameters (@v0_0, @v0_1, ...: the row's values first, by position), so a call only sets values and steps.
    /// </summary>
    private static async Task ExecuteRowByRowAsync<T>(SqliteConnection c, DbTransaction tx, string head, string tail, IReadOnlyList<T> rows,
        Func<T, object?[]> values, CancellationToken ct, Action<DbCommand>? extra)
    {
        var all = new object?[rows.Count][];
        for (var i = 0; i < rows.Count; i++) all[i] = values(rows[i]);
        if (SqliteRows.TryExecute(c, head, tail, all, extra)) return;

        var first = all[0];
        var width = first.Length;
        var cache = RowCommands.GetOrCreateValue(c);
        if (!cache.TryGetValue((head, tail), out var cmd))
        {
            var names = Enumerable.Range(0, width).Select(j => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"@v0_{j}")).ToArray();
            cmd = c.Command($"{head} VALUES ({string.Join(", ", names)}){tail}", tx);
            foreach (var name in names) cmd.With(name, null);
            cache[(head, tail)] = cmd;
        }

        cmd.Transaction = tx;
        while (cmd.Parameters.Count > width) cmd.Parameters.RemoveAt(cmd.Parameters.Count - 1);
        extra?.Invoke(cmd);
        for (var i = 0; i < rows.Count; i++)
        {
            var v = all[i];
            for (var j = 0; j < width; j++) cmd.Parameters[j].Value = ToDb(cmd, v[j]);
            await cmd.ExecuteNonQueryAsync(ct);
        }
    }

    /// <summary>The engine behind a connection.</summary>
    public static StoreKind KindOf(DbConnection c) => c is SqliteConnection ? StoreKind.Sqlite : StoreKind.Postgres;

    /// <summary>SQL for an id column as 32 lowercase hex digits (a Guid's "N" text), on either engine.</summary>
    public static string IdAsHex(DbConnection c, string column) =>
        c is SqliteConnection ? $"lower(hex({column}))" : $"replace(CAST({column} AS TEXT), '-', '')";

    /// <summary>A uuid as either engine returns it from a scalar query (uuid, BLOB or text).</summary>
    public static Guid GuidOf(object? value) => value switch
    {
        Guid g => g,
        byte[] { Length: 16 } b => new Guid(b, bigEndian: true),
        string s => Guid.Parse(s),
        _ => throw new InvalidOperationException($"Not a uuid: {value?.GetType().Name ?? "null"}"),
    };

    public static Guid GetGuidValue(this DbDataReader r, int i) =>
        r.GetValue(i) switch
        {
            Guid g => g,
            byte[] { Length: 16 } b => new Guid(b, bigEndian: true),
            string s => Guid.Parse(s),
            var other => throw new InvalidOperationException($"Column {i} is not a uuid: {other.GetType().Name}"),
        };

    public static Guid? GetGuidOrNull(this DbDataReader r, int i) => r.IsDBNull(i) ? null : r.GetGuidValue(i);

    public static string? GetStringOrNull(this DbDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);

    public static long? GetInt64OrNull(this DbDataReader r, int i) => r.IsDBNull(i) ? null : r.GetInt64(i);

    public static DateTimeOffset GetInstant(this DbDataReader r, int i) => DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(i));

    public static DateTimeOffset? GetInstantOrNull(this DbDataReader r, int i) => r.IsDBNull(i) ? null : r.GetInstant(i);

    public static DateOnly? GetDateOrNull(this DbDataReader r, int i) =>
        r.IsDBNull(i) ? null : DateOnly.ParseExact(r.GetString(i), "yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);

    public static bool GetBool(this DbDataReader r, int i) => r.GetValue(i) switch
    {
        bool b => b,
        long l => l != 0,
        int n => n != 0,
        var other => Convert.ToBoolean(other, System.Globalization.CultureInfo.InvariantCulture),
    };
}
