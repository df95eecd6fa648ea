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
    /// NpgsqlCommand with re-added parameters was seen to report a conflict that was not there (as was Npgsql's
    /// own auto-prepare, see Database), so other engines get a fresh command, which needs no disposing.
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
    /// A statement of the write path: kept prepared (<see cref="Prepared"/>) inside a transaction, where the connection is
    /// a writer's and lives for the process; a plain command on a pooled read connection. Never dispose it.
    /// </summary>
    public static DbCommand Hot(this DbConnection connection, string sql, DbTransaction? tx) =>
        tx is null ? connection.Command(sql) : connection.Prepared(sql, tx);

    /// <summary>Adds a parameter. Guids are TEXT on SQLite and uuid on PostgreSQL; instants are Unix milliseconds.</summary>
    public static DbCommand With(this DbCommand cmd, string name, object? value)
    {
        var p = cmd.CreateParameter();
        p.ParameterName = name;
        p.Value = value switch
        {
            null => DBNull.Value,
            Guid g when cmd is SqliteCommand => g.ToString("D"),
            DateTimeOffset t => t.ToUnixTimeMilliseconds(),
            DateOnly d => d.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture),
            _ => value,
        };
        cmd.Parameters.Add(p);
        return cmd;
    }

    public static Guid GetGuidValue(this DbDataReader r, int i) =>
        r.GetValue(i) switch
        {
            Guid g => g,
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
