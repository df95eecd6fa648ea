using System.Data.Common;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Tally.Customers;
using Tally.Events;
using Tally.Rules;
using Tally.Segments;
using Tally.Server.Http;
using Tally.Storage;

namespace Tally.Server.Rules;

public sealed record RuleList(IReadOnlyList<JsonObject> Items);

public sealed record ValidationAnswer(bool Valid, IReadOnlyList<FieldError> Errors);

public sealed record SimulationAnswer(
    Guid EventId, Guid CustomerId, DateTimeOffset At, long Points, IReadOnlyList<BasketDiscount> Discounts, IReadOnlyList<Decision> Outcomes,
    IReadOnlyList<SkippedOutcome> SkippedOutcomes, IReadOnlyList<RuleTrace> Trace);

/// <summary>
/// Rule management: rules are JSON documents, validated when stored, versioned on every change. Each publish
/// commits the rule and bumps the tenant's rule-set version together, then the live set is rebuilt and swapped.
/// </summary>
public static class RuleEndpoints
{
    public static void MapRules(this IEndpointRouteBuilder app)
    {
        var rules = app.MapGroup("/api/v1/rules").WithTags("Rules");
        rules.MapPost("/", Create).WithName("CreateRule").WithSummary("Create a rule (version 1); 400 naming every bad JSON path.");
        rules.MapGet("/", List).WithName("ListRules").WithSummary("Rules, by priority; filter with ?eventType=&status=&campaign=.");
        rules.MapPost("/validate", Validate).WithName("ValidateRule").WithSummary("Validate a rule document; never stores anything.");
        rules.MapPost("/simulate", Simulate).WithName("SimulateRules")
            .WithSummary("Run an event against the live rules (or the given drafts) as if it arrived now or at 'at'; stores, counts and fulfils nothing.");
        rules.MapGet("/{ruleId}", Get).WithName("GetRule").WithSummary("A rule's current version.");
        rules.MapPut("/{ruleId}", Update).WithName("UpdateRule").WithSummary("Replace a rule: stored as a new version; the old one stays readable.");
        rules.MapDelete("/{ruleId}", Archive).WithName("ArchiveRule").WithSummary("Archive a rule: it stops firing; history keeps pointing at it.");
        rules.MapGet("/{ruleId}/versions/{version:int}", GetVersion).WithName("GetRuleVersion").WithSummary("One version of a rule.");
    }

    /// <summary>The rule as the API shows it: id, version and timestamps around the document as it was posted.</summary>
    public static JsonObject View(StoredRule rule)
    {
        var view = new JsonObject { ["id"] = rule.RuleId, ["version"] = rule.Version };
        if (JsonNode.Parse(rule.Document) is JsonObject doc)
        {
            foreach (var (key, value) in doc.ToList())
            {
                doc.Remove(key);
                view[key] = value;
            }
        }

        view["status"] = rule.Status;
        view["createdAt"] = rule.CreatedAt;
        view["updatedAt"] = rule.UpdatedAt;
        return view;
    }

    private static async Task<Results<Created<JsonObject>, ProblemHttpResult>> Create(HttpContext http, CancellationToken ct)
    {
        var (doc, json, problem) = await ReadRuleAsync(http, ct);
        if (problem is not null) return problem;
        var services = http.RequestServices;
        var tenantId = http.Caller().TenantId;
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        var ruleId = Guid.CreateVersion7(now);
        var stored = await services.GetRequiredService<WriteQueue>().WriteAsync(
            (c, tx) => RuleData.CreateAsync(c, tx, tenantId, ruleId, doc!, json, now, CancellationToken.None), ct);
        await PublishedAsync(http, tenantId, ct);
        return TypedResults.Created($"/api/v1/rules/{ruleId}", View(stored));
    }

    private static async Task<Results<Ok<JsonObject>, ProblemHttpResult>> Update(string ruleId, HttpContext http, CancellationToken ct)
    {
        if (!Guid.TryParse(ruleId, out var id)) return Problems.NotFound($"Rule {ruleId}");
        var (doc, json, problem) = await ReadRuleAsync(http, ct);
        if (problem is not null) return problem;
        var services = http.RequestServices;
        var tenantId = http.Caller().TenantId;
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        var db = services.GetRequiredService<Database>();
        var stored = await services.GetRequiredService<WriteQueue>().WriteAsync(
            (c, tx) => RuleData.UpdateAsync(c, tx, db, tenantId, id, doc!, json, now, CancellationToken.None), ct);
        if (stored is null) return Problems.NotFound($"Rule {id}");
        await PublishedAsync(http, tenantId, ct);
        return TypedResults.Ok(View(stored));
    }

