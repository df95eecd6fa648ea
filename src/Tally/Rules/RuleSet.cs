using System.Collections.Frozen;
using System.Globalization;
using Tally.Customers;
using Tally.Events;

namespace Tally.Rules;

/// <summary>
/// An immutable, indexed set of compiled rules: publishing builds a new one and swaps the reference, so an
/// evaluation never sees half a rule set. Rules are bucketed by event type and, when they pin one, by nameSpace,
/// so an event only meets the rules that could match it.
/// </summary>
public sealed class RuleSet
{
    /// <summary>
    /// One event type's rules. Unpinned rules are also split by the first SKU they require (<see cref="CompiledRule.RequiredSkus"/>),
    /// so an untraced evaluation meets only the rules whose SKU the event has, plus those that require none. Needy* hold the rules
    /// that need facts loaded (counters, limits).
    /// </summary>
    private sealed record Bucket(
        FrozenDictionary<string, CompiledRule[]> ByNameSpace,
        CompiledRule[] Unpinned,
        CounterDef[] Counters,
        CompiledRule[] UnpinnedWithoutSku,
        FrozenDictionary<string, CompiledRule[]> UnpinnedBySku,
        FrozenDictionary<string, CompiledRule[]> NeedyByNameSpace,
        CompiledRule[] NeedyUnpinned);

    private enum Selection
    {
        /// <summary>Every rule of the event's types (and nameSpace): what a trace shows.</summary>
        All,

        /// <summary>Only the rules that could match the event's SKUs: the same outcome as All, without a trace.</summary>
        BySku,

        /// <summary>Only the rules that need facts loaded.</summary>
        Needy,
    }

    private readonly Dictionary<RuleEventType, Bucket> _buckets;
    private readonly Dictionary<CompiledRule, int> _rank;

    private RuleSet(IReadOnlyList<CompiledRule> rules)
    {
        // Lower priority first; ties broken by id and version so that every process orders rules alike.
        Rules = [.. rules.OrderBy(r => r.Document.Priority).ThenBy(r => r.RuleId, StringComparer.Ordinal).ThenBy(r => r.Version)];
        _rank = Rules.Select((r, i) => (r, i)).ToDictionary(x => x.r, x => x.i);
        _buckets = Rules.GroupBy(r => r.Document.EventType).ToDictionary(g => g.Key, g => new Bucket(
            ByNameSpace(g),
            [.. g.Where(r => r.PinnedNameSpace is null)],
            [.. g.SelectMany(r => r.CounterDefs).DistinctBy(d => d.Key, StringComparer.Ordinal)],
            [.. g.Where(r => r.PinnedNameSpace is null && r.RequiredSkus.Length == 0)],
            g.Where(r => r.PinnedNameSpace is null && r.RequiredSkus.Length > 0).GroupBy(r => r.RequiredSkus[0], StringComparer.Ordinal)
                .ToFrozenDictionary(p => p.Key, p => p.ToArray(), StringComparer.Ordinal),
            ByNameSpace(g.Where(NeedsFacts)),
            [.. g.Where(r => r.PinnedNameSpace is null && NeedsFacts(r))]));

        static FrozenDictionary<string, CompiledRule[]> ByNameSpace(IEnumerable<CompiledRule> rules) =>
            rules.Where(r => r.PinnedNameSpace is not null).GroupBy(r => r.PinnedNameSpace!, StringComparer.Ordinal)
                .ToFrozenDictionary(p => p.Key, p => p.ToArray(), StringComparer.Ordinal);

        static bool NeedsFacts(CompiledRule r) => r.CounterNeeds.Count > 0 || r.Document.Limits is not null;
    }

    public static RuleSet Empty { get; } = new([]);

    public static RuleSet Build(IEnumerable<CompiledRule> rules) => new([.. rules]);

    /// <summary>In evaluation order.</summary>
    public IReadOnlyList<CompiledRule> Rules { get; }

    /// <summary>
    /// Whether any rule of the set could meet this event (same event type, or spend for orders and transactions):
    /// when not, the caller need not load anything. Pure and cheap: a lookup per source type.
    /// </summary>
    public bool Considers(EventBody body)
    {
        foreach (var type in Sources(EvalContext.TypeOf(body)))
            if (_buckets.ContainsKey(type)) return true;
        return false;
    }

