using Microsoft.AspNetCore.Http.HttpResults;
using Tally.Server.Http;
using Tally.Tenants;

namespace Tally.Server.Tenants;

public sealed record CreateTenantRequest(string? Name, bool WithSecret = false);

public sealed record QueueView(long PendingEvents);

public sealed record CreateKeyRequest(string? Name, bool WithSecret = false);

/// <summary>A key as issued: shown once, never again.</summary>
public sealed record IssuedKeyView(Guid TenantId, Guid KeyId, string ApiKey, string? ApiSecret, string Role)
{
    public static IssuedKeyView Of(IssuedKey k) => new(k.TenantId, k.KeyId, k.ApiKey, k.ApiSecret, k.Role == KeyRole.Admin ? "admin" : "tenant");
}

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
        var key = await tenants.CreateKeyAsync(id, KeyRole.Tenant, body.Value!.WithSecret, body.Value.Name, ct);
        return key is null ? Problems.NotFound($"Tenant {id}") : TypedResults.Created($"/api/v1/admin/tenants/{id}", IssuedKeyView.Of(key));
    }
}
