// Open-loop load: offers order events at a fixed rate, however fast the server answers, then measures the
// processing lag (processed_at - received_at) of every event from the embedded store's file.
// usage: Tally.Load <baseUrl> <apiKey> <eventsPerSecond> <seconds> <path to tally.db> [offer-only]
// offer-only: stop after offering (the worker is off; bench/lag.sh's split mode times the drain itself).
// TALLY_LOAD_CUSTOMERS: how many customers the orders go round (5,000 by default; fewer make loyal customers with many lots).
// TALLY_LOAD_WARMUP=<seconds>: first offer warm-up orders (orderId "w<n>") at the same rate for that long and wait until they are
// processed, so the JIT has compiled the paths before the measured orders; warm-up orders are left out of the figures.
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.Data.Sqlite;

var (baseUrl, key, rate, seconds, dbPath) = (args[0], args[1], int.Parse(args[2], CultureInfo.InvariantCulture),
    int.Parse(args[3], CultureInfo.InvariantCulture), args[4]);
using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1024, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
{
    BaseAddress = new Uri(baseUrl),
    Timeout = TimeSpan.FromSeconds(30),
};
http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);

var customers = int.TryParse(Environment.GetEnvironmentVariable("TALLY_LOAD_CUSTOMERS"), CultureInfo.InvariantCulture, out var c) && c > 0 ? c : 5000;
var failures = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
var inFlight = new List<Task<bool>>(rate * seconds);
// When each order (by its number, the "o{n}" of its orderId) was handed to the client: the lag from the send includes
// any wait in the client's connection pool, which the server's received_at cannot see.
var sentAt = new long[(long)rate * seconds];
const int TicksPerSecond = 100;
var warmup = int.TryParse(Environment.GetEnvironmentVariable("TALLY_LOAD_WARMUP"), CultureInfo.InvariantCulture, out var w) && w > 0 ? w : 0;
if (warmup > 0)
{
    var warming = new List<Task<bool>>(rate * warmup);
    var warmClock = Stopwatch.StartNew();
    using var warmTimer = new PeriodicTimer(TimeSpan.FromMilliseconds(1000.0 / TicksPerSecond));
    for (long offered = 0; offered < (long)rate * warmup;)
    {
        await warmTimer.WaitForNextTickAsync();
        var due = Math.Min((long)(warmClock.Elapsed.TotalSeconds * rate), (long)rate * warmup);
        for (; offered < due; offered++) warming.Add(PostAsync(offered, warm: true));
    }

    await Task.WhenAll(warming);
    await DrainedAsync();
    failures.Clear();
    Console.WriteLine($"warm-up: {warming.Count} orders offered and processed");
}

var clock = Stopwatch.StartNew();
using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(1000.0 / TicksPerSecond));
long sent = 0;
for (var tick = 1; tick <= seconds * TicksPerSecond; tick++)
{
    await timer.WaitForNextTickAsync();
    // Catch up on the schedule: the number due by now, not per tick, so a late tick does not lower the rate.
    var due = (long)(clock.Elapsed.TotalSeconds * rate);
    for (; sent < due && sent < (long)rate * seconds; sent++) inFlight.Add(PostAsync(sent));
}

var offeredSeconds = clock.Elapsed.TotalSeconds;
var answered = await Task.WhenAll(inFlight);
var errors = answered.Count(ok => !ok);
Console.WriteLine($"offered={sent} in {offeredSeconds:F1}s rate={sent / offeredSeconds:F0}/s errors={errors}");
foreach (var (why, n) in failures.OrderByDescending(f => f.Value)) Console.WriteLine($"  error: {why} x{n}");
if (args.Length > 5 && args[5] == "offer-only") return;

await DrainedAsync();

await using var db = new SqliteConnection($"Data Source={dbPath};Mode=ReadOnly");
await db.OpenAsync();
await using var cmd = db.CreateCommand();
cmd.CommandText = "SELECT processed_at - received_at, processed_at, json_extract(payload, '$.order.orderId') FROM events WHERE type = 'order' AND status = 'processed' AND json_extract(payload, '$.order.orderId') LIKE 'o%'";
var lags = new List<long>();
var fromSend = new List<long>();
await using (var r = await cmd.ExecuteReaderAsync())
{
    while (await r.ReadAsync())
    {
        lags.Add(r.GetInt64(0));
        if (!r.IsDBNull(2) && long.TryParse(r.GetString(2).AsSpan(1), CultureInfo.InvariantCulture, out var n) && n < sentAt.Length)
            fromSend.Add(r.GetInt64(1) - sentAt[n]);
    }
}

lags.Sort();
fromSend.Sort();
await using var failed = db.CreateCommand();
failed.CommandText = "SELECT COUNT(*) FROM events WHERE status <> 'processed'";
var notProcessed = Convert.ToInt64(await failed.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
static long P(List<long> sorted, double q) => sorted.Count == 0 ? -1 : sorted[Math.Min(sorted.Count - 1, (int)(q * sorted.Count))];
Console.WriteLine($"processed={lags.Count} not_processed={notProcessed} lag_ms p50={P(lags, 0.50)} p99={P(lags, 0.99)} max={P(lags, 1)}");
Console.WriteLine($"lag_from_send_ms p50={P(fromSend, 0.50)} p99={P(fromSend, 0.99)} max={P(fromSend, 1)} (of {fromSend.Count})");

// Waits (up to 3 minutes) for the worker to drain the queue.
async Task DrainedAsync()
{
    var drainStart = Stopwatch.StartNew();
    while (drainStart.Elapsed < TimeSpan.FromMinutes(3))
    {
        var queue = await http.GetStringAsync("/api/v1/admin/queue");
        if (queue.Contains("\"pendingEvents\":0", StringComparison.Ordinal)) return;
        await Task.Delay(200);
    }
}

async Task<bool> PostAsync(long n, bool warm = false)
{
    var customer = $"3fa85f64-5717-4562-b3fc-{n % customers:x12}";
    var lines = new StringBuilder();
    decimal total = 0;
    for (var i = 0; i < 5; i++)
    {
        var price = 5 + ((n + i) % 40);
        total += price;
        if (i > 0) lines.Append(',');
        lines.Append(CultureInfo.InvariantCulture, $$"""{"sku":"SKU-{{(n * 7 + i * 131) % 1000}}","quantity":1,"itemPrice":{{price}},"totalPrice":{{price}}}""");
    }

    if (!warm) sentAt[n] = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
    var body = $$$"""{"eventId":"{{{Guid.NewGuid()}}}","customerId":"{{{customer}}}","order":{"orderId":"{{{(warm ? "w" : "o")}}}{{{n}}}","currencyCode":"EUR","total":{{{total}}},"orderItems":[{{{lines}}}]}}""";
    try
    {
        using var response = await http.PostAsync("/api/v1/events/orders", new StringContent(body, Encoding.UTF8, "application/json"));
        if (!response.IsSuccessStatusCode) failures.AddOrUpdate($"status {(int)response.StatusCode}", 1, (_, n) => n + 1);
        return response.IsSuccessStatusCode;
    }
    catch (HttpRequestException ex)
    {
        failures.AddOrUpdate($"{ex.HttpRequestError}: {ex.InnerException?.Message ?? ex.Message}", 1, (_, n) => n + 1);
        return false;
    }
    catch (TaskCanceledException)
    {
        failures.AddOrUpdate("timeout", 1, (_, n) => n + 1);
        return false;
    }
}