    private static async Task<Results<Ok<JsonObject>, ProblemHttpResult>> Archive(string ruleId, HttpContext http, CancellationToken ct)
    {
        if (!Guid.TryParse(ruleId, out var id)) return Problems.NotFound($"Rule {ruleId}");
        var services = http.RequestServices;
        var tenantId = http.Caller().TenantId;
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        var stored = await services.GetRequiredService<WriteQueue>().WriteAsync(async (c, tx) =>
            await RuleData.ArchiveAsync(c, tx, tenantId, id, now, CancellationToken.None) ? await RuleData.GetAsync(c, tx, tenantId, id, CancellationToken.None) : null, ct);
        if (stored is null) return Problems.NotFound($"Rule {id}");
        await PublishedAsync(http, tenantId, ct);
        return TypedResults.Ok(View(stored));
    }

    /// <summary>Rebuilds this process's live set after the commit, so the next event here sees the new rules at once.</summary>
    private static Task PublishedAsync(HttpContext http, Guid tenantId, CancellationToken ct) =>
        http.RequestServices.GetRequiredService<RuleBook>().CurrentAsync(http.RequestServices.GetRequiredService<Database>(), tenantId, ct);

    private static readonly string[] EventTypeNames = [.. Enum.GetValues<RuleEventType>().Select(RuleData.Name)];
    private static readonly string[] StatusNames = [.. Enum.GetValues<RuleStatus>().Select(RuleData.Name)];

    private static async Task<Results<Ok<RuleList>, ProblemHttpResult>> List(string? eventType, string? status, string? campaign, HttpContext http, Database db, CancellationToken ct)
    {
        var errors = new List<FieldError>();
        if (!string.IsNullOrEmpty(eventType) && !EventTypeNames.Contains(eventType, StringComparer.Ordinal))
            errors.Add(new("eventType", $"One of {string.Join(", ", EventTypeNames)}."));
        if (!string.IsNullOrEmpty(status) && !StatusNames.Contains(status, StringComparer.Ordinal))
            errors.Add(new("status", $"One of {string.Join(", ", StatusNames)}."));
        if (errors.Count > 0) return Problems.Validation(errors);
        var tenantId = http.Caller().TenantId;
        var rules = await db.ReadAsync(c => RuleData.ListAsync(c, null, tenantId, eventType, status, campaign, withArchived: true, ct), ct);
        return TypedResults.Ok(new RuleList([.. rules.Select(View)]));
    }

    private static async Task<Results<Ok<JsonObject>, ProblemHttpResult>> Get(string ruleId, HttpContext http, Database db, CancellationToken ct)
    {
        if (!Guid.TryParse(ruleId, out var id)) return Problems.NotFound($"Rule {ruleId}");
        var tenantId = http.Caller().TenantId;
        var rule = await db.ReadAsync(c => RuleData.GetAsync(c, null, tenantId, id, ct), ct);
        return rule is null ? Problems.NotFound($"Rule {id}") : TypedResults.Ok(View(rule));
    }

    private static async Task<Results<Ok<JsonObject>, ProblemHttpResult>> GetVersion(string ruleId, int version, HttpContext http, Database db, CancellationToken ct)
    {
        if (!Guid.TryParse(ruleId, out var id)) return Problems.NotFound($"Rule {ruleId}");
        var tenantId = http.Caller().TenantId;
        var rule = await db.ReadAsync(c => RuleData.GetVersionAsync(c, tenantId, id, version, ct), ct);
        if (rule is null) return Problems.NotFound($"Version {version} of rule {id}");
        var view = View(rule);
        // An old version shows the status it was stored with; only the current one carries the rule's live status.
        if (JsonNode.Parse(rule.Document)?["status"] is { } original) view["status"] = original.DeepClone();
        view.Remove("updatedAt");
        return TypedResults.Ok(view);
    }

