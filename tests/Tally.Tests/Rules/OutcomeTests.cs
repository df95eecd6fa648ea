using Tally.Events;
using Tally.Rules;
using static Tally.Tests.Rules.RuleTesting;

namespace Tally.Tests.Rules;

public class OutcomeTests
{
    private static Decision Decide(string eventType, string outcome, EventBody body, Tally.Customers.Customer? customer = null, string? seed = null)
    {
        var rule = Rule(RuleJson(eventType, outcomes: $"[{outcome}]"));
        var result = RuleSet.Build([rule]).Evaluate(body, customer ?? Customer(), RuleFacts.None, Now, new() { VoucherSeed = seed });
        return Assert.Single(Assert.Single(result.Fired).Decisions);
    }

    [Fact]
    public void A_flat_points_outcome_awards_its_points_with_expiry_and_pending_dates()
    {
        var d = Assert.IsType<PointsDecision>(Decide("order", """{"type": "points", "points": 25, "expiresAfter": "P12M", "pendingFor": "P14D"}""", Order()));

        Assert.Equal(25, d.Points);
        Assert.Equal("r1", d.RuleId);
        Assert.Equal(1, d.RuleVersion);
        Assert.Equal(0, d.OutcomeIndex);
        Assert.Equal("P12M", d.ExpiresAfter);
        Assert.Equal(new DateTimeOffset(2028, 3, 15, 12, 0, 0, TimeSpan.Zero), d.ExpiresAt);
        Assert.Equal(new DateTimeOffset(2027, 3, 29, 12, 0, 0, TimeSpan.Zero), d.PendingUntil);
    }

    [Theory]
    [InlineData("order.total", 1, 1, "down", 120.99, 120)]
    [InlineData("order.total", 1, 1, "up", 120.01, 121)]
    [InlineData("order.total", 1, 1, "nearest", 120.50, 121)]
    [InlineData("order.total", 1, 1, "nearest", 120.49, 120)]
    [InlineData("order.total", 2, 1, "down", 10.25, 20)]
    [InlineData("order.total", 1, 10, "down", 129.99, 12)]
    [InlineData("order.total", 1, 10, "up", 120.01, 13)]
    [InlineData("order.total", 1.5, 1, "nearest", 3, 5)]
    [InlineData("order.rewardsEligibleTotal", 1, 1, "down", 500, 100)]
    public void A_points_rate_awards_rate_points_per_units_of_its_path_rounded_as_asked(string of, double rate, double per, string rounding, double total, long points)
    {
        var outcome = $$"""{"type": "pointsRate", "rate": {{(decimal)rate}}, "of": "{{of}}", "per": {{(decimal)per}}, "rounding": "{{rounding}}"}""";

        var d = Assert.IsType<PointsDecision>(Decide("order", outcome, Order(total: (decimal)total)));

        Assert.Equal(points, d.Points);
    }

    [Fact]
    public void A_points_rate_multiplies_the_action_count_and_rounds_down_by_default()
    {
        var d = Assert.IsType<PointsDecision>(Decide("action", """{"type": "pointsRate", "rate": 2.5, "of": "action.count"}""", Action(count: 3)));
        Assert.Equal(7, d.Points);
        Assert.Equal(3m, d.Basis);
    }

    [Theory]
    [InlineData("1000000000000001", "1")] // more than one movement may carry
    [InlineData("79228162514264337593543950335", "1000000")] // beyond a decimal: it used to fail the whole event
    public void A_points_rate_that_would_award_more_than_ten_to_the_fifteen_is_skipped_with_a_reason(string total, string rate)
    {
        var rule = Rule(RuleJson("transaction", outcomes: $$"""[{"type": "pointsRate", "rate": {{rate}}, "of": "transaction.total"}, {"type": "points", "points": 5}]"""));
        var result = Evaluate(new TransactionEvent { EventId = "t", Transaction = new() { Total = decimal.Parse(total, System.Globalization.CultureInfo.InvariantCulture) } }, [rule]);

        Assert.Equal(5, Assert.IsType<PointsDecision>(Assert.Single(Assert.Single(result.Fired).Decisions)).Points);
        Assert.Equal("transaction.total × rate is more than 10^15 points", Assert.Single(result.SkippedOutcomes).Reason);
    }

    [Fact]
    public void A_points_rate_over_a_missing_value_is_skipped_with_a_reason()
    {
        var rule = Rule(RuleJson("transaction", outcomes: """[{"type": "pointsRate", "rate": 1, "of": "transaction.total"}]"""));
        var result = Evaluate(new TransactionEvent { EventId = "t", Transaction = new() }, [rule]);

        Assert.Empty(Assert.Single(result.Fired).Decisions);
        Assert.Equal("transaction.total has no value", Assert.Single(result.SkippedOutcomes).Reason);
    }

