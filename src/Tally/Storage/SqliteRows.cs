using System.Data;
using System.Data.Common;
using System.Globalization;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Tally.Storage;

/// <summary>
/// SQLite's side of <see cref="Sql.ExecuteRowsAsync"/>: one single-row statement per (head, tail), prepared once per
/// connection through SQLitePCLRaw (the library under Microsoft.Data.Sqlite) and stepped once per row with its values bound
/// by position. Microsoft.Data.Sqlite binds every parameter by name on every execution, and SQLite finds a name by scanning
/// the statement's list: for a 28-column row that scan, with the per-execution reader and handle bookkeeping around it, cost
/// more than the row's own insert. Values are bound as Microsoft.Data.Sqlite binds them after <see cref="Sql.With"/>'s
/// conversions (ids as 16 big-endian bytes, instants as Unix milliseconds, booleans as 0/1); a row holding any other type
/// goes through Microsoft.Data.Sqlite instead (<see cref="TryExecute"/> answers false).
/// </summary>
internal static class SqliteRows
{
    private sealed class Statement(sqlite3_stmt stmt, int[] rowIndexes) : IDisposable
    {
        public sqlite3_stmt Stmt { get; } = stmt;
        public int[] RowIndexes { get; } = rowIndexes;

        public void Dispose() => Stmt.Dispose();
    }

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<SqliteConnection, Dictionary<(string Head, string Tail), Statement>> Statements = [];

    /// <summary>
    /// Writes <paramref name="rows"/> with the statement <c>head VALUES (row) tail</c>; the <paramref name="extra"/> parameters
    /// (named, set once) are taken from a command it fills. False, having written nothing, when a value has a type this path
    /// does not bind.
    /// </summary>
    public static bool TryExecute(SqliteConnection c, string head, string tail, IReadOnlyList<object?[]> rows, Action<DbCommand>? extra)
    {
        DbParameter[] extras = [];
        if (extra is not null)
        {
            using var holder = c.CreateCommand();
            extra(holder);
            extras = [.. holder.Parameters.Cast<DbParameter>()];
            if (extras.Any(p => !Bindable(p.Value))) return false;
        }

        foreach (var row in rows)
        {
            foreach (var v in row)
            {
                if (!Bindable(v)) return false;
            }
        }

        var statement = Prepare(c, head, tail, rows[0].Length);
        var stmt = statement.Stmt;
        var db = c.Handle!;
        try
        {
            foreach (var p in extras)
            {
                var index = raw.sqlite3_bind_parameter_index(stmt, p.ParameterName);
                if (index == 0) throw new InvalidOperationException($"The statement has no parameter {p.ParameterName}.");
                Check(db, Bind(stmt, index, p.Value));
            }

            foreach (var row in rows)
            {
                for (var j = 0; j < row.Length; j++) Check(db, Bind(stmt, statement.RowIndexes[j], row[j]));
                int rc;
                while ((rc = raw.sqlite3_step(stmt)) == raw.SQLITE_ROW)
                {
                    // A RETURNING clause: its rows are not wanted here, as with ExecuteNonQuery.
                }

                if (rc != raw.SQLITE_DONE) throw Error(db, rc);
                raw.sqlite3_reset(stmt);
            }
        }
        finally
        {
            raw.sqlite3_reset(stmt);
            raw.sqlite3_clear_bindings(stmt);
        }

        return true;
    }

    private static Statement Prepare(SqliteConnection c, string head, string tail, int width)
    {
        var cache = Statements.GetValue(c, Track);
        if (cache.TryGetValue((head, tail), out var known)) return known;

        var names = Enumerable.Range(0, width).Select(j => string.Create(CultureInfo.InvariantCulture, $"@v0_{j}")).ToArray();
        var db = c.Handle ?? throw new InvalidOperationException("The connection is not open.");
        var rc = raw.sqlite3_prepare_v2(db, $"{head} VALUES ({string.Join(", ", names)}){tail}", out var stmt);
        if (rc != raw.SQLITE_OK)
        {
            stmt?.Dispose();
            throw Error(db, rc);
        }

        var statement = new Statement(stmt, [.. names.Select(n => raw.sqlite3_bind_parameter_index(stmt, n))]);
        cache[(head, tail)] = statement;
        return statement;
    }

    /// <summary>The statements live as long as the connection stays open: closing it finalizes them, so the handle can close.</summary>
    private static Dictionary<(string Head, string Tail), Statement> Track(SqliteConnection c)
    {
        var cache = new Dictionary<(string Head, string Tail), Statement>();
        c.StateChange += (_, e) =>
        {
            if (e.CurrentState != ConnectionState.Open)
            {
                foreach (var s in cache.Values) s.Dispose();
                cache.Clear();
            }
        };
        return cache;
    }

    private static bool Bindable(object? v) =>
        v is null or DBNull or long or int or short or byte or bool or double or float or string or byte[] or Guid or DateTimeOffset or DateOnly;

    private static int Bind(sqlite3_stmt stmt, int index, object? v) => v switch
    {
        null or DBNull => raw.sqlite3_bind_null(stmt, index),
        long l => raw.sqlite3_bind_int64(stmt, index, l),
        int i => raw.sqlite3_bind_int64(stmt, index, i),
        short s => raw.sqlite3_bind_int64(stmt, index, s),
        byte b => raw.sqlite3_bind_int64(stmt, index, b),
        bool b => raw.sqlite3_bind_int64(stmt, index, b ? 1 : 0),
        double d => raw.sqlite3_bind_double(stmt, index, d),
        float f => raw.sqlite3_bind_double(stmt, index, f),
        string s => raw.sqlite3_bind_text(stmt, index, s),
        byte[] bytes => raw.sqlite3_bind_blob(stmt, index, bytes),
        Guid g => raw.sqlite3_bind_blob(stmt, index, g.ToByteArray(bigEndian: true)),
        DateTimeOffset t => raw.sqlite3_bind_int64(stmt, index, t.ToUnixTimeMilliseconds()),
        DateOnly d => raw.sqlite3_bind_text(stmt, index, d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)),
        _ => throw new ArgumentException($"No binding for {v.GetType().Name}.", nameof(v)),
    };

    private static void Check(sqlite3 db, int rc)
    {
        if (rc != raw.SQLITE_OK) throw Error(db, rc);
    }

    private static SqliteException Error(sqlite3 db, int rc) =>
        new(raw.sqlite3_errmsg(db).utf8_to_string(), rc, raw.sqlite3_extended_errcode(db));
}
