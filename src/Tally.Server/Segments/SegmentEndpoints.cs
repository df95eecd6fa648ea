using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Tally.Customers;
using Tally.Messages;
using Tally.Segments;
using Tally.Server.Customers;
using Tally.Server.Http;
using Tally.Storage;
using Tally.Vouchers;
using Tally.Webhooks;

namespace Tally.Server.Segments;

public sealed record SegmentRequest(string? Name, string? Description);

public sealed record SegmentList(IReadOnlyList<Segment> Items);

public sealed record MemberView(Guid CustomerId, DateTimeOffset AddedAt);

public sealed record VoucherView(
    string Code, decimal? Percent, decimal? Amount, string AppliesTo, string Status, Guid RuleId, int RuleVersion, Guid EventId, DateTimeOffset IssuedAt);

public sealed record MessageView(
    long Id, string Channel, string Recipient, string? Subject, string Body, string Status, Guid RuleId, int RuleVersion, Guid EventId, DateTimeOffset CreatedAt);

public sealed record WebhookCallView(
    long Id, string Url, string Method, IReadOnlyDictionary<string, string> Headers, string? Body, string Status, int Attempts, DateTimeOffset NextAttemptAt,
    Guid RuleId, int RuleVersion, Guid EventId, DateTimeOffset CreatedAt, DateTimeOffset? DoneAt, IReadOnlyList<WebhookAttempt> AttemptLog);

/// <summary>
/// Segments as a resource, and what rule outcomes left with a customer: vouchers, queued messages, webhook calls
/// with every attempt.
/// </summary>
public static class SegmentEndpoints
{
    public static void MapSegments(this IEndpointRouteBuilder app)
    {
        var segments = app.MapGroup("/api/v1/segments").WithTags("Segments");
        segments.MapGet("/", List).WithName("ListSegments").WithSummary("The tenant's segments with their member counts.");
        segments.MapPost("/", Create).WithName("CreateSegment").WithSummary("Create a segment (201; 200 when it exists already).");
        segments.MapGet("/{name}/members", Members).WithName("ListSegmentMembers").WithSummary("A segment's members, newest first, paged by cursor.");

        var customers = app.MapGroup("/api/v1/customers/{customerId}").WithTags("Customers");
        customers.MapGet("/vouchers", Vouchers).WithName("ListCustomerVouchers").WithSummary("Vouchers issued to the customer, newest first.");
        customers.MapGet("/messages", Messages).WithName("ListCustomerMessages")
            .WithSummary("SMS and email queued for the customer by rules (status 'queued': no provider sends them yet).");
        customers.MapGet("/webhooks", Webhooks).WithName("ListCustomerWebhookCalls")
            .WithSummary("Webhook calls made for the customer's events, with every delivery attempt.");
    }

    private static async Task<Ok<SegmentList>> List(HttpContext http, Database db, CancellationToken ct)
    {
        var tenantId = http.Caller().TenantId;
        return TypedResults.Ok(new SegmentList(await db.ReadAsync(c => SegmentData.ListAsync(c, tenantId, ct), ct)));
    }

    private static async Task<Results<Created<Segment>, Ok<Segment>, ProblemHttpResult>> Create(HttpContext http, CancellationToken ct)
    {
        var services = http.RequestServices;
        var body = await JsonBody.ReadAsync<SegmentRequest>(http.Request, services.GetRequiredService<IOptions<TallyOptions>>().Value.MaxBodyBytes, ct);
        if (body.Problem is not null) return body.Problem;
        var name = body.Value!.Name?.Trim();
        if (string.IsNullOrEmpty(name) || name.Length > 200) return Problems.Validation("$.name", "Required: the segment's name, 1 to 200 characters.");
        var tenantId = http.Caller().TenantId;
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        var (created, segment) = await services.GetRequiredService<WriteQueue>().WriteAsync(async (c, tx) =>
        {
            var isNew = await SegmentData.CreateAsync(c, tx, tenantId, name, body.Value.Description, now, CancellationToken.None);
            return (isNew, (await SegmentData.GetAsync(c, tx, tenantId, name, CancellationToken.None))!);
        }, ct);
        return created ? TypedResults.Created($"/api/v1/segments/{Uri.EscapeDataString(name)}", segment) : TypedResults.Ok(segment);
    }

