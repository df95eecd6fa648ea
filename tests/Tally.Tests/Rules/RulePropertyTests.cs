using System.Text.Json;
using FsCheck.Xunit;
using Tally.Events;
using Tally.Rules;
using static Tally.Tests.Rules.RuleTesting;

namespace Tally.Tests.Rules;

public class RulePropertyTests
{
    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);

    private static readonly CompiledRule[] Rules =
    [
        Rule(RuleJson("order", """{"all": [{"field": "nameSpace", "op": "eq", "value": "A"}, {"nth": 3}]}"""), "nth3"),
        Rule(RuleJson("order", """{"all": [{"field": "nameSpace", "op": "eq", "value": "A"}, {"everyNth": 2}]}"""), "every2"),
        Rule(RuleJson("order", """{"repeat": {"times": 3, "within": "P30D"}}""", """[{"type": "voucher", "discount": {"percent": 5}, "code": "R-####"}]"""), "repeat3"),
        Rule(RuleJson("spend", """{"lifetimeValue": {"op": "gte", "value": 500}}""",
            """[{"type": "pointsRate", "rate": 1.5, "of": "spend.total", "rounding": "nearest"}, {"type": "sms", "template": "{{customer.firstName}}: {{points.balance}}"}]"""), "ltv"),
        Rule(RuleJson("order", """{"any": [{"field": "order.total", "op": "gt", "value": 300}, {"not": {"segment": "vip"}}]}""", extra: "\"priority\": 5, \"stopProcessing\": true,"), "big"),
    ];

    private static readonly RuleSet Set = RuleSet.Build(Rules);

    /// <summary>The caller's counter table: rows unique on (key, eventId), queried excluding the event being evaluated.</summary>
    private sealed class CounterStore
    {
        public Dictionary<(string Key, string EventId), (DateTimeOffset At, decimal Amount)> Rows { get; } = [];

        public RuleFacts FactsFor(FactsNeeded needed, string eventId) => new()
        {
            Counters = needed.Counters.ToDictionary(q => q, q =>
            {
                var rows = Rows.Where(r => r.Key.Key == q.Key && r.Key.EventId != eventId && (q.Since is null || r.Value.At >= q.Since)).ToList();
                return new CounterFact(rows.Count, rows.Sum(r => r.Value.Amount));
            }),
        };

        public void Apply(string eventId, IEnumerable<CounterIncrement> increments)
        {
            foreach (var i in increments) Rows.TryAdd((i.Key, eventId), (i.At, i.Amount));
        }

        public Evaluation Process(OrderEvent order)
        {
            var facts = FactsFor(Set.FactsNeeded(order, Customer(), Now), order.EventId!);
            var result = Set.Evaluate(order, Customer(), facts, Now);
            Apply(order.EventId!, result.CounterIncrements);
            return result;
        }
    }

    // Events from generated numbers: a nameSpace of A or B, a total, and days apart.
    private static List<OrderEvent> Orders(int[] seeds)
    {
        var at = Now.AddDays(-400);
        return [.. seeds.Select((s, i) =>
        {
            var n = Math.Abs(s % 1000);
            at = at.AddDays(n % 20);
            return Order($"e{i}", total: n / 4m, nameSpace: n % 3 == 0 ? "B" : "A", at: at);
        })];
    }

    [Property(MaxTest = 100)]
    public bool Evaluation_is_deterministic(int[] seeds, long before, long usage)
    {
        var facts = new RuleFacts
        {
            Counters = Set.FactsNeeded(Order(), Customer(), Now).Counters.ToDictionary(q => q, _ => new CounterFact(Math.Abs(before % 10), Math.Abs(before % 1000))),
            Usages = new Dictionary<string, RuleUsageFact> { ["big"] = new(Math.Abs(usage % 2), 0) },
        };
        return Orders(seeds).All(order =>
            JsonSerializer.Serialize(Set.Evaluate(order, Customer(), facts, Now, new() { Trace = true }), Web)
            == JsonSerializer.Serialize(Set.Evaluate(order, Customer(), facts, Now, new() { Trace = true }), Web));
    }

    [Property(MaxTest = 100)]
    public bool Replaying_deduplicated_events_leaves_counters_unchanged(int[] seeds, int[] replays)
    {
        var orders = Orders(seeds);
        var store = new CounterStore();
        foreach (var order in orders) store.Process(order);
        var before = store.Rows.ToDictionary();

        if (orders.Count > 0)
            foreach (var r in replays) store.Process(orders[Math.Abs(r % orders.Count)]);

        return before.Count == store.Rows.Count && before.All(kv => store.Rows[kv.Key] == kv.Value);
    }

    [Property(MaxTest = 100)]
    public bool Re_evaluating_an_event_right_away_decides_the_same(int[] seeds)
    {
        var store = new CounterStore();
        return Orders(seeds).All(order =>
            JsonSerializer.Serialize(store.Process(order), Web) == JsonSerializer.Serialize(store.Process(order), Web));
    }

    [Property(MaxTest = 100)]
    public bool Nth_every_nth_and_repeat_agree_with_a_naive_count(int[] seeds)
    {
        var store = new CounterStore();
        var seen = new List<OrderEvent>();
        foreach (var order in Orders(seeds))
        {
            seen.Add(order);
            var fired = store.Process(order).Fired.Select(f => f.RuleId).ToHashSet();
            var countA = seen.Count(o => o.NameSpace == "A");
            var inWindow = seen.Count(o => o.CreatedAt >= order.CreatedAt!.Value.AddDays(-30));
            var lifetime = seen.Sum(o => o.Order!.Total!.Value);

            var stoppedByBig = fired.Contains("big");
            if (order.NameSpace == "A" && !stoppedByBig && fired.Contains("nth3") != (countA == 3)) return false;
            if (order.NameSpace == "A" && !stoppedByBig && fired.Contains("every2") != (countA % 2 == 0)) return false;
            if (order.NameSpace == "B" && (fired.Contains("nth3") || fired.Contains("every2"))) return false;
            if (!stoppedByBig && fired.Contains("repeat3") != (inWindow >= 3)) return false;
            if (!stoppedByBig && fired.Contains("ltv") != (lifetime >= 500)) return false;
        }
        return true;
    }
}
