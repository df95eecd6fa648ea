using Tally.Events;
using Tally.Ledger;
using Tally.Storage;
using Tally.Tests.Storage;

namespace Tally.Tests.Events;

public sealed class CustomerEventsOnSqlite() : CustomerEventsTests("sqlite");

public sealed class CustomerEventsOnPostgres() : CustomerEventsTests("postgres");

/// <summary>
/// A customer's events are found whether they sit in the index, in the tail stored since the watermark, or both; a
/// catch-up cut short (its chunks written, the watermark not moved) neither hides nor repeats an event; the redemptions
/// promised at an instant are summed over both parts. On PostgreSQL the index is kept by the insert and the catch-up does nothing.
/// </summary>
public abstract class CustomerEventsTests(string kind) : QueuedStoreTest(kind)
{
    private bool OnSqlite => Db.Kind == StoreKind.Sqlite;

    private readonly Guid[] tenants = [Guid.NewGuid(), Guid.NewGuid()];
    private readonly Guid[] customers = [Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid()];
    private readonly Dictionary<(Guid Tenant, Guid Customer), List<Guid>> stored = [];
    private readonly DateTimeOffset at = DateTimeOffset.Parse("2026-03-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public async Task Every_event_is_listed_once_in_order_wherever_the_watermark_stands()
    {
        await IngestAsync(40);
        await AssertListedAsync("before any catch-up");

        // Part of the events indexed, in chunks smaller than a customer's share.
        var indexed = await CustomerEvents.CatchUpAsync(Db, Queue, default, batch: 25, chunk: 4);
        Assert.Equal(OnSqlite ? 25 : 0, indexed);
        await AssertListedAsync("after a partial catch-up");

        // A catch-up that crashed after writing chunks beyond the watermark, without moving it.
        if (OnSqlite)
        {
            var beyond = await Db.ReadAsync(async c =>
            {
                await using var cmd = c.Command("SELECT tenant_id, customer_id, seq FROM events WHERE seq > (SELECT indexed_upto FROM customer_events_state) ORDER BY seq LIMIT 7");
                await using var r = await cmd.ExecuteReaderAsync();
                var keys = new List<CustomerEvents.Key>();
                while (await r.ReadAsync()) keys.Add(new CustomerEvents.Key(r.GetValue(0), r.GetValue(1), r.GetInt64(2)));
                return keys;
            }, default);
            Assert.Equal(7, beyond.Count);
            await Queue.WriteAsync((c, tx) => CustomerEvents.WriteAsync(c, tx, beyond, null, default));
            await AssertListedAsync("with entries written beyond the watermark");
        }

        await IngestAsync(10);
        while (await CustomerEvents.CatchUpAsync(Db, Queue, default, batch: 9, chunk: 2) > 0)
        {
        }

        await AssertListedAsync("all indexed");
        await IngestAsync(5);
        await AssertListedAsync("indexed, then a tail");
    }

    [Fact]
    public async Task Redemptions_promised_at_an_instant_are_summed_over_the_index_and_the_tail()
    {
        var (tenant, customer) = (tenants[0], customers[0]);
        async Task RedeemAsync(long points, int minutes) => await Queue.WriteAsync((c, tx) => EventData.IngestAsync(c, tx,
            new NewEvent(tenant, Guid.NewGuid(), customer, EventType.Redemption, null, $$$"""{"redemption":{"quantity":{{{points}}}}}""", at.AddMinutes(minutes)), default));

        await RedeemAsync(5, 1);
        await RedeemAsync(7, 2);
        await IngestAsync(3);
        await CustomerEvents.CatchUpAsync(Db, Queue, default);
        await RedeemAsync(11, 3);
        await RedeemAsync(13, 10); // received after the instant asked about

        var reserved = await Db.ReadAsync(c => LedgerStore.ReservedAsOfAsync(c, tenant, customer, at.AddMinutes(5), default), default);
        Assert.Equal(5 + 7 + 11, reserved);
    }

    /// <summary>Stores <paramref name="perCustomer"/> actions for each customer of each tenant, interleaved.</summary>
    private async Task IngestAsync(int perCustomer)
    {
        for (var i = 0; i < perCustomer; i++)
        {
            foreach (var tenant in tenants)
            {
                foreach (var customer in customers)
                {
                    var e = new NewEvent(tenant, Guid.NewGuid(), customer, EventType.Action, "Test", """{"action":{"amount":1}}""", at);
                    await Queue.WriteAsync((c, tx) => EventData.IngestAsync(c, tx, e, default));
                    (stored.TryGetValue((tenant, customer), out var ids) ? ids : stored[(tenant, customer)] = []).Add(e.EventId);
                }
            }
        }
    }

    private async Task AssertListedAsync(string when)
    {
        foreach (var ((tenant, customer), ids) in stored)
        {
            foreach (var pageSize in new[] { 1, 3, 50 })
            {
                var listed = new List<StoredEvent>();
                long? before = null;
                do
                {
                    var page = await Db.ReadAsync(c => EventData.ListAsync(c, tenant, customer, pageSize, before, default), default);
                    Assert.True(page.Items.Count <= pageSize);
                    listed.AddRange(page.Items);
                    before = page.Next is null ? null : long.Parse(page.Next, System.Globalization.CultureInfo.InvariantCulture);
                }
                while (before is not null);

                Assert.True(listed.All(e => e.TenantId == tenant && e.CustomerId == customer), when);
                Assert.True(ids.AsEnumerable().Reverse().SequenceEqual(listed.Select(e => e.EventId)), $"{when}, pages of {pageSize}");
            }
        }
    }
}