    /// <summary>The facts to load before evaluating this event for this customer.</summary>
    public FactsNeeded FactsNeeded(EventBody body, Customer customer, DateTimeOffset now)
    {
        var ctx = new EvalContext(body, customer, RuleFacts.None, now);
        var matched = MatchCounters(ctx, out _);
        var counters = new List<CounterQuery>();
        var usages = new List<string>();
        foreach (var rule in Candidates(ctx, Selection.Needy))
        {
            foreach (var need in rule.CounterNeeds)
            {
                var query = need.Query(ctx.EventTime);
                if (matched?.Contains(need.Key) == true && !counters.Contains(query)) counters.Add(query);
            }
            if (rule.Document.Limits is not null && !usages.Contains(rule.RuleId, StringComparer.Ordinal)) usages.Add(rule.RuleId);
        }
        return new(counters, usages);
    }

    public Evaluation Evaluate(EventBody body, Customer customer, RuleFacts facts, DateTimeOffset now, EvaluationOptions? options = null)
    {
        options ??= EvaluationOptions.Default;
        var ctx = new EvalContext(body, customer, facts, now);
        ctx.MatchedCounterKeys = MatchCounters(ctx, out var increments);
        var run = new EvalRun(options.VoucherSeed ?? body.EventId ?? "");
        List<RuleTrace>? trace = options.Trace ? [] : null;
        List<FiredRule>? fired = null;
        List<SkippedOutcome>? skippedOutcomes = null;
        List<RuleUsage>? usages = null;
        string? stoppedBy = null;

        var candidates = Candidates(ctx, trace is null ? Selection.BySku : Selection.All);
        // Sized for the usual case, where most candidates of a basket fire; at most a few dozen up front.
        var expected = Math.Min(candidates.Length, 64);
        foreach (var rule in candidates)
        {
            var doc = rule.Document;
            var skipped = stoppedBy is not null ? $"stopped by earlier rule {stoppedBy}" : Skip(rule, now, facts, options);
            if (skipped is not null)
            {
                trace?.Add(new(rule.RuleId, rule.Version, doc.Name, false, [], [], skipped));
                continue;
            }

            // Without a trace, a rule whose item condition names a SKU the event does not have cannot match: skip its lines.
            // (The candidates hold only rules whose first required SKU the event has; this checks the others. A traced run
            // walks every condition of every rule, so that the trace shows them; the outcome is the same.)
            if (trace is null && rule.RequiredSkus.Length > (rule.PinnedNameSpace is null ? 1 : 0) && !HasSkus(ctx, rule.RequiredSkus)) continue;

            List<ConditionTrace>? conditions = trace is null ? null : [];
            ctx.Trace = conditions;
            var matched = rule.Matches(ctx);
            ctx.Trace = null;
            if (!matched)
            {
                trace?.Add(new(rule.RuleId, rule.Version, doc.Name, false, conditions!, [], null));
                continue;
            }

            var decisions = new List<Decision>(rule.Outcomes.Length);
            List<OutcomeTrace>? outcomeTrace = trace is null ? null : [];
            for (var i = 0; i < rule.Outcomes.Length; i++)
            {
                var result = rule.Outcomes[i](ctx, run);
                if (result.Decision is { } d) decisions.Add(d);
                else (skippedOutcomes ??= []).Add(new(rule.RuleId, rule.Version, i, rule.OutcomeTypes[i], result.Skipped!));
                outcomeTrace?.Add(new(i, rule.OutcomeTypes[i], result.Decision, result.Skipped));
            }
            (fired ??= new(expected)).Add(new(rule.RuleId, rule.Version, doc.Name, doc.Campaign, decisions));
            // Only a limited rule's fire is counted (RuleState.ClaimAsync); an unlimited one's is in the trace and the ledger.
            if (doc.Limits is { PerCustomer: not null } or { Total: not null }) (usages ??= []).Add(new(rule.RuleId, rule.Version, doc.Limits.PerCustomer, doc.Limits.Total));
            trace?.Add(new(rule.RuleId, rule.Version, doc.Name, true, conditions!, outcomeTrace!, null));
            if (doc.StopProcessing) stoppedBy = rule.RuleId;
        }

        return new(fired ?? [], skippedOutcomes ?? [], increments ?? [], usages ?? [], trace);
    }

