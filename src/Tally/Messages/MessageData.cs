using System.Data.Common;
using Tally.Storage;

namespace Tally.Messages;

public sealed record Message(
    long Seq, Guid CustomerId, string Channel, string Recipient, string? Subject, string Body, string Status, Guid RuleId, int RuleVersion,
    Guid EventId, DateTimeOffset CreatedAt);

/// <summary>
/// Outgoing SMS and email, durable and queued: no provider delivers them yet, so they stay 'queued' and are never
/// reported as sent.
/// </summary>
public static class MessageData
{
    public static async Task<bool> QueueAsync(
        DbConnection c, DbTransaction tx, Guid tenantId, Guid customerId, Guid eventId, string channel, string recipient, string? subject, string body,
        string ruleId, int ruleVersion, int outcomeIndex, DateTimeOffset now, CancellationToken ct)
    {
        await using var cmd = c.Command(
            """
            INSERT INTO messages (tenant_id, customer_id, message_key, channel, recipient, subject, body, status, rule_id, rule_version, event_id, created_at)
            VALUES (@t, @c, @key, @ch, @to, @subject, @body, 'queued', @r, @v, @e, @now)
            ON CONFLICT (tenant_id, message_key) DO NOTHING
            """, tx);
        return await cmd.With("@t", tenantId).With("@c", customerId).With("@key", $"{eventId}:{ruleId}:{outcomeIndex}").With("@ch", channel)
            .With("@to", recipient).With("@subject", subject).With("@body", body).With("@r", Guid.Parse(ruleId)).With("@v", ruleVersion)
            .With("@e", eventId).With("@now", now).ExecuteNonQueryAsync(ct) == 1;
    }

    public static async Task<Page<Message>> ListAsync(DbConnection c, Guid tenantId, Guid customerId, int limit, long? before, CancellationToken ct)
    {
        await using var cmd = c.Command(
            """
            SELECT message_seq, customer_id, channel, recipient, subject, body, status, rule_id, rule_version, event_id, created_at FROM messages
            WHERE tenant_id = @t AND customer_id = @c AND message_seq < @before ORDER BY message_seq DESC LIMIT @n
            """);
        await using var r = await cmd.With("@t", tenantId).With("@c", customerId).With("@before", before ?? long.MaxValue).With("@n", limit + 1).ExecuteReaderAsync(ct);
        var rows = new List<Message>();
        while (await r.ReadAsync(ct))
            rows.Add(new(r.GetInt64(0), r.GetGuidValue(1), r.GetString(2), r.GetString(3), r.GetStringOrNull(4), r.GetString(5), r.GetString(6),
                r.GetGuidValue(7), r.GetInt32(8), r.GetGuidValue(9), r.GetInstant(10)));
        return Page<Message>.Of(rows, limit, m => m.Seq);
    }
}
