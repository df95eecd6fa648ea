using NodaTime;
using Tally.Ledger;
using Tally.Rules;
using Tally.Storage;
using Tally.Tests.Infrastructure;

namespace Tally.Tests.Storage;

public sealed class TransactionMemoOnSqlite() : TransactionMemoTests("sqlite");

public sealed class TransactionMemoOnPostgres() : TransactionMemoTests("postgres");

/// <summary>
/// A write-queue transaction remembers the tenant's rule-set version and program for its own length only: a batch reads
/// them once, the next transaction reads them again (Npgsql hands out the same transaction object again, so the memo must
/// end with it); a publish or a program saved in the transaction is what its later readers see.
/// </summary>
public abstract class TransactionMemoTests(string kind) : QueuedStoreTest(kind)
{
    [Fact]
    public async Task The_rule_set_version_is_read_once_per_write_transaction_and_afresh_in_the_next()
    {
        var tenant = Guid.NewGuid();
        var (first, again) = await Queue.WriteAsync(async (c, tx) =>
        {
            Assert.NotNull(TransactionMemo.Of(tx));
            var before = await RuleData.SetVersionAsync(c, tx, tenant, default);
            await using var cmd = c.Command("INSERT INTO rule_sets (tenant_id, version) VALUES (@t, 5)", tx);
            await cmd.With("@t", tenant).ExecuteNonQueryAsync();
            return (before, await RuleData.SetVersionAsync(c, tx, tenant, default));
        });
        Assert.Equal((0L, 0L), (first, again));

        Assert.Equal(5L, await Queue.WriteAsync((c, tx) => RuleData.SetVersionAsync(c, tx, tenant, default)));
        Assert.Equal(5L, await Db.ReadAsync(c => RuleData.SetVersionAsync(c, null, tenant, default), default));
        Assert.Null(TransactionMemo.Of(null));
    }

    // A publish takes the next version number; if its transaction rolls back, the next publish takes the same number.
    // What was worked out from the rolled-back rules must not be kept under that number.
    [Fact]
    public async Task A_publish_that_rolls_back_leaves_nothing_cached_under_the_version_number_it_took()
    {
        var tenant = Guid.NewGuid();
        var now = DateTimeOffset.UtcNow;
        var (action, actionJson) = Document("action");
        var (order, orderJson) = Document("order");
        await Assert.ThrowsAsync<InvalidOperationException>(() => Queue.WriteAsync<bool>(async (c, tx) =>
        {
            await RuleData.CreateAsync(c, tx, tenant, Guid.NewGuid(), action, actionJson, now, default);
            Assert.True(await RuleData.HasActiveRulesAsync(c, tx, tenant, "action", default));
            throw new InvalidOperationException("the batch fails after the publish");
        }));

        await Queue.WriteAsync(async (c, tx) => await RuleData.CreateAsync(c, tx, tenant, Guid.NewGuid(), order, orderJson, now, default));
        Assert.Equal(1L, await Db.ReadAsync(c => RuleData.SetVersionAsync(c, null, tenant, default), default));
        Assert.False(await Queue.WriteAsync((c, tx) => RuleData.HasActiveRulesAsync(c, tx, tenant, "action", default)));
        Assert.True(await Queue.WriteAsync((c, tx) => RuleData.HasActiveRulesAsync(c, tx, tenant, "order", default)));
    }

    [Fact]
    public async Task The_program_is_read_once_per_write_transaction_and_a_save_in_it_is_seen()
    {
        var tenant = Guid.NewGuid();
        var now = DateTimeOffset.Parse("2026-03-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture);
        var paris = ProgramSettings.Default with { TimeZone = DateTimeZoneProviders.Tzdb["Europe/Paris"] };
        await Queue.WriteAsync(async (c, tx) =>
        {
            Assert.Equal((ProgramSettings.Default, 0), await LedgerStore.SettingsAsync(c, tx, tenant, default));
            var version = await LedgerStore.SaveSettingsAsync(c, tx, tenant, paris, now, default);
            Assert.Equal((paris, version), await LedgerStore.SettingsAsync(c, tx, tenant, default));

            // Changed behind the memo's back: the transaction keeps the program it read.
            await using (var cmd = c.Command("UPDATE program_settings SET version = version + 10 WHERE tenant_id = @t", tx))
                await cmd.With("@t", tenant).ExecuteNonQueryAsync();
            Assert.Equal(version, (await LedgerStore.SettingsAsync(c, tx, tenant, default)).Version);
            return true;
        });

        var (settings, stored) = await Queue.WriteAsync((c, tx) => LedgerStore.SettingsAsync(c, tx, tenant, default));
        Assert.Equal("Europe/Paris", settings.TimeZone.Id);
        Assert.Equal(11, stored);
    }

    private static (RuleDocument Doc, string Json) Document(string eventType)
    {
        var json = $$"""{"name": "{{eventType}} rule", "eventType": "{{eventType}}", "status": "active", "outcomes": [{"type": "points", "points": 1}]}""";
        var parsed = RuleParser.Parse(json);
        Assert.True(parsed.Rule is not null, string.Join("; ", parsed.Errors.Select(e => e.Message)));
        return (parsed.Rule!, json);
    }
}
