using Microsoft.Extensions.Logging.Abstractions;
using Tally.Customers;
using Tally.Events;
using Tally.Storage;

namespace Tally.Tests.Storage;

/// <summary>An existing embedded store is upgraded in place: ids stored as text by earlier versions become BLOBs and stay findable.</summary>
public sealed class MigrationTests : SqliteDatabaseTest
{
    [Fact]
    public async Task Text_ids_written_before_step_6_are_found_by_their_uuid_after_it()
    {
        var (tenant, customer, eventId) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        // As version 5 wrote them: the ids' text.
        await SeedAtVersionAsync(5,
            """
            INSERT INTO tenants (tenant_id, name, created_at) VALUES (@t, 'old', 0);
            INSERT INTO customers (tenant_id, customer_id, created_at, changed_at, points_balance) VALUES (@t, @c, 0, 0, 42);
            INSERT INTO events (tenant_id, event_id, customer_id, type, payload, received_at, status) VALUES (@t, @e, @c, 'action', '{}', 0, 'processed');
            """,
            cmd => cmd.With("@t", tenant.ToString()).With("@c", customer.ToString()).With("@e", eventId.ToString()));

        await Migrations.MigrateAsync(Db, NullLogger.Instance, default);

        await using (var c = await Db.OpenAsync(default))
        {
            var found = await EventData.FindAsync(c, null, tenant, eventId, default);
            Assert.NotNull(found);
            Assert.Equal((tenant, customer), (found.Value.Event.TenantId, found.Value.Event.CustomerId));
            Assert.Equal(42, (await CustomerData.GetAsync(c, null, tenant, customer, default))!.PointsBalance);
            await using var kinds = c.Command("SELECT typeof(tenant_id) || typeof(event_id) || typeof(customer_id) FROM events");
            Assert.Equal("blobblobblob", await kinds.ExecuteScalarAsync());
        }
    }

    [Fact]
    public async Task Assessment_records_kept_before_step_9_are_read_from_the_event_after_it()
    {
        var (tenant, customer, eventId) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        // As version 8 kept them: a table keyed by the event id.
        await SeedAtVersionAsync(8,
            """
            INSERT INTO tenants (tenant_id, name, created_at) VALUES (@t, 'old', 0);
            INSERT INTO customers (tenant_id, customer_id, created_at, changed_at, points_balance) VALUES (@t, @c, 0, 0, 0);
            INSERT INTO events (tenant_id, event_id, customer_id, type, payload, received_at, status) VALUES (@t, @e, @c, 'action', '{}', 0, 'processed');
            INSERT INTO events (tenant_id, event_id, customer_id, type, payload, received_at, status) VALUES (@t, @other, @c, 'action', '{}', 0, 'processed');
            INSERT INTO event_traces (tenant_id, event_id, trace, created_at) VALUES (@t, @e, '{"ruleSetVersion":3}', 0);
            """,
            cmd => cmd.With("@t", tenant).With("@c", customer).With("@e", eventId).With("@other", Guid.NewGuid()));

        await Migrations.MigrateAsync(Db, NullLogger.Instance, default);

        await using (var c = await Db.OpenAsync(default))
        {
            var found = await EventData.FindAsync(c, null, tenant, eventId, default);
            Assert.Equal("""{"ruleSetVersion":3}""", await Tally.Rules.RuleState.TraceAsync(c, null, found!.Value.Event.Seq, default));
            await using var count = c.Command("SELECT COUNT(*) FROM events WHERE trace IS NOT NULL");
            Assert.Equal(1L, await count.ExecuteScalarAsync());
        }
    }

