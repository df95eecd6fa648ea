using System.Globalization;
using System.Text.Json;
using NodaTime;
using Tally.Events;

namespace Tally.Rules;

/// <summary>A counter a rule reads: the rows under Key, all time or from a window start.</summary>
internal sealed record CounterNeed(string Key, Period? Within, DateTimeOffset? Since)
{
    public CounterQuery Query(DateTimeOffset eventTime) => new(Key, Within is { } w ? Periods.Subtract(eventTime, w) : Since);
}

/// <summary>Which events count under a key: the key's event type and the rule's nameSpace/reference leaves.</summary>
internal sealed record CounterDef(string Key, RuleEventType Type, Func<EvalContext, bool> Filter);

internal delegate OutcomeResult OutcomeStep(EvalContext ctx, EvalRun run);

internal readonly record struct OutcomeResult(Decision? Decision, string? Skipped);

/// <summary>
/// A validated rule turned into closures once: conditions over typed getters, templates compiled, the counter
/// key worked out. Immutable, so a RuleSet of these can be shared by every thread.
/// </summary>
public sealed class CompiledRule
{
    private CompiledRule(string ruleId, int version, RuleDocument document)
    {
        RuleId = ruleId;
        Version = version;
        Document = document;
    }

    public string RuleId { get; }
    public int Version { get; }
    public RuleDocument Document { get; }

    internal Func<EvalContext, bool> Matches { get; private set; } = static _ => true;

    /// <summary>Set when the rule requires nameSpace eq X at the top level: the RuleSet indexes it under X.</summary>
    internal string? PinnedNameSpace { get; private set; }
    internal List<CounterNeed> CounterNeeds { get; } = [];
    internal List<CounterDef> CounterDefs { get; } = [];
    internal List<Func<LineItem, bool>> ItemFilters { get; } = [];

    /// <summary>
    /// SKUs the rule cannot match without: a top-level item condition that requires <c>sku eq X</c> of its line. The
    /// RuleSet skips the rule when no line (or line part) of the event has one of them, without walking its lines.
    /// </summary>
    internal string[] RequiredSkus { get; private set; } = [];
    internal OutcomeStep[] Outcomes { get; private set; } = [];
    internal string[] OutcomeTypes { get; private set; } = [];

    /// <summary>Validate and compile a rule document in one go.</summary>
    public static (CompiledRule? Rule, IReadOnlyList<RuleError> Errors) Compile(string ruleId, int version, string json)
    {
        var parsed = RuleParser.Parse(json);
        return parsed.Rule is null ? (null, parsed.Errors) : (Compile(ruleId, version, parsed.Rule), []);
    }

    public static CompiledRule Compile(string ruleId, int version, RuleDocument document)
    {
        var rule = new CompiledRule(ruleId, version, document);
        var type = document.EventType;
        var top = document.Conditions switch
        {
            null => [],
            AllCondition all => all.Conditions,
            var single => [single],
        };

        // The counter key: the event type plus the nameSpace/reference leaves every counted event must satisfy.
        var keyLeaves = top.OfType<FieldCondition>()
            .Where(f => f.Field is "nameSpace" or "reference")
            .Select(f => (Text: $"{f.Field} {Predicates.Describe(f.Op, f.Value)}", Test: Predicates.For(RuleFields.Find(type, f.Field)!, f.Op, f.Value)))
            .OrderBy(l => l.Text, StringComparer.Ordinal)
            .ToArray();
        var typeKey = JsonNamingPolicy.CamelCase.ConvertName(type.ToString());
        var counterKey = BoundedKey(string.Concat(keyLeaves.Select(l => "|" + l.Text).Prepend(typeKey)));
        var tests = keyLeaves.Select(l => l.Test).ToArray();

        rule.PinnedNameSpace = top.OfType<FieldCondition>()
            .FirstOrDefault(f => f is { Field: "nameSpace", Op: ConditionOp.Eq, Value: string })?.Value as string;

        rule.RequiredSkus = [.. top.OfType<ItemCondition>().Select(i => RequiredSku(i.Item)).OfType<string>().Distinct(StringComparer.Ordinal)];

        var compiler = new ConditionCompiler(rule, type, counterKey, typeKey);
        if (document.Conditions is { } c) rule.Matches = compiler.Compile(c);
        if (compiler.UsesCounterKey)
            rule.CounterDefs.Add(new(counterKey, type, ctx => Array.TrueForAll(tests, t => t(ctx))));
        if (compiler.UsesTypeKey && !(compiler.UsesCounterKey && counterKey == typeKey))
            rule.CounterDefs.Add(new(typeKey, type, static _ => true));

        rule.Outcomes = [.. document.Outcomes.Select((o, i) => OutcomeCompiler.Compile(rule, o, i))];
        rule.OutcomeTypes = [.. document.Outcomes.Select(OutcomeCompiler.TypeName)];
        return rule;
    }

