using System.Data.Common;
using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Tally.Customers;
using Tally.Events;
using Tally.Ledger;
using Tally.Server.Events;
using Tally.Server.Http;
using Tally.Storage;

namespace Tally.Server.Customers;

/// <summary>The customer as the API shows it: Tallymarks' field names, segments, tier, and pointsBalance net of points promised to unapplied redemptions (as the balance endpoint).</summary>
public sealed record CustomerView(
    Guid CustomerId, Guid TenantId, string? FirstName, string? LastName, string? DisplayName, string? EmailAddress,
    string? MobileNumber, string? ContactPhone, bool OptinSms, bool OptinEmail, bool AcceptTerms, DateOnly? DateOfBirth,
    string? ExternalReference, string? ExternalStatus, bool IsAccountLocked, IReadOnlyList<KeyValue> Attributes,
    DateTimeOffset CreatedAt, DateTimeOffset ChangedAt, IReadOnlyList<string> Segments, long PointsBalance, string? Tier)
{
    public static CustomerView Of(Customer c) => new(
        c.CustomerId, c.TenantId, c.FirstName, c.LastName, c.DisplayName, c.EmailAddress, c.MobileNumber, c.ContactPhone,
        c.OptinSms, c.OptinEmail, c.AcceptTerms, c.DateOfBirth, c.ExternalReference, c.ExternalStatus, c.IsAccountLocked,
        c.Attributes, c.CreatedAt, c.ChangedAt, c.Segments, c.PointsBalance - c.ReservedPoints, c.Tier);
}

public sealed record AdjustmentRequest(long? Points, string? Reason, string? Reference);

public sealed record EntryView(
    long Id, string Type, long Points, long BalanceAfter, Guid? EventId, string? Reason, string? Reference, Guid? RuleId,
    int? RuleVersion, string Ledger, DateTimeOffset CreatedAt, long PendingPoints, DateTimeOffset EffectiveAt)
{
    /// <summary>PendingPoints: the change of pending points; EffectiveAt: when it took effect (a late expiry keeps its due time).</summary>
    public static EntryView Of(PostedEntry e) => new(e.Id, e.Type, e.Points, e.BalanceAfter, e.EventId, e.Reason, e.Reference, e.RuleId, e.RuleVersion, e.Ledger,
        e.CreatedAt, e.PendingPoints, e.EffectiveAt ?? e.CreatedAt);
}

public sealed record PageView<T>(IReadOnlyList<T> Items, string? Next);

public static class CustomerEndpoints
{
    public static void MapCustomers(this IEndpointRouteBuilder app)
    {
        var customers = app.MapGroup("/api/v1/customers").WithTags("Customers");
        customers.MapGet("/", FindByExternalReference).WithName("FindCustomer").WithSummary("Find a customer by externalReference.");
        customers.MapGet("/{customerId}", Get).WithName("GetCustomer").WithSummary("A customer's profile, segments, balance and tier.");
        customers.MapPut("/{customerId}", Put).WithName("PutCustomer").WithSummary("Create or replace a customer's profile.");
        customers.MapPatch("/{customerId}", Patch).WithName("PatchCustomer").WithSummary("Update the given profile fields.");
        customers.MapPost("/{customerId}/lock", (string customerId, HttpContext http, CancellationToken ct) => SetLocked(customerId, true, http, ct))
            .WithName("LockCustomer").WithSummary("Lock the account: redemptions are refused.");
        customers.MapPost("/{customerId}/unlock", (string customerId, HttpContext http, CancellationToken ct) => SetLocked(customerId, false, http, ct))
            .WithName("UnlockCustomer").WithSummary("Unlock the account.");
        customers.MapPost("/{customerId}/adjustments", Adjust).WithName("AdjustPoints")
            .WithSummary("A manual adjustment, applied at once. Send Idempotency-Key to make retries safe.");
        customers.MapGet("/{customerId}/ledger", Ledger).WithName("ListLedger").WithSummary("Ledger entries, newest first.");
        customers.MapGet("/{customerId}/events", Events).WithName("ListCustomerEvents").WithSummary("Events, newest first, with processing status.");
    }

