using Tally.Server;
using Tally.Storage;

namespace Tally.Tests.Ledger;

public class WriterShareTests
{
    [Fact]
    public void The_scheduler_takes_15_percent_of_SQLites_one_writer_and_half_on_PostgreSQL_unless_set()
    {
        Assert.Equal(0.10, new TallyOptions().WriterShareFor(StoreKind.Sqlite));
        Assert.Equal(0.5, new TallyOptions().WriterShareFor(StoreKind.Postgres));
        Assert.Equal(0.3, new TallyOptions { SchedulerWriterShare = 0.3 }.WriterShareFor(StoreKind.Postgres));
        Assert.Equal(0.3, new TallyOptions { SchedulerWriterShare = 0.3 }.WriterShareFor(StoreKind.Sqlite));
    }
}
