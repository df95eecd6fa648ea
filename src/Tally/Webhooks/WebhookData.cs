using System.Data.Common;
using System.Text.Json;
using Tally.Rules;
using Tally.Storage;

namespace Tally.Webhooks;

public static class WebhookStatus
{
    public const string Queued = "queued";
    public const string Delivered = "delivered";
    public const string Dead = "dead";
}

public sealed record WebhookCall(
    long CallId, Guid TenantId, Guid CustomerId, string Url, string Method, IReadOnlyDictionary<string, string> Headers, string? Body, string Status,
    int Attempts, DateTimeOffset NextAttemptAt, Guid RuleId, int RuleVersion, Guid EventId, DateTimeOffset CreatedAt, DateTimeOffset? DoneAt);

public sealed record WebhookAttempt(int Attempt, DateTimeOffset At, int? StatusCode, long LatencyMs, string? Error);

/// <summary>
/// The webhook outbox: a call is written in the transaction of the event that decided it, then delivered by a
/// background sender that records every attempt and retries with backoff until it succeeds or gives up ('dead').
/// </summary>
public static class WebhookData
{
    private const string Columns =
        "call_id, tenant_id, customer_id, url, method, headers, body, status, attempts, next_attempt_at, rule_id, rule_version, event_id, created_at, done_at";

    public static async Task<bool> EnqueueAsync(DbConnection c, DbTransaction tx, Guid tenantId, Guid customerId, Guid eventId, WebhookDecision w, DateTimeOffset now, CancellationToken ct)
    {
        await using var cmd = c.Command(
            """
            INSERT INTO webhook_calls (tenant_id, customer_id, call_key, url, method, headers, body, status, attempts, next_attempt_at, rule_id, rule_version, event_id, created_at)
            VALUES (@t, @c, @key, @url, @m, @h, @b, 'queued', 0, @now, @r, @v, @e, @now)
            ON CONFLICT (tenant_id, call_key) DO NOTHING
            """, tx);
        return await cmd.With("@t", tenantId).With("@c", customerId).With("@key", $"{eventId}:{w.RuleId}:{w.OutcomeIndex}").With("@url", w.Url)
            .With("@m", w.Method).With("@h", JsonSerializer.Serialize(w.Headers)).With("@b", w.Body).With("@r", Guid.Parse(w.RuleId))
            .With("@v", w.RuleVersion).With("@e", eventId).With("@now", now).ExecuteNonQueryAsync(ct) == 1;
    }

    public static async Task<bool> AnyDueAsync(DbConnection c, DateTimeOffset now, CancellationToken ct)
    {
        await using var cmd = c.Command("SELECT call_id FROM webhook_calls WHERE status = 'queued' AND next_attempt_at <= @now LIMIT 1");
        return await cmd.With("@now", now).ExecuteScalarAsync(ct) is not null;
    }

    /// <summary>
    /// Takes up to <paramref name="limit"/> due calls and pushes their next attempt past <paramref name="leaseUntil"/>,
    /// so no other sender takes them meanwhile; a sender that dies mid-call leaves them to be retried after the lease.
    /// </summary>
    public static async Task<List<WebhookCall>> ClaimDueAsync(Database db, DbConnection c, DbTransaction tx, DateTimeOffset now, DateTimeOffset leaseUntil, int limit, CancellationToken ct)
    {
        var calls = new List<WebhookCall>();
        await using (var cmd = c.Command(
            $"SELECT {Columns} FROM webhook_calls WHERE status = 'queued' AND next_attempt_at <= @now ORDER BY next_attempt_at LIMIT @n{db.ForUpdateSkipLocked}", tx))
        {
            await using var r = await cmd.With("@now", now).With("@n", limit).ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct)) calls.Add(Read(r));
        }

        await using var lease = c.Command("UPDATE webhook_calls SET next_attempt_at = @until WHERE call_id = @id", tx);
        lease.With("@until", leaseUntil).With("@id", 0L);
        foreach (var call in calls)
        {
            lease.Parameters["@id"].Value = call.CallId;
            await lease.ExecuteNonQueryAsync(ct);
        }

        return calls;
    }

    /// <summary>Records one attempt and what follows it: delivered, dead, or queued again at <paramref name="retryAt"/>.</summary>
    public static async Task RecordAttemptAsync(
        DbConnection c, DbTransaction tx, WebhookCall call, int attempt, DateTimeOffset at, int? statusCode, long latencyMs, string? error,
        string status, DateTimeOffset retryAt, CancellationToken ct)
    {
        await using (var cmd = c.Command(
            """
            INSERT INTO webhook_attempts (tenant_id, call_id, attempt, at, status_code, latency_ms, error)
            VALUES (@t, @call, @a, @at, @code, @ms, @err)
            """, tx))
        {
            await cmd.With("@t", call.TenantId).With("@call", call.CallId).With("@a", attempt).With("@at", at).With("@code", statusCode)
                .With("@ms", latencyMs).With("@err", error).ExecuteNonQueryAsync(ct);
        }

        await using var update = c.Command(
            "UPDATE webhook_calls SET status = @s, attempts = @a, next_attempt_at = @next, done_at = @done WHERE call_id = @call", tx);
        await update.With("@s", status).With("@a", attempt).With("@next", retryAt)
            .With("@done", status == WebhookStatus.Queued ? null : at.ToUnixTimeMilliseconds()).With("@call", call.CallId).ExecuteNonQueryAsync(ct);
    }

    public static async Task<Page<(WebhookCall Call, List<WebhookAttempt> Attempts)>> ListAsync(
        DbConnection c, Guid tenantId, Guid customerId, int limit, long? before, CancellationToken ct)
    {
        var calls = new List<WebhookCall>();
        await using (var cmd = c.Command(
            $"SELECT {Columns} FROM webhook_calls WHERE tenant_id = @t AND customer_id = @c AND call_id < @before ORDER BY call_id DESC LIMIT @n"))
        {
            await using var r = await cmd.With("@t", tenantId).With("@c", customerId).With("@before", before ?? long.MaxValue).With("@n", limit + 1).ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct)) calls.Add(Read(r));
        }

        var rows = new List<(WebhookCall, List<WebhookAttempt>)>();
        await using var attempts = c.Command(
            "SELECT attempt, at, status_code, latency_ms, error FROM webhook_attempts WHERE tenant_id = @t AND call_id = @call ORDER BY attempt_id");
        attempts.With("@t", tenantId).With("@call", 0L);
        foreach (var call in calls)
        {
            attempts.Parameters["@call"].Value = call.CallId;
            var list = new List<WebhookAttempt>();
            await using (var r = await attempts.ExecuteReaderAsync(ct))
            {
                while (await r.ReadAsync(ct))
                    list.Add(new(r.GetInt32(0), r.GetInstant(1), r.IsDBNull(2) ? null : r.GetInt32(2), r.GetInt64(3), r.GetStringOrNull(4)));
            }

            rows.Add((call, list));
        }

        return Page<(WebhookCall, List<WebhookAttempt>)>.Of(rows, limit, x => x.Item1.CallId);
    }

    private static WebhookCall Read(DbDataReader r) => new(
        r.GetInt64(0), r.GetGuidValue(1), r.GetGuidValue(2), r.GetString(3), r.GetString(4),
        JsonSerializer.Deserialize<Dictionary<string, string>>(r.GetString(5)) ?? [], r.GetStringOrNull(6), r.GetString(7), r.GetInt32(8),
        r.GetInstant(9), r.GetGuidValue(10), r.GetInt32(11), r.GetGuidValue(12), r.GetInstant(13), r.GetInstantOrNull(14));
}