    private static async Task<Results<Ok<ValidationAnswer>, ProblemHttpResult>> Validate(HttpContext http, CancellationToken ct)
    {
        var body = await JsonBody.ReadAsync<JsonElement>(http.Request, MaxBody(http), ct);
        if (body.Problem is not null) return body.Problem;
        var parsed = RuleParser.Parse(WithoutServerFields(body.Value, body.Raw).Element);
        return TypedResults.Ok(new ValidationAnswer(parsed.Valid, [.. parsed.Errors.Select(e => new FieldError(e.Path, e.Message))]));
    }

    private static async Task<(RuleDocument? Doc, string Json, ProblemHttpResult? Problem)> ReadRuleAsync(HttpContext http, CancellationToken ct)
    {
        var body = await JsonBody.ReadAsync<JsonElement>(http.Request, MaxBody(http), ct);
        if (body.Problem is not null) return (null, "", body.Problem);
        var (element, json) = WithoutServerFields(body.Value, body.Raw);
        var parsed = RuleParser.Parse(element);
        if (!parsed.Valid) return (null, "", Problems.Validation([.. parsed.Errors.Select(e => new FieldError(e.Path, e.Message))]));
        return (parsed.Rule, json, null);
    }

    private static readonly string[] ServerFields = ["id", "version", "createdAt", "updatedAt"];

    /// <summary>A rule read back with GET can be PUT as it is: the fields the server adds are dropped, never stored.</summary>
    private static (JsonElement Element, string Json) WithoutServerFields(JsonElement element, string raw)
    {
        if (element.ValueKind != JsonValueKind.Object || !ServerFields.Any(f => element.TryGetProperty(f, out _))) return (element, raw);
        var node = JsonNode.Parse(raw)!.AsObject();
        foreach (var field in ServerFields) node.Remove(field);
        var json = node.ToJsonString();
        return (JsonDocument.Parse(json).RootElement.Clone(), json);
    }

    private static int MaxBody(HttpContext http) => http.RequestServices.GetRequiredService<IOptions<TallyOptions>>().Value.MaxBodyBytes;

    private static readonly Dictionary<string, Type> SimulatedTypes = new(StringComparer.Ordinal)
    {
        ["action"] = typeof(ActionEvent), ["order"] = typeof(OrderEvent), ["transaction"] = typeof(TransactionEvent), ["basket"] = typeof(BasketEvent),
        ["calendar"] = typeof(CalendarEvent), ["points"] = typeof(PointsEvent),
    };