    [Fact]
    public void Segment_outcomes_add_and_remove_the_customer()
    {
        Assert.Equal(new SegmentDecision { RuleId = "r1", RuleVersion = 1, RuleName = "test rule", OutcomeIndex = 0, Segment = "big", Add = true },
            Decide("order", """{"type": "addToSegment", "segment": "big"}""", Order()));
        Assert.False(Assert.IsType<SegmentDecision>(Decide("order", """{"type": "removeFromSegment", "segment": "big"}""", Order())).Add);
    }

    [Fact]
    public void An_sms_is_rendered_from_event_customer_balance_and_rule()
    {
        var outcomes = """[{"type": "points", "points": 20}, {"type": "sms", "template": "Hi {{customer.firstName}}, {{rule.name}} gave you points for {{order.total}} ({{nameSpace}}/{{attributes.channel}}); balance {{points.balance}}. Ref {{event.eventId}} <b>"}]""";
        var result = Evaluate(Order(), [Rule(RuleJson("order", outcomes: outcomes))]);

        var sms = Assert.IsType<SmsDecision>(result.Fired[0].Decisions[1]);
        Assert.Equal("+61400000000", sms.To);
        Assert.Equal("Hi Ada, test rule gave you points for 120 (Shop.Web/web); balance 520. Ref e1 <b>", sms.Text);
    }

    [Fact]
    public void An_email_escapes_its_html_body_but_not_its_subject()
    {
        var customer = Customer(c => c with { FirstName = "A&B" });
        var d = Assert.IsType<EmailDecision>(Decide("action", """{"type": "email", "subject": "Hello {{customer.firstName}}", "template": "<p>Hello {{customer.firstName}}</p>"}""", Action(), customer));

        Assert.Equal("ada@example.com", d.To);
        Assert.Equal("Hello A&B", d.Subject);
        Assert.Equal("<p>Hello A&amp;B</p>", d.Body);
    }

    public static TheoryData<string, Func<Tally.Customers.Customer, Tally.Customers.Customer>, string> MessageSkips => new()
    {
        { """{"type": "sms", "template": "hi"}""", c => c with { OptinSms = false }, "customer has not opted in to SMS" },
        { """{"type": "sms", "template": "hi"}""", c => c with { MobileNumber = null }, "customer has no mobile number" },
        { """{"type": "email", "subject": "s", "template": "hi"}""", c => c with { OptinEmail = false }, "customer has not opted in to email" },
        { """{"type": "email", "subject": "s", "template": "hi"}""", c => c with { EmailAddress = " " }, "customer has no email address" },
    };

    [Theory]
    [MemberData(nameof(MessageSkips))]
    public void A_message_without_opt_in_or_address_is_skipped_and_traced(string outcome, Func<Tally.Customers.Customer, Tally.Customers.Customer> customer, string reason)
    {
        var rule = Rule(RuleJson("action", outcomes: $"[{outcome}]"));
        var result = RuleSet.Build([rule]).Evaluate(Action(), customer(Customer()), RuleFacts.None, Now, new() { Trace = true });

        Assert.Empty(Assert.Single(result.Fired).Decisions);
        Assert.Equal(reason, Assert.Single(result.SkippedOutcomes).Reason);
        Assert.Equal(reason, Assert.Single(Assert.Single(result.Trace!).Outcomes).Skipped);
    }

    [Fact]
    public void A_webhook_carries_its_url_method_headers_and_rendered_body()
    {
        var d = Assert.IsType<WebhookDecision>(Decide("transaction",
            """{"type": "webhook", "url": "https://hooks.example/t", "method": "put", "headers": {"X-Key": "k"}, "body": "{\"customer\": \"{{customer.customerId}}\", \"total\": {{transaction.total}}, \"name\": \"{{customer.lastName}}\"}"}""",
            new TransactionEvent { EventId = "t1", Transaction = new() { Total = 80.5m } }));

        Assert.Equal("https://hooks.example/t", d.Url);
        Assert.Equal("PUT", d.Method);
        Assert.Equal("k", d.Headers["X-Key"]);
        Assert.Equal("""{"customer": "22222222-2222-2222-2222-222222222222", "total": 80.5, "name": "Lovelace"}""", d.Body);
    }

