using Npgsql;
using Tally.Storage;

namespace Tally.Tests.Storage;

/// <summary>The database out of reach for a moment (a restart, a network cut): writes fail meanwhile, and resume after.</summary>
public sealed class WriterReconnectTests() : QueuedStoreTest("postgres")
{
    [Fact]
    public async Task A_writer_that_cannot_open_its_connection_fails_those_units_and_writes_again_once_the_database_is_back()
    {
        var database = await Queue.WriteAsync(async (c, tx) =>
        {
            await using var cmd = c.Command("SELECT current_database()", tx);
            return (string)(await cmd.ExecuteScalarAsync())!;
        });

        await AdminAsync($"ALTER DATABASE {database} ALLOW_CONNECTIONS false");
        try
        {
            await AdminAsync($"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'");
            NpgsqlConnection.ClearAllPools();
            await Assert.ThrowsAnyAsync<Exception>(() => Queue.WriteAsync((_, _) => Task.FromResult(1)).WaitAsync(TimeSpan.FromSeconds(60)));
        }
        finally
        {
            await AdminAsync($"ALTER DATABASE {database} ALLOW_CONNECTIONS true");
        }

        Assert.Equal(2, await Queue.WriteAsync((_, _) => Task.FromResult(2)).WaitAsync(TimeSpan.FromSeconds(60)));
    }

    private static async Task AdminAsync(string sql)
    {
        var admin = new NpgsqlConnectionStringBuilder(Environment.GetEnvironmentVariable("TALLY_TEST_POSTGRES")) { Database = "postgres", Pooling = false };
        await using var c = new NpgsqlConnection(admin.ToString());
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, c);
        await cmd.ExecuteNonQueryAsync();
    }
}
