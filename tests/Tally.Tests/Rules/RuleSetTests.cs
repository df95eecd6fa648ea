using Tally.Rules;
using static Tally.Tests.Rules.RuleTesting;

namespace Tally.Tests.Rules;

public class RuleSetTests
{
    private static CompiledRule Points(string id, long points, int priority = 0, bool stop = false, string status = "active", string extra = "", string? conditions = null) =>
        Rule($$"""
        {
          "name": "{{id}}", "eventType": "order", "status": "{{status}}", "priority": {{priority}}, "stopProcessing": {{(stop ? "true" : "false")}},
          {{extra}}
          {{(conditions is null ? "" : $"\"conditions\": {conditions},")}}
          "outcomes": [{"type": "points", "points": {{points}}}]
        }
        """, id);

    [Fact]
    public void Rules_fire_in_priority_order_lower_first_then_by_id()
    {
        var result = Evaluate(Order(), [Points("c", 3, priority: 5), Points("b", 2, priority: 1), Points("a", 1, priority: 5)]);
        Assert.Equal(["b", "a", "c"], result.Fired.Select(f => f.RuleId));
    }

    [Fact]
    public void Stop_processing_prevents_later_rules_once_the_rule_matched()
    {
        var rules = new[]
        {
            Points("first", 1, priority: 1, stop: true, conditions: """{"field": "order.total", "op": "gt", "value": 1000}"""),
            Points("second", 2, priority: 2, stop: true),
            Points("third", 3, priority: 3),
        };

        var result = Evaluate(Order(), rules, trace: true);

        Assert.Equal(["second"], result.Fired.Select(f => f.RuleId));
        Assert.Equal("stopped by earlier rule second", result.Trace!.Single(t => t.RuleId == "third").Skipped);
    }

    public static TheoryData<string, string, string?> Windows => new()
    {
        { "active", "", null },
        { "draft", "", "status is draft" },
        { "inactive", "", "status is inactive" },
        { "archived", "", "status is archived" },
        { "active", "\"activeFrom\": \"2027-03-15T12:00:01Z\",", "not active before 2027-03-15T12:00:01Z" },
        { "active", "\"activeFrom\": \"2027-03-15T12:00:00Z\", \"activeTo\": \"2027-03-15T12:00:01Z\",", null },
        { "active", "\"activeTo\": \"2027-03-15T12:00:00Z\",", "not active since 2027-03-15T12:00:00Z" },
    };

    [Theory]
    [MemberData(nameof(Windows))]
    public void Only_active_rules_inside_their_window_fire(string status, string window, string? skipped)
    {
        var result = Evaluate(Order(), [Points("r", 1, status: status, extra: window)], trace: true);

        Assert.Equal(skipped is null ? 1 : 0, result.Fired.Count);
        Assert.Equal(skipped, Assert.Single(result.Trace!).Skipped);
    }

    [Fact]
    public void A_simulation_lets_draft_rules_fire_but_not_inactive_ones()
    {
        var set = RuleSet.Build([Points("draft", 1, status: "draft"), Points("off", 2, status: "inactive")]);
        var result = set.Evaluate(Order(), Customer(), RuleFacts.None, Now, new() { DraftsFire = true });
        Assert.Equal(["draft"], result.Fired.Select(f => f.RuleId));
    }

    [Theory]
    [InlineData(0, 0, true)]
    [InlineData(1, 5, false)]
    [InlineData(0, 99, true)]
    [InlineData(0, 100, false)]
    public void A_rule_whose_limit_is_reached_is_skipped(long perCustomer, long total, bool fires)
    {
        var rule = Points("limited", 1, extra: "\"limits\": {\"perCustomer\": 1, \"total\": 100},");
        var facts = new RuleFacts { Usages = new Dictionary<string, RuleUsageFact> { ["limited"] = new(perCustomer, total) } };

        var result = RuleSet.Build([rule]).Evaluate(Order(), Customer(), facts, Now, new() { Trace = true });

        Assert.Equal(fires, result.Fired.Count == 1);
        if (fires) Assert.Equal(new RuleUsage("limited", 1, 1, 100), Assert.Single(result.Usages));
        else Assert.StartsWith("limit reached", result.Trace![0].Skipped, StringComparison.Ordinal);
    }

    [Fact]
    public void Only_limited_rules_that_fire_are_listed_to_be_counted()
    {
        var set = RuleSet.Build([Points("limited", 1, extra: "\"limits\": {\"total\": 10},"), Points("free", 1)]);

        var result = set.Evaluate(Order(), Customer(), RuleFacts.None, Now);

        Assert.Equal(2, result.Fired.Count);
        Assert.Equal("limited", Assert.Single(result.Usages).RuleId);
    }

    [Fact]
    public void Facts_needed_name_the_usages_of_limited_candidate_rules_only()
    {
        var set = RuleSet.Build([Points("limited", 1, extra: "\"limits\": {\"total\": 10},"), Points("free", 1)]);
        var needed = set.FactsNeeded(Order(), Customer(), Now);
        Assert.Equal(["limited"], needed.RuleUsages);
        Assert.Empty(needed.Counters);
    }

    [Fact]
    public void Rules_pinned_to_another_nameSpace_are_not_considered()
    {
        var pinned = Points("pinned", 1, conditions: """{"all": [{"field": "nameSpace", "op": "eq", "value": "Shop.App"}]}""");
        var other = Points("web", 2, conditions: """{"field": "nameSpace", "op": "eq", "value": "Shop.Web"}""");
        var open = Points("open", 3);

        var result = Evaluate(Order(nameSpace: "Shop.Web"), [pinned, other, open], trace: true);

        Assert.Equal(["open", "web"], result.Fired.Select(f => f.RuleId));
        Assert.DoesNotContain(result.Trace!, t => t.RuleId == "pinned");
    }

    [Fact]
    public void Rules_of_other_event_types_are_not_considered()
    {
        var result = Evaluate(Action(), [Points("order-rule", 1), Rule(RuleJson("action"), "action-rule")], trace: true);
        Assert.Equal(["action-rule"], result.Trace!.Select(t => t.RuleId));
    }

    [Fact]
    public void The_trace_of_a_fired_rule_lists_its_outcomes()
    {
        var trace = Assert.Single(Evaluate(Order(), [Points("r", 7)], trace: true).Trace!);
        Assert.True(trace.Matched);
        var outcome = Assert.Single(trace.Outcomes);
        Assert.Equal("points", outcome.Type);
        Assert.Equal(7, Assert.IsType<PointsDecision>(outcome.Decision).Points);
    }
}