    [Theory]
    [InlineData("event", "P7D", "2027-03-22T12:00:00Z")]
    [InlineData("joined", "P1M", "2024-02-10T00:00:00Z")]
    [InlineData("birthday", "P1D", "2027-06-02T00:00:00Z")]
    public void A_trigger_is_due_after_its_period_from_the_event_join_date_or_next_birthday(string relativeTo, string after, string due)
    {
        var d = Assert.IsType<TriggerDecision>(Decide("order", $$"""{"type": "trigger", "nameSpace": "Review.Reminder", "after": "{{after}}", "relativeTo": "{{relativeTo}}"}""", Order()));

        Assert.Equal("Review.Reminder", d.NameSpace);
        Assert.Equal(DateTimeOffset.Parse(due, System.Globalization.CultureInfo.InvariantCulture), d.DueAt);
    }

    [Fact]
    public void A_birthday_already_past_this_year_triggers_next_year()
    {
        var d = Assert.IsType<TriggerDecision>(Decide("order", """{"type": "trigger", "nameSpace": "Bday", "after": "P1D", "relativeTo": "birthday"}""",
            Order(), Customer(c => c with { DateOfBirth = new DateOnly(1990, 1, 2) })));
        Assert.Equal(new DateTimeOffset(2028, 1, 3, 0, 0, 0, TimeSpan.Zero), d.DueAt);
    }

    [Fact]
    public void A_birthday_trigger_without_a_date_of_birth_is_skipped()
    {
        var rule = Rule(RuleJson("order", outcomes: """[{"type": "trigger", "nameSpace": "Bday", "after": "P1D", "relativeTo": "birthday"}]"""));
        var result = Evaluate(Order(), [rule], Customer(c => c with { DateOfBirth = null }));
        Assert.Equal("customer has no date of birth", Assert.Single(result.SkippedOutcomes).Reason);
    }

    [Fact]
    public void Expire_points_names_the_cut_off_or_expires_everything()
    {
        var calendar = new CalendarEvent { EventId = "c", CreatedAt = Now, Calendar = new() { Kind = "anniversary" } };
        var older = Assert.IsType<ExpirePointsDecision>(Decide("calendar", """{"type": "expirePoints", "olderThan": "P12M"}""", calendar));
        var all = Assert.IsType<ExpirePointsDecision>(Decide("calendar", """{"type": "expirePoints"}""", calendar));

        Assert.Equal(new DateTimeOffset(2026, 3, 15, 12, 0, 0, TimeSpan.Zero), older.EarnedBefore);
        Assert.Null(all.EarnedBefore);
    }

    [Theory]
    [InlineData("SAVE-####-????", @"^SAVE-\d{4}-[A-Z]{4}$")]
    [InlineData("##########", @"^\d{10}$")]
    [InlineData("X?", @"^X[A-Z]$")]
    public void A_voucher_code_follows_its_pattern(string pattern, string shape)
    {
        var d = Assert.IsType<VoucherDecision>(Decide("order", $$"""{"type": "voucher", "discount": {"amount": 5}, "code": "{{pattern}}"}""", Order()));
        Assert.Matches(shape, d.Code);
        Assert.Null(d.DiscountAmount);
    }

    [Fact]
    public void A_voucher_code_is_the_same_for_the_same_seed_and_differs_for_another()
    {
        const string outcome = """{"type": "voucher", "discount": {"percent": 10}, "code": "SAVE-####-????"}""";
        var a = Assert.IsType<VoucherDecision>(Decide("order", outcome, Order(), seed: "event-1")).Code;
        var b = Assert.IsType<VoucherDecision>(Decide("order", outcome, Order(), seed: "event-1")).Code;
        var c = Assert.IsType<VoucherDecision>(Decide("order", outcome, Order(), seed: "event-2")).Code;

        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.Matches(@"^[A-Z]{4}-[A-Z]{4}$", VoucherCode.Generate(VoucherCode.DefaultPattern, "s"));
    }

    [Fact]
    public void A_points_event_template_shows_the_balance_of_the_change()
    {
        var change = new PointsEvent { EventId = "p1", CreatedAt = Now, Points = new() { Quantity = 50, PreviousBalance = 950, Balance = 1000 } };
        var d = Assert.IsType<SmsDecision>(Decide("points", """{"type": "sms", "template": "+{{points.quantity}}: you now have {{points.balance}} points"}""", change));
        Assert.Equal("+50: you now have 1000 points", d.Text);
    }

    [Fact]
    public void Decisions_serialise_with_their_outcome_type()
    {
        var json = System.Text.Json.JsonSerializer.Serialize<Decision>(
            Decide("order", """{"type": "points", "points": 5}""", Order()), new System.Text.Json.JsonSerializerOptions(System.Text.Json.JsonSerializerDefaults.Web));
        Assert.StartsWith("""{"type":"points","points":5""", json, StringComparison.Ordinal);
    }
}
