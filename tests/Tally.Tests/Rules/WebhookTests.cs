using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Tally.Tests.Infrastructure;
using static Tally.Tests.Rules.RuleApi;

namespace Tally.Tests.Rules;

public sealed class WebhookOnSqlite(RulesSqliteApp app) : WebhookTests<RulesSqliteApp>(app);

public sealed class WebhookOnPostgres(RulesPostgresApp app) : WebhookTests<RulesPostgresApp>(app);

/// <summary>Webhook outcomes against a real HTTP receiver on loopback.</summary>
public abstract class WebhookTests<TApp>(TApp app) : IClassFixture<TApp>, IAsyncLifetime
    where TApp : RulesApp
{
    private readonly HttpClient api = app.Api();
    private readonly ConcurrentQueue<(string Path, string Body, string? Header)> received = new();
    private WebApplication? receiver;
    private int flakyFailures = 1;

    private string Url => receiver!.Urls.First();

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        receiver = builder.Build();
        receiver.MapPost("/hook/{mode}", async (string mode, HttpContext http) =>
        {
            using var reader = new StreamReader(http.Request.Body);
            received.Enqueue((http.Request.Path, await reader.ReadToEndAsync(), http.Request.Headers["X-Tally"].FirstOrDefault()));
            var fail = mode == "dead" || (mode == "flaky" && Interlocked.Decrement(ref flakyFailures) >= 0);
            return fail ? Results.StatusCode(500) : Results.Ok();
        });
        await receiver.StartAsync();
    }

    public async Task DisposeAsync()
    {
        if (receiver is not null) await receiver.DisposeAsync();
    }

    [Fact]
    public async Task A_webhook_that_fails_first_is_retried_until_delivered_with_every_attempt_recorded()
    {
        var ns = "Hook." + Guid.NewGuid().ToString("N")[..8];
        await api.Create(Rule("action", OnNameSpace(ns), $$$"""
            [{"type": "points", "points": 5},
             {"type": "webhook", "url": "{{{Url}}}/hook/flaky", "headers": {"X-Tally": "yes"},
              "body": "{\"customer\": \"{{customer.customerId}}\", \"event\": \"{{event.eventId}}\", \"balance\": {{points.balance}}, \"rule\": \"{{rule.name}}\"}"}]
            """));
        var customer = Guid.NewGuid();
        var e = await api.Post("actions", Action(customer, ns));
        await api.ProcessedOk(e);

        JsonNode? call = null;
        await Eventually(async () =>
        {
            call = (await api.Items($"/api/v1/customers/{customer}/webhooks")).AsArray().SingleOrDefault();
            return (string?)call?["status"] == "delivered";
        }, "the webhook was not delivered");

        Assert.Equal(2, (int)call!["attempts"]!);
        var log = call["attemptLog"]!.AsArray();
        Assert.Equal([500, 200], log.Select(a => (int)a!["statusCode"]!));
        Assert.NotNull((string?)log[0]!["error"]);
        var bodies = received.Where(r => r.Path == "/hook/flaky").ToList();
        Assert.Equal(2, bodies.Count);
        var sent = JsonNode.Parse(bodies[^1].Body)!;
        Assert.Equal(customer, (Guid)sent["customer"]!);
        Assert.Equal(e, (Guid)sent["event"]!);
        Assert.Equal(5, (int)sent["balance"]!);
        Assert.Equal("test rule", (string?)sent["rule"]);
        Assert.Equal("yes", bodies[^1].Header);
    }

    [Fact]
    public async Task A_webhook_that_always_fails_is_given_up_after_the_configured_attempts()
    {
        var ns = "Hook." + Guid.NewGuid().ToString("N")[..8];
        await api.Create(Rule("action", OnNameSpace(ns), $$"""[{"type": "webhook", "url": "{{Url}}/hook/dead", "method": "POST"}]"""));
        var customer = Guid.NewGuid();
        await api.ProcessedOk(await api.Post("actions", Action(customer, ns)));

        JsonNode? call = null;
        await Eventually(async () =>
        {
            call = (await api.Items($"/api/v1/customers/{customer}/webhooks")).AsArray().SingleOrDefault();
            return (string?)call?["status"] == "dead";
        }, "the webhook was not given up");
        Assert.Equal(3, (int)call!["attempts"]!);
        Assert.All(call["attemptLog"]!.AsArray(), a => Assert.Equal(500, (int)a!["statusCode"]!));
        Assert.Equal(HttpStatusCode.OK, (await api.GetJson($"/api/v1/customers/{customer}/webhooks")).Status);
    }

    [Fact]
    public async Task A_receiver_that_refuses_connections_is_recorded_as_an_error_without_a_status_code()
    {
        var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var closedPort = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        var ns = "Hook." + Guid.NewGuid().ToString("N")[..8];
        await api.Create(Rule("action", OnNameSpace(ns), $$"""[{"type": "webhook", "url": "http://127.0.0.1:{{closedPort}}/nobody"}]"""));
        var customer = Guid.NewGuid();
        await api.ProcessedOk(await api.Post("actions", Action(customer, ns)));

        JsonNode? call = null;
        await Eventually(async () =>
        {
            call = (await api.Items($"/api/v1/customers/{customer}/webhooks")).AsArray().SingleOrDefault();
            return (string?)call?["status"] == "dead";
        }, "the webhook was not given up");
        Assert.All(call!["attemptLog"]!.AsArray(), a =>
        {
            Assert.Null(a!["statusCode"]);
            Assert.False(string.IsNullOrEmpty((string?)a["error"]));
        });
    }
}