    private static string? RequiredSku(Condition line) => line switch
    {
        FieldCondition { Field: "sku", Op: ConditionOp.Eq, Value: string sku } => sku,
        AllCondition all => all.Conditions.Select(RequiredSku).FirstOrDefault(s => s is not null),
        _ => null,
    };

    /// <summary>Lines of the event matched by the rule's item conditions (all lines when it has none): what an items voucher discounts.</summary>
    internal IEnumerable<LineItem> DiscountedLines(EvalContext ctx) =>
        ItemFilters.Count == 0 ? ctx.Lines : ConditionCompiler.MatchingLines(ctx.Lines, l => ItemFilters.Exists(f => f(l)));

    /// <summary>
    /// The counter key as stored, where it is part of an index key: kept as it reads up to 500 UTF-8 bytes (every key of a
    /// rule whose nameSpace/reference leaves are of ordinary length), else its first 100 characters and the SHA-256 of the
    /// whole, so a rule comparing with a long text still counts (PostgreSQL caps an index row at a few kilobytes).
    /// </summary>
    internal static string BoundedKey(string key)
    {
        if (System.Text.Encoding.UTF8.GetByteCount(key) <= 500) return key;
        var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(key)));
        var cut = char.IsHighSurrogate(key[99]) ? 99 : 100;
        return $"{key[..cut]}…sha256:{hash}";
    }

    private sealed class ConditionCompiler(CompiledRule rule, RuleEventType type, string counterKey, string typeKey)
    {
        public bool UsesCounterKey { get; private set; }
        public bool UsesTypeKey { get; private set; }

        public Func<EvalContext, bool> Compile(Condition condition) => condition switch
        {
            AllCondition all => AllOf([.. all.Conditions.Select(Compile)]),
            AnyCondition any => AnyOf([.. any.Conditions.Select(Compile)]),
            NotCondition not => Not(Compile(not.Condition)),
            FieldCondition f => Field(f),
            ItemCondition i => Item(i),
            SegmentCondition s => Segment(s.Segment),
            NthCondition n => Nth(n),
            RepeatCondition r => Repeat(r),
            LifetimeValueCondition l => LifetimeValue(l),
            _ => throw new ArgumentOutOfRangeException(nameof(condition)),
        };

        private static Func<EvalContext, bool> AllOf(Func<EvalContext, bool>[] parts) => ctx =>
        {
            foreach (var p in parts)
                if (!p(ctx)) return false;
            return true;
        };

        private static Func<EvalContext, bool> AnyOf(Func<EvalContext, bool>[] parts) => ctx =>
        {
            foreach (var p in parts)
                if (p(ctx)) return true;
            return false;
        };

        // The inner leaves trace their own results; this entry says the negation flipped them.
        private static Func<EvalContext, bool> Not(Func<EvalContext, bool> inner) => ctx =>
        {
            var innerResult = inner(ctx);
            ctx.Trace?.Add(new("not", "inner condition false", innerResult, !innerResult));
            return !innerResult;
        };

        private Func<EvalContext, bool> Field(FieldCondition f)
        {
            var def = RuleFields.Find(type, f.Field)!;
            var test = Predicates.For(def, f.Op, f.Value);
            return ctx =>
            {
                var result = test(ctx);
                ctx.Trace?.Add(new(f.Field, Predicates.Describe(f.Op, f.Value), def.Actual(ctx), result));
                return result;
            };
        }

        private Func<EvalContext, bool> Item(ItemCondition i)
        {
            var line = Line(i.Item);
            rule.ItemFilters.Add(line);
            var minQuantity = i.MinQuantity ?? 0m;
            var minAmount = i.MinAmount ?? 0m;
            var expected = $"a matching line{(i.MinQuantity is { } q ? $", quantity >= {q}" : "")}{(i.MinAmount is { } a ? $", amount >= {a}" : "")}";
            // A line condition that requires `sku eq X` looks only at the lines that have X (themselves or in a part): the others
            // cannot match, so the sums are the same as over every line.
            var sku = RequiredSku(i.Item);
            return ctx =>
            {
                var lines = 0;
                decimal quantity = 0m, amount = 0m;
                foreach (var l in sku is null ? ctx.Lines : ctx.LinesWithSku(sku))
                {
                    if (line(l)) Add(l);
                    else if (l.BasketItemParts is { } parts)
                        foreach (var part in parts)
                            if (line(part)) Add(part);
                }
                var result = lines > 0 && quantity >= minQuantity && amount >= minAmount;
                ctx.Trace?.Add(new("item", expected, new { lines, quantity, amount }, result));
                return result;

                void Add(LineItem l)
                {
                    lines++;
                    quantity += l.Quantity ?? 1m;
                    amount += l.LineTotal;
                }
            };
        }

        private static Func<LineItem, bool> Line(Condition c) => c switch
        {
            AllCondition all => AllOfLine([.. all.Conditions.Select(Line)]),
            AnyCondition any => AnyOfLine([.. any.Conditions.Select(Line)]),
            NotCondition not => NotLine(Line(not.Condition)),
            FieldCondition f => Predicates.For(RuleFields.FindLine(f.Field)!, f.Op, f.Value),
            _ => throw new ArgumentOutOfRangeException(nameof(c)),
        };

        private static Func<LineItem, bool> AllOfLine(Func<LineItem, bool>[] parts) => l => Array.TrueForAll(parts, p => p(l));
        private static Func<LineItem, bool> AnyOfLine(Func<LineItem, bool>[] parts) => l => Array.Exists(parts, p => p(l));
        private static Func<LineItem, bool> NotLine(Func<LineItem, bool> inner) => l => !inner(l);

        private static Func<EvalContext, bool> Segment(string segment) => ctx =>
        {
            var result = ctx.Customer.Segments.Contains(segment, StringComparer.Ordinal);
            ctx.Trace?.Add(new("segment", $"member of \"{segment}\"", ctx.Customer.Segments, result));
            return result;
        };

        private Func<EvalContext, bool> Nth(NthCondition n)
        {
            UsesCounterKey = true;
            var need = new CounterNeed(counterKey, null, null);
            rule.CounterNeeds.Add(need);
            var query = need.Query(default);
            var key = counterKey;
            var (path, expected) = n.Every ? ("everyNth", $"multiple of {n.N}") : ("nth", $"{n.N}");
            return ctx =>
            {
                // Position of this event among the customer's events under the key, this one included.
                var position = ctx.MatchedCounterKeys?.Contains(key) == true ? ctx.Counter(query).Count + 1 : 0;
                var result = position > 0 && (n.Every ? position % n.N == 0 : position == n.N);
                ctx.Trace?.Add(new(path, expected, position, result));
                return result;
            };
        }

        private Func<EvalContext, bool> Repeat(RepeatCondition r)
        {
            UsesCounterKey = true;
            var need = new CounterNeed(counterKey, r.Within, r.Since);
            rule.CounterNeeds.Add(need);
            var key = counterKey;
            var expected = r.Within is { } w ? $"at least {r.Times} within {Periods.Format(w)}"
                : $"at least {r.Times} since {r.Since!.Value.UtcDateTime.ToString("O", CultureInfo.InvariantCulture)}";
            return ctx =>
            {
                var query = need.Query(ctx.EventTime);
                var counted = ctx.MatchedCounterKeys?.Contains(key) == true && ctx.EventTime >= query.Since;
                var times = counted ? ctx.Counter(query).Count + 1 : 0;
                var result = times >= r.Times;
                ctx.Trace?.Add(new("repeat", expected, times, result));
                return result;
            };
        }

        private Func<EvalContext, bool> LifetimeValue(LifetimeValueCondition l)
        {
            UsesTypeKey = true;
            var need = new CounterNeed(typeKey, null, null);
            rule.CounterNeeds.Add(need);
            var query = need.Query(default);
            var expected = Predicates.Describe(l.Op, l.Value);
            var test = Predicates.For(new FieldDef<decimal>("lifetimeValue", FieldKind.Number, Number: v => v), l.Op, l.Value);
            return ctx =>
            {
                var value = ctx.Counter(query).Sum + (ctx.SpendTotal ?? 0m);
                var result = test(value);
                ctx.Trace?.Add(new("lifetimeValue", expected, value, result));
                return result;
            };
        }

        /// <summary>
        /// Lines matching a line test. A basket item is tried first as a whole; only when it does not match are its
        /// parts tried, each as a line with its own quantity and price: a bundle is never counted together with its parts.
        /// </summary>
        public static IEnumerable<LineItem> MatchingLines(IReadOnlyList<LineItem> lines, Func<LineItem, bool> test)
        {
            foreach (var line in lines)
            {
                if (test(line)) yield return line;
                else if (line.BasketItemParts is { } parts)
                    foreach (var part in parts)
                        if (test(part)) yield return part;
            }
        }
    }
}
