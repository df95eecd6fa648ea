using System.Text.Json.Serialization;

namespace Tally.Rules;

// What an evaluation decides: records, never side effects. The worker turns them into ledger entries, messages,
// webhook calls and scheduled events; a basket returns them as they are. An optional field that is not set is left
// out of the JSON (a basket answer of 50 outcomes is half its size without the nulls).

[JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[JsonDerivedType(typeof(PointsDecision), "points")]
[JsonDerivedType(typeof(SegmentDecision), "segment")]
[JsonDerivedType(typeof(WebhookDecision), "webhook")]
[JsonDerivedType(typeof(TriggerDecision), "trigger")]
[JsonDerivedType(typeof(SmsDecision), "sms")]
[JsonDerivedType(typeof(EmailDecision), "email")]
[JsonDerivedType(typeof(VoucherDecision), "voucher")]
[JsonDerivedType(typeof(ExpirePointsDecision), "expirePoints")]
public abstract record Decision
{
    public required string RuleId { get; init; }
    public required int RuleVersion { get; init; }
    public required string RuleName { get; init; }

    /// <summary>The outcome's index in the rule's outcomes: with the event id, a natural idempotency key.</summary>
    public required int OutcomeIndex { get; init; }
}

/// <summary>From a flat points outcome, or a pointsRate one (then Basis is the amount multiplied).</summary>
public sealed record PointsDecision : Decision
{
    public required long Points { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public decimal? Basis { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? ExpiresAfter { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public DateTimeOffset? ExpiresAt { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? PendingFor { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public DateTimeOffset? PendingUntil { get; init; }
}

public sealed record SegmentDecision : Decision
{
    public required string Segment { get; init; }
    public required bool Add { get; init; }
}

public sealed record WebhookDecision : Decision
{
    public required string Url { get; init; }
    public required string Method { get; init; }
    public required IReadOnlyDictionary<string, string> Headers { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Body { get; init; }
}

/// <summary>A future Action event with this nameSpace, due at DueAt.</summary>
public sealed record TriggerDecision : Decision
{
    public required string NameSpace { get; init; }
    public required DateTimeOffset DueAt { get; init; }
}

public sealed record SmsDecision : Decision
{
    public required string To { get; init; }
    public required string Text { get; init; }
}

public sealed record EmailDecision : Decision
{
    public required string To { get; init; }
    public required string Subject { get; init; }
    public required string Body { get; init; }
}

/// <summary>DiscountAmount is computed on baskets only; elsewhere the voucher is just issued.</summary>
public sealed record VoucherDecision : Decision
{
    public required string Code { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public decimal? Percent { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public decimal? Amount { get; init; }
    public required string AppliesTo { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public decimal? DiscountAmount { get; init; }
}

/// <summary>Expire points earned before EarnedBefore, or all of them when it is null.</summary>
public sealed record ExpirePointsDecision : Decision
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? OlderThan { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public DateTimeOffset? EarnedBefore { get; init; }
}

public sealed record FiredRule(string RuleId, int Version, string Name, string? Campaign, IReadOnlyList<Decision> Decisions);

/// <summary>An outcome of a fired rule that decided nothing, e.g. an SMS to a customer who has not opted in.</summary>
public sealed record SkippedOutcome(string RuleId, int RuleVersion, int OutcomeIndex, string Type, string Reason);

public sealed record ConditionTrace(string Path, string Expected, object? Actual, bool Result);

public sealed record OutcomeTrace(int Index, string Type, Decision? Decision, string? Skipped);

public sealed record RuleTrace(
    string RuleId,
    int Version,
    string Name,
    bool Matched,
    IReadOnlyList<ConditionTrace> Conditions,
    IReadOnlyList<OutcomeTrace> Outcomes,
    string? Skipped);

public sealed record EvaluationOptions
{
    public static EvaluationOptions Default { get; } = new();

    /// <summary>Collect a RuleTrace per rule considered. Off on the fast path.</summary>
    public bool Trace { get; init; }

    /// <summary>Simulation of draft rules: drafts fire as if active (inactive and archived still do not).</summary>
    public bool DraftsFire { get; init; }

    /// <summary>Seeds voucher codes so a replay generates the same codes; the event id when null.</summary>
    public string? VoucherSeed { get; init; }
}

public sealed record Evaluation(
    IReadOnlyList<FiredRule> Fired,
    IReadOnlyList<SkippedOutcome> SkippedOutcomes,
    IReadOnlyList<CounterIncrement> CounterIncrements,
    IReadOnlyList<RuleUsage> Usages,
    IReadOnlyList<RuleTrace>? Trace)
{
    public IEnumerable<Decision> Decisions => Fired.SelectMany(f => f.Decisions);
}
