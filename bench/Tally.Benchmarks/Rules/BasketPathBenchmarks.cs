using System.Buffers;
using System.Text;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Tally.Customers;
using Tally.Events;
using Tally.Rules;

namespace Tally.Benchmarks.Rules;

/// <summary>
/// The CPU of a basket assessment without HTTP: the request body parsed, assessed against the 1,000 basket rules of
/// bench/publish-rules.sh, and the answer written, each part alone and all three together. Bodies are shaped as
/// bench/basket.lua's (50 lines over 1,000 SKUs).
/// </summary>
[MemoryDiagnoser]
public class BasketPathBenchmarks
{
    private static readonly DateTimeOffset Now = new(2027, 3, 15, 12, 0, 0, TimeSpan.Zero);
    private RuleSet _rules = RuleSet.Empty;
    private byte[][] _bodies = [];
    private BasketEvent[] _baskets = [];
    private BasketAnswer[] _answers = [];
    private Customer _customer = null!;
    private readonly ArrayBufferWriter<byte> _output = new(64 * 1024);

    [GlobalSetup]
    public void Setup()
    {
        _rules = RuleSet.Build(Enumerable.Range(1, 1_000).Select(i => CompiledRule.Compile($"r{i}", 1, Rule(i)).Rule!));
        var random = new Random(42);
        _bodies = [.. Enumerable.Range(0, 16).Select(b => Encoding.UTF8.GetBytes(Body(b, random)))];
        _baskets = [.. _bodies.Select(b => JsonSerializer.Deserialize<BasketEvent>(b, TallyJson.Options)!)];
        _customer = new Customer { TenantId = Guid.NewGuid(), CustomerId = Guid.NewGuid(), CreatedAt = Now.AddYears(-2), ChangedAt = Now };
        _answers = [.. _baskets.Select(b => BasketAssessment.Assess(_rules, b, _customer, RuleFacts.None, Now))];
    }

    [Benchmark]
    public int Parse()
    {
        var n = 0;
        foreach (var body in _bodies) n += JsonSerializer.Deserialize<BasketEvent>(body, TallyJson.Options)!.Basket!.BasketItems!.Count;
        return n;
    }

    [Benchmark]
    public long Assess()
    {
        var points = 0L;
        foreach (var basket in _baskets) points += BasketAssessment.Assess(_rules, basket, _customer, RuleFacts.None, Now).Points;
        return points;
    }

    [Benchmark]
    public int Write()
    {
        var bytes = 0;
        foreach (var answer in _answers) bytes += WriteAnswer(answer);
        return bytes;
    }

    [Benchmark(Baseline = true)]
    public int All()
    {
        var bytes = 0;
        foreach (var body in _bodies)
            bytes += WriteAnswer(BasketAssessment.Assess(_rules, JsonSerializer.Deserialize<BasketEvent>(body, TallyJson.Options)!, _customer, RuleFacts.None, Now));
        return bytes;
    }

    private int WriteAnswer(BasketAnswer answer)
    {
        _output.Clear();
        using (var writer = new Utf8JsonWriter(_output, new JsonWriterOptions { Encoder = TallyJson.Options.Encoder, SkipValidation = true }))
            AnswerJson.Write(writer, answer, TallyJson.Options);
        return _output.WrittenCount;
    }

    // As bench/publish-rules.sh: a total threshold and a SKU, a flat points outcome; every tenth rule also a voucher.
    private static string Rule(int i)
    {
        var voucher = i % 10 == 0 ? """,{"type": "voucher", "discount": {"percent": 5}, "appliesTo": "basket"}""" : "";
        return $$$"""
            {"name": "bench-basket-{{{i}}}", "eventType": "basket", "status": "active", "priority": {{{i}}},
             "conditions": {"all": [{"field": "basket.total", "op": "gte", "value": {{{i % 300}}}}, {"item": {"field": "sku", "op": "eq", "value": "SKU-{{{i % 500}}}"}}]},
             "outcomes": [{"type": "points", "points": {{{i % 50 + 1}}}}{{{voucher}}}]}
            """;
    }

    private static string Body(int b, Random random)
    {
        var total = 0;
        var lines = new List<string>();
        for (var i = 1; i <= 50; i++)
        {
            int price = random.Next(1, 41), qty = random.Next(1, 4);
            total += price * qty;
            lines.Add($$"""{"sku":"SKU-{{random.Next(0, 1000)}}","quantity":{{qty}},"itemPrice":{{price}},"totalPrice":{{price * qty}},"vendor":"V{{i % 7}}","tags":["t{{i % 11}}"]}""");
        }

        return $$$"""{"eventId":"{{{Guid.NewGuid()}}}","customerId":"{{{Guid.NewGuid()}}}","basket":{"basketId":"b{{{b}}}","currencyCode":"EUR","basketTotal":{{{total}}},"taxTotal":0,"shippingTotal":5,"basketItems":[{{{string.Join(",", lines)}}}]}}""";
    }
}
