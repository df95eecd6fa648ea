using System.Net;
using System.Text.Json.Nodes;
using Tally.Tests.Infrastructure;

namespace Tally.Tests.Tenants;

public sealed class TenantsOnSqlite(SqliteApp app) : TenantTests<SqliteApp>(app);

public sealed class TenantsOnPostgres(PostgresApp app) : TenantTests<PostgresApp>(app);

public abstract class TenantTests<TApp>(TApp app) : IClassFixture<TApp>
    where TApp : TallyApp
{
    private readonly HttpClient admin = app.Api();

    private async Task<JsonNode> NewTenant(bool withSecret = false)
    {
        var (status, body) = await admin.PostJson("/api/v1/admin/tenants", new { name = "Shop " + Guid.NewGuid(), withSecret });
        Assert.Equal(HttpStatusCode.Created, status);
        return body!;
    }

    [Theory]
    [InlineData(null)]
    [InlineData("wrong-key")]
    public async Task A_call_without_a_valid_key_is_401(string? key)
    {
        var client = app.CreateClient();
        if (key is not null) client.DefaultRequestHeaders.Add("X-Api-Key", key);

        var (status, body) = await client.GetJson($"/api/v1/customers/{Guid.NewGuid()}");

        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("unauthorized", (string?)body!["code"]);
    }

    [Fact]
    public async Task Health_answers_without_a_key()
    {
        var (status, _) = await app.CreateClient().GetJson("/health");
        Assert.Equal(HttpStatusCode.OK, status);
    }

    [Fact]
    public async Task A_tenant_never_sees_another_tenants_customers_or_events()
    {
        var tenant = await NewTenant();
        var other = app.Api((string)tenant["apiKey"]!);
        var customerId = Guid.NewGuid();
        var eventId = Guid.NewGuid();
        await admin.PostJson("/api/v1/events/actions", Api.Action(customerId, eventId));
        await admin.Adjust(customerId, 10, create: false);

        Assert.Equal(HttpStatusCode.NotFound, (await other.GetJson($"/api/v1/customers/{customerId}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await other.GetJson($"/api/v1/customers/{customerId}/ledger")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await other.GetJson($"/api/v1/events/{eventId}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await other.PostJson($"/api/v1/customers/{customerId}/adjustments", new { points = 5, reason = "x" })).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await other.PostJson($"/api/v1/customers/{customerId}/lock", "{}")).Status);
        var redeem = await other.PostJson("/api/v1/events/redemptions", Api.Redemption(customerId, 5));
        Assert.Equal("insufficient_points", (string?)redeem.Body!["code"]);
        Assert.Equal(10, await admin.Balance(customerId));
    }

    [Fact]
    public async Task The_same_eventId_is_independent_per_tenant()
    {
        var tenant = await NewTenant();
        var other = app.Api((string)tenant["apiKey"]!);
        var eventId = Guid.NewGuid();

        var first = await admin.PostJson("/api/v1/events/actions", Api.Action(Guid.NewGuid(), eventId));
        var second = await other.PostJson("/api/v1/events/actions", Api.Action(Guid.NewGuid(), eventId));

        Assert.False((bool)first.Body!["isExisting"]!);
        Assert.False((bool)second.Body!["isExisting"]!);
        Assert.Equal((Guid)tenant["tenantId"]!, (Guid)second.Body["tenantId"]!);
    }

    [Fact]
    public async Task A_key_issued_with_a_secret_works_with_the_Tallymarks_headers()
    {
        var tenant = await NewTenant(withSecret: true);
        var client = app.CreateClient();
        client.DefaultRequestHeaders.Add("x-tenant-id", (string)tenant["tenantId"]!);
        client.DefaultRequestHeaders.Add("x-api-key", (string)tenant["apiKey"]!);
        client.DefaultRequestHeaders.Add("x-api-secret", (string)tenant["apiSecret"]!);

        var (status, body) = await client.PostJson("/api/v1/events/actions", Api.Action(Guid.NewGuid()));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal((Guid)tenant["tenantId"]!, (Guid)body!["tenantId"]!);

        client.DefaultRequestHeaders.Remove("x-api-secret");
        client.DefaultRequestHeaders.Add("x-api-secret", "ts_wrong");
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.PostJson("/api/v1/events/actions", Api.Action(Guid.NewGuid()))).Status);
    }

    [Fact]
    public async Task Only_an_admin_key_creates_tenants_and_keys()
    {
        var tenant = await NewTenant();
        var plain = app.Api((string)tenant["apiKey"]!);

        var (status, body) = await plain.PostJson("/api/v1/admin/tenants", new { name = "nope" });
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal("forbidden", (string?)body!["code"]);

        var (keyStatus, key) = await admin.PostJson($"/api/v1/admin/tenants/{(string)tenant["tenantId"]!}/keys", new { name = "pos" });
        Assert.Equal(HttpStatusCode.Created, keyStatus);
        var second = app.Api((string)key!["apiKey"]!);
        Assert.Equal(HttpStatusCode.OK, (await second.PostJson("/api/v1/events/actions", Api.Action(Guid.NewGuid()))).Status);
    }
}
