using NodaTime;
using Tally.Ledger;
using Tally.Storage;
using Tally.Tests.Storage;

namespace Tally.Tests.Ledger;

public sealed class ProgramMemoOnSqlite() : ProgramMemoTests("sqlite");

public sealed class ProgramMemoOnPostgres() : ProgramMemoTests("postgres");

/// <summary>
/// In a write-queue transaction the program is read once per tenant and kept (a batch of events sees one program and
/// does not read it per event), and a program saved in that transaction is what its later readers see.
/// </summary>
public abstract class ProgramMemoTests(string kind) : QueuedStoreTest(kind)
{
    private static readonly DateTimeOffset Now = DateTimeOffset.Parse("2026-03-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public async Task A_transaction_reads_the_program_once_and_sees_its_own_save()
    {
        var tenant = Guid.NewGuid();
        var paris = ProgramSettings.Default with { TimeZone = DateTimeZoneProviders.Tzdb["Europe/Paris"] };
        await Queue.WriteAsync(async (c, tx) =>
        {
            Assert.Equal((ProgramSettings.Default, 0), await LedgerStore.SettingsAsync(c, tx, tenant, default));
            var version = await LedgerStore.SaveSettingsAsync(c, tx, tenant, paris, Now, default);
            Assert.Equal((paris, version), await LedgerStore.SettingsAsync(c, tx, tenant, default));

            // Changed behind the memo's back: the transaction keeps the program it read.
            await using (var cmd = c.Command("UPDATE program_settings SET version = version + 10 WHERE tenant_id = @t", tx))
                await cmd.With("@t", tenant).ExecuteNonQueryAsync();
            Assert.Equal(version, (await LedgerStore.SettingsAsync(c, tx, tenant, default)).Version);
            return true;
        });

        // A new transaction reads it again.
        var (settings, stored) = await Queue.WriteAsync((c, tx) => LedgerStore.SettingsAsync(c, tx, tenant, default));
        Assert.Equal("Europe/Paris", settings.TimeZone.Id);
        Assert.Equal(11, stored);
    }
}