    private static async Task<Results<Ok<SimulationAnswer>, ProblemHttpResult>> Simulate(HttpContext http, CancellationToken ct)
    {
        var body = await JsonBody.ReadAsync<JsonElement>(http.Request, MaxBody(http), ct);
        if (body.Problem is not null) return body.Problem;
        var root = body.Value;
        var errors = new List<FieldError>();
        if (root.ValueKind != JsonValueKind.Object) return Problems.Validation("$", "The body must be a JSON object.");

        EventBody? e = null;
        if (!root.TryGetProperty("event", out var ev) || ev.ValueKind != JsonValueKind.Object) errors.Add(new("$.event", "Required: the event, as posted to the Event API, with its type."));
        else if (!ev.TryGetProperty("type", out var typeEl) || typeEl.ValueKind != JsonValueKind.String || !SimulatedTypes.TryGetValue(typeEl.GetString()!, out var type))
            errors.Add(new("$.event.type", $"Required: one of {string.Join(", ", SimulatedTypes.Keys)}."));
        else
        {
            try
            {
                e = (EventBody?)ev.Deserialize(type, TallyJson.Requests);
            }
            catch (JsonException ex)
            {
                errors.Add(new("$.event" + (ex.Path?.TrimStart('$') ?? ""), "Not valid for this event type."));
            }

            if (e?.CreatedAt is { } created && !Periods.InRange(created)) errors.Add(new("$.event.createdAt", Periods.OutOfRange));
            if (JsonBody.NullElementPath(ev, "$.event") is { } hole) errors.Add(new(hole, "Must not be null: a list holds values."));
        }

        DateTimeOffset? at = null;
        if (root.TryGetProperty("at", out var atEl) && atEl.ValueKind != JsonValueKind.Null)
        {
            if (atEl.ValueKind == JsonValueKind.String && DateTimeOffset.TryParse(atEl.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsedAt))
            {
                if (Periods.InRange(parsedAt)) at = parsedAt;
                else errors.Add(new("$.at", Periods.OutOfRange));
            }
            else errors.Add(new("$.at", "An ISO-8601 instant such as 2027-01-01T00:00:00Z."));
        }

        List<CompiledRule>? drafts = null;
        if (root.TryGetProperty("rules", out var rulesEl) && rulesEl.ValueKind != JsonValueKind.Null)
        {
            if (rulesEl.ValueKind != JsonValueKind.Array) errors.Add(new("$.rules", "An array of rule documents."));
            else
            {
                drafts = [];
                var i = 0;
                foreach (var ruleEl in rulesEl.EnumerateArray())
                {
                    var parsed = RuleParser.Parse(ruleEl);
                    if (parsed.Rule is null) errors.AddRange(parsed.Errors.Select(x => new FieldError($"$.rules[{i}]{x.Path[1..]}", x.Message)));
                    else drafts.Add(CompiledRule.Compile($"draft-{i + 1}", 0, parsed.Rule));
                    i++;
                }
            }
        }

        var customerId = e is null ? null : JsonBody.Uuid(e.CustomerId, "$.event.customerId", required: true, errors);
        var eventId = e is null ? null : JsonBody.Uuid(e.EventId, "$.event.eventId", required: false, errors);
        if (errors.Count > 0) return Problems.Validation(errors);

        var services = http.RequestServices;
        var tenantId = http.Caller().TenantId;
        var now = at ?? services.GetRequiredService<TimeProvider>().GetUtcNow();
        var id = eventId ?? Guid.CreateVersion7(now);
        e = e! with { EventId = id.ToString(), CustomerId = customerId!.Value.ToString() };
        var db = services.GetRequiredService<Database>();
        var set = drafts is null ? await services.GetRequiredService<RuleBook>().CurrentAsync(db, tenantId, ct) : RuleSet.Build(drafts);
        var options = new EvaluationOptions { Trace = true, DraftsFire = drafts is not null };
        var evaluation = await Assessments.EvaluateAsync(db, set, tenantId, customerId.Value, id, e, now, options, ct);
        var decisions = evaluation.Decisions.ToList();
        return TypedResults.Ok(new SimulationAnswer(id, customerId.Value, now, decisions.OfType<PointsDecision>().Sum(p => p.Points),
            [.. decisions.OfType<VoucherDecision>().Select(v => new BasketDiscount(v.RuleId, "voucher", v.Code, v.Percent, v.DiscountAmount ?? 0m, v.AppliesTo))],
            decisions, evaluation.SkippedOutcomes, evaluation.Trace ?? []));
    }
}

/// <summary>Evaluations that store nothing (basket, simulate): the customer's real state read outside any write.</summary>
public static class Assessments
{
    public static Task<(Customer Customer, RuleFacts Facts)> StateAsync(
        Database db, RuleSet set, Guid tenantId, Guid customerId, Guid eventId, EventBody body, DateTimeOffset now, CancellationToken ct) =>
        db.ReadAsync(c => StateAsync(c, set, tenantId, customerId, eventId, body, now, ct), ct);

    /// <summary>The customer as the rules see it (a stranger is a new customer) and the facts the set needs, read on <paramref name="c"/>.</summary>
    public static async Task<(Customer Customer, RuleFacts Facts)> StateAsync(
        DbConnection c, RuleSet set, Guid tenantId, Guid customerId, Guid eventId, EventBody body, DateTimeOffset now, CancellationToken ct)
    {
        var stored = await CustomerData.GetAsync(c, null, tenantId, customerId, ct);
        var customer = stored is null
            ? new Customer { TenantId = tenantId, CustomerId = customerId, CreatedAt = now, ChangedAt = now }
            : stored with { Segments = await SegmentData.OfCustomerAsync(c, null, tenantId, customerId, ct) };
        var facts = await RuleState.LoadAsync(c, null, tenantId, customerId, eventId, long.MaxValue, set.FactsNeeded(body, customer, now), ct);
        return (customer, facts);
    }

    public static async Task<Evaluation> EvaluateAsync(
        Database db, RuleSet set, Guid tenantId, Guid customerId, Guid eventId, EventBody body, DateTimeOffset now, EvaluationOptions options, CancellationToken ct)
    {
        var (customer, facts) = await StateAsync(db, set, tenantId, customerId, eventId, body, now, ct);
        return set.Evaluate(body, customer, facts, now, options);
    }
}
