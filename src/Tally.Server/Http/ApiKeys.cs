using Microsoft.Extensions.Primitives;
using Tally.Tenants;

namespace Tally.Server.Http;

/// <summary>
/// Every /api call names its tenant by key: <c>Authorization: Bearer</c>, <c>X-Api-Key</c>, or the Tallymarks
/// triple <c>x-tenant-id</c> + <c>x-api-key</c> + <c>x-api-secret</c>. Unknown or missing: 401, saying no more.
/// </summary>
public static class ApiKeys
{
    private const string CallerItem = "tally.caller";

    public static void UseApiKeys(this WebApplication app) =>
        app.UseWhen(ctx => ctx.Request.Path.StartsWithSegments("/api", StringComparison.OrdinalIgnoreCase), branch => branch.Use(async (ctx, next) =>
        {
            var caller = await RecogniseAsync(ctx);
            if (caller is null)
            {
                await Problems.Problem(StatusCodes.Status401Unauthorized, "unauthorized", "Unauthorized.",
                    "Send a valid API key: 'Authorization: Bearer <key>' or 'X-Api-Key: <key>'.").ExecuteAsync(ctx);
                return;
            }

            ctx.Items[CallerItem] = caller;
            await next(ctx);
        }));

    public static Caller Caller(this HttpContext ctx) => (Caller)ctx.Items[CallerItem]!;

    private static async Task<Caller?> RecogniseAsync(HttpContext ctx)
    {
        var headers = ctx.Request.Headers;
        string? key = null;
        if (headers.Authorization is { Count: > 0 } auth && auth.ToString() is var a && a.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            key = a["Bearer ".Length..].Trim();
        key ??= Single(headers["X-Api-Key"]);
        if (string.IsNullOrEmpty(key)) return null;

        var secret = Single(headers["x-api-secret"]);
        Guid? tenantId = null;
        if (secret is not null)
        {
            if (!Guid.TryParse(Single(headers["x-tenant-id"]), out var t)) return null;
            tenantId = t;
        }

        var tenants = ctx.RequestServices.GetRequiredService<TenantDirectory>();
        return await tenants.RecogniseAsync(key, tenantId, secret, ctx.RequestAborted);
    }

    private static string? Single(StringValues values) => values.Count == 1 && !string.IsNullOrEmpty(values[0]) ? values[0] : null;
}