    [Fact]
    public async Task Orders_stored_before_step_11_have_their_spend_after_it()
    {
        var (tenant, customer) = (Guid.NewGuid(), Guid.NewGuid());
        await SeedAtVersionAsync(10,
            """
            INSERT INTO tenants (tenant_id, name, created_at) VALUES (@t, 'old', 0);
            INSERT INTO customers (tenant_id, customer_id, created_at, changed_at, points_balance) VALUES (@t, @c, 0, 0, 0);
            INSERT INTO events (tenant_id, event_id, customer_id, type, payload, received_at, status) VALUES (@t, @e1, @c, 'order', '{"order":{"total":19.99}}', 1, 'processed');
            INSERT INTO events (tenant_id, event_id, customer_id, type, payload, received_at, status) VALUES (@t, @e2, @c, 'transaction', '{"transaction":{"total":1e3}}', 2, 'pending');
            INSERT INTO events (tenant_id, event_id, customer_id, type, payload, received_at, status) VALUES (@t, @e3, @c, 'order', '{"order":{"orderId":"no-total"}}', 3, 'processed');
            INSERT INTO events (tenant_id, event_id, customer_id, type, payload, received_at, status) VALUES (@t, @e4, @c, 'action', '{"total":5}', 4, 'processed');
            """,
            cmd => cmd.With("@t", tenant).With("@c", customer).With("@e1", Guid.NewGuid()).With("@e2", Guid.NewGuid()).With("@e3", Guid.NewGuid())
                .With("@e4", Guid.NewGuid()));

        await Migrations.MigrateAsync(Db, NullLogger.Instance, default);

        await using var c = await Db.OpenAsync(default);
        await using var spends = c.Command("SELECT amount_e4 FROM spends WHERE tenant_id = @t AND customer_id = @c ORDER BY received_at").With("@t", tenant).With("@c", customer);
        await using var r = await spends.ExecuteReaderAsync();
        var amounts = new List<long>();
        while (await r.ReadAsync()) amounts.Add(r.GetInt64(0));
        Assert.Equal([199_900L, 10_000_000L], amounts); // ten-thousandths
    }

    [Fact]
    public async Task Events_stored_before_step_13_are_listed_through_the_customer_index_after_it()
    {
        var (tenant, customer, other) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        var ids = Enumerable.Range(0, 3).Select(_ => Guid.NewGuid()).ToArray();
        await SeedAtVersionAsync(12,
            """
            INSERT INTO tenants (tenant_id, name, created_at) VALUES (@t, 'old', 0);
            INSERT INTO events (tenant_id, event_id, customer_id, type, payload, received_at, status) VALUES (@t, @e0, @c, 'action', '{}', 1, 'processed');
            INSERT INTO events (tenant_id, event_id, customer_id, type, payload, received_at, status) VALUES (@t, @x, @o, 'action', '{}', 2, 'processed');
            INSERT INTO events (tenant_id, event_id, customer_id, type, payload, received_at, status) VALUES (@t, @e1, @c, 'action', '{}', 3, 'processed');
            INSERT INTO events (tenant_id, event_id, customer_id, type, payload, received_at, status) VALUES (@t, @e2, @c, 'action', '{}', 4, 'pending');
            """,
            cmd => cmd.With("@t", tenant).With("@c", customer).With("@o", other).With("@x", Guid.NewGuid())
                .With("@e0", ids[0]).With("@e1", ids[1]).With("@e2", ids[2]));

        await Migrations.MigrateAsync(Db, NullLogger.Instance, default);

        await using var c = await Db.OpenAsync(default);
        Assert.Equal(4, await CustomerEvents.IndexedUpToAsync(c, default)); // every event before the step is in the index
        await using (var indexed = c.Command("SELECT COUNT(*) FROM customer_events"))
        {
            Assert.Equal(4L, await indexed.ExecuteScalarAsync());
        }

        await using (var gone = c.Command("SELECT COUNT(*) FROM sqlite_master WHERE name = 'events_customer'"))
        {
            Assert.Equal(0L, await gone.ExecuteScalarAsync());
        }

        var page = await EventData.ListAsync(c, tenant, customer, 10, null, default);
        Assert.Equal(ids.Reverse(), page.Items.Select(e => e.EventId));
    }

    /// <summary>Migrates the store up to <paramref name="version"/> only and writes rows as that version did.</summary>
    private async Task SeedAtVersionAsync(int version, string sql, Action<System.Data.Common.DbCommand> bind)
    {
        await Migrations.MigrateAsync(Db, NullLogger.Instance, version, default);
        await using var c = await Db.OpenAsync(default);
        await using var cmd = c.Command(sql);
        bind(cmd);
        await cmd.ExecuteNonQueryAsync();
    }
}
