using System.Text.Json;
using Tally.Rules;

namespace Tally.Tests.Rules;

/// <summary>The basket answer's fast writer gives, byte for byte, the JSON the serializer gives, for every kind of decision.</summary>
public class AnswerJsonTests
{
    private static readonly DateTimeOffset At = new(2026, 11, 23, 18, 30, 15, 250, TimeSpan.Zero);

    public static TheoryData<string, Decision> Decisions() => new()
    {
        { "points, flat", new PointsDecision { RuleId = "r1", RuleVersion = 2, RuleName = "Flat \"ten\" <b>", OutcomeIndex = 0, Points = 10 } },
        {
            "points, every field", new PointsDecision
            {
                RuleId = "r1", RuleVersion = 1, RuleName = "Rate é €", OutcomeIndex = 3, Points = 125, Basis = 125.50m,
                ExpiresAfter = "P1Y", ExpiresAt = At.AddYears(1), PendingFor = "P14D", PendingUntil = At.AddDays(14),
            }
        },
        { "segment", new SegmentDecision { RuleId = "r2", RuleVersion = 1, RuleName = "vip", OutcomeIndex = 1, Segment = "vip", Add = false } },
        {
            "webhook", new WebhookDecision
            {
                RuleId = "r3", RuleVersion = 4, RuleName = "hook", OutcomeIndex = 0, Url = "http://127.0.0.1:9/x?a=1&b=<2>", Method = "POST",
                Headers = new Dictionary<string, string> { ["X-Sig"] = "a\"b", ["Content-Type"] = "application/json" }, Body = """{"n": 1}""",
            }
        },
        { "webhook without body", new WebhookDecision { RuleId = "r3", RuleVersion = 1, RuleName = "h", OutcomeIndex = 2, Url = "http://x", Method = "GET", Headers = new Dictionary<string, string>() } },
        { "trigger", new TriggerDecision { RuleId = "r4", RuleVersion = 1, RuleName = "later", OutcomeIndex = 0, NameSpace = "Follow.Up", DueAt = At.AddDays(3) } },
        { "sms", new SmsDecision { RuleId = "r5", RuleVersion = 1, RuleName = "text", OutcomeIndex = 0, To = "+4912345", Text = "Hi\nthere\t✓" } },
        { "email", new EmailDecision { RuleId = "r6", RuleVersion = 1, RuleName = "mail", OutcomeIndex = 1, To = "a@b.c", Subject = "Sub", Body = "<p>Body</p>" } },
        {
            "voucher on a basket", new VoucherDecision
            {
                RuleId = "r7", RuleVersion = 1, RuleName = "v", OutcomeIndex = 0, Code = "SAVE-1234", Percent = 12.5m, AppliesTo = "basket", DiscountAmount = 11.25m,
            }
        },
        { "voucher by amount, no discount", new VoucherDecision { RuleId = "r7", RuleVersion = 1, RuleName = "v", OutcomeIndex = 0, Code = "C", Amount = 5m, AppliesTo = "shipping" } },
        { "expirePoints, all", new ExpirePointsDecision { RuleId = "r8", RuleVersion = 1, RuleName = "x", OutcomeIndex = 0 } },
        { "expirePoints, older than", new ExpirePointsDecision { RuleId = "r8", RuleVersion = 1, RuleName = "x", OutcomeIndex = 0, OlderThan = "P6M", EarnedBefore = At.AddMonths(-6) } },
    };

    [Theory]
    [MemberData(nameof(Decisions))]
    public void A_decision_is_written_as_the_serializer_writes_it(string kind, Decision decision)
    {
        Assert.NotNull(kind);
        var answer = new BasketAnswer("e1", null, "t1", 10, [], [decision], null);

        Assert.Equal(Serializer(answer), Fast(answer));
    }

    [Fact]
    public void A_whole_answer_with_discounts_and_a_trace_is_written_as_the_serializer_writes_it()
    {
        var decisions = Decisions().Select(row => (Decision)row[1]).ToList();
        var trace = new List<RuleTrace>
        {
            new("r1", 2, "Flat", true, [new ConditionTrace("basket.total", "gte 10", 12.5m, true), new ConditionTrace("customer.tier", "eq gold", null, false)],
                [new OutcomeTrace(0, "points", decisions[0], null), new OutcomeTrace(1, "sms", null, "no opt-in")], null),
            new("r9", 1, "Off", false, [], [], "status is draft"),
        };
        var answer = new BasketAnswer("e1", "c1", "t1", 135, [new BasketDiscount("r7", "voucher", "SAVE-1234", 12.5m, 11.25m, "basket"), new BasketDiscount("r7", "voucher", "C", null, 5m, "shipping")],
            decisions, trace);

        Assert.Equal(Serializer(answer), Fast(answer));
        Assert.Equal(Serializer(answer with { Trace = null, Outcomes = [] }), Fast(answer with { Trace = null, Outcomes = [] }));
    }

    private static string Serializer(BasketAnswer answer) => JsonSerializer.Serialize(answer, TallyJson.Options);

    private static string Fast(BasketAnswer answer)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = TallyJson.Options.Encoder }))
        {
            AnswerJson.Write(writer, answer, TallyJson.Options);
        }

        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }
}