    private static string? Skip(CompiledRule rule, DateTimeOffset now, RuleFacts facts, EvaluationOptions options)
    {
        var doc = rule.Document;
        if (doc.Status != RuleStatus.Active && !(options.DraftsFire && doc.Status == RuleStatus.Draft))
            return $"status is {doc.Status.ToString().ToLowerInvariant()}";
        if (doc.ActiveFrom is { } from && now < from) return $"not active before {Iso(from)}";
        if (doc.ActiveTo is { } to && now >= to) return $"not active since {Iso(to)}";
        if (doc.Limits is { } limits && facts.Usages.TryGetValue(rule.RuleId, out var used))
        {
            if (limits.PerCustomer is { } pc && used.PerCustomer >= pc) return $"limit reached: {pc} per customer";
            if (limits.Total is { } t && used.Total >= t) return $"limit reached: {t} in total";
        }
        return null;
    }

    private static bool HasSkus(EvalContext ctx, string[] required)
    {
        foreach (var sku in required)
            if (!ctx.HasLineSku(sku)) return false;
        return true;
    }

    private static string Iso(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    // Spend rules see orders and transactions as well as their own kind.
    private static readonly RuleEventType[][] SourcesByType =
        [.. Enum.GetValues<RuleEventType>().Select(t => t switch
        {
            RuleEventType.Order => new[] { RuleEventType.Order, RuleEventType.Spend },
            RuleEventType.Transaction => [RuleEventType.Transaction, RuleEventType.Spend],
            _ => [t],
        })];

    private static RuleEventType[] Sources(RuleEventType type) => SourcesByType[(int)type];

    /// <summary>The counter keys this event falls under; every one of them is incremented, fired or not.</summary>
    private HashSet<string>? MatchCounters(EvalContext ctx, out List<CounterIncrement>? increments)
    {
        increments = null;
        HashSet<string>? matched = null;
        foreach (var type in Sources(ctx.Type))
        {
            if (!_buckets.TryGetValue(type, out var bucket)) continue;
            foreach (var def in bucket.Counters)
            {
                if (!def.Filter(ctx)) continue;
                (matched ??= new(StringComparer.Ordinal)).Add(def.Key);
                (increments ??= []).Add(new(def.Key, ctx.EventTime, ctx.SpendTotal ?? 0m));
            }
        }
        return matched;
    }

    /// <summary>The rules to consider, in evaluation order.</summary>
    private CompiledRule[] Candidates(EvalContext ctx, Selection selection)
    {
        CompiledRule[]? only = null;
        List<CompiledRule>? merged = null;
        foreach (var type in Sources(ctx.Type))
        {
            if (!_buckets.TryGetValue(type, out var bucket)) continue;
            switch (selection)
            {
                case Selection.All:
                    Add(bucket.Unpinned);
                    break;
                case Selection.Needy:
                    Add(bucket.NeedyUnpinned);
                    break;
                case Selection.BySku:
                    Add(bucket.UnpinnedWithoutSku);
                    if (bucket.UnpinnedBySku.Count == 0) break;
                    foreach (var sku in ctx.LineSkus)
                        if (bucket.UnpinnedBySku.TryGetValue(sku, out var withSku)) Add(withSku);
                    break;
            }
            var byNameSpace = selection == Selection.Needy ? bucket.NeedyByNameSpace : bucket.ByNameSpace;
            if (ctx.Body.NameSpace is { } ns && byNameSpace.TryGetValue(ns, out var pinned)) Add(pinned);
        }
        if (merged is null) return only ?? [];
        // One rank lookup per rule, then a sort on the ranks.
        var ranks = new int[merged.Count];
        for (var i = 0; i < ranks.Length; i++) ranks[i] = _rank[merged[i]];
        var ordered = merged.ToArray();
        Array.Sort(ranks, ordered);
        return ordered;

        void Add(CompiledRule[] rules)
        {
            if (rules.Length == 0) return;
            if (only is null && merged is null) only = rules;
            else
            {
                merged ??= [.. only!];
                merged.AddRange(rules);
            }
        }
    }
}
