namespace Tally.Rules;

// The stateful facts a rule may need, as plain values. The caller asks RuleSet.FactsNeeded for the queries,
// answers them in one read inside its transaction (counting stored rows of OTHER events only: exclude this
// event's id, so a replayed event sees the same facts as the first time), evaluates, and writes the returned
// CounterIncrements and RuleUsages in the same transaction as the other effects.

/// <summary>
/// How many stored counter rows of this customer have this key (and, when Since is set, At &gt;= Since), and the
/// sum of their amounts. Key is opaque: the rule's event type plus its nameSpace/reference leaves.
/// </summary>
public sealed record CounterQuery(string Key, DateTimeOffset? Since);

public readonly record struct CounterFact(long Count, decimal Sum)
{
    public static CounterFact Zero => default;
}

/// <summary>How often a rule has fired already: for this customer, and in total.</summary>
public sealed record RuleUsageFact(long PerCustomer, long Total);

public sealed record RuleFacts
{
    public static RuleFacts None { get; } = new();

    /// <summary>A missing query counts as zero rows: a new customer has none.</summary>
    public IReadOnlyDictionary<CounterQuery, CounterFact> Counters { get; init; } = new Dictionary<CounterQuery, CounterFact>();

    /// <summary>By rule id; a missing rule has not fired yet.</summary>
    public IReadOnlyDictionary<string, RuleUsageFact> Usages { get; init; } = new Dictionary<string, RuleUsageFact>(StringComparer.Ordinal);
}

public sealed record FactsNeeded(IReadOnlyList<CounterQuery> Counters, IReadOnlyList<string> RuleUsages)
{
    public bool IsEmpty => Counters.Count == 0 && RuleUsages.Count == 0;
}

/// <summary>
/// A row to store for this customer and event: (customerId, Key, eventId, At, Amount), unique on
/// (customerId, Key, eventId) so that storing it twice is a no-op. Amount is the order/transaction total (lifetime value).
/// </summary>
public sealed record CounterIncrement(string Key, DateTimeOffset At, decimal Amount);

/// <summary>
/// A rule with a limit fired: count it (an evaluation lists only limited rules here). The caller increments conditionally (WHERE count &lt; limit) and, when no row
/// is updated (a concurrent event took the last use), rolls back and re-evaluates.
/// </summary>
public sealed record RuleUsage(string RuleId, int RuleVersion, long? PerCustomerLimit, long? TotalLimit);
