using System.Text.Json;
using Tally.Customers;
using Tally.Events;
using Tally.Ledger;
using Tally.Messages;
using Tally.Scheduling;
using Tally.Segments;
using Tally.Vouchers;
using Tally.Webhooks;

namespace Tally.Rules;

/// <summary>What a trace endpoint shows for one processed event: every rule considered, and what it produced.</summary>
public sealed record StoredTrace(IReadOnlyList<RuleTrace> Rules, IReadOnlyList<SkippedOutcome> SkippedOutcomes);

/// <summary>
/// What an assessment was made of, kept in place of its trace: the rule-set version, the time, the customer as the
/// rules saw them and the stored facts. Evaluation is deterministic, so the trace is worked out again from these on
/// demand; a full trace (every rule considered, with every condition's actual value) cost more than the assessment
/// itself to serialise and store for every event (≈ 250 KB per event with 1,000 candidate rules).
/// </summary>
public sealed record AssessmentRecord(
    long RuleSetVersion, DateTimeOffset At, Customer Customer, IReadOnlyList<AssessmentRecord.Counter> Counters, IReadOnlyList<AssessmentRecord.Usage> Usages)
{
    public sealed record Counter(string Key, DateTimeOffset? Since, long Count, decimal Sum);

    public sealed record Usage(string RuleId, long PerCustomer, long Total);

    public static AssessmentRecord Of(long version, DateTimeOffset at, Customer customer, RuleFacts facts) => new(
        version, at, customer,
        [.. facts.Counters.Select(c => new Counter(c.Key.Key, c.Key.Since, c.Value.Count, c.Value.Sum))],
        [.. facts.Usages.Select(u => new Usage(u.Key, u.Value.PerCustomer, u.Value.Total))]);

    public RuleFacts ToFacts() => new()
    {
        Counters = Counters.ToDictionary(c => new CounterQuery(c.Key, c.Since), c => new CounterFact(c.Count, c.Sum)),
        Usages = Usages.ToDictionary(u => u.RuleId, u => new RuleUsageFact(u.PerCustomer, u.Total), StringComparer.Ordinal),
    };
}

/// <summary>
/// Assesses one stored event against the tenant's live rules, inside the worker's transaction: loads the facts the
/// rules need, evaluates, then writes counters, usages, every decision's effect and the trace together. Every write
/// is keyed by the event (and rule and outcome), so replaying the event changes nothing.
/// </summary>
public sealed class RuleProcessing(RuleBook book)
{
    private const int ClaimRetries = 5;
    private static readonly EvaluationOptions Traced = new() { Trace = true };

