using System.Data.Common;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Tally.Storage;
using Tally.Tests.Infrastructure;

namespace Tally.Tests.Rules;

/// <summary>The server with webhook retries in milliseconds rather than seconds, so delivery tests run fast.</summary>
public abstract class RulesApp : TallyApp
{
    protected virtual bool RunWorker => true;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("Tally:Webhooks:BaseDelay", "00:00:00.200");
        builder.UseSetting("Tally:Webhooks:PollInterval", "00:00:00.050");
        builder.UseSetting("Tally:Webhooks:MaxAttempts", "3");
        builder.UseSetting("Tally:Webhooks:Timeout", "00:00:02");
        builder.UseSetting("Tally:RunWorker", RunWorker ? "true" : "false");
    }

    /// <summary>Runs SQL against the server's store in a write-queue unit (what the server itself would do).</summary>
    public Task<T> WriteAsync<T>(Func<DbConnection, DbTransaction, Task<T>> work) => Services.GetRequiredService<WriteQueue>().WriteAsync(work);

    public Task<T> ReadAsync<T>(Func<DbConnection, Task<T>> read) => Services.GetRequiredService<Database>().ReadAsync(read, CancellationToken.None);
}

public sealed class RulesSqliteApp : RulesApp
{
    protected override string StoreKind => "sqlite";
}

public sealed class RulesPostgresApp : RulesApp
{
    protected override string StoreKind => "postgres";
}

/// <summary>Without the event worker: tests drive processing themselves (races between transactions).</summary>
public sealed class ManualSqliteApp : RulesApp
{
    protected override string StoreKind => "sqlite";

    protected override bool RunWorker => false;
}

public sealed class ManualPostgresApp : RulesApp
{
    protected override string StoreKind => "postgres";

    protected override bool RunWorker => false;
}

internal static class RuleApi
{
    /// <summary>A rule document as a client writes it; every test pins its own nameSpace so tests never see each other's rules.</summary>
    public static string Rule(string eventType, string? conditions, string outcomes, string extra = "", string name = "test rule") =>
        $$"""
        {
          "name": "{{name}}",
          "eventType": "{{eventType}}",
          "status": "active",
          {{(conditions is null ? "" : $"\"conditions\": {conditions},")}}
          {{extra}}
          "outcomes": {{outcomes}}
        }
        """;

    public static string OnNameSpace(string nameSpace, params string[] more) =>
        $$"""{"all": [{"field": "nameSpace", "op": "eq", "value": "{{nameSpace}}"}{{string.Concat(more.Select(m => ", " + m))}}]}""";

    public static async Task<string> Create(this HttpClient api, string json)
    {
        var (status, body) = await api.PostJson("/api/v1/rules", json);
        Assert.True(status == HttpStatusCode.Created, body?.ToJsonString());
        return (string)body!["id"]!;
    }

    public static async Task<Guid> Post(this HttpClient api, string endpoint, object body)
    {
        var (status, answer) = await api.PostJson($"/api/v1/events/{endpoint}", body);
        Assert.True(status == HttpStatusCode.OK, answer?.ToJsonString());
        return (Guid)answer!["eventId"]!;
    }

    public static async Task<JsonNode> ProcessedOk(this HttpClient api, Guid eventId)
    {
        var e = await api.Processed(eventId);
        Assert.True((string?)e["status"] == "processed", e.ToJsonString());
        return e;
    }

    public static object Action(Guid customerId, string nameSpace, Guid? eventId = null, int count = 1, DateTimeOffset? createdAt = null) => new
    {
        eventId = eventId ?? Guid.NewGuid(),
        customerId,
        nameSpace,
        action = new { count, amount = 10 },
        createdAt = createdAt ?? DateTimeOffset.UtcNow,
    };

    public static object Order(Guid customerId, string nameSpace, decimal total, Guid? eventId = null) => new
    {
        eventId = eventId ?? Guid.NewGuid(),
        customerId,
        nameSpace,
        order = new { total, currencyCode = "AUD", orderItems = new[] { new { sku = "SKU-1", quantity = 1, itemPrice = total } } },
    };

    public static async Task<JsonNode> Items(this HttpClient api, string path)
    {
        var (status, body) = await api.GetJson(path);
        Assert.True(status == HttpStatusCode.OK, body?.ToJsonString());
        return body!["items"]!;
    }

    /// <summary>Polls until the condition holds (or fails after 15 s).</summary>
    public static async Task Eventually(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException(what);
            await Task.Delay(25);
        }
    }
}
