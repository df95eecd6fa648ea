using NodaTime;

namespace Tally.Rules;

// The parsed form of a rule document (contracts/rules.md). Only RuleParser creates these, so every
// instance has passed validation: the compiler trusts them.

public enum RuleEventType
{
    Action,
    Order,
    Transaction,
    Spend,
    Points,
    Calendar,
    Basket,
}

public enum RuleStatus
{
    Draft,
    Active,
    Inactive,
    Archived,
}

public sealed record RuleLimits(long? PerCustomer, long? Total);

public sealed record RuleDocument
{
    public required string Name { get; init; }
    public string? Description { get; init; }
    public required RuleEventType EventType { get; init; }
    public RuleStatus Status { get; init; } = RuleStatus.Draft;
    public DateTimeOffset? ActiveFrom { get; init; }
    public DateTimeOffset? ActiveTo { get; init; }
    public int Priority { get; init; }
    public bool StopProcessing { get; init; }
    public string? Campaign { get; init; }
    public RuleLimits? Limits { get; init; }

    /// <summary>Null when the document has no conditions: the rule matches every event of its type.</summary>
    public Condition? Conditions { get; init; }
    public required IReadOnlyList<Outcome> Outcomes { get; init; }
}

public enum ConditionOp
{
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
    In,
    NotIn,
    Contains,
    StartsWith,
    Exists,
}

public abstract record Condition;

public sealed record AllCondition(IReadOnlyList<Condition> Conditions) : Condition;

public sealed record AnyCondition(IReadOnlyList<Condition> Conditions) : Condition;

public sealed record NotCondition(Condition Condition) : Condition;

/// <summary>Value is a string, decimal, bool, or (for in/notIn) an array of those; null for exists without a value.</summary>
public sealed record FieldCondition(string Field, ConditionOp Op, object? Value) : Condition;

public sealed record ItemCondition(Condition Item, decimal? MinQuantity, decimal? MinAmount) : Condition;

public sealed record SegmentCondition(string Segment) : Condition;

public sealed record NthCondition(long N, bool Every) : Condition;

/// <summary>Exactly one of Within and Since is set; a date-only Since means midnight UTC.</summary>
public sealed record RepeatCondition(long Times, Period? Within, DateTimeOffset? Since) : Condition;

public sealed record LifetimeValueCondition(ConditionOp Op, decimal Value) : Condition;

public enum Rounding
{
    Down,
    Nearest,
    Up,
}

public enum TriggerRelativeTo
{
    Event,
    Joined,
    Birthday,
}

public enum VoucherAppliesTo
{
    Basket,
    Shipping,
    Items,
}

public abstract record Outcome;

public sealed record PointsOutcome(long Points, Period? ExpiresAfter, Period? PendingFor) : Outcome;

public sealed record PointsRateOutcome(decimal Rate, string Of, decimal Per, Rounding Rounding, Period? ExpiresAfter, Period? PendingFor) : Outcome;

public sealed record SmsOutcome(string Template) : Outcome;

public sealed record EmailOutcome(string Subject, string Template) : Outcome;

public sealed record SegmentOutcome(string Segment, bool Add) : Outcome;

public sealed record WebhookOutcome(string Url, string Method, IReadOnlyDictionary<string, string> Headers, string? Body) : Outcome;

public sealed record TriggerOutcome(string NameSpace, Period After, TriggerRelativeTo RelativeTo) : Outcome;

public sealed record ExpirePointsOutcome(Period? OlderThan) : Outcome;

/// <summary>Exactly one of Percent and Amount is set.</summary>
public sealed record VoucherOutcome(decimal? Percent, decimal? Amount, VoucherAppliesTo AppliesTo, string? CodePattern) : Outcome;
