using System.Net;
using Tally.Tests.Infrastructure;

namespace Tally.Tests.Customers;

public sealed class CustomerApiOnSqlite(SqliteApp app) : CustomerApiTests<SqliteApp>(app);

public sealed class CustomerApiOnPostgres(PostgresApp app) : CustomerApiTests<PostgresApp>(app);

public abstract class CustomerApiTests<TApp>(TApp app) : IClassFixture<TApp>
    where TApp : TallyApp
{
    private readonly HttpClient api = app.Api();

    [Fact]
    public async Task Put_creates_a_customer_then_replaces_its_profile()
    {
        var id = Guid.NewGuid();
        var created = await api.SendJson(HttpMethod.Put, $"/api/v1/customers/{id}", new
        {
            firstName = "Ada", lastName = "Lovelace", emailAddress = $"ada-{id}@example.com", optinEmail = true,
            dateOfBirth = "1990-02-28", createdAt = "2020-02-29T09:00:00Z", attributes = new[] { new { key = "store", value = "Ultimo" } },
        });
        Assert.Equal(HttpStatusCode.Created, created.Status);
        Assert.Equal("Ada", (string?)created.Body!["firstName"]);
        Assert.Equal("1990-02-28", (string?)created.Body["dateOfBirth"]);
        Assert.Equal(DateTimeOffset.Parse("2020-02-29T09:00:00Z", System.Globalization.CultureInfo.InvariantCulture), (DateTimeOffset)created.Body["createdAt"]!);
        Assert.Equal("Ultimo", (string?)created.Body["attributes"]![0]!["value"]);

        var replaced = await api.SendJson(HttpMethod.Put, $"/api/v1/customers/{id}", new { firstName = "Augusta" });
        Assert.Equal(HttpStatusCode.OK, replaced.Status);
        Assert.Equal("Augusta", (string?)replaced.Body!["firstName"]);
        Assert.Null((string?)replaced.Body["lastName"]);
        Assert.Equal(0, (long)replaced.Body["pointsBalance"]!);
        Assert.Empty(replaced.Body["segments"]!.AsArray());
    }

    [Fact]
    public async Task Patch_changes_only_the_given_fields_and_never_the_balance()
    {
        var id = Guid.NewGuid();
        await api.SendJson(HttpMethod.Put, $"/api/v1/customers/{id}", new { firstName = "Grace", lastName = "Hopper" });
        await api.Adjust(id, 25);

        var (status, body) = await api.SendJson(HttpMethod.Patch, $"/api/v1/customers/{id}", new { lastName = "Murray", optinSms = true, pointsBalance = 9999 });

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("Grace", (string?)body!["firstName"]);
        Assert.Equal("Murray", (string?)body["lastName"]);
        Assert.True((bool)body["optinSms"]!);
        Assert.Equal(25, (long)body["pointsBalance"]!);
    }

    [Fact]
    public async Task Patch_of_an_unknown_customer_is_404_and_creates_nothing()
    {
        var id = Guid.NewGuid();
        var (status, body) = await api.SendJson(HttpMethod.Patch, $"/api/v1/customers/{id}", new { firstName = "X" });

        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("not_found", (string?)body!["code"]);
        Assert.Equal(HttpStatusCode.NotFound, (await api.GetJson($"/api/v1/customers/{id}")).Status);
    }

    [Fact]
    public async Task A_profile_with_an_unknown_or_mistyped_field_is_a_400_naming_each()
    {
        var id = Guid.NewGuid();
        var attributes = new[] { new { key = new string('k', 201), value = "v" }, new { key = "k", value = new string('v', 2_001) } };
        var (status, body) = await api.SendJson(HttpMethod.Put, $"/api/v1/customers/{id}", new { frstName = "typo", optinSms = "yes", dateOfBirth = "yesterday", attributes });

        Assert.Equal(HttpStatusCode.BadRequest, status);
        var paths = body!["errors"]!.AsArray().Select(e => (string?)e!["path"]).ToHashSet();
        Assert.Equal(new HashSet<string?> { "$.frstName", "$.optinSms", "$.dateOfBirth", "$.attributes[0].key", "$.attributes[1].value" }, paths);
        Assert.Equal(HttpStatusCode.NotFound, (await api.GetJson($"/api/v1/customers/{id}")).Status);
    }

    [Fact]
    public async Task An_email_address_belongs_to_one_customer_per_tenant_whatever_its_case()
    {
        var email = $"dup-{Guid.NewGuid():N}@example.com";
        await api.SendJson(HttpMethod.Put, $"/api/v1/customers/{Guid.NewGuid()}", new { emailAddress = email });

        var other = Guid.NewGuid();
        var (status, body) = await api.SendJson(HttpMethod.Put, $"/api/v1/customers/{other}", new { emailAddress = email.ToUpperInvariant() });

        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Equal("conflict", (string?)body!["code"]);
        Assert.Equal(HttpStatusCode.NotFound, (await api.GetJson($"/api/v1/customers/{other}")).Status);
    }

    [Fact]
    public async Task A_customer_is_found_by_its_unique_external_reference()
    {
        var id = Guid.NewGuid();
        var reference = $"shopify-{Guid.NewGuid():N}";
        await api.SendJson(HttpMethod.Put, $"/api/v1/customers/{id}", new { externalReference = reference });

        var (status, body) = await api.GetJson($"/api/v1/customers?externalReference={reference}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(id, (Guid)body!["customerId"]!);

        var taken = await api.SendJson(HttpMethod.Put, $"/api/v1/customers/{Guid.NewGuid()}", new { externalReference = reference });
        Assert.Equal(HttpStatusCode.Conflict, taken.Status);
        Assert.Equal(HttpStatusCode.NotFound, (await api.GetJson("/api/v1/customers?externalReference=nobody")).Status);
    }

    [Fact]
    public async Task Adjustments_move_the_balance_and_are_recorded_in_the_ledger()
    {
        var id = Guid.NewGuid();
        await api.SendJson(HttpMethod.Put, $"/api/v1/customers/{id}", new { firstName = "Lin" });

        var credit = await api.PostJson($"/api/v1/customers/{id}/adjustments", new { points = 120, reason = "goodwill", reference = "ticket-9" });
        var debit = await api.PostJson($"/api/v1/customers/{id}/adjustments", new { points = -20, reason = "correction" });

        Assert.Equal(HttpStatusCode.Created, credit.Status);
        Assert.Equal(HttpStatusCode.Created, debit.Status);
        Assert.Equal(100, (long)debit.Body!["balanceAfter"]!);
        Assert.Equal(100, await api.Balance(id));
        var (_, ledger) = await api.GetJson($"/api/v1/customers/{id}/ledger");
        var items = ledger!["items"]!.AsArray();
        Assert.Equal(["adjustment", "adjustment"], items.Select(e => (string?)e!["type"]));
        Assert.Equal([-20L, 120L], items.Select(e => (long)e!["points"]!));
        Assert.Equal("ticket-9", (string?)items[1]!["reference"]);
    }

    [Fact]
    public async Task A_deduction_beyond_the_balance_is_refused_and_posts_nothing()
    {
        var id = Guid.NewGuid();
        await api.Adjust(id, 10, create: true);

        var (status, body) = await api.PostJson($"/api/v1/customers/{id}/adjustments", new { points = -11, reason = "too much" });

        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.Equal("insufficient_points", (string?)body!["code"]);
        Assert.Equal(10, await api.Balance(id));
    }

    [Fact]
    public async Task An_adjustment_retried_with_the_same_idempotency_key_is_posted_once()
    {
        var id = Guid.NewGuid();
        await api.SendJson(HttpMethod.Put, $"/api/v1/customers/{id}", new { firstName = "Retry" });
        var headers = new Dictionary<string, string> { ["Idempotency-Key"] = Guid.NewGuid().ToString() };

        var first = await api.PostJson($"/api/v1/customers/{id}/adjustments", new { points = 50, reason = "once" }, headers);
        var again = await api.PostJson($"/api/v1/customers/{id}/adjustments", new { points = 50, reason = "once" }, headers);

        Assert.Equal(HttpStatusCode.Created, first.Status);
        Assert.Equal(HttpStatusCode.OK, again.Status);
        Assert.Equal((long)first.Body!["id"]!, (long)again.Body!["id"]!);
        Assert.Equal(50, await api.Balance(id));
    }

    [Fact]
    public async Task An_adjustment_needs_points_and_a_reason()
    {
        var id = Guid.NewGuid();
        await api.SendJson(HttpMethod.Put, $"/api/v1/customers/{id}", new { firstName = "X" });

        var (status, body) = await api.PostJson($"/api/v1/customers/{id}/adjustments", new { points = 0 });

        Assert.Equal(HttpStatusCode.BadRequest, status);
        var paths = body!["errors"]!.AsArray().Select(e => (string?)e!["path"]).ToList();
        Assert.Contains("$.points", paths);
        Assert.Contains("$.reason", paths);
    }

    [Fact]
    public async Task The_ledger_is_listed_newest_first_a_page_at_a_time()
    {
        var id = Guid.NewGuid();
        await api.SendJson(HttpMethod.Put, $"/api/v1/customers/{id}", new { firstName = "Pages" });
        for (var i = 1; i <= 5; i++) await api.Adjust(id, i);

        var (_, first) = await api.GetJson($"/api/v1/customers/{id}/ledger?limit=3");
        var (_, second) = await api.GetJson($"/api/v1/customers/{id}/ledger?limit=3&cursor={(string?)first!["next"]}");

        Assert.Equal([5L, 4L, 3L], first["items"]!.AsArray().Select(e => (long)e!["points"]!));
        Assert.Equal([2L, 1L], second!["items"]!.AsArray().Select(e => (long)e!["points"]!));
        Assert.Null((string?)second["next"]);
    }
}
