using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Tally.Storage;
using Tally.Tenants;
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

    [Fact]
    public async Task A_revoked_key_is_refused_and_listed_with_its_revocation_time()
    {
        var tenant = await NewTenant();
        var tenantId = (string)tenant["tenantId"]!;
        var (_, issued) = await admin.PostJson($"/api/v1/admin/tenants/{tenantId}/keys", new { name = "till 4" });
        var keyId = (string)issued!["keyId"]!;
        var till = app.Api((string)issued["apiKey"]!);
        Assert.Equal(HttpStatusCode.OK, (await till.PostJson("/api/v1/events/actions", Api.Action(Guid.NewGuid()))).Status);

        var (listed, list) = await admin.GetJson($"/api/v1/admin/tenants/{tenantId}/keys");
        Assert.Equal(HttpStatusCode.OK, listed);
        var items = list!["items"]!.AsArray();
        Assert.Equal(2, items.Count);
        var entry = items.Single(k => (string)k!["keyId"]! == keyId)!;
        Assert.Equal("till 4", (string?)entry["name"]);
        Assert.Equal("tenant", (string?)entry["role"]);
        Assert.Null(entry["revokedAt"]);
        Assert.Null(entry["apiKey"]);
        Assert.DoesNotContain((string)issued["apiKey"]!, list.ToJsonString(), StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/v1/admin/tenants/{tenantId}/keys/{keyId}")).StatusCode);
        var (refused, problem) = await till.PostJson("/api/v1/events/actions", Api.Action(Guid.NewGuid()));
        Assert.Equal(HttpStatusCode.Unauthorized, refused);
        Assert.Equal("unauthorized", (string?)problem!["code"]);
        Assert.Equal(HttpStatusCode.OK, (await app.Api((string)tenant["apiKey"]!).PostJson("/api/v1/events/actions", Api.Action(Guid.NewGuid()))).Status);

        // A retry of the revocation is harmless.
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/v1/admin/tenants/{tenantId}/keys/{keyId}")).StatusCode);
        var (_, after) = await admin.GetJson($"/api/v1/admin/tenants/{tenantId}/keys");
        Assert.NotNull(after!["items"]!.AsArray().Single(k => (string)k!["keyId"]! == keyId)!["revokedAt"]);
    }

    [Fact]
    public async Task Revoking_answers_404_400_and_403_for_unknown_keys_bad_ids_and_non_admin_callers()
    {
        var tenant = await NewTenant();
        var tenantId = (string)tenant["tenantId"]!;
        var plain = app.Api((string)tenant["apiKey"]!);
        var (_, keys) = await admin.GetJson($"/api/v1/admin/tenants/{tenantId}/keys");
        var ownKeyId = (string)keys!["items"]![0]!["keyId"]!;

        var unknown = await admin.SendRequest(new HttpRequestMessage(HttpMethod.Delete, $"/api/v1/admin/tenants/{tenantId}/keys/{Guid.NewGuid()}"));
        Assert.Equal(HttpStatusCode.NotFound, unknown.Status);
        Assert.Equal("not_found", (string?)unknown.Body!["code"]);
        // A key of another tenant is not found under this one.
        Assert.Equal(HttpStatusCode.NotFound, (await admin.DeleteAsync($"/api/v1/admin/tenants/{Guid.NewGuid()}/keys/{ownKeyId}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetJson($"/api/v1/admin/tenants/{Guid.NewGuid()}/keys")).Status);

        var bad = await admin.SendRequest(new HttpRequestMessage(HttpMethod.Delete, $"/api/v1/admin/tenants/{tenantId}/keys/not-a-uuid"));
        Assert.Equal(HttpStatusCode.BadRequest, bad.Status);
        Assert.Equal("validation_failed", (string?)bad.Body!["code"]);

        var forbidden = await plain.SendRequest(new HttpRequestMessage(HttpMethod.Delete, $"/api/v1/admin/tenants/{tenantId}/keys/{ownKeyId}"));
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.Status);
        Assert.Equal("forbidden", (string?)forbidden.Body!["code"]);
        Assert.Equal(HttpStatusCode.Forbidden, (await plain.GetJson($"/api/v1/admin/tenants/{tenantId}/keys")).Status);
        Assert.Equal(HttpStatusCode.OK, (await plain.PostJson("/api/v1/events/actions", Api.Action(Guid.NewGuid()))).Status);
    }

    [Fact]
    public async Task The_last_working_admin_key_cannot_be_revoked_and_a_second_one_makes_rotation_possible()
    {
        var (_, ack) = await admin.PostJson("/api/v1/events/actions", Api.Action(Guid.NewGuid()));
        var defaultTenant = (string)ack!["tenantId"]!;
        var (_, keys) = await admin.GetJson($"/api/v1/admin/tenants/{defaultTenant}/keys");
        var bootstrap = keys!["items"]!.AsArray().Single(k => (string)k!["role"]! == "admin")!;

        var refused = await admin.SendRequest(new HttpRequestMessage(HttpMethod.Delete, $"/api/v1/admin/tenants/{defaultTenant}/keys/{(string)bootstrap["keyId"]!}"));
        Assert.Equal(HttpStatusCode.Conflict, refused.Status);
        Assert.Equal("last_admin_key", (string?)refused.Body!["code"]);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetJson($"/api/v1/admin/tenants/{defaultTenant}/keys")).Status);

        var (badRole, problem) = await admin.PostJson($"/api/v1/admin/tenants/{defaultTenant}/keys", new { role = "root" });
        Assert.Equal(HttpStatusCode.BadRequest, badRole);
        Assert.Equal("$.role", (string?)problem!["errors"]![0]!["path"]);

        // A second admin key can do admin work, and either of the two may then be revoked, but not both.
        var (_, second) = await admin.PostJson($"/api/v1/admin/tenants/{defaultTenant}/keys", new { name = "rotation", role = "admin" });
        Assert.Equal("admin", (string?)second!["role"]);
        var rotated = app.Api((string)second["apiKey"]!);
        Assert.Equal(HttpStatusCode.OK, (await rotated.GetJson($"/api/v1/admin/tenants/{defaultTenant}/keys")).Status);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/v1/admin/tenants/{defaultTenant}/keys/{(string)second["keyId"]!}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await rotated.GetJson($"/api/v1/admin/tenants/{defaultTenant}/keys")).Status);
        Assert.Equal(HttpStatusCode.Conflict,
            (await admin.DeleteAsync($"/api/v1/admin/tenants/{defaultTenant}/keys/{(string)bootstrap["keyId"]!}")).StatusCode);
    }

    [Fact]
    public async Task Another_node_refuses_a_revoked_key_once_its_cached_answer_is_older_than_the_recheck_interval()
    {
        var db = app.Services.GetRequiredService<Database>();
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero));
        var nodeA = new TenantDirectory(db, clock);
        var nodeB = new TenantDirectory(db, clock);
        var tenant = await NewTenant();
        var tenantId = (Guid)tenant["tenantId"]!;
        var key = await nodeA.CreateKeyAsync(tenantId, KeyRole.Tenant, withSecret: false, "pos", CancellationToken.None);
        Assert.NotNull(await nodeA.RecogniseAsync(key!.ApiKey, null, null, CancellationToken.None));
        Assert.NotNull(await nodeB.RecogniseAsync(key.ApiKey, null, null, CancellationToken.None));

        Assert.Equal(Revocation.Revoked, await nodeA.RevokeKeyAsync(tenantId, key.KeyId, CancellationToken.None));

        Assert.Null(await nodeA.RecogniseAsync(key.ApiKey, null, null, CancellationToken.None));
        Assert.NotNull(await nodeB.RecogniseAsync(key.ApiKey, null, null, CancellationToken.None));
        clock.Advance(TenantDirectory.RecheckAfter);
        Assert.Null(await nodeB.RecogniseAsync(key.ApiKey, null, null, CancellationToken.None));
    }
}
