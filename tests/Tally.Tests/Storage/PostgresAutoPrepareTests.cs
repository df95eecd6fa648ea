using Tally.Storage;

namespace Tally.Tests.Storage;

public class PostgresAutoPrepareTests
{
    [Fact]
    public void Auto_prepare_is_on_unless_the_connection_string_sets_it()
    {
        var on = new Npgsql.NpgsqlConnectionStringBuilder(Database.WithAutoPrepare("Host=db;Username=tally"));
        Assert.Equal(Database.PostgresAutoPrepared, on.MaxAutoPrepare);
        Assert.Equal("db", on.Host);

        Assert.Equal("Host=db;Max Auto Prepare=0", Database.WithAutoPrepare("Host=db;Max Auto Prepare=0"));
        Assert.Equal("Host=db;MaxAutoPrepare=8", Database.WithAutoPrepare("Host=db;MaxAutoPrepare=8"));
    }
}
