using System.Text.Json;
using Tally.Customers;
using Tally.Events;
using Tally.Rules;

namespace Tally.Tests.Rules;

/// <summary>Builders for rule tests: customers, events and rules written as the JSON a client would send.</summary>
internal static class RuleTesting
{
    public static readonly DateTimeOffset Now = new(2027, 3, 15, 12, 0, 0, TimeSpan.Zero);

    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);

    public static Customer Customer(Func<Customer, Customer>? change = null)
    {
        var c = new Customer
        {
            TenantId = Guid.Parse("11111111-1111-1111-1111-111111111111"),
            CustomerId = Guid.Parse("22222222-2222-2222-2222-222222222222"),
            FirstName = "Ada",
            LastName = "Lovelace",
            EmailAddress = "ada@example.com",
            MobileNumber = "+61400000000",
            OptinSms = true,
            OptinEmail = true,
            DateOfBirth = new DateOnly(1990, 6, 1),
            CreatedAt = new DateTimeOffset(2024, 1, 10, 0, 0, 0, TimeSpan.Zero),
            ChangedAt = Now,
            Segments = ["vip"],
            PointsBalance = 500,
            Tier = "gold",
            Attributes = [new() { Key = "store", Value = "Sydney" }, new() { Key = "age", Value = "42" }],
        };
        return change is null ? c : change(c);
    }

    /// <summary>An event from the JSON the Event API would receive.</summary>
    public static T Event<T>(string json) where T : EventBody => JsonSerializer.Deserialize<T>(json, Web)!;

    public static OrderEvent Order(string id = "e1", decimal total = 120m, string nameSpace = "Shop.Web", DateTimeOffset? at = null) => new()
    {
        EventId = id,
        NameSpace = nameSpace,
        Reference = "ref-1",
        Campaign = "spring",
        CreatedAt = at ?? Now,
        Attributes = [new() { Key = "channel", Value = "web" }],
        Order = new()
        {
            Total = total,
            TaxTotal = 12m,
            ShippingTotal = 10m,
            RewardsEligibleTotal = 100m,
            CurrencyCode = "AUD",
            PaymentDetail = new() { Bin = "411111", Bank = "ANZ", Scheme = "visa", Segmentation = "premium", PaymentAmount = 120m },
            OrderItems =
            [
                new() { Sku = "SKU-1", ProductId = "p1", Vendor = "Acme", Quantity = 2, ItemPrice = 25m, Tags = ["shoes"], ProductType = "footwear", Attributes = [new() { Key = "colour", Value = "red" }] },
                new() { Sku = "SKU-2", ProductId = "p2", Vendor = "Globex", Quantity = 1, ItemPrice = 60m, Tags = ["hats", "sale"], ProductType = "headwear" },
            ],
        },
    };

    public static ActionEvent Action(string id = "a1", string nameSpace = "Customer.Registration", long count = 3, decimal amount = 7.5m, DateTimeOffset? at = null, string? reference = null) => new()
    {
        EventId = id,
        NameSpace = nameSpace,
        Reference = reference,
        CreatedAt = at ?? Now,
        Action = new() { Count = count, Amount = amount },
    };

    public static string RuleJson(string eventType, string? conditions = null, string? outcomes = null, string extra = "") =>
        $$"""
        {
          "name": "test rule",
          "eventType": "{{eventType}}",
          "status": "active",
          {{(conditions is null ? "" : $"\"conditions\": {conditions},")}}
          {{extra}}
          "outcomes": {{outcomes ?? (eventType == "points" ? """[{"type": "addToSegment", "segment": "s"}]""" : """[{"type": "points", "points": 10}]""")}}
        }
        """;

    public static CompiledRule Rule(string json, string id = "r1", int version = 1)
    {
        var (rule, errors) = CompiledRule.Compile(id, version, json);
        Assert.True(rule is not null, string.Join("; ", errors.Select(e => $"{e.Path}: {e.Message}")));
        return rule!;
    }

    public static Evaluation Evaluate(EventBody body, IEnumerable<CompiledRule> rules, Customer? customer = null, RuleFacts? facts = null, bool trace = false) =>
        RuleSet.Build(rules).Evaluate(body, customer ?? Customer(), facts ?? RuleFacts.None, Now, new() { Trace = trace });

    public static bool Matches(EventBody body, string eventType, string condition, Customer? customer = null, RuleFacts? facts = null) =>
        Evaluate(body, [Rule(RuleJson(eventType, condition))], customer, facts).Fired.Count == 1;
}
