using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Tally.Customers;
using Tally.Events;
using Tally.Rules;
using Tally.Server.Http;
using Tally.Server.Rules;
using Tally.Storage;

namespace Tally.Server.Events;

public sealed record EventAccepted(Guid EventId, Guid CustomerId, Guid TenantId, bool IsExisting);

public sealed record RedemptionAccepted(long StartingBalance, long PendingBalance, Guid EventId, Guid CustomerId, Guid TenantId, bool IsExisting);

/// <summary>The kept trace of a processed event: every rule considered, with its conditions' actual values and its outcomes.</summary>
public sealed record EventTrace(Guid EventId, Guid CustomerId, string Type, string Status, IReadOnlyList<RuleTrace> Trace, IReadOnlyList<SkippedOutcome> SkippedOutcomes);

public sealed record EventView(
    Guid EventId, Guid CustomerId, string Type, string? NameSpace, DateTimeOffset ReceivedAt, string Status, string? Error,
    DateTimeOffset? ProcessedAt, JsonElement Payload)
{
    public static EventView Of(StoredEvent e) => new(
        e.EventId, e.CustomerId, EventData.Name(e.Type), e.NameSpace, e.ReceivedAt, e.Status, e.Error, e.ProcessedAt,
        JsonSerializer.Deserialize<JsonElement>(e.Payload));
}

public static class EventEndpoints
{
    public static void MapEvents(this IEndpointRouteBuilder app)
    {
        var events = app.MapGroup("/api/v1/events").WithTags("Events");
        events.MapPost("/actions", PostAction).WithName("CreateAction")
            .WithSummary("Record an action (registration, survey, page visit...); assessed asynchronously against action rules.");
        events.MapPost("/orders", PostOrder).WithName("CreateOrder")
            .WithSummary("Record an order; assessed asynchronously against order and spend rules.");
        events.MapPost("/transactions", PostTransaction).WithName("CreateTransaction")
            .WithSummary("Record a card or payment transaction; assessed asynchronously against transaction and spend rules.");
        events.MapPost("/basket", PostBasket).WithName("AssessBasket")
            .WithSummary("Assess a basket synchronously against basket rules; nothing is fulfilled.");
        events.MapPost("/redemptions", PostRedemption).WithName("CreateRedemption")
            .WithSummary("Redeem points: checked synchronously (lock, balance net of unapplied redemptions), applied asynchronously.");
        events.MapGet("/{eventId}", GetEvent).WithName("GetEvent")
            .WithSummary("An event with its processing status (pending, processed or failed, with the error).");
        events.MapGet("/{eventId}/trace", GetTrace).WithName("GetEventTrace")
            .WithSummary("How the rules assessed a processed event: per rule, its conditions with actual values and its outcomes.");
    }

    private static Task<Results<Ok<EventAccepted>, ProblemHttpResult>> PostAction(HttpContext http, CancellationToken ct) =>
        IngestAsync<ActionEvent>(http, EventType.Action, _ => [], ct);

    private static Task<Results<Ok<EventAccepted>, ProblemHttpResult>> PostOrder(HttpContext http, CancellationToken ct) =>
        IngestAsync<OrderEvent>(http, EventType.Order, e => e.Order is null ? [new FieldError("$.order", "Required: the order.")] : [], ct);

    private static Task<Results<Ok<EventAccepted>, ProblemHttpResult>> PostTransaction(HttpContext http, CancellationToken ct) =>
        IngestAsync<TransactionEvent>(http, EventType.Transaction,
            e => e.Transaction is null ? [new FieldError("$.transaction", "Required: the transaction.")] : [], ct);

