using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Tally.Events;
using Tally.Storage;
using Tally.Tests.Infrastructure;

namespace Tally.Tests.Events;

public sealed class EventApiOnSqlite(SqliteApp app) : EventApiTests<SqliteApp>(app);

public sealed class EventApiOnPostgres(PostgresApp app) : EventApiTests<PostgresApp>(app);

public abstract class EventApiTests<TApp>(TApp app) : IClassFixture<TApp>
    where TApp : TallyApp
{
    private readonly HttpClient api = app.Api();

    [Fact]
    public async Task An_action_is_acknowledged_with_its_ids_and_creates_its_customer()
    {
        var customerId = Guid.NewGuid();
        var eventId = Guid.NewGuid();
        var (status, body) = await api.PostJson("/api/v1/events/actions", Api.Action(customerId, eventId));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(eventId, (Guid)body!["eventId"]!);
        Assert.Equal(customerId, (Guid)body["customerId"]!);
        Assert.False((bool)body["isExisting"]!);
        Assert.NotEqual(Guid.Empty, (Guid)body["tenantId"]!);
        var (customerStatus, _) = await api.GetJson($"/api/v1/customers/{customerId}");
        Assert.Equal(HttpStatusCode.OK, customerStatus);
        Assert.Equal("processed", (string?)(await api.Processed(eventId))["status"]);
    }

    [Fact]
    public async Task An_action_that_no_rule_assesses_is_processed_when_received_and_the_worker_never_touches_it()
    {
        // This class's tenant has no rules: the action has nothing to wait for.
        var eventId = Guid.NewGuid();
        await api.PostJson("/api/v1/events/actions", Api.Action(Guid.NewGuid(), eventId));

        var (status, body) = await api.GetJson($"/api/v1/events/{eventId}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("processed", (string?)body!["status"]);
        Assert.Equal((DateTimeOffset)body["receivedAt"]!, (DateTimeOffset)body["processedAt"]!);
    }

    [Fact]
    public async Task A_replayed_event_answers_isExisting_with_the_original_customer_and_is_stored_once()
    {
        var customerId = Guid.NewGuid();
        var eventId = Guid.NewGuid();
        await api.PostJson("/api/v1/events/actions", Api.Action(customerId, eventId));

        var (status, body) = await api.PostJson("/api/v1/events/actions", Api.Action(Guid.NewGuid(), eventId));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True((bool)body!["isExisting"]!);
        Assert.Equal(customerId, (Guid)body["customerId"]!);
        var (_, events) = await api.GetJson($"/api/v1/customers/{customerId}/events");
        Assert.Single(events!["items"]!.AsArray());
    }

    [Fact]
    public async Task An_eventId_already_used_by_another_kind_of_event_is_a_conflict()
    {
        var customerId = Guid.NewGuid();
        var eventId = Guid.NewGuid();
        await api.PostJson("/api/v1/events/actions", Api.Action(customerId, eventId));

        var (status, body) = await api.PostJson("/api/v1/events/orders", new { order = new { total = 10 }, eventId, customerId });

        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Equal("conflict", (string?)body!["code"]);
    }

    [Fact]
    public async Task An_event_without_an_eventId_is_given_one()
    {
        var (status, body) = await api.PostJson("/api/v1/events/actions", new { customerId = Guid.NewGuid(), nameSpace = "Page.View" });

        Assert.Equal(HttpStatusCode.OK, status);
        var eventId = (Guid)body!["eventId"]!;
        Assert.NotEqual(Guid.Empty, eventId);
        Assert.Equal("processed", (string?)(await api.Processed(eventId))["status"]);
    }

    [Theory]
    [InlineData("orders")]
    [InlineData("transactions")]
    [InlineData("actions")]
    public async Task The_seed_samples_are_accepted_as_they_stand(string endpoint)
    {
        var sample = Seeds.Sample(endpoint, Guid.NewGuid(), Guid.NewGuid());
        var (status, body) = await api.PostJson($"/api/v1/events/{endpoint}", sample);

        Assert.True(status == HttpStatusCode.OK, body?.ToJsonString());
        var stored = await api.Processed((Guid)body!["eventId"]!);
        Assert.Equal("processed", (string?)stored["status"]);
        Assert.Equal(JsonNode.Parse(sample)!["nameSpace"]!.ToString(), (string?)stored["nameSpace"]);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(sample), stored["payload"]));
    }

    [Fact]
    public async Task A_basket_is_assessed_synchronously_with_no_points_or_outcomes_and_stores_nothing()
    {
        var customerId = Guid.NewGuid();
        var eventId = Guid.NewGuid();
        var (status, body) = await api.PostJson("/api/v1/events/basket", Seeds.Sample("basket", eventId, customerId));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(eventId, (Guid)body!["eventId"]!);
        Assert.Equal(0, (long)body["points"]!);
        Assert.Empty(body["outcomes"]!.AsArray());
        Assert.Empty(body["discounts"]!.AsArray());
        Assert.Equal(HttpStatusCode.NotFound, (await api.GetJson($"/api/v1/events/{eventId}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await api.GetJson($"/api/v1/customers/{customerId}")).Status);
    }

    [Fact]
    public async Task A_redemption_answers_its_balances_and_is_applied_to_the_ledger()
    {
        var customerId = Guid.NewGuid();
        await api.Adjust(customerId, 100);
        var eventId = Guid.NewGuid();

        var (status, body) = await api.PostJson("/api/v1/events/redemptions", Api.Redemption(customerId, 30, eventId));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(100, (long)body!["startingBalance"]!);
        Assert.Equal(70, (long)body["pendingBalance"]!);
        await api.Processed(eventId);
        Assert.Equal(70, await api.Balance(customerId));
        var (_, ledger) = await api.GetJson($"/api/v1/customers/{customerId}/ledger");
        var newest = ledger!["items"]![0]!;
        Assert.Equal("redeem", (string?)newest["type"]);
        Assert.Equal(-30, (long)newest["points"]!);
        Assert.Equal(70, (long)newest["balanceAfter"]!);
        Assert.Equal(eventId, (Guid)newest["eventId"]!);
    }

    [Fact]
    public async Task A_second_redemption_counts_the_first_before_it_is_applied()
    {
        var customerId = Guid.NewGuid();
        await api.Adjust(customerId, 50);

        var first = await api.PostJson("/api/v1/events/redemptions", Api.Redemption(customerId, 30));
        var second = await api.PostJson("/api/v1/events/redemptions", Api.Redemption(customerId, 30));

        Assert.Equal(HttpStatusCode.OK, first.Status);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, second.Status);
        Assert.Equal("insufficient_points", (string?)second.Body!["code"]);
        Assert.Equal(20, (long)second.Body["availableBalance"]!);
    }

    [Fact]
    public async Task A_refused_redemption_stores_nothing()
    {
        var customerId = Guid.NewGuid();
        var eventId = Guid.NewGuid();

        var (status, body) = await api.PostJson("/api/v1/events/redemptions", Api.Redemption(customerId, 10, eventId));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.Equal("insufficient_points", (string?)body!["code"]);
        Assert.Equal(HttpStatusCode.NotFound, (await api.GetJson($"/api/v1/events/{eventId}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await api.GetJson($"/api/v1/customers/{customerId}")).Status);
    }

    [Fact]
    public async Task A_locked_account_cannot_redeem_until_unlocked()
    {
        var customerId = Guid.NewGuid();
        await api.Adjust(customerId, 100);
        Assert.Equal(HttpStatusCode.OK, (await api.PostJson($"/api/v1/customers/{customerId}/lock", "{}")).Status);

        var refused = await api.PostJson("/api/v1/events/redemptions", Api.Redemption(customerId, 10));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.Status);
        Assert.Equal("account_locked", (string?)refused.Body!["code"]);

        var (_, unlocked) = await api.PostJson($"/api/v1/customers/{customerId}/unlock", "{}");
        Assert.False((bool)unlocked!["isAccountLocked"]!);
        Assert.Equal(HttpStatusCode.OK, (await api.PostJson("/api/v1/events/redemptions", Api.Redemption(customerId, 10))).Status);
    }

    [Fact]
    public async Task A_replayed_redemption_returns_the_original_balances_and_is_applied_once()
    {
        var customerId = Guid.NewGuid();
        await api.Adjust(customerId, 100);
        var eventId = Guid.NewGuid();
        await api.PostJson("/api/v1/events/redemptions", Api.Redemption(customerId, 40, eventId));
        await api.Processed(eventId);

        var (status, body) = await api.PostJson("/api/v1/events/redemptions", Api.Redemption(customerId, 40, eventId));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True((bool)body!["isExisting"]!);
        Assert.Equal(100, (long)body["startingBalance"]!);
        Assert.Equal(60, (long)body["pendingBalance"]!);
        await Task.Delay(200);
        Assert.Equal(60, await api.Balance(customerId));
    }

    [Fact]
    public async Task Twenty_five_concurrent_redemptions_of_ten_against_one_hundred_accept_exactly_ten()
    {
        var customerId = Guid.NewGuid();
        await api.Adjust(customerId, 100);

        var results = await Task.WhenAll(Enumerable.Range(0, 25).Select(_ => api.PostJson("/api/v1/events/redemptions", Api.Redemption(customerId, 10))));

        Assert.Equal(10, results.Count(r => r.Status == HttpStatusCode.OK));
        Assert.Equal(15, results.Count(r => r.Status == HttpStatusCode.UnprocessableEntity && (string?)r.Body!["code"] == "insufficient_points"));
        foreach (var r in results.Where(r => r.Status == HttpStatusCode.OK)) await api.Processed((Guid)r.Body!["eventId"]!);
        Assert.Equal(0, await api.Balance(customerId));
        var (_, ledger) = await api.GetJson($"/api/v1/customers/{customerId}/ledger?limit=500");
        Assert.Equal(10, ledger!["items"]!.AsArray().Count(e => (string?)e!["type"] == "redeem"));
    }

    [Fact]
    public async Task A_customers_events_are_listed_newest_first_a_page_at_a_time()
    {
        var customerId = Guid.NewGuid();
        var ids = new List<Guid>();
        for (var i = 0; i < 5; i++)
        {
            var id = Guid.NewGuid();
            ids.Add(id);
            await api.PostJson("/api/v1/events/actions", Api.Action(customerId, id));
        }

        Assert.Equal(Enumerable.Reverse(ids), await ListedInPagesOfTwoAsync(customerId));
    }

    [Fact]
    public async Task A_customers_events_are_listed_in_order_across_the_indexed_part_and_the_newest_not_yet_indexed()
    {
        var customerId = Guid.NewGuid();
        var ids = new List<Guid>();
        async Task PostAsync(int count)
        {
            for (var i = 0; i < count; i++)
            {
                ids.Add(Guid.NewGuid());
                await api.PostJson("/api/v1/events/actions", Api.Action(customerId, ids[^1]));
                await api.PostJson("/api/v1/events/actions", Api.Action(Guid.NewGuid(), Guid.NewGuid())); // another customer's, between
            }
        }

        await PostAsync(5);
        var db = app.Services.GetRequiredService<Database>();
        if (db.Kind == StoreKind.Sqlite)
        {
            // The server's background pass indexes what was stored (every 50 ms in tests).
            var stored = await db.ReadAsync(async c =>
            {
                await using var cmd = c.Command("SELECT MAX(seq) FROM events");
                return Convert.ToInt64(await cmd.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
            }, default);
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (await db.ReadAsync(c => CustomerEvents.IndexedUpToAsync(c, default), default) < stored)
            {
                Assert.True(DateTime.UtcNow < deadline, "the server never indexed the customers' events");
                await Task.Delay(20);
            }
        }

        await PostAsync(3);
        Assert.Equal(Enumerable.Reverse(ids), await ListedInPagesOfTwoAsync(customerId));
    }

    /// <summary>The ids of a customer's events, newest first, read two to a page by following the cursor.</summary>
    private async Task<List<Guid>> ListedInPagesOfTwoAsync(Guid customerId)
    {
        var seen = new List<Guid>();
        string? cursor = null;
        do
        {
            var (status, page) = await api.GetJson($"/api/v1/customers/{customerId}/events?limit=2" + (cursor is null ? "" : $"&cursor={cursor}"));
            Assert.Equal(HttpStatusCode.OK, status);
            seen.AddRange(page!["items"]!.AsArray().Select(e => (Guid)e!["eventId"]!));
            cursor = (string?)page["next"];
        }
        while (cursor is not null);

        return seen;
    }
}