    private static async Task<Results<Ok<PageView<MemberView>>, ProblemHttpResult>> Members(
        string name, int? limit, string? cursor, HttpContext http, Database db, CancellationToken ct)
    {
        if (!Paging.TryRead(limit, cursor, out var n, out var before, out var bad)) return bad;
        var tenantId = http.Caller().TenantId;
        var page = await db.ReadAsync(async c =>
            await SegmentData.GetAsync(c, null, tenantId, name, ct) is null ? null : await SegmentData.MembersAsync(c, tenantId, name, n, before, ct), ct);
        return page is null
            ? Problems.NotFound($"Segment '{name}'")
            : TypedResults.Ok(new PageView<MemberView>([.. page.Items.Select(m => new MemberView(m.CustomerId, m.AddedAt))], page.Next));
    }

    private static Task<Results<Ok<PageView<VoucherView>>, ProblemHttpResult>> Vouchers(
        string customerId, int? limit, string? cursor, HttpContext http, Database db, CancellationToken ct) =>
        ListOfCustomer(customerId, limit, cursor, http, db, async (c, t, id, n, before) =>
        {
            var page = await VoucherData.ListAsync(c, t, id, n, before, ct);
            return new PageView<VoucherView>([.. page.Items.Select(v => new VoucherView(v.Code, v.Percent, v.Amount, v.AppliesTo, v.Status, v.RuleId, v.RuleVersion, v.EventId, v.IssuedAt))], page.Next);
        }, ct);

    private static Task<Results<Ok<PageView<MessageView>>, ProblemHttpResult>> Messages(
        string customerId, int? limit, string? cursor, HttpContext http, Database db, CancellationToken ct) =>
        ListOfCustomer(customerId, limit, cursor, http, db, async (c, t, id, n, before) =>
        {
            var page = await MessageData.ListAsync(c, t, id, n, before, ct);
            return new PageView<MessageView>([.. page.Items.Select(m => new MessageView(m.Seq, m.Channel, m.Recipient, m.Subject, m.Body, m.Status, m.RuleId, m.RuleVersion, m.EventId, m.CreatedAt))], page.Next);
        }, ct);

    private static Task<Results<Ok<PageView<WebhookCallView>>, ProblemHttpResult>> Webhooks(
        string customerId, int? limit, string? cursor, HttpContext http, Database db, CancellationToken ct) =>
        ListOfCustomer(customerId, limit, cursor, http, db, async (c, t, id, n, before) =>
        {
            var page = await WebhookData.ListAsync(c, t, id, n, before, ct);
            return new PageView<WebhookCallView>([.. page.Items.Select(x => new WebhookCallView(x.Call.CallId, x.Call.Url, x.Call.Method, x.Call.Headers, x.Call.Body,
                x.Call.Status, x.Call.Attempts, x.Call.NextAttemptAt, x.Call.RuleId, x.Call.RuleVersion, x.Call.EventId, x.Call.CreatedAt, x.Call.DoneAt, x.Attempts))], page.Next);
        }, ct);

    private static async Task<Results<Ok<PageView<T>>, ProblemHttpResult>> ListOfCustomer<T>(
        string customerId, int? limit, string? cursor, HttpContext http, Database db,
        Func<System.Data.Common.DbConnection, Guid, Guid, int, long?, Task<PageView<T>>> list, CancellationToken ct)
    {
        if (!Guid.TryParse(customerId, out var id)) return Problems.Validation("customerId", $"'{customerId}' is not a UUID.");
        if (!Paging.TryRead(limit, cursor, out var n, out var before, out var bad)) return bad;
        var tenantId = http.Caller().TenantId;
        var page = await db.ReadAsync(async c =>
            await CustomerData.GetAsync(c, null, tenantId, id, ct) is null ? null : await list(c, tenantId, id, n, before), ct);
        return page is null ? Problems.NotFound($"Customer {id}") : TypedResults.Ok(page);
    }
}