    // Stored traces leave out nulls (most decision fields are null): a smaller row per event. Read back, they are whole.
    private static readonly JsonSerializerOptions TraceJson = new(TallyJson.Options)
    {
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    public async Task ProcessAsync(ProcessingContext ctx, StoredEvent e, CancellationToken ct)
    {
        var (set, setVersion) = await book.ForBatchAsync(ctx, e.TenantId, ct);
        if (set.Rules.Count == 0) return;
        var body = ReadBody(e);
        if (body is null || !set.Considers(body)) return;

        // An event whose assessment committed (its trace is the mark) is never assessed again: re-queued by hand,
        // it would otherwise meet the customer's later state (segments, balance) and decide differently. A crash
        // rolls the mark back with everything else, so that replay assesses from scratch, against the same state.
        if (ctx.Assessed is { } assessed ? assessed.Contains(e.Seq) : await RuleState.TraceAsync(ctx.Connection, ctx.Tx, e.Seq, ct) is not null) return;
        var customer = await LoadCustomerAsync(ctx, e.TenantId, e.CustomerId, ctx.Db.ForUpdate, ct);
        if (customer is null) return;

        for (var attempt = 1; ; attempt++)
        {
            var facts = await RuleState.LoadAsync(ctx.Connection, ctx.Tx, e.TenantId, e.CustomerId, e.EventId, e.Seq, set.FactsNeeded(body, customer, ctx.Now), ct);
            var evaluation = set.Evaluate(body, customer, facts, ctx.Now);
            var limited = evaluation.Usages.Any(u => u.PerCustomerLimit is not null || u.TotalLimit is not null);
            if (limited) await ctx.Tx.SaveAsync("rule_usages", ct);
            if (!await RuleState.ClaimAsync(ctx.Connection, ctx.Tx, e.TenantId, e.CustomerId, e.EventId, evaluation.Usages, ctx.Now, ct))
            {
                // A concurrent event took the last use of a limited rule: undo this event's claims and assess it again.
                await ctx.Tx.RollbackAsync("rule_usages", ct);
                if (attempt >= ClaimRetries) throw new InvalidOperationException($"Rule limits kept changing under event {e.EventId}.");
                continue;
            }

            if (limited) await ctx.Tx.ReleaseAsync("rule_usages", ct);
            await RuleState.WriteCountersAsync(ctx.Connection, ctx.Tx, e.TenantId, e.CustomerId, e.EventId, e.Seq, evaluation.CounterIncrements, ct);
            // Membership as loaded (the customer's row is locked): adding a member twice or removing a non-member writes nothing.
            var segments = new HashSet<string>(customer.Segments, StringComparer.Ordinal);
            // The event's awards go to the ledger together (one account load and save); an expiry between them keeps its place.
            var awards = new List<(PointsDecision, Cause)>();
            foreach (var decision in evaluation.Decisions)
            {
                if (decision is PointsDecision points)
                {
                    awards.Add((points, Cause.Event(e.EventId.ToString(), points.RuleId, points.RuleVersion, points.OutcomeIndex)));
                    continue;
                }

                if (decision is ExpirePointsDecision) await EarnAllAsync(ctx, e, awards, ct);
                await FulfilAsync(ctx, e, decision, segments, ct);
            }

            await EarnAllAsync(ctx, e, awards, ct);
            var json = JsonSerializer.Serialize(AssessmentRecord.Of(setVersion, ctx.Now, customer, facts), TraceJson);
            if (ctx.Traces is { } traces) traces.Add((e.Seq, json));
            else await RuleState.SaveTraceAsync(ctx.Connection, ctx.Tx, e.Seq, json, ct);

            return;
        }
    }

    /// <summary>
    /// The trace of a processed event, worked out again from its assessment record: the same rule versions, customer,
    /// facts and time give the same evaluation. Null when the event was never assessed. A full trace stored before
    /// records existed is returned as it is.
    /// </summary>
    public async Task<StoredTrace?> TraceAsync(System.Data.Common.DbConnection c, StoredEvent e, CancellationToken ct)
    {
        var stored = await RuleState.TraceAsync(c, null, e.Seq, ct);
        if (stored is null) return null;
        using (var doc = JsonDocument.Parse(stored))
        {
            if (!doc.RootElement.TryGetProperty("ruleSetVersion", out _)) return JsonSerializer.Deserialize<StoredTrace>(stored, TallyJson.Options);
        }

        var record = JsonSerializer.Deserialize<AssessmentRecord>(stored, TallyJson.Options)!;
        var set = await book.AtVersionAsync(c, e.TenantId, record.RuleSetVersion, ct);
        var body = ReadBody(e);
        if (set is null || body is null) return new StoredTrace([], []);
        var evaluation = set.Evaluate(body, record.Customer, record.ToFacts(), record.At, Traced);
        return new StoredTrace(evaluation.Trace ?? [], evaluation.SkippedOutcomes);
    }

    /// <summary>A customer as rules see them: the stored row plus their segments.</summary>
    public static async Task<Customer?> LoadCustomerAsync(ProcessingContext ctx, Guid tenantId, Guid customerId, string lockClause, CancellationToken ct)
    {
        var customer = await CustomerData.GetAsync(ctx.Connection, ctx.Tx, tenantId, customerId, ct, lockClause);
        return customer is null ? null : customer with { Segments = await SegmentData.OfCustomerAsync(ctx.Connection, ctx.Tx, tenantId, customerId, ct) };
    }

    /// <summary>The stored payload as the rules read it, with the ids the server assigned; null for kinds rules never assess.</summary>
    public static EventBody? ReadBody(StoredEvent e)
    {
        EventBody? body = e.Type switch
        {
            EventType.Action => JsonSerializer.Deserialize<ActionEvent>(e.Payload, TallyJson.Options),
            EventType.Order => JsonSerializer.Deserialize<OrderEvent>(e.Payload, TallyJson.Options),
            EventType.Transaction => JsonSerializer.Deserialize<TransactionEvent>(e.Payload, TallyJson.Options),
            EventType.Calendar => JsonSerializer.Deserialize<CalendarEvent>(e.Payload, TallyJson.Options),
            EventType.Points => JsonSerializer.Deserialize<PointsEvent>(e.Payload, TallyJson.Options),
            _ => null,
        };
        return body is null ? null : body with { EventId = e.EventId.ToString(), CustomerId = e.CustomerId.ToString() };
    }

    private static async Task EarnAllAsync(ProcessingContext ctx, StoredEvent e, List<(PointsDecision, Cause)> awards, CancellationToken ct)
    {
        if (awards.Count == 0) return;
        await PointsBook.EarnAllAsync(ctx, e.TenantId, e.CustomerId, awards, causedByPointsEvent: e.Type == EventType.Points, ct, assessedOnce: true);
        awards.Clear();
    }

    /// <summary>The effect of one decision. Each is keyed by (event, rule, outcome) so that doing it twice does it once.</summary>
    private static async Task FulfilAsync(ProcessingContext ctx, StoredEvent e, Decision decision, HashSet<string> segments, CancellationToken ct)
    {
        var (c, tx, t) = (ctx.Connection, ctx.Tx, e.TenantId);
        switch (decision)
        {
            case SegmentDecision { Add: true } segment:
                if (segments.Add(segment.Segment)) await SegmentData.AddAsync(c, tx, t, segment.Segment, e.CustomerId, ctx.Now, ct);
                break;
            case SegmentDecision segment:
                if (segments.Remove(segment.Segment)) await SegmentData.RemoveAsync(c, tx, t, segment.Segment, e.CustomerId, ct);
                break;
            case WebhookDecision webhook:
                await WebhookData.EnqueueAsync(c, tx, t, e.CustomerId, e.EventId, webhook, ctx.Now, ct);
                break;
            case SmsDecision sms:
                await MessageData.QueueAsync(c, tx, t, e.CustomerId, e.EventId, "sms", sms.To, null, sms.Text, sms.RuleId, sms.RuleVersion, sms.OutcomeIndex, ctx.Now, ct);
                break;
            case EmailDecision email:
                await MessageData.QueueAsync(c, tx, t, e.CustomerId, e.EventId, "email", email.To, email.Subject, email.Body, email.RuleId, email.RuleVersion,
                    email.OutcomeIndex, ctx.Now, ct);
                break;
            case VoucherDecision voucher:
                await VoucherData.IssueAsync(c, tx, t, e.CustomerId, e.EventId, voucher, ctx.Now, ct);
                break;
            case TriggerDecision trigger:
                var payload = JsonSerializer.Serialize(new TriggerPayload(trigger.NameSpace, trigger.RuleId, trigger.RuleVersion, e.EventId), TallyJson.Options);
                await Scheduler.ScheduleAsync(c, tx, t, e.CustomerId, TriggerJobs.Kind, $"trigger:{e.EventId}:{trigger.RuleId}:{trigger.OutcomeIndex}",
                    trigger.DueAt, payload, ct);
                break;
            case ExpirePointsDecision expire:
                await PointsBook.ExpireAsync(ctx, t, e.CustomerId, expire,
                    Cause.Event(e.EventId.ToString(), expire.RuleId, expire.RuleVersion, expire.OutcomeIndex), ct);
                break;
        }
    }
}

/// <summary>What a scheduled trigger job carries: the nameSpace of the Action event to create, and what decided it.</summary>
public sealed record TriggerPayload(string NameSpace, string RuleId, int RuleVersion, Guid SourceEventId);

/// <summary>
/// Runs due trigger jobs: queues the future Action event for the customer, its id derived from the job key, so
/// running the job twice queues one event.
/// </summary>
public sealed class TriggerJobs : IJobHandler
{
    public const string Kind = "trigger";

    string IJobHandler.Kind => Kind;

    public async Task RunAsync(ProcessingContext ctx, ScheduledJob job, CancellationToken ct)
    {
        if (job.CustomerId is not { } customerId || job.Payload is null) return;
        var payload = JsonSerializer.Deserialize<TriggerPayload>(job.Payload, TallyJson.Options)!;
        var eventId = EventData.DerivedId(job.TenantId, job.Key);
        var body = new ActionEvent
        {
            EventId = eventId.ToString(), CustomerId = customerId.ToString(), NameSpace = payload.NameSpace, CreatedAt = job.DueAt,
            Reference = payload.SourceEventId.ToString(), Action = new ActionDetail { Count = 1 },
        };
        await EventData.EnqueueInternalAsync(ctx.Connection, ctx.Tx,
            new NewEvent(job.TenantId, eventId, customerId, EventType.Action, payload.NameSpace, JsonSerializer.Serialize(body, TallyJson.Options), ctx.Now), ct);
    }
}