    private static async Task<Results<Ok<CustomerView>, ProblemHttpResult>> Get(string customerId, HttpContext http, Database db, CancellationToken ct)
    {
        if (!TryId(customerId, out var id, out var bad)) return bad;
        var tenantId = http.Caller().TenantId;
        var customer = await db.ReadAsync(async c => await CustomerData.GetAsync(c, null, tenantId, id, ct) is { } found
            ? found with { Segments = await Tally.Segments.SegmentData.OfCustomerAsync(c, null, tenantId, id, ct) }
            : null, ct);
        return customer is null ? Problems.NotFound($"Customer {id}") : TypedResults.Ok(CustomerView.Of(customer));
    }

    private static async Task<Results<Ok<CustomerView>, ProblemHttpResult>> FindByExternalReference(string? externalReference, HttpContext http, Database db, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(externalReference)) return Problems.Validation("externalReference", "Required: the customer's external reference.");
        var tenantId = http.Caller().TenantId;
        var customer = await db.ReadAsync(c => CustomerData.FindByExternalReferenceAsync(c, tenantId, externalReference, ct), ct);
        return customer is null ? Problems.NotFound($"Customer with externalReference '{externalReference}'") : TypedResults.Ok(CustomerView.Of(customer));
    }

    private static Task<Results<Ok<CustomerView>, Created<CustomerView>, ProblemHttpResult>> Put(string customerId, HttpContext http, CancellationToken ct) =>
        WriteProfile(customerId, http, replace: true, ct);

    private static async Task<Results<Ok<CustomerView>, ProblemHttpResult>> Patch(string customerId, HttpContext http, CancellationToken ct) =>
        await WriteProfile(customerId, http, replace: false, ct) switch
        {
            { Result: Ok<CustomerView> ok } => ok,
            { Result: ProblemHttpResult problem } => problem,
            var other => throw new InvalidOperationException($"PATCH never creates: {other.Result}"),
        };

    private enum WriteOutcome
    {
        Saved,
        Created,
        Missing,
        EmailTaken,
        ReferenceTaken,
    }

    private static async Task<Results<Ok<CustomerView>, Created<CustomerView>, ProblemHttpResult>> WriteProfile(
        string customerId, HttpContext http, bool replace, CancellationToken ct)
    {
        if (!TryId(customerId, out var id, out var bad)) return bad;
        var services = http.RequestServices;
        var body = await JsonBody.ReadAsync<JsonElement>(http.Request, services.GetRequiredService<IOptions<TallyOptions>>().Value.MaxBodyBytes, ct);
        if (body.Problem is not null) return body.Problem;
        var errors = new List<FieldError>();
        var changes = ProfileChanges.Parse(body.Value, id, errors);
        if (errors.Count > 0) return Problems.Validation(errors);

        var tenantId = http.Caller().TenantId;
        var db = services.GetRequiredService<Database>();
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        var (outcome, saved) = await services.GetRequiredService<WriteQueue>().WriteAsync(async (c, tx) =>
        {
            var existing = await CustomerData.GetAsync(c, tx, tenantId, id, CancellationToken.None, db.ForUpdate);
            if (existing is null && !replace) return (WriteOutcome.Missing, (Customer?)null);
            var start = replace || existing is null ? new CustomerProfile { CreatedAt = existing?.CreatedAt } : CustomerProfile.Of(existing);
            var profile = changes.ApplyTo(start);
            switch (await CustomerData.FindConflictAsync(c, tx, tenantId, id, profile, CancellationToken.None))
            {
                case ProfileConflict.EmailAddress: return (WriteOutcome.EmailTaken, null);
                case ProfileConflict.ExternalReference: return (WriteOutcome.ReferenceTaken, null);
            }

            await CustomerData.SaveProfileAsync(c, tx, tenantId, id, profile, now, CancellationToken.None);
            var after = await CustomerData.GetAsync(c, tx, tenantId, id, CancellationToken.None);
            await LedgerStore.RecordOtherAsync(c, tx, tenantId, id, Guid.CreateVersion7(), existing is null ? "customerAdded" : "customerUpdated",
                JsonSerializer.Serialize(CustomerView.Of(after!), Tally.TallyJson.Options), now, CancellationToken.None);
            return (existing is null ? WriteOutcome.Created : WriteOutcome.Saved, after);
        }, ct);

        return outcome switch
        {
            WriteOutcome.Missing => Problems.NotFound($"Customer {id}"),
            WriteOutcome.EmailTaken => Problems.Conflict("Another customer of this tenant already has this emailAddress."),
            WriteOutcome.ReferenceTaken => Problems.Conflict("Another customer of this tenant already has this externalReference."),
            WriteOutcome.Created => TypedResults.Created($"/api/v1/customers/{id}", CustomerView.Of(saved!)),
            _ => TypedResults.Ok(CustomerView.Of(saved!)),
        };
    }

    private static async Task<Results<Ok<CustomerView>, ProblemHttpResult>> SetLocked(string customerId, bool locked, HttpContext http, CancellationToken ct)
    {
        if (!TryId(customerId, out var id, out var bad)) return bad;
        var services = http.RequestServices;
        var tenantId = http.Caller().TenantId;
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        var customer = await services.GetRequiredService<WriteQueue>().WriteAsync(async (c, tx) =>
            await CustomerData.SetLockedAsync(c, tx, tenantId, id, locked, now, CancellationToken.None)
                ? await CustomerData.GetAsync(c, tx, tenantId, id, CancellationToken.None)
                : null, ct);
        return customer is null ? Problems.NotFound($"Customer {id}") : TypedResults.Ok(CustomerView.Of(customer));
    }

    private enum AdjustOutcome
    {
        Posted,
        Replayed,
        Missing,
        Insufficient,
        Closed,
        Overflow,
    }

    private static async Task<Results<Created<EntryView>, Ok<EntryView>, ProblemHttpResult>> Adjust(string customerId, HttpContext http, CancellationToken ct)
    {
        if (!TryId(customerId, out var id, out var bad)) return bad;
        var services = http.RequestServices;
        var body = await JsonBody.ReadAsync<AdjustmentRequest>(http.Request, services.GetRequiredService<IOptions<TallyOptions>>().Value.MaxBodyBytes, ct);
        if (body.Problem is not null) return body.Problem;
        var request = body.Value!;
        var errors = new List<FieldError>();
        if (request.Points is null or 0) errors.Add(new FieldError("$.points", "Required: a whole number of points, not 0 (negative to deduct)."));
        else if (request.Points.Value is > Movements.MaxPoints or < -Movements.MaxPoints) errors.Add(new FieldError("$.points", Movements.TooManyPoints));
        if (string.IsNullOrWhiteSpace(request.Reason)) errors.Add(new FieldError("$.reason", "Required: why the points are adjusted."));
        var idempotencyKey = http.Request.Headers["Idempotency-Key"].ToString();
        if (idempotencyKey.Length > 200) errors.Add(new FieldError("Idempotency-Key", "At most 200 characters."));
        if (errors.Count > 0) return Problems.Validation(errors);

        var tenantId = http.Caller().TenantId;
        var db = services.GetRequiredService<Database>();
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        var points = request.Points!.Value;
        var cause = idempotencyKey.Length > 0 ? Cause.Request(idempotencyKey) : Cause.Request($"adjustment:{Guid.CreateVersion7()}");
        var (outcome, entry, available) = await services.GetRequiredService<WriteQueue>().WriteAsync(async (c, tx) =>
        {
            var ct = CancellationToken.None;
            var (settings, _) = await LedgerStore.SettingsAsync(c, tx, tenantId, ct);
            // A credit needs the open lots only when something of theirs is due; a deduction spends from them.
            var loaded = points > 0
                ? await LedgerStore.LoadLotsIfDueAsync(c, tx, tenantId, id, db.ForUpdate, settings, now, ct)
                : await LedgerStore.LoadAsync(c, tx, tenantId, id, db.ForUpdate, ct);
            if (loaded is null) return (AdjustOutcome.Missing, (PostedEntry?)null, 0L);
            if (await LedgerStore.ClaimedByAsync(c, tx, tenantId, cause.Key, ct) is { } owner)
            {
                var first = await LedgerStore.EntryIdAsync(c, tx, tenantId, owner, cause.Key, EntryType.Adjustment, ct) is { } firstId
                    ? await LedgerData.FindByIdAsync(c, tx, tenantId, firstId, ct)
                    : null;
                return (AdjustOutcome.Replayed, first ?? new PostedEntry(0, owner, Account.MainLedger, "adjustment", 0, 0, null, null, null, null, null, now), 0L);
            }

            var decided = Movements.Adjust(loaded.Account, settings, points, cause, now, request.Reason);
            // A deduction must also leave the points promised to accepted redemptions.
            if (decided is Refused<Posting> { Reason: Refusal.AccountClosed }) return (AdjustOutcome.Closed, null, 0L);
            if (decided is Refused<Posting> { Reason: Refusal.PointsOverflow }) return (AdjustOutcome.Overflow, null, 0L);
            if (decided is not Tally.Ledger.Accepted<Posting> { Value: var posting } || (points < 0 && posting.Account.Balance < loaded.Reserved))
            {
                var settled = Movements.Settle(loaded.Account, settings, cause, now).Account.Balance;
                return (AdjustOutcome.Insufficient, null, Math.Max(0, settled - loaded.Reserved));
            }

            await LedgerStore.ClaimAsync(c, tx, tenantId, cause.Key, id, now, ct);
            await LedgerStore.SaveAsync(c, tx, tenantId, loaded, posting, settings, now, ct, reference: request.Reference);
            var entryId = await LedgerStore.EntryIdAsync(c, tx, tenantId, id, cause.Key, EntryType.Adjustment, ct);
            return (AdjustOutcome.Posted, await LedgerData.FindByIdAsync(c, tx, tenantId, entryId!.Value, ct), 0L);
        }, ct);

        return outcome switch
        {
            AdjustOutcome.Missing => Problems.NotFound($"Customer {id}"),
            AdjustOutcome.Closed => Problems.Unprocessable("account_closed", "The account is closed.", $"Customer {id} was merged into another customer."),
            AdjustOutcome.Overflow => Problems.Unprocessable("points_overflow", "Too many points.", $"{points} more points would take the figures of customer {id} past what the ledger holds."),
            AdjustOutcome.Insufficient => Problems.Unprocessable("insufficient_points", "Not enough points.",
                $"The customer has {available} points available; the adjustment deducts {-points}.",
                new Dictionary<string, object?> { ["availableBalance"] = available }),
            AdjustOutcome.Replayed when entry!.CustomerId != id => Problems.Conflict("This Idempotency-Key was already used for another customer."),
            AdjustOutcome.Replayed => TypedResults.Ok(EntryView.Of(entry!)),
            _ => TypedResults.Created($"/api/v1/customers/{id}/ledger", EntryView.Of(entry!)),
        };
    }

    private static async Task<Results<Ok<PageView<EntryView>>, ProblemHttpResult>> Ledger(
        string customerId, int? limit, string? cursor, HttpContext http, Database db, CancellationToken ct)
    {
        if (!TryId(customerId, out var id, out var bad)) return bad;
        if (!Paging.TryRead(limit, cursor, out var n, out var before, out bad)) return bad;
        var tenantId = http.Caller().TenantId;
        var page = await db.ReadAsync(async c =>
            await CustomerData.GetAsync(c, null, tenantId, id, ct) is null ? null : await LedgerData.ListAsync(c, tenantId, id, n, before, ct), ct);
        return page is null ? Problems.NotFound($"Customer {id}") : TypedResults.Ok(new PageView<EntryView>(page.Items.Select(EntryView.Of).ToList(), page.Next));
    }

    private static async Task<Results<Ok<PageView<EventView>>, ProblemHttpResult>> Events(
        string customerId, int? limit, string? cursor, HttpContext http, Database db, CancellationToken ct)
    {
        if (!TryId(customerId, out var id, out var bad)) return bad;
        if (!Paging.TryRead(limit, cursor, out var n, out var before, out bad)) return bad;
        var tenantId = http.Caller().TenantId;
        var page = await db.ReadAsync(async c =>
            await CustomerData.GetAsync(c, null, tenantId, id, ct) is null ? null : await EventData.ListAsync(c, tenantId, id, n, before, ct), ct);
        return page is null ? Problems.NotFound($"Customer {id}") : TypedResults.Ok(new PageView<EventView>(page.Items.Select(EventView.Of).ToList(), page.Next));
    }

    private static bool TryId(string value, out Guid id, out ProblemHttpResult problem)
    {
        problem = null!;
        if (Guid.TryParse(value, out id)) return true;
        problem = Problems.Validation("customerId", $"'{value}' is not a UUID.");
        return false;
    }
}
