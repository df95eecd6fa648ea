using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tally.Tests.Infrastructure;

/// <summary>Small conveniences over HttpClient for JSON in and out.</summary>
public static class Api
{
    public static async Task<(HttpStatusCode Status, JsonNode? Body)> PostJson(this HttpClient client, string path, object body, IDictionary<string, string>? headers = null)
    {
        var json = body as string ?? JsonSerializer.Serialize(body);
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        foreach (var (k, v) in headers ?? new Dictionary<string, string>()) request.Headers.Add(k, v);
        return await SendRequest(client, request);
    }

    public static async Task<(HttpStatusCode Status, JsonNode? Body)> SendJson(this HttpClient client, HttpMethod method, string path, object body)
    {
        var json = body as string ?? JsonSerializer.Serialize(body);
        using var request = new HttpRequestMessage(method, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        return await SendRequest(client, request);
    }

    public static async Task<(HttpStatusCode Status, JsonNode? Body)> GetJson(this HttpClient client, string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        return await SendRequest(client, request);
    }

    public static async Task<(HttpStatusCode Status, JsonNode? Body)> SendRequest(this HttpClient client, HttpRequestMessage request)
    {
        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        if ((int)response.StatusCode >= 400)
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    public static object Action(Guid customerId, Guid? eventId = null, string nameSpace = "Customer.Registration") => new
    {
        action = new { amount = 10, count = 1 },
        eventId = eventId ?? Guid.NewGuid(),
        customerId,
        nameSpace,
        reference = "r1",
        campaign = "c",
        attributes = new[] { new { key = "k", value = "v" } },
    };

    public static object Redemption(Guid customerId, long quantity, Guid? eventId = null) => new
    {
        redemption = new { externalReference = "pos-1", quantity },
        eventId = eventId ?? Guid.NewGuid(),
        customerId,
        nameSpace = "Redeem",
    };

    /// <summary>Posts a manual adjustment (creating the customer first when asked: adjustments never create one).</summary>
    public static async Task Adjust(this HttpClient client, Guid customerId, long points, bool create = true)
    {
        if (create) await client.PostJson("/api/v1/events/actions", Action(customerId));
        var (status, body) = await client.PostJson($"/api/v1/customers/{customerId}/adjustments", new { points, reason = "test" });
        Assert.True(status == HttpStatusCode.Created, body?.ToJsonString());
    }

    /// <summary>Waits until the worker has processed the event (or fails after 15 s).</summary>
    public static async Task<JsonNode> Processed(this HttpClient client, Guid eventId)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            var (status, body) = await client.GetJson($"/api/v1/events/{eventId}");
            if (status == HttpStatusCode.OK && (string?)body!["status"] != "pending") return body;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Event {eventId} not processed: {status} {body?.ToJsonString()}");
            await Task.Delay(20);
        }
    }

    public static async Task<long> Balance(this HttpClient client, Guid customerId)
    {
        var (status, body) = await client.GetJson($"/api/v1/customers/{customerId}");
        Assert.Equal(HttpStatusCode.OK, status);
        return (long)body!["pointsBalance"]!;
    }
}
