using System.Net;
using System.Text;
using Tally.Tests.Infrastructure;

namespace Tally.Tests.Events;

public sealed class BadInputOnSqlite(SqliteApp app) : BadInputTests<SqliteApp>(app);

public sealed class BadInputOnPostgres(PostgresApp app) : BadInputTests<PostgresApp>(app);

/// <summary>Every rejected request answers a 4xx problem with a code, and leaves nothing behind.</summary>
public abstract class BadInputTests<TApp>(TApp app) : IClassFixture<TApp>
    where TApp : TallyApp
{
    private static readonly Guid Customer = Guid.Parse("7d1f5a0e-0000-4000-8000-000000000001");
    private static readonly Guid Event = Guid.Parse("7d1f5a0e-0000-4000-8000-0000000000e1");

    private readonly HttpClient api = app.Api();

    public static TheoryData<string, string, string, string?> Cases => new()
    {
        { "actions", "{\"customerId\": \"" + Customer + "\", \"eventId\": \"" + Event + "\", \"action\": {", "malformed_json", null },
        { "actions", "{\"customerId\": \"" + Customer + "\", \"eventId\": \"" + Event + "\", \"action\": {\"count\": \"many\"}}", "validation_failed", "$.action.count" },
        { "orders", "{\"customerId\": \"" + Customer + "\", \"eventId\": \"" + Event + "\", \"order\": {\"total\": true}}", "validation_failed", "$.order.total" },
        { "orders", "{\"customerId\": \"" + Customer + "\", \"eventId\": \"" + Event + "\"}", "validation_failed", "$.order" },
        { "actions", "{\"customerId\": \"not-a-uuid\", \"eventId\": \"" + Event + "\"}", "validation_failed", "$.customerId" },
        { "actions", "{\"eventId\": \"" + Event + "\"}", "validation_failed", "$.customerId" },
        { "transactions", "{\"customerId\": \"" + Customer + "\", \"eventId\": \"string\", \"transaction\": {\"total\": 1}}", "validation_failed", "$.eventId" },
        { "transactions", "{\"customerId\": \"" + Customer + "\", \"eventId\": \"" + Event + "\", \"transaction\": {\"total\": 1e999}}", "validation_failed", "$.transaction.total" },
        // Amounts beyond 10^12: sums, rates and counters over them overflowed in the worker and failed the event.
        { "orders", "{\"customerId\": \"" + Customer + "\", \"eventId\": \"" + Event + "\", \"order\": {\"total\": 79228162514264337593543950335}}", "validation_failed", "$.order.total" },
        { "transactions", "{\"customerId\": \"" + Customer + "\", \"eventId\": \"" + Event + "\", \"transaction\": {\"total\": \"-1000000000000.01\"}}", "validation_failed", "$.transaction.total" },
        // A null where a list holds lines, tags or attributes: evaluation met it as a line and failed the event.
        { "orders", "{\"customerId\": \"" + Customer + "\", \"eventId\": \"" + Event + "\", \"order\": {\"total\": 1, \"orderItems\": [{\"sku\": \"A\", \"tags\": [\"x\", null]}]}}", "validation_failed", "$.order.orderItems[0].tags[1]" },
        { "basket", "{\"customerId\": \"" + Customer + "\", \"eventId\": \"" + Event + "\", \"basket\": {\"basketItems\": [null]}}", "validation_failed", "$.basket.basketItems[0]" },
        { "actions", "{\"customerId\": \"" + Customer + "\", \"eventId\": \"" + Event + "\", \"attributes\": [null]}", "validation_failed", "$.attributes[0]" },
        { "redemptions", "{\"customerId\": \"" + Customer + "\", \"eventId\": \"" + Event + "\", \"redemption\": {\"quantity\": 0}}", "validation_failed", "$.redemption.quantity" },
        { "redemptions", "{\"customerId\": \"" + Customer + "\", \"eventId\": \"" + Event + "\", \"redemption\": {\"quantity\": 1.5}}", "validation_failed", "$.redemption.quantity" },
        { "basket", "{\"customerId\": \"" + Customer + "\", \"eventId\": \"" + Event + "\", \"basket\": []}", "validation_failed", "$.basket" },
        { "redemptions", "{\"customerId\": \"" + Customer + "\", \"eventId\": \"" + Event + "\", \"redemption\": {\"quantity\": 1000000000000001}}", "validation_failed", "$.redemption.quantity" },
        // A time near the calendar's end: expiries and tier periods counted from it would overflow.
        { "orders", "{\"customerId\": \"" + Customer + "\", \"eventId\": \"" + Event + "\", \"createdAt\": \"9999-12-31T23:59:59Z\", \"order\": {\"total\": 1}}", "validation_failed", "$.createdAt" },
        { "basket", "{\"customerId\": \"" + Customer + "\", \"eventId\": \"" + Event + "\", \"createdAt\": \"9000-01-01T00:00:00Z\", \"basket\": {\"basketTotal\": 1}}", "validation_failed", "$.createdAt" },
        { "transactions", "{\"customerId\": \"" + Customer + "\", \"eventId\": \"" + Event + "\", \"createdAt\": \"0001-01-01T00:00:00Z\", \"transaction\": {\"total\": 1}}", "validation_failed", "$.createdAt" },
        // A NUL character: PostgreSQL keeps no text that holds one, so no store may be handed one.
        { "actions", "{\"customerId\": \"" + Customer + "\", \"eventId\": \"" + Event + "\", \"nameSpace\": \"a\\u0000b\"}", "validation_failed", "$.nameSpace" },
        { "orders", "{\"customerId\": \"" + Customer + "\", \"eventId\": \"" + Event + "\", \"order\": {\"total\": 1, \"lines\": [{\"sku\": \"\\u0000\"}]}}", "validation_failed", "$.order.lines[0].sku" },
        { "actions", "[1, 2, 3]", "validation_failed", "$" },
        { "actions", "", "malformed_json", "$" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task A_bad_event_is_a_400_problem_naming_the_path_and_stores_nothing(string endpoint, string body, string code, string? path)
    {
        var (status, problem) = await api.PostJson($"/api/v1/events/{endpoint}", body);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(code, (string?)problem!["code"]);
        if (path is not null) Assert.Contains(problem["errors"]!.AsArray(), e => (string?)e!["path"] == path);
        await AssertNothingStored();
    }

    [Fact]
    public async Task Every_wrongly_typed_field_is_named_at_once_in_the_words_of_JSON()
    {
        var body = "{\"customerId\": \"" + Customer + "\", \"eventId\": \"" + Event + "\", \"createdAt\": 5, " +
            "\"action\": {\"count\": \"many\", \"amount\": true}, \"attributes\": [{\"key\": 1}, \"x\"]}";

        var (status, problem) = await api.PostJson("/api/v1/events/actions", body);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("validation_failed", (string?)problem!["code"]);
        var errors = problem["errors"]!.AsArray().ToDictionary(e => (string)e!["path"]!, e => (string)e!["message"]!);
        Assert.Equal(
            new Dictionary<string, string>
            {
                ["$.createdAt"] = "Expected a date and time (ISO 8601), such as 2026-01-31T12:00:00Z.",
                ["$.action.count"] = "Expected a whole number.",
                ["$.action.amount"] = "Expected a number.",
                ["$.attributes[0].key"] = "Expected a string.",
                ["$.attributes[1]"] = "Expected an object.",
            },
            errors);
        Assert.DoesNotContain("System.", problem.ToJsonString(), StringComparison.Ordinal);
        await AssertNothingStored();
    }

    [Fact]
    public async Task A_body_over_the_limit_is_a_413_problem_and_stores_nothing()
    {
        var padding = new string('x', 70_000);
        var (status, problem) = await api.PostJson("/api/v1/events/actions", new { customerId = Customer, eventId = Event, reference = padding });

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Equal("payload_too_large", (string?)problem!["code"]);
        await AssertNothingStored();
    }

    [Fact]
    public async Task An_escaped_backslash_before_u0000_is_text_not_a_nul_and_is_kept()
    {
        var customer = Guid.NewGuid();
        var (status, accepted) = await api.PostJson("/api/v1/events/actions",
            $$"""{"customerId": "{{customer}}", "nameSpace": "a\\u0000b\\\\u0000c"}""");
        Assert.True(status == HttpStatusCode.OK, accepted?.ToJsonString());
        var (_, stored) = await api.GetJson($"/api/v1/events/{(string)accepted!["eventId"]!}");
        Assert.Equal("""a\u0000b\\u0000c""", (string?)stored!["payload"]!["nameSpace"]);
    }

    [Fact]
    public async Task A_body_that_is_not_json_is_a_415_problem_and_stores_nothing()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/events/actions")
        {
            Content = new StringContent($"{{\"customerId\": \"{Customer}\", \"eventId\": \"{Event}\"}}", Encoding.UTF8, "text/plain"),
        };
        var (status, problem) = await api.SendRequest(request);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, status);
        Assert.Equal("unsupported_media_type", (string?)problem!["code"]);
        await AssertNothingStored();
    }

    [Theory]
    [InlineData("/api/v1/customers/" + "7d1f5a0e-0000-4000-8000-00000000dead")]
    [InlineData("/api/v1/customers/" + "7d1f5a0e-0000-4000-8000-00000000dead/ledger")]
    [InlineData("/api/v1/customers/" + "7d1f5a0e-0000-4000-8000-00000000dead/events")]
    [InlineData("/api/v1/events/" + "7d1f5a0e-0000-4000-8000-00000000dead")]
    [InlineData("/api/v1/no-such-thing")]
    public async Task An_unknown_resource_is_a_404_problem(string path)
    {
        var (status, problem) = await api.GetJson(path);

        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("not_found", (string?)problem!["code"]);
    }

    [Theory]
    [InlineData("/api/v1/customers/42")]
    [InlineData("/api/v1/events/not-a-uuid")]
    [InlineData("/api/v1/customers/7d1f5a0e-0000-4000-8000-000000000001/ledger?limit=0")]
    [InlineData("/api/v1/customers/7d1f5a0e-0000-4000-8000-000000000001/ledger?cursor=abc")]
    [InlineData("/api/v1/customers?externalReference=a%00b")] // a NUL in a query value (PostgreSQL refuses such text: it was a 500)
    [InlineData("/api/v1/rules?campaign=%00")]
    public async Task A_malformed_id_or_paging_parameter_is_a_400_problem(string path)
    {
        var (status, problem) = await api.GetJson(path);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("validation_failed", (string?)problem!["code"]);
    }

    private async Task AssertNothingStored()
    {
        Assert.Equal(HttpStatusCode.NotFound, (await api.GetJson($"/api/v1/events/{Event}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await api.GetJson($"/api/v1/customers/{Customer}")).Status);
    }
}
