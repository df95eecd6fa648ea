using System.Collections.Concurrent;
using System.Data.Common;
using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Tally.Storage;

public enum StoreKind
{
    Sqlite,
    Postgres,
}

/// <summary>
/// The store: which engine, how to open a connection, and the few SQL words that differ between them.
/// All SQL is written once, in the subset both engines understand (ON CONFLICT, RETURNING, partial indexes).
/// </summary>
public sealed class Database : IAsyncDisposable
{
    private readonly string connectionString;
    private readonly NpgsqlDataSource? dataSource;

    private Database(StoreKind kind, string connectionString, string description)
    {
        Kind = kind;
        this.connectionString = connectionString;
        Description = description;
        if (kind == StoreKind.Postgres) dataSource = NpgsqlDataSource.Create(WithAutoPrepare(connectionString));
    }

    /// <summary>Npgsql prepares this many of a connection's most used statements unless the connection string says otherwise.</summary>
    public const int PostgresAutoPrepared = 64;

    /// <summary>
    /// The connection string with Npgsql's auto-prepare on (<see cref="PostgresAutoPrepared"/> statements per connection)
    /// when it does not set <c>Max Auto Prepare</c> itself: a statement is then parsed and planned once per connection rather
    /// than on every run (docs/decisions.md, "Prepared statements"). What this code must not do on PostgreSQL is run one
    /// command object again with its parameters cleared and added anew: once Npgsql had prepared such a command, its runs no
    /// longer did what their new values said (the calendar planner's marks missed the customers they named).
    /// </summary>
    public static string WithAutoPrepare(string connectionString)
    {
        var given = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString };
        if (given.ContainsKey("Max Auto Prepare") || given.ContainsKey("MaxAutoPrepare")) return connectionString;
        return new NpgsqlConnectionStringBuilder(connectionString) { MaxAutoPrepare = PostgresAutoPrepared }.ConnectionString;
    }

    public StoreKind Kind { get; }

    public const int DefaultCacheMegabytes = 8;

    private string pragmas = Pragmas(DefaultCacheMegabytes);

    private static string Pragmas(int cacheMegabytes) => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=30000; PRAGMA foreign_keys=ON; PRAGMA cache_size={-1024 * Math.Clamp(cacheMegabytes, 1, 4096)};");

    /// <summary>Where the data lives, for the start-up log (no secrets).</summary>
    public string Description { get; }

    /// <summary>" FOR UPDATE" on PostgreSQL; SQLite has one writer, so rows need no lock.</summary>
    public string ForUpdate => Kind == StoreKind.Postgres ? " FOR UPDATE" : "";

    /// <summary>" FOR UPDATE SKIP LOCKED" on PostgreSQL, so that several nodes share a queue.</summary>
    public string ForUpdateSkipLocked => Kind == StoreKind.Postgres ? " FOR UPDATE SKIP LOCKED" : "";

    /// <param name="dataDirectory">Where tally.db lives.</param>
    /// <param name="cacheMegabytes">SQLite's page cache per connection (see <see cref="OpenAsync"/>).</param>
    public static Database Sqlite(string dataDirectory, int cacheMegabytes = DefaultCacheMegabytes)
    {
        _ = SqliteThreading.Value;
        Directory.CreateDirectory(dataDirectory);
        var path = Path.GetFullPath(Path.Combine(dataDirectory, "tally.db"));
        var cs = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
        return new Database(StoreKind.Sqlite, cs, $"sqlite:{path}") { pragmas = Pragmas(cacheMegabytes) };
    }

    /// <summary>
    /// SQLite's threading mode, set once before its first connection: multi-thread rather than serialized (every connection
    /// and its statements are used by one caller at a time here: the writer, a reader taken from the pool, the checkpointer),
    /// and no memory statistics, so a call into SQLite takes no connection mutex and an allocation no global one. Answers
    /// SQLite's result code (SQLITE_MISUSE when something opened a connection first: the defaults then stay).
    /// </summary>
    private static readonly Lazy<int> SqliteThreading = new(() =>
    {
        SQLitePCL.Batteries_V2.Init();
        const int memStatus = 9; // SQLITE_CONFIG_MEMSTATUS
        var rc = SQLitePCL.raw.sqlite3_config(SQLitePCL.raw.SQLITE_CONFIG_MULTITHREAD);
        if (rc == SQLitePCL.raw.SQLITE_OK) rc = SQLitePCL.raw.sqlite3_config(memStatus, 0);
        return rc;
    });

    /// <summary>SQLite's answer to the threading setup (0 when it took effect).</summary>
    public static int SqliteThreadingResult => SqliteThreading.Value;

    public static Database Postgres(string connectionString)
    {
        var b = new NpgsqlConnectionStringBuilder(connectionString);
        return new Database(StoreKind.Postgres, connectionString, $"postgres:{b.Host}:{b.Port}/{b.Database}");
    }

    public async Task<DbConnection> OpenAsync(CancellationToken ct)
    {
        if (dataSource is not null) return await dataSource.OpenConnectionAsync(ct);
        var c = new SqliteConnection(connectionString);
        await c.OpenAsync(ct);
        using var cmd = c.CreateCommand();
        // FULL: a commit has reached the disk before we answer 200. busy_timeout: readers and the
        // single writer may briefly meet on the WAL checkpoint. cache_size: 8 MB of pages per connection by default
        // (Tally:SqliteCacheMb; SQLite's own default is 2 MB); what it misses, the OS's page cache serves. Larger is slower:
        // a commit whose B-tree balance swapped two pages' numbers (SQLite parks one at the lock-byte page's number meanwhile)
        // walks the cache's whole hash table (pcache1TruncateUnsafe), and a WAL reader whose snapshot moved clears its
        // cache the same way; at 32 MB the walks took 7% of ingestion's CPU (docs/benchmarks.md, session 15).
#pragma warning disable CA2100 // built from an integer setting, never from a request
        cmd.CommandText = pragmas;
#pragma warning restore CA2100
        await cmd.ExecuteNonQueryAsync(ct);
        return c;
    }

    /// <summary>SQLite read connections kept open between reads (at most this many idle).</summary>
    private const int IdleReaders = 8;

    private readonly ConcurrentBag<SqliteConnection> readers = [];
    private static readonly ConditionalWeakTable<DbConnection, object> LongLived = [];
    private volatile bool disposed;

    /// <summary>
    /// Whether the connection stays open for many uses (a SQLite reader of <see cref="ReadAsync{T}"/>), so a statement kept
    /// prepared with it (<see cref="Sql.Prepared"/>) is parsed once rather than on every read.
    /// </summary>
    public static bool IsLongLived(DbConnection c) => LongLived.TryGetValue(c, out _);

    /// <summary>Marks a connection that the caller keeps open for many uses (e.g. a writer's).</summary>
    public static void KeepsOpen(DbConnection c) => LongLived.AddOrUpdate(c, true);

    /// <summary>
    /// Runs a read (never inside the write queue). On SQLite the connection is one of a few kept open with their prepared
    /// statements, so a hot read parses no SQL and runs no PRAGMA; one whose read failed is closed, not reused.
    /// On PostgreSQL, a connection of Npgsql's pool.
    /// </summary>
    public async Task<T> ReadAsync<T>(Func<DbConnection, Task<T>> read, CancellationToken ct)
    {
        if (Kind != StoreKind.Sqlite)
        {
            await using var pooled = await OpenAsync(ct);
            return await read(pooled);
        }

        if (!readers.TryTake(out var c))
        {
            c = (SqliteConnection)await OpenAsync(ct);
            KeepsOpen(c);
        }

        var reusable = false;
        try
        {
            var result = await read(c);
            reusable = c.State == System.Data.ConnectionState.Open;
            return result;
        }
        finally
        {
            if (reusable && !disposed && readers.Count < IdleReaders) readers.Add(c);
            else await c.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        disposed = true;
        while (readers.TryTake(out var c)) await c.DisposeAsync();
        if (dataSource is not null) await dataSource.DisposeAsync();
        else SqliteConnection.ClearAllPools();
    }
}
