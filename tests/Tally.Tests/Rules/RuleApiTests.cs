using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Tally.Storage;
using Tally.Tests.Infrastructure;
using static Tally.Tests.Rules.RuleApi;

namespace Tally.Tests.Rules;

public sealed class RuleApiOnSqlite(RulesSqliteApp app) : RuleApiTests<RulesSqliteApp>(app);

public sealed class RuleApiOnPostgres(RulesPostgresApp app) : RuleApiTests<RulesPostgresApp>(app);

/// <summary>The rules contract over HTTP: management, the worker's assessment and fulfilment, basket, simulate, trace.</summary>
public abstract class RuleApiTests<TApp>(TApp app) : IClassFixture<TApp>
    where TApp : RulesApp
{
    private readonly HttpClient api = app.Api();

    private static string Ns() => "T." + Guid.NewGuid().ToString("N")[..12];

    [Fact]
    public async Task A_rule_is_created_read_listed_updated_as_a_new_version_and_archived()
    {
        var campaign = "camp-" + Guid.NewGuid().ToString("N")[..8];
        var v1 = Rule("order", OnNameSpace(Ns()), """[{"type": "points", "points": 5}]""", $"\"campaign\": \"{campaign}\", \"priority\": 3,", name: "first");
        var (status, created) = await api.PostJson("/api/v1/rules", v1);
        Assert.Equal(HttpStatusCode.Created, status);
        var id = (string)created!["id"]!;
        Assert.Equal(1, (int)created["version"]!);
        Assert.Equal("first", (string?)created["name"]);

        var (_, read) = await api.GetJson($"/api/v1/rules/{id}");
        Assert.Equal(3, (int)read!["priority"]!);

        var (putStatus, updated) = await api.SendJson(HttpMethod.Put, $"/api/v1/rules/{id}", v1.Replace("\"first\"", "\"second\"", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.OK, putStatus);
        Assert.Equal(2, (int)updated!["version"]!);
        var (_, old) = await api.GetJson($"/api/v1/rules/{id}/versions/1");
        Assert.Equal("first", (string?)old!["name"]);
        var (_, current) = await api.GetJson($"/api/v1/rules/{id}");
        Assert.Equal("second", (string?)current!["name"]);
        current["priority"] = 4; // a rule read back is PUT as it is: the server's fields are dropped
        var (echoStatus, echoed) = await api.SendJson(HttpMethod.Put, $"/api/v1/rules/{id}", current.ToJsonString());
        Assert.True(echoStatus == HttpStatusCode.OK, echoed?.ToJsonString());
        Assert.Equal(3, (int)echoed!["version"]!);
        Assert.Equal(4, (int)echoed["priority"]!);

        var listed = await api.Items($"/api/v1/rules?campaign={campaign}&eventType=order&status=active");
        Assert.Equal(id, (string?)Assert.Single(listed.AsArray())!["id"]);
        Assert.Empty((await api.Items($"/api/v1/rules?campaign={campaign}&eventType=action")).AsArray());

        using var delete = new HttpRequestMessage(HttpMethod.Delete, $"/api/v1/rules/{id}");
        var (deleteStatus, archived) = await api.SendRequest(delete);
        Assert.Equal(HttpStatusCode.OK, deleteStatus);
        Assert.Equal("archived", (string?)archived!["status"]);
        Assert.Equal("archived", (string?)Assert.Single((await api.Items($"/api/v1/rules?campaign={campaign}&status=archived")).AsArray())!["status"]);
        Assert.Equal(HttpStatusCode.OK, (await api.GetJson($"/api/v1/rules/{id}/versions/2")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await api.GetJson($"/api/v1/rules/{Guid.NewGuid()}")).Status);
        var (badFilter, problem) = await api.GetJson("/api/v1/rules?eventType=purchase&status=live");
        Assert.Equal(HttpStatusCode.BadRequest, badFilter);
        Assert.Equal(["eventType", "status"], problem!["errors"]!.AsArray().Select(e => (string)e!["path"]!));
    }

    [Fact]
    public async Task An_invalid_rule_is_refused_naming_every_bad_path_and_validate_never_stores()
    {
        var bad = """
            {"name": "bad", "eventType": "basket", "status": "active", "colour": "red",
             "conditions": {"all": [{"field": "order.total", "op": "near", "value": 1}]},
             "outcomes": [{"type": "sms", "template": "hi"}]}
            """;
        var (status, problem) = await api.PostJson("/api/v1/rules", bad);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("validation_failed", (string?)problem!["code"]);
        var paths = problem["errors"]!.AsArray().Select(e => (string)e!["path"]!).ToList();
        Assert.Contains("$.colour", paths);
        Assert.Contains("$.outcomes[0].type", paths);
        Assert.Contains(paths, p => p.StartsWith("$.conditions.all[0]", StringComparison.Ordinal));

        var before = (await api.Items("/api/v1/rules")).AsArray().Count;
        var (vStatus, answer) = await api.PostJson("/api/v1/rules/validate", bad);
        Assert.Equal(HttpStatusCode.OK, vStatus);
        Assert.False((bool)answer!["valid"]!);
        Assert.Equal(paths, answer["errors"]!.AsArray().Select(e => (string)e!["path"]!).ToList());
        var (_, good) = await api.PostJson("/api/v1/rules/validate", Rule("action", null, """[{"type": "points", "points": 1}]""").Replace("active", "draft", StringComparison.Ordinal));
        Assert.True((bool)good!["valid"]!);
        Assert.Equal(before, (await api.Items("/api/v1/rules")).AsArray().Count);
    }

    [Fact]
    public async Task An_action_rule_awards_points_and_its_trace_is_kept()
    {
        var ns = Ns();
        var ruleId = await api.Create(Rule("action", OnNameSpace(ns, """{"field": "action.count", "op": "gte", "value": 2}"""),
            """[{"type": "points", "points": 25}, {"type": "pointsRate", "rate": 1.5, "of": "action.count", "rounding": "down"}]"""));
        var customer = Guid.NewGuid();

        var low = await api.Post("actions", Action(customer, ns, count: 1));
        await api.ProcessedOk(low);
        var high = await api.Post("actions", Action(customer, ns, count: 3));
        await api.ProcessedOk(high);

        Assert.Equal(25 + 4, await api.Balance(customer));
        var (status, trace) = await api.GetJson($"/api/v1/events/{high}/trace");
        Assert.Equal(HttpStatusCode.OK, status);
        var rule = trace!["trace"]!.AsArray().Single(r => (string?)r!["ruleId"] == ruleId)!;
        Assert.True((bool)rule["matched"]!);
        Assert.Contains(rule["conditions"]!.AsArray(), c => (string?)c!["path"] == "action.count" && (int)c["actual"]! == 3 && (bool)c["result"]!);
        Assert.Equal(2, rule["outcomes"]!.AsArray().Count);
        var (_, lowTrace) = await api.GetJson($"/api/v1/events/{low}/trace");
        var failed = lowTrace!["trace"]!.AsArray().Single(r => (string?)r!["ruleId"] == ruleId)!;
        Assert.False((bool)failed["matched"]!);
        Assert.Contains(failed["conditions"]!.AsArray(), c => (string?)c!["path"] == "action.count" && !(bool)c["result"]!);
    }

    [Fact]
    public async Task A_trace_shows_the_rule_versions_and_customer_state_of_its_assessment_after_the_rule_changed()
    {
        var ns = Ns();
        var ruleId = await api.Create(Rule("action", OnNameSpace(ns, """{"field": "action.count", "op": "gte", "value": 2}"""),
            """[{"type": "points", "points": 7}]"""));
        var customer = Guid.NewGuid();
        var e = await api.Post("actions", Action(customer, ns, count: 3));
        await api.ProcessedOk(e);

        // The rule is raised to 5, then archived; the customer earns more. None of it rewrites the earlier assessment.
        var (put, _) = await api.SendJson(HttpMethod.Put, $"/api/v1/rules/{ruleId}",
            Rule("action", OnNameSpace(ns, """{"field": "action.count", "op": "gte", "value": 5}"""), """[{"type": "points", "points": 70}]"""));
        Assert.Equal(HttpStatusCode.OK, put);
        await api.Adjust(customer, 100, create: false);
        using var archive = new HttpRequestMessage(HttpMethod.Delete, $"/api/v1/rules/{ruleId}");
        Assert.Equal(HttpStatusCode.OK, (await api.SendRequest(archive)).Status);

        var (_, trace) = await api.GetJson($"/api/v1/events/{e}/trace");
        var rule = trace!["trace"]!.AsArray().Single(r => (string?)r!["ruleId"] == ruleId)!;
        Assert.Equal(1, (int)rule["version"]!);
        Assert.True((bool)rule["matched"]!);
        Assert.Contains(rule["conditions"]!.AsArray(), c => (string?)c!["path"] == "action.count" && (int)c["actual"]! == 3 && (bool)c["result"]!);
        Assert.Equal(7, (long)rule["outcomes"]!.AsArray().Single()!["decision"]!["points"]!);
    }

    [Fact]
    public async Task Spend_rules_see_orders_and_transactions_and_lifetime_value_counts_both()
    {
        var ns = Ns();
        await api.Create(Rule("spend", OnNameSpace(ns), """[{"type": "pointsRate", "rate": 1, "of": "spend.total"}]"""));
        await api.Create(Rule("spend", OnNameSpace(ns, """{"lifetimeValue": {"op": "gte", "value": 150}}"""), """[{"type": "points", "points": 1000}]"""));
        await api.Create(Rule("order", OnNameSpace(ns, """{"lifetimeValue": {"op": "gte", "value": 120.50}}"""), """[{"type": "points", "points": 5000}]"""));
        var customer = Guid.NewGuid();
        await api.ProcessedOk(await api.Post("orders", Order(customer, ns, 100m)));
        await api.ProcessedOk(await api.Post("transactions", new { customerId = customer, nameSpace = ns, transaction = new { total = 30, source = "pos" } }));
        Assert.Equal(130, await api.Balance(customer));
        await api.ProcessedOk(await api.Post("orders", Order(customer, ns, 20.50m)));
        Assert.Equal(130 + 20 + 1000 + 5000, await api.Balance(customer)); // orders alone: 120.50
    }

    [Fact]
    public async Task Nth_and_everyNth_count_exactly_and_a_replayed_event_changes_nothing()
    {
        var ns = Ns();
        await api.Create(Rule("action", OnNameSpace(ns, """{"everyNth": 2}"""), """[{"type": "points", "points": 10}]""", "\"limits\": {\"perCustomer\": 5},"));
        await api.Create(Rule("action", OnNameSpace(ns, """{"nth": 3}"""), """[{"type": "points", "points": 100}]"""));
        var customer = Guid.NewGuid();
        var events = new List<Guid>();
        for (var i = 0; i < 4; i++)
        {
            events.Add(await api.Post("actions", Action(customer, ns)));
            await api.ProcessedOk(events[^1]);
        }

        Assert.Equal(10 + 100 + 10, await api.Balance(customer));
        var before = await Snapshot(customer);

        // Replay: the events are processed again from scratch, as after a crash.
        await app.WriteAsync(async (c, tx) =>
        {
            await using var cmd = c.Command("UPDATE events SET status = 'pending' WHERE tenant_id = (SELECT tenant_id FROM events WHERE event_id = @e) AND customer_id = @c", tx);
            return await cmd.With("@e", events[0]).With("@c", customer).ExecuteNonQueryAsync();
        });
        foreach (var e in events) await api.ProcessedOk(e);

        Assert.Equal(10 + 100 + 10, await api.Balance(customer));
        Assert.Equal(before, await Snapshot(customer));
        var (_, trace) = await api.GetJson($"/api/v1/events/{events[1]}/trace");
        Assert.Contains(trace!["trace"]!.AsArray(), r => (bool)r!["matched"]!);
    }

    private Task<string> Snapshot(Guid customer) => app.ReadAsync(async c =>
    {
        var parts = new List<string>();
        foreach (var sql in new[]
        {
            "SELECT COUNT(*) FROM rule_counters WHERE customer_id = @c",
            "SELECT COALESCE(SUM(used), 0) FROM rule_usages WHERE customer_id = @c",
            "SELECT COUNT(*) FROM rule_fires WHERE customer_id = @c",
            "SELECT COUNT(*) FROM ledger_entries WHERE customer_id = @c",
        })
        {
            await using var cmd = c.Command(sql);
            parts.Add(Convert.ToString(await cmd.With("@c", customer).ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture)!);
        }

        return string.Join("/", parts);
    });

    [Fact]
    public async Task Repeat_within_a_window_needs_that_many_events_in_it()
    {
        var ns = Ns();
        await api.Create(Rule("action", OnNameSpace(ns, """{"repeat": {"times": 3, "within": "P30D"}}"""), """[{"type": "points", "points": 7}]"""));
        var customer = Guid.NewGuid();
        var now = DateTimeOffset.UtcNow;
        await api.ProcessedOk(await api.Post("actions", Action(customer, ns, createdAt: now.AddDays(-60))));
        await api.ProcessedOk(await api.Post("actions", Action(customer, ns, createdAt: now.AddDays(-2))));
        await api.ProcessedOk(await api.Post("actions", Action(customer, ns, createdAt: now.AddDays(-1))));
        Assert.Equal(0, await api.Balance(customer));
        await api.ProcessedOk(await api.Post("actions", Action(customer, ns, createdAt: now)));
        Assert.Equal(7, await api.Balance(customer));
    }

    [Fact]
    public async Task Priority_and_stopProcessing_decide_which_rules_fire()
    {
        var ns = Ns();
        await api.Create(Rule("action", OnNameSpace(ns), """[{"type": "points", "points": 1}]""", "\"priority\": 20,"));
        await api.Create(Rule("action", OnNameSpace(ns), """[{"type": "points", "points": 2}]""", "\"priority\": 10, \"stopProcessing\": true,"));
        await api.Create(Rule("action", OnNameSpace(ns), """[{"type": "points", "points": 4}]""", "\"priority\": 5,"));
        await api.Create(Rule("action", OnNameSpace(ns), """[{"type": "points", "points": 8}]""", "\"priority\": 1, \"activeFrom\": \"2099-01-01T00:00:00Z\","));
        var customer = Guid.NewGuid();
        var e = await api.Post("actions", Action(customer, ns));
        await api.ProcessedOk(e);
        Assert.Equal(6, await api.Balance(customer));
        var (_, trace) = await api.GetJson($"/api/v1/events/{e}/trace");
        var skipped = trace!["trace"]!.AsArray().Select(r => (string?)r!["skipped"]).Where(s => s is not null).ToList();
        Assert.Contains(skipped, s => s!.StartsWith("stopped by", StringComparison.Ordinal));
        Assert.Contains(skipped, s => s!.StartsWith("not active before", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Segments_are_a_resource_rules_add_and_remove_members_and_conditions_read_them()
    {
        var ns = Ns();
        var segment = "seg-" + Guid.NewGuid().ToString("N")[..8];
        var (created, body) = await api.PostJson("/api/v1/segments", new { name = segment, description = "big spenders" });
        Assert.Equal(HttpStatusCode.Created, created);
        Assert.Equal(segment, (string?)body!["name"]);
        Assert.Equal(HttpStatusCode.OK, (await api.PostJson("/api/v1/segments", new { name = segment })).Status);

        await api.Create(Rule("action", OnNameSpace(ns + ".join"), $$"""[{"type": "addToSegment", "segment": "{{segment}}"}]"""));
        await api.Create(Rule("action", OnNameSpace(ns + ".leave"), $$"""[{"type": "removeFromSegment", "segment": "{{segment}}"}]"""));
        await api.Create(Rule("action", OnNameSpace(ns + ".buy", $$"""{"segment": "{{segment}}"}"""), """[{"type": "points", "points": 50}]"""));
        var a = Guid.NewGuid();
        var b = Guid.NewGuid();
        await api.ProcessedOk(await api.Post("actions", Action(a, ns + ".join")));
        await api.ProcessedOk(await api.Post("actions", Action(b, ns + ".join")));
        await api.ProcessedOk(await api.Post("actions", Action(b, ns + ".leave")));
        await api.ProcessedOk(await api.Post("actions", Action(a, ns + ".buy")));
        await api.ProcessedOk(await api.Post("actions", Action(b, ns + ".buy")));

        Assert.Equal(50, await api.Balance(a));
        Assert.Equal(0, await api.Balance(b));
        var (_, customer) = await api.GetJson($"/api/v1/customers/{a}");
        Assert.Contains(segment, customer!["segments"]!.AsArray().Select(s => (string?)s));
        var (_, page) = await api.GetJson($"/api/v1/segments/{segment}/members?limit=1");
        Assert.Equal(a, (Guid)Assert.Single(page!["items"]!.AsArray())!["customerId"]!);
        Assert.Null(page["next"]);
        var listed = (await api.Items("/api/v1/segments")).AsArray().Single(s => (string?)s!["name"] == segment)!;
        Assert.Equal(1, (int)listed["members"]!);
        Assert.Equal(HttpStatusCode.NotFound, (await api.GetJson("/api/v1/segments/no-such-segment/members")).Status);
    }

    [Fact]
    public async Task Sms_and_email_are_queued_from_templates_only_for_opted_in_customers_with_an_address()
    {
        var ns = Ns();
        await api.Create(Rule("action", OnNameSpace(ns), """
            [{"type": "points", "points": 10},
             {"type": "sms", "template": "Hi {{customer.firstName}}, you have {{points.balance}} points"},
             {"type": "email", "subject": "Thanks {{customer.firstName}}", "template": "<p>{{rule.name}}</p>"}]
            """));
        var optedIn = Guid.NewGuid();
        var optedOut = Guid.NewGuid();
        Assert.Equal(HttpStatusCode.Created, (await api.SendJson(HttpMethod.Put, $"/api/v1/customers/{optedIn}",
            new { firstName = "Ada", mobileNumber = "+61400000001", emailAddress = $"{optedIn:N}@example.com", optinSms = true, optinEmail = true })).Status);
        Assert.Equal(HttpStatusCode.Created, (await api.SendJson(HttpMethod.Put, $"/api/v1/customers/{optedOut}",
            new { firstName = "Bob", mobileNumber = "+61400000002", optinSms = false, optinEmail = true })).Status);

        await api.ProcessedOk(await api.Post("actions", Action(optedIn, ns)));
        var skippedEvent = await api.Post("actions", Action(optedOut, ns));
        await api.ProcessedOk(skippedEvent);

        var messages = (await api.Items($"/api/v1/customers/{optedIn}/messages")).AsArray();
        Assert.Equal(2, messages.Count);
        Assert.All(messages, m => Assert.Equal("queued", (string?)m!["status"]));
        var sms = messages.Single(m => (string?)m!["channel"] == "sms")!;
        Assert.Equal("Hi Ada, you have 10 points", (string?)sms["body"]);
        Assert.Equal("+61400000001", (string?)sms["recipient"]);
        Assert.Equal("Thanks Ada", (string?)messages.Single(m => (string?)m!["channel"] == "email")!["subject"]);

        Assert.Empty((await api.Items($"/api/v1/customers/{optedOut}/messages")).AsArray());
        var (_, trace) = await api.GetJson($"/api/v1/events/{skippedEvent}/trace");
        var reasons = trace!["skippedOutcomes"]!.AsArray().Select(s => (string?)s!["type"]).ToList();
        Assert.Contains("sms", reasons);
        Assert.Contains("email", reasons);
    }

    [Fact]
    public async Task A_voucher_outcome_issues_a_code_from_its_pattern_listable_per_customer()
    {
        var ns = Ns();
        await api.Create(Rule("order", OnNameSpace(ns), """[{"type": "voucher", "discount": {"percent": 10}, "code": "SAVE-####"}]"""));
        var customer = Guid.NewGuid();
        var e = await api.Post("orders", Order(customer, ns, 50m));
        await api.ProcessedOk(e);
        var voucher = Assert.Single((await api.Items($"/api/v1/customers/{customer}/vouchers")).AsArray())!;
        Assert.Matches("^SAVE-[0-9]{4}$", (string?)voucher["code"]);
        Assert.Equal(10m, (decimal)voucher["percent"]!);
        Assert.Equal(e, (Guid)voucher["eventId"]!);
        Assert.Equal(HttpStatusCode.NotFound, (await api.GetJson($"/api/v1/customers/{Guid.NewGuid()}/vouchers")).Status);
    }

    [Fact]
    public async Task A_basket_returns_points_discounts_and_outcomes_from_live_rules_and_stores_nothing()
    {
        var ns = Ns();
        var ruleId = await api.Create(Rule("basket", OnNameSpace(ns), """
            [{"type": "pointsRate", "rate": 1, "of": "basket.total"}, {"type": "voucher", "discount": {"percent": 10}, "appliesTo": "basket", "code": "B-####"}]
            """));
        var customer = Guid.NewGuid();
        var basket = new
        {
            customerId = customer, nameSpace = ns,
            basket = new { basketTotal = 90.00m, shippingTotal = 10.00m, basketItems = new[] { new { sku = "S1", quantity = 2, itemPrice = 40 } } },
        };
        var (status, answer) = await api.PostJson("/api/v1/events/basket", basket);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(90, (long)answer!["points"]!);
        var discount = Assert.Single(answer["discounts"]!.AsArray())!;
        Assert.Equal(ruleId, (string?)discount["ruleId"]);
        Assert.Equal(8.00m, (decimal)discount["amount"]!);
        Assert.Equal(2, answer["outcomes"]!.AsArray().Count);
        // Unset optional fields are left out, not written as null (docs/rules.md): a pointsRate award has a basis and no expiry.
        var points = answer["outcomes"]!.AsArray().Single(o => (string?)o!["type"] == "points")!.AsObject();
        Assert.Equal(90m, (decimal)points["basis"]!);
        Assert.False(points.ContainsKey("expiresAt"));
        Assert.False(points.ContainsKey("pendingFor"));
        Assert.Null(answer["trace"]);

        var (_, traced) = await api.PostJson("/api/v1/events/basket?trace=true", basket);
        Assert.True((bool)traced!["trace"]!.AsArray().Single(r => (string?)r!["ruleId"] == ruleId)!["matched"]!);
        Assert.Equal(HttpStatusCode.NotFound, (await api.GetJson($"/api/v1/customers/{customer}")).Status);
    }

    [Fact]
    public async Task The_basket_answer_is_json_and_the_openapi_document_describes_it()
    {
        var ns = Ns();
        await api.Create(Rule("basket", OnNameSpace(ns), """[{"type": "points", "points": 7}]"""));
        using var response = await api.PostAsync("/api/v1/events/basket", new StringContent(
            $$$"""{"customerId": "{{{Guid.NewGuid()}}}", "nameSpace": "{{{ns}}}", "basket": {"basketTotal": 10, "basketItems": []}}""",
            System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(7, (long)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["points"]!);

        var (_, openApi) = await api.GetJson("/openapi/v1.json");
        var ok = openApi!["paths"]!["/api/v1/events/basket"]!["post"]!["responses"]!["200"]!["content"]!["application/json"]!["schema"]!;
        var schema = (string)ok["$ref"]! == "#/components/schemas/BasketAnswer" ? openApi["components"]!["schemas"]!["BasketAnswer"]! : null;
        Assert.NotNull(schema);
        Assert.NotNull(schema["properties"]!["outcomes"]);
        Assert.NotNull(schema["properties"]!["discounts"]);
    }

    [Fact]
    public async Task Simulate_runs_live_or_draft_rules_and_stores_counts_and_fulfils_nothing()
    {
        var ns = Ns();
        await api.Create(Rule("action", OnNameSpace(ns, """{"nth": 1}"""), """[{"type": "points", "points": 40}]"""));
        var customer = Guid.NewGuid();
        await api.ProcessedOk(await api.Post("actions", Action(customer, ns + ".other")));
        var before = await Snapshot(customer);
        var request = new { @event = new { type = "action", customerId = customer, nameSpace = ns, action = new { count = 1 } } };

        var (status, answer) = await api.PostJson("/api/v1/rules/simulate", request);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(40, (long)answer!["points"]!);
        Assert.NotEmpty(answer["trace"]!.AsArray());
        var (again, second) = await api.PostJson("/api/v1/rules/simulate", request);
        Assert.Equal(40, (long)second!["points"]!); // the first simulation counted nothing: still the first
        Assert.Equal(before, await Snapshot(customer));
        Assert.Equal(0, await api.Balance(customer));

        var draft = Rule("action", OnNameSpace(ns), """[{"type": "points", "points": 3}]""").Replace("\"active\"", "\"draft\"", StringComparison.Ordinal);
        var (_, drafted) = await api.PostJson("/api/v1/rules/simulate", $$"""{"event": {"type": "action", "customerId": "{{customer}}", "nameSpace": "{{ns}}"}, "at": "2030-01-01T00:00:00Z", "rules": [{{draft}}]}""");
        Assert.Equal(3, (long)drafted!["points"]!);

        var (badStatus, problem) = await api.PostJson("/api/v1/rules/simulate", """{"event": {"type": "nope"}, "rules": [{"name": 1}]}""");
        Assert.Equal(HttpStatusCode.BadRequest, badStatus);
        var paths = problem!["errors"]!.AsArray().Select(e => (string)e!["path"]!).ToList();
        Assert.Contains("$.event.type", paths);
        Assert.Contains(paths, p => p.StartsWith("$.rules[0]", StringComparison.Ordinal));

        var (lateStatus, late) = await api.PostJson("/api/v1/rules/simulate",
            $$$"""{"event": {"type": "order", "customerId": "{{{customer}}}", "createdAt": "9999-12-31T00:00:00Z", "order": {"total": 1}}, "at": "9999-12-31T00:00:00Z"}""");
        Assert.Equal(HttpStatusCode.BadRequest, lateStatus);
        Assert.Equal(["$.event.createdAt", "$.at"], late!["errors"]!.AsArray().Select(e => (string)e!["path"]!));

        var (holeStatus, hole) = await api.PostJson("/api/v1/rules/simulate",
            $$$$"""{"event": {"type": "order", "customerId": "{{{{customer}}}}", "order": {"total": 1, "orderItems": [null]}}}""");
        Assert.Equal(HttpStatusCode.BadRequest, holeStatus);
        Assert.Equal(["$.event.order.orderItems[0]"], hole!["errors"]!.AsArray().Select(e => (string)e!["path"]!));
    }

    [Fact]
    public async Task A_trigger_schedules_a_job_whose_handler_queues_the_future_action_event()
    {
        var ns = Ns();
        await api.Create(Rule("action", OnNameSpace(ns), $$"""[{"type": "trigger", "nameSpace": "{{ns}}.later", "after": "P7D"}]"""));
        await api.Create(Rule("action", OnNameSpace(ns + ".later"), """[{"type": "points", "points": 9}]"""));
        var customer = Guid.NewGuid();
        var at = new DateTimeOffset(2027, 5, 1, 9, 0, 0, TimeSpan.Zero);
        var e = await api.Post("actions", Action(customer, ns, createdAt: at));
        await api.ProcessedOk(e);

        var job = await app.ReadAsync(async c =>
        {
            await using var cmd = c.Command("SELECT job_id, tenant_id, customer_id, kind, job_key, due_at, payload FROM scheduled_jobs WHERE customer_id = @c");
            await using var r = await cmd.With("@c", customer).ExecuteReaderAsync();
            Assert.True(await r.ReadAsync());
            return new Tally.Scheduling.ScheduledJob(r.GetInt64(0), r.GetGuidValue(1), r.GetGuidOrNull(2), r.GetString(3), r.GetString(4), r.GetInstant(5), r.GetStringOrNull(6));
        });
        Assert.Equal("trigger", job.Kind);
        Assert.Equal(at.AddDays(7), job.DueAt);

        var handler = app.Services.GetServices<Tally.Scheduling.IJobHandler>().Single(h => h.Kind == "trigger");
        var db = app.Services.GetRequiredService<Database>();
        for (var run = 0; run < 2; run++)
        {
            await app.WriteAsync(async (c, tx) =>
            {
                await handler.RunAsync(new Tally.Events.ProcessingContext(db, c, tx, DateTimeOffset.UtcNow), job, CancellationToken.None);
                return true;
            });
        }

        var queued = Tally.Events.EventData.DerivedId(job.TenantId, job.Key);
        var processed = await api.ProcessedOk(queued);
        Assert.Equal(ns + ".later", (string?)processed["nameSpace"]);
        Assert.Equal(9, await api.Balance(customer));
    }

    [Fact]
    public async Task Publishing_takes_effect_for_the_next_event_and_archiving_stops_a_rule()
    {
        var ns = Ns();
        var customer = Guid.NewGuid();
        var id = await api.Create(Rule("action", OnNameSpace(ns), """[{"type": "points", "points": 1}]"""));
        await api.ProcessedOk(await api.Post("actions", Action(customer, ns)));
        await api.SendJson(HttpMethod.Put, $"/api/v1/rules/{id}", Rule("action", OnNameSpace(ns), """[{"type": "points", "points": 10}]"""));
        await api.ProcessedOk(await api.Post("actions", Action(customer, ns)));
        using (var delete = new HttpRequestMessage(HttpMethod.Delete, $"/api/v1/rules/{id}")) await api.SendRequest(delete);
        await api.ProcessedOk(await api.Post("actions", Action(customer, ns)));
        Assert.Equal(11, await api.Balance(customer));
    }

    [Fact]
    public async Task Points_and_calendar_events_queued_by_Tally_itself_are_assessed_like_any_other()
    {
        var ns = Ns();
        var segment = "seg-" + Guid.NewGuid().ToString("N")[..8];
        await api.Create(Rule("points", OnNameSpace(ns, """{"field": "points.balance", "op": "gte", "value": 1000}"""),
            $$"""[{"type": "addToSegment", "segment": "{{segment}}"}]"""));
        await api.Create(Rule("calendar", OnNameSpace(ns, """{"field": "calendar.yearsSinceJoining", "op": "eq", "value": 1}"""),
            """[{"type": "points", "points": 365}]"""));
        var customer = Guid.NewGuid();
        await api.ProcessedOk(await api.Post("actions", Action(customer, ns + ".create")));
        var tenantId = await app.ReadAsync(async c =>
        {
            await using var cmd = c.Command("SELECT tenant_id FROM customers WHERE customer_id = @c");
            return Sql.GuidOf(await cmd.With("@c", customer).ExecuteScalarAsync());
        });
        var pointsId = Tally.Events.EventData.DerivedId(tenantId, $"test-points:{customer}");
        var calendarId = Tally.Events.EventData.DerivedId(tenantId, $"test-calendar:{customer}");
        await app.WriteAsync(async (c, tx) =>
        {
            await Tally.Events.EventData.EnqueueInternalAsync(c, tx, new(tenantId, pointsId, customer, Tally.Events.EventType.Points, ns,
                $$$"""{"nameSpace": "{{{ns}}}", "points": {"quantity": 1200, "previousBalance": 0, "balance": 1200}}""", DateTimeOffset.UtcNow), CancellationToken.None);
            await Tally.Events.EventData.EnqueueInternalAsync(c, tx, new(tenantId, calendarId, customer, Tally.Events.EventType.Calendar, ns,
                $$$"""{"nameSpace": "{{{ns}}}", "calendar": {"kind": "anniversary", "yearsSinceJoining": 1}}""", DateTimeOffset.UtcNow), CancellationToken.None);
            return true;
        });
        await api.ProcessedOk(pointsId);
        await api.ProcessedOk(calendarId);

        var (_, view) = await api.GetJson($"/api/v1/customers/{customer}");
        Assert.Contains(segment, view!["segments"]!.AsArray().Select(s => (string?)s));
        Assert.Equal(365, await api.Balance(customer));
    }

    [Fact]
    public async Task A_per_customer_limit_and_activeTo_bound_how_often_a_rule_fires()
    {
        var ns = Ns();
        await api.Create(Rule("action", OnNameSpace(ns), """[{"type": "points", "points": 5}]""", "\"limits\": {\"perCustomer\": 2},"));
        await api.Create(Rule("action", OnNameSpace(ns), """[{"type": "points", "points": 1000}]""", "\"activeTo\": \"2020-01-01T00:00:00Z\","));
        var (a, b) = (Guid.NewGuid(), Guid.NewGuid());
        Guid last = default;
        for (var i = 0; i < 3; i++) await api.ProcessedOk(last = await api.Post("actions", Action(a, ns)));
        await api.ProcessedOk(await api.Post("actions", Action(b, ns)));

        Assert.Equal(10, await api.Balance(a));
        Assert.Equal(5, await api.Balance(b));
        var (_, trace) = await api.GetJson($"/api/v1/events/{last}/trace");
        var skipped = trace!["trace"]!.AsArray().Select(r => (string?)r!["skipped"]).ToList();
        Assert.Contains("limit reached: 2 per customer", skipped);
        Assert.Contains(skipped, s => s?.StartsWith("not active since", StringComparison.Ordinal) == true);
    }

    [Fact]
    public async Task A_tenant_never_sees_nor_fires_another_tenants_rules()
    {
        var ns = Ns();
        var id = await api.Create(Rule("action", OnNameSpace(ns), """[{"type": "points", "points": 5}]"""));
        var (_, tenant) = await api.PostJson("/api/v1/admin/tenants", new { name = "Other " + Guid.NewGuid() });
        var other = app.Api((string)tenant!["apiKey"]!);

        Assert.Equal(HttpStatusCode.NotFound, (await other.GetJson($"/api/v1/rules/{id}")).Status);
        Assert.DoesNotContain((await other.Items("/api/v1/rules")).AsArray(), r => (string?)r!["id"] == id);
        var customer = Guid.NewGuid();
        var e = await other.Post("actions", Action(customer, ns));
        await other.ProcessedOk(e);
        Assert.Equal(0, await other.Balance(customer));
        Assert.Equal(HttpStatusCode.NotFound, (await api.GetJson($"/api/v1/events/{e}/trace")).Status);
    }
}
