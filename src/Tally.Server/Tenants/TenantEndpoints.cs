using Microsoft.AspNetCore.Http.HttpResults;
using Tally.Server.Http;
using Tally.Tenants;

namespace Tally.Server.Tenants;

public sealed record CreateTenantRequest(string? Name, bool WithSecret = false);

public sealed record QueueView(long PendingEvents);

public sealed record CreateKeyRequest(string? Name, bool WithSecret = false, string? Role = null);

/// <summary>A key as issued: shown once, never again.</summary>
public sealed record IssuedKeyView(Guid TenantId, Guid KeyId, string ApiKey, string? ApiSecret, string Role)
{
    public static IssuedKeyView Of(IssuedKey k) => new(k.TenantId, k.KeyId, k.ApiKey, k.ApiSecret, k.Role.Name());
}

/// <summary>A key as listed (never its hash); <c>revokedAt</c> is set once it no longer works.</summary>
public sealed record KeyView(Guid KeyId, string? Name, string Role, bool HasSecret, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt)
{
    public static KeyView Of(KeyInfo k) => new(k.KeyId, k.Name, k.Role.Name(), k.HasSecret, k.CreatedAt, k.RevokedAt);
}

public sealed record KeyListView(IReadOnlyList<KeyView> Items);

/// <summary>Operators' endpoints: only a key with the admin role may create tenants and keys.</summary>
public static class TenantEndpoints
{
    public static void MapTenants(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("/api/v1/admin/tenants").WithTags("Administration");
        admin.MapPost("/", CreateTenant).WithName("CreateTenant").WithSummary("Create a tenant and its first API key (admin keys only).");
        app.MapGet("/api/v1/admin/queue", QueueDepth).WithTags("Administration").WithName("QueueDepth")
            .WithSummary("How many events wait for the worker, over all tenants (admin keys only).");
        admin.MapPost("/{tenantId}/keys", CreateKey).WithName("CreateApiKey").WithSummary("Issue another API key for a tenant (admin keys only).");
        admin.MapGet("/{tenantId}/keys", ListKeys).WithName("ListApiKeys").WithSummary("A tenant's API keys, revoked ones included; never the keys themselves (admin keys only).");
        admin.MapDelete("/{tenantId}/keys/{keyId}", RevokeKey).WithName("RevokeApiKey")
            .WithSummary("Revoke an API key: from then on it is refused with 401. Revoking a revoked key answers 204 again (admin keys only).");
    }

    private static async Task<Results<Ok<KeyListView>, ProblemHttpResult>> ListKeys(string tenantId, HttpContext http, Tally.Tenants.TenantDirectory tenants, CancellationToken ct)
    {
        if (http.Caller().Role != KeyRole.Admin) return Problems.Forbidden("Only an admin key may list keys.");
        if (!Guid.TryParse(tenantId, out var id)) return Problems.Validation("tenantId", $"'{tenantId}' is not a UUID.");
        var keys = await tenants.ListKeysAsync(id, ct);
        return keys is null ? Problems.NotFound($"Tenant {id}") : TypedResults.Ok(new KeyListView([.. keys.Select(KeyView.Of)]));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> RevokeKey(string tenantId, string keyId, HttpContext http, Tally.Tenants.TenantDirectory tenants, CancellationToken ct)
    {
        if (http.Caller().Role != KeyRole.Admin) return Problems.Forbidden("Only an admin key may revoke keys.");
        if (!Guid.TryParse(tenantId, out var id)) return Problems.Validation("tenantId", $"'{tenantId}' is not a UUID.");
        if (!Guid.TryParse(keyId, out var key)) return Problems.Validation("keyId", $"'{keyId}' is not a UUID.");
        return await tenants.RevokeKeyAsync(id, key, ct) switch
        {
            Revocation.Revoked => TypedResults.NoContent(),
            Revocation.LastAdminKey => Problems.Problem(StatusCodes.Status409Conflict, "last_admin_key", "The last admin key.",
                $"Key {key} is the last admin key that works: issue another admin key before revoking it."),
            _ => Problems.NotFound($"Key {key} of tenant {id}"),
        };
    }

    private static async Task<Results<Created<IssuedKeyView>, ProblemHttpResult>> CreateTenant(HttpContext http, Tally.Tenants.TenantDirectory tenants, CancellationToken ct)
    {
        if (http.Caller().Role != KeyRole.Admin) return Problems.Forbidden("Only an admin key may create tenants.");
        var body = await JsonBody.ReadAsync<CreateTenantRequest>(http.Request, 64 * 1024, ct);
        if (body.Problem is not null) return body.Problem;
        if (string.IsNullOrWhiteSpace(body.Value!.Name) || body.Value.Name.Length > 200)
            return Problems.Validation("$.name", "Required: a name of at most 200 characters.");
        var key = await tenants.CreateTenantAsync(body.Value.Name.Trim(), KeyRole.Tenant, null, body.Value.WithSecret, ct);
        return TypedResults.Created($"/api/v1/admin/tenants/{key.TenantId}", IssuedKeyView.Of(key));
    }

    private static async Task<Results<Ok<QueueView>, ProblemHttpResult>> QueueDepth(HttpContext http, Tally.Storage.Database db, CancellationToken ct)
    {
        if (http.Caller().Role != KeyRole.Admin) return Problems.Forbidden("Only an admin key may read the queue.");
        return TypedResults.Ok(new QueueView(await db.ReadAsync(c => Tally.Events.EventProcessing.PendingCountAsync(c, ct), ct)));
    }

    private static async Task<Results<Created<IssuedKeyView>, ProblemHttpResult>> CreateKey(string tenantId, HttpContext http, Tally.Tenants.TenantDirectory tenants, CancellationToken ct)
    {
        if (http.Caller().Role != KeyRole.Admin) return Problems.Forbidden("Only an admin key may issue keys.");
        if (!Guid.TryParse(tenantId, out var id)) return Problems.Validation("tenantId", $"'{tenantId}' is not a UUID.");
        var body = await JsonBody.ReadAsync<CreateKeyRequest>(http.Request, 64 * 1024, ct);
        if (body.Problem is not null) return body.Problem;
        var role = body.Value!.Role is null ? KeyRole.Tenant : KeyRoles.Parse(body.Value.Role);
        if (role is null) return Problems.Validation("$.role", "One of: tenant, admin.");
        var key = await tenants.CreateKeyAsync(id, role.Value, body.Value.WithSecret, body.Value.Name, ct);
        return key is null ? Problems.NotFound($"Tenant {id}") : TypedResults.Created($"/api/v1/admin/tenants/{id}", IssuedKeyView.Of(key));
    }
}