    private static async Task<Results<Ok<EventAccepted>, ProblemHttpResult>> IngestAsync<T>(
        HttpContext http, EventType type, Func<T, List<FieldError>> validate, CancellationToken ct)
        where T : EventBody
    {
        var services = http.RequestServices;
        var body = await JsonBody.ReadAsync<T>(http.Request, services.GetRequiredService<IOptions<TallyOptions>>().Value.MaxBodyBytes, ct);
        if (body.Problem is not null) return body.Problem;
        var e = body.Value!;
        var errors = validate(e);
        var (eventId, customerId) = Ids(e, errors);
        if (errors.Count > 0) return Problems.Validation(errors);

        var tenantId = http.Caller().TenantId;
        var clock = services.GetRequiredService<TimeProvider>();
        var stored = new NewEvent(tenantId, eventId, customerId, type, e.NameSpace, body.Raw, clock.GetUtcNow());
        var known = services.GetRequiredService<KnownCustomers>();
        var customerKnown = known.Contains(tenantId, customerId);
        var accepted = await services.GetRequiredService<WriteQueue>().WriteAsync(
            (c, tx) => EventData.IngestAsync(c, tx, stored, CancellationToken.None, customerKnown), stored.LockOrder, ct);
        known.Remember(tenantId, customerId);
        if (accepted.Type != type) return EventIdTaken(accepted);
        if (accepted.Queued) services.GetRequiredService<EventSignal>().Notify();
        return TypedResults.Ok(new EventAccepted(accepted.EventId, accepted.CustomerId, tenantId, accepted.IsExisting));
    }

    private static async Task<Results<Ok<RedemptionAccepted>, ProblemHttpResult>> PostRedemption(HttpContext http, CancellationToken ct)
    {
        var services = http.RequestServices;
        var body = await JsonBody.ReadAsync<RedemptionEvent>(http.Request, services.GetRequiredService<IOptions<TallyOptions>>().Value.MaxBodyBytes, ct);
        if (body.Problem is not null) return body.Problem;
        var e = body.Value!;
        var errors = new List<FieldError>();
        if (e.Redemption is null) errors.Add(new FieldError("$.redemption", "Required: the redemption."));
        else if (e.Redemption.Quantity is not > 0) errors.Add(new FieldError("$.redemption.quantity", "Required: a whole number of points greater than 0."));
        else if (e.Redemption.Quantity > Tally.Ledger.Movements.MaxPoints) errors.Add(new FieldError("$.redemption.quantity", Tally.Ledger.Movements.TooManyPoints));
        var (eventId, customerId) = Ids(e, errors);
        if (errors.Count > 0) return Problems.Validation(errors);

        var tenantId = http.Caller().TenantId;
        var clock = services.GetRequiredService<TimeProvider>();
        var db = services.GetRequiredService<Database>();
        var stored = new NewEvent(tenantId, eventId, customerId, EventType.Redemption, e.NameSpace, body.Raw, clock.GetUtcNow());
        var quantity = e.Redemption!.Quantity!.Value;
        var answer = await services.GetRequiredService<WriteQueue>().WriteAsync(
            (c, tx) => EventData.AcceptRedemptionAsync(db, c, tx, stored, quantity, CancellationToken.None), stored.LockOrder, ct);
        switch (answer.Refusal)
        {
            case RedemptionRefusal.AccountLocked:
                return Problems.Unprocessable("account_locked", "The account is locked.", "The customer's account is locked: no points can be redeemed.");
            case RedemptionRefusal.InsufficientPoints:
                return Problems.Unprocessable("insufficient_points", "Not enough points.",
                    $"The customer has {answer.StartingBalance} points available; {quantity} were asked for.",
                    new Dictionary<string, object?> { ["availableBalance"] = answer.StartingBalance, ["requested"] = quantity });
        }

        var accepted = answer.Accepted!;
        if (accepted.Type != EventType.Redemption) return EventIdTaken(accepted);
        if (accepted.Queued) services.GetRequiredService<EventSignal>().Notify();
        return TypedResults.Ok(new RedemptionAccepted(answer.StartingBalance, answer.PendingBalance, accepted.EventId, accepted.CustomerId, tenantId, accepted.IsExisting));
    }

