using BenchmarkDotNet.Attributes;
using RulesEngine.Models;
using Tally.Customers;
using Tally.Events;
using Tally.Rules;

namespace Tally.Benchmarks.Rules;

/// <summary>
/// The same 1,000 order rules (nameSpace eq, total gte, sku contained) evaluated on the same events by Tally and by
/// Microsoft RulesEngine with equivalent lambda expressions. RulesEngine reads a flat input (nameSpace, total, skus)
/// so that it is not penalised for navigating nullable nested records.
/// </summary>
[MemoryDiagnoser]
public class EvaluationBenchmarks
{
    private const int RuleCount = 1_000;

    private RuleSet _tally = RuleSet.Empty;
    private RulesEngine.RulesEngine _engine = null!;
    private OrderEvent[] _orders = [];
    private FlatOrder[] _flat = [];
    private Customer _customer = null!;
    private static readonly DateTimeOffset Now = new(2027, 3, 15, 12, 0, 0, TimeSpan.Zero);

    public sealed record FlatOrder(string NameSpace, decimal Total, string[] Skus);

    [GlobalSetup]
    public void Setup()
    {
        _tally = RuleSet.Build(Enumerable.Range(0, RuleCount).Select(i => CompiledRule.Compile($"r{i}", 1, RuleCorpus.OrderRule(i)).Rule!));
        var rules = Enumerable.Range(0, RuleCount).Select(i => new Rule
        {
            RuleName = $"r{i}",
            RuleExpressionType = RuleExpressionType.LambdaExpression,
            Expression = $"input1.NameSpace == \"ns{i % RuleCorpus.NameSpaces}\" AND input1.Total >= {i % 300} AND input1.Skus.Contains(\"SKU-{i % 40}\")",
        }).ToList();
        _engine = new RulesEngine.RulesEngine([new Workflow { WorkflowName = "orders", Rules = rules }], new ReSettings());

        _orders = [.. Enumerable.Range(0, 10).Select(i => new OrderEvent
        {
            EventId = $"e{i}",
            NameSpace = $"ns{i}",
            CreatedAt = Now,
            Order = new()
            {
                Total = 50m + (i * 40m),
                OrderItems = [new() { Sku = $"SKU-{i}", Quantity = 1, ItemPrice = 10m }, new() { Sku = $"SKU-{i + 10}", Quantity = 2, ItemPrice = 5m }],
            },
        })];
        _flat = [.. _orders.Select(o => new FlatOrder(o.NameSpace!, o.Order!.Total!.Value, [.. o.Order.OrderItems!.Select(l => l.Sku!)]))];
        _customer = new Customer { TenantId = Guid.NewGuid(), CustomerId = Guid.NewGuid(), CreatedAt = Now.AddYears(-2), ChangedAt = Now };
        // Warm RulesEngine's expression cache: the benchmark measures evaluation, not its first compile.
        _ = RulesEngine_evaluates_ten_orders().GetAwaiter().GetResult();
    }

    [Benchmark(Baseline = true)]
    public int Tally_evaluates_ten_orders()
    {
        var fired = 0;
        foreach (var order in _orders)
            fired += _tally.Evaluate(order, _customer, RuleFacts.None, Now).Fired.Count;
        return fired;
    }

    [Benchmark]
    public int Tally_evaluates_ten_orders_with_trace()
    {
        var fired = 0;
        foreach (var order in _orders)
            fired += _tally.Evaluate(order, _customer, RuleFacts.None, Now, new() { Trace = true }).Fired.Count;
        return fired;
    }

    [Benchmark]
    public async Task<int> RulesEngine_evaluates_ten_orders()
    {
        var fired = 0;
        foreach (var order in _flat)
            fired += (await _engine.ExecuteAllRulesAsync("orders", new RuleParameter("input1", order))).Count(r => r.IsSuccess);
        return fired;
    }
}

/// <summary>Compiling a 10,000-rule set from its JSON documents: what publishing costs.</summary>
[MemoryDiagnoser]
public class CompilationBenchmarks
{
    private string[] _documents = [];

    [GlobalSetup]
    public void Setup() => _documents = [.. Enumerable.Range(0, 10_000).Select(RuleCorpus.OrderRule)];

    [Benchmark]
    public int Validate_and_compile_ten_thousand_rules() =>
        RuleSet.Build(_documents.Select((d, i) => CompiledRule.Compile($"r{i}", 1, d).Rule!)).Rules.Count;
}

internal static class RuleCorpus
{
    public const int NameSpaces = 50;

    public static string OrderRule(int i) => $$$"""
        {
          "name": "rule {{{i}}}", "eventType": "order", "status": "active", "priority": {{{i % 7}}},
          "conditions": { "all": [
            { "field": "nameSpace", "op": "eq", "value": "ns{{{i % NameSpaces}}}" },
            { "field": "order.total", "op": "gte", "value": {{{i % 300}}} },
            { "field": "order.skus", "op": "contains", "value": "SKU-{{{i % 40}}}" }
          ] },
          "outcomes": [ { "type": "pointsRate", "rate": 2, "of": "order.total" } ]
        }
        """;
}
