using System.ComponentModel.DataAnnotations;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using Tally.Storage;
using Tally.Webhooks;

namespace Tally.Server.Webhooks;

/// <summary>Webhook delivery settings (section "Tally:Webhooks").</summary>
public sealed class WebhookOptions
{
    /// <summary>Attempts before a call is given up ('dead').</summary>
    [Range(1, 100)]
    public int MaxAttempts { get; set; } = 8;

    /// <summary>The wait after the first failure; it doubles after each further one (with ±20% jitter), up to MaxDelay.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "1.00:00:00")]
    public TimeSpan BaseDelay { get; set; } = TimeSpan.FromSeconds(10);

    [Range(typeof(TimeSpan), "00:00:00.001", "7.00:00:00")]
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromHours(1);

    /// <summary>One attempt's time limit.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How often the outbox is looked at for due calls.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:10:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    [Range(1, 1000)]
    public int BatchSize { get; set; } = 32;

    /// <summary>Run the sender in this process.</summary>
    public bool Send { get; set; } = true;
}

/// <summary>
/// Drains the webhook outbox: takes due calls under a lease, makes each HTTP call, records the attempt, and either
/// marks the call delivered (2xx), queues it again with exponential backoff, or gives up after MaxAttempts ('dead').
/// Retries live in the table (next_attempt_at), so they survive restarts; a sender that dies mid-call leaves the
/// call to be retried once its lease ends (delivery is at least once).
/// </summary>
public sealed partial class WebhookSender(
    Database db, WriteQueue writes, IHttpClientFactory clients, TimeProvider clock, IOptions<WebhookOptions> options, ILogger<WebhookSender> logger)
    : BackgroundService
{
    public const string ClientName = "webhooks";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        while (!stoppingToken.IsCancellationRequested)
        {
            var sent = 0;
            try
            {
                var now = clock.GetUtcNow();
                var lease = now + o.Timeout + o.Timeout;
                // A read first: an idle outbox costs a pooled read per poll, not a write transaction in the queue.
                var due = !await db.ReadAsync(c => WebhookData.AnyDueAsync(c, now, stoppingToken), stoppingToken) ? [] : await writes.WriteAsync((c, tx) => WebhookData.ClaimDueAsync(db, c, tx, now, lease, o.BatchSize, CancellationToken.None), stoppingToken);
                await Parallel.ForEachAsync(due, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = stoppingToken },
                    async (call, ct) => await SendAsync(call, o, ct));
                sent = due.Count;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogSenderError(ex);
            }

            if (sent < o.BatchSize) await Task.Delay(o.PollInterval, clock, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private async Task SendAsync(WebhookCall call, WebhookOptions o, CancellationToken ct)
    {
        var attempt = call.Attempts + 1;
        var started = clock.GetTimestamp();
        var at = clock.GetUtcNow();
        int? statusCode = null;
        string? error = null;
        try
        {
            using var request = new HttpRequestMessage(new HttpMethod(call.Method), call.Url);
            if (call.Body is not null) request.Content = new StringContent(call.Body, Encoding.UTF8, "application/json");
            foreach (var (name, value) in call.Headers)
            {
                if (!request.Headers.TryAddWithoutValidation(name, value)) request.Content?.Headers.TryAddWithoutValidation(name, value);
            }

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(o.Timeout);
            using var response = await clients.CreateClient(ClientName).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            statusCode = (int)response.StatusCode;
            if (!response.IsSuccessStatusCode) error = $"HTTP {statusCode}";
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            error = $"timed out after {o.Timeout.TotalSeconds:0.###} s";
        }
        catch (HttpRequestException ex)
        {
            error = ex.Message;
        }
        catch (Exception ex) when (ex is InvalidOperationException or UriFormatException or FormatException)
        {
            error = ex.Message;
        }

        var latency = (long)clock.GetElapsedTime(started).TotalMilliseconds;
        var status = error is null ? WebhookStatus.Delivered : attempt >= o.MaxAttempts ? WebhookStatus.Dead : WebhookStatus.Queued;
        var retryAt = clock.GetUtcNow() + Backoff(o, attempt);
        if (status == WebhookStatus.Dead) LogGaveUp(call.CallId, call.Url, attempt, error);
        await writes.WriteAsync(async (c, tx) =>
        {
            await WebhookData.RecordAttemptAsync(c, tx, call, attempt, at, statusCode, latency, error, status, retryAt, CancellationToken.None);
            return true;
        }, CancellationToken.None);
    }

    /// <summary>BaseDelay × 2^(attempt−1), capped at MaxDelay, ±20% jitter so failed calls do not retry in lockstep.</summary>
    public static TimeSpan Backoff(WebhookOptions o, int attempt)
    {
        var exponential = o.BaseDelay.TotalMilliseconds * Math.Pow(2, Math.Min(attempt - 1, 30));
        var capped = Math.Min(exponential, o.MaxDelay.TotalMilliseconds);
        var jitter = 0.8 + (RandomNumberGenerator.GetInt32(0, 401) / 1000.0);
        return TimeSpan.FromMilliseconds(capped * jitter);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Webhook sender failed; retrying after the poll interval")]
    private partial void LogSenderError(Exception ex);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook call {CallId} to {Url} gave up after {Attempts} attempts: {Error}")]
    private partial void LogGaveUp(long callId, string url, int attempts, string? error);
}