    private static async Task<Results<BasketAnswerResult, ProblemHttpResult>> PostBasket(bool? trace, HttpContext http, CancellationToken ct)
    {
        var services = http.RequestServices;
        var body = await JsonBody.ReadAsync<BasketEvent>(http.Request, services.GetRequiredService<IOptions<TallyOptions>>().Value.MaxBodyBytes, ct);
        if (body.Problem is not null) return body.Problem;
        var e = body.Value!;
        var errors = new List<FieldError>();
        if (e.Basket is null) errors.Add(new FieldError("$.basket", "Required: the basket."));
        var (eventId, customerId) = Ids(e, errors);
        if (errors.Count > 0) return Problems.Validation(errors);

        // Assessed against the live basket rules with the customer's real state; nothing is stored or fulfilled.
        var tenantId = http.Caller().TenantId;
        var db = services.GetRequiredService<Database>();
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        var basket = e with { EventId = eventId.ToString(), CustomerId = customerId.ToString(), TenantId = tenantId.ToString() };
        var book = services.GetRequiredService<RuleBook>();
        // One read connection for the rule-set version and the customer's state.
        var answer = await db.ReadAsync(async c =>
        {
            var set = await book.CurrentAsync(c, null, tenantId, ct);
            if (!set.Considers(basket)) return new BasketAnswer(basket.EventId, basket.CustomerId, basket.TenantId, 0, [], [], trace == true ? [] : null);
            var (customer, facts) = await Assessments.StateAsync(c, set, tenantId, customerId, eventId, basket, now, ct);
            return Tally.Rules.BasketAssessment.Assess(set, basket, customer, facts, now, new EvaluationOptions { Trace = trace == true });
        }, ct);
        return new BasketAnswerResult(answer);
    }

    private static async Task<Results<Ok<EventTrace>, ProblemHttpResult>> GetTrace(string eventId, HttpContext http, Database db, CancellationToken ct)
    {
        if (!Guid.TryParse(eventId, out var id)) return Problems.Validation("eventId", $"'{eventId}' is not a UUID.");
        var tenantId = http.Caller().TenantId;
        var rules = http.RequestServices.GetRequiredService<RuleProcessing>();
        var (found, stored) = await db.ReadAsync(async c =>
        {
            var e = await EventData.FindAsync(c, null, tenantId, id, ct);
            return (e, e is { } x ? await rules.TraceAsync(c, x.Event, ct) : null);
        }, ct);
        if (found is not { } f) return Problems.NotFound($"Event {id}");
        return TypedResults.Ok(new EventTrace(id, f.Event.CustomerId, EventData.Name(f.Event.Type), f.Event.Status, stored?.Rules ?? [], stored?.SkippedOutcomes ?? []));
    }

    private static async Task<Results<Ok<EventView>, ProblemHttpResult>> GetEvent(string eventId, HttpContext http, Database db, CancellationToken ct)
    {
        if (!Guid.TryParse(eventId, out var id)) return Problems.Validation("eventId", $"'{eventId}' is not a UUID.");
        var tenantId = http.Caller().TenantId;
        var found = await db.ReadAsync(c => EventData.FindAsync(c, null, tenantId, id, ct), ct);
        return found is { } f ? TypedResults.Ok(EventView.Of(f.Event)) : Problems.NotFound($"Event {id}");
    }

    /// <summary>Checks the two ids every event carries (an omitted eventId gets a fresh one), and its time if it has one.</summary>
    private static (Guid EventId, Guid CustomerId) Ids(EventBody e, List<FieldError> errors)
    {
        if (e.CreatedAt is { } created && !Periods.InRange(created)) errors.Add(new FieldError("$.createdAt", Periods.OutOfRange));
        var customerId = JsonBody.Uuid(e.CustomerId, "$.customerId", required: true, errors);
        var eventId = JsonBody.Uuid(e.EventId, "$.eventId", required: false, errors);
        return (eventId ?? Guid.CreateVersion7(), customerId ?? Guid.Empty);
    }

    private static ProblemHttpResult EventIdTaken(IngestedEvent existing) =>
        Problems.Conflict($"eventId {existing.EventId} was already used for a {EventData.Name(existing.Type)} event.");
}
