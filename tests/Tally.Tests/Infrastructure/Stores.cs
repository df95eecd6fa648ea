using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Tally.Storage;

namespace Tally.Tests.Infrastructure;

/// <summary>A fresh, empty store for one test class: a temporary SQLite folder or a new PostgreSQL database.</summary>
public abstract class TestStore : IAsyncDisposable
{
    public abstract string Name { get; }

    /// <summary>The settings that point a server at this store, as configuration keys (also usable as env vars with __).</summary>
    public abstract IReadOnlyDictionary<string, string> Settings { get; }

    public abstract ValueTask DisposeAsync();

    public static TestStore Create(string kind) => kind switch
    {
        "sqlite" => new SqliteStore(),
        "postgres" => PostgresStore.Create(),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>The store opened as the server opens it, with every migration applied: for tests below the HTTP API.</summary>
    public async Task<Database> OpenMigratedAsync()
    {
        var db = this is PostgresStore pg ? Database.Postgres(pg.ConnectionString) : Database.Sqlite(Settings["TALLY_DATA_DIR"]);
        await Migrations.MigrateAsync(db, NullLogger.Instance, default);
        return db;
    }
}

public sealed class SqliteStore : TestStore
{
    private readonly string dir = Path.Combine(Path.GetTempPath(), "tally-tests", Guid.NewGuid().ToString("N"));

    public override string Name => "sqlite";

    public override IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string> { ["TALLY_DATA_DIR"] = dir };

    public override ValueTask DisposeAsync()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (IOException)
        {
        }

        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// A database created for the test class on the server named by TALLY_TEST_POSTGRES (the test script starts
/// one). Without it the PostgreSQL tests fail rather than skip: a suite that silently skips one store proves nothing.
/// </summary>
public sealed class PostgresStore : TestStore
{
    private readonly string admin;
    private readonly string database;

    private PostgresStore(string admin, string database)
    {
        this.admin = admin;
        this.database = database;
    }

    public override string Name => "postgres";

    public string ConnectionString => new NpgsqlConnectionStringBuilder(admin) { Database = database, Pooling = true }.ToString();

    public override IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string> { ["ConnectionStrings:Postgres"] = ConnectionString };

    public static PostgresStore Create()
    {
        var admin = Environment.GetEnvironmentVariable("TALLY_TEST_POSTGRES")
            ?? throw new InvalidOperationException("TALLY_TEST_POSTGRES is not set: run the tests with ./test.sh, which starts PostgreSQL.");
        var name = "tally_test_" + Guid.NewGuid().ToString("N")[..12];
        using var c = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(admin) { Database = "postgres", Pooling = false }.ToString());
        c.Open();
        using var cmd = new NpgsqlCommand($"CREATE DATABASE {name}", c);
        cmd.ExecuteNonQuery();
        return new PostgresStore(admin, name);
    }

    public override async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await using var c = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(admin) { Database = "postgres", Pooling = false }.ToString());
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand($"DROP DATABASE IF EXISTS {database} WITH (FORCE)", c);
        await cmd.ExecuteNonQueryAsync();
    }
}
