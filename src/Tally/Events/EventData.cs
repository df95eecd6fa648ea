using System.Data.Common;
using System.Text.Json;
using Tally.Customers;
using Tally.Storage;

namespace Tally.Events;

/// <summary>An event as it is about to be stored (the payload is the body exactly as received).</summary>
public sealed record NewEvent(Guid TenantId, Guid EventId, Guid CustomerId, EventType Type, string? NameSpace, string Payload, DateTimeOffset ReceivedAt)
{
    /// <summary>Storing it locks its customer's row: the write queue orders such units by this.</summary>
    public string LockOrder => $"{TenantId:N}{CustomerId:N}";
}

/// <summary>
/// The answer to an ingested event; IsExisting when the eventId had been seen before; Queued when it now waits
/// for the worker (false when nothing was stored, or it was stored as processed).
/// </summary>
public sealed record IngestedEvent(Guid EventId, Guid CustomerId, EventType Type, bool IsExisting, string? Result)
{
    public bool Queued { get; init; } = !IsExisting;
}

public enum RedemptionRefusal
{
    None,
    InsufficientPoints,
    AccountLocked,
}

/// <summary>The synchronous half of a redemption: accepted with its balances, or refused (and nothing stored).</summary>
public sealed record RedemptionAnswer(IngestedEvent? Accepted, long StartingBalance, long PendingBalance, RedemptionRefusal Refusal);

/// <summary>The balances a redemption promised when it was accepted; kept so a replay answers the same.</summary>
public sealed record RedemptionResult(long StartingBalance, long PendingBalance);

public sealed record StoredEvent(
    long Seq,
    Guid TenantId,
    Guid EventId,
    Guid CustomerId,
    EventType Type,
    string? NameSpace,
    DateTimeOffset ReceivedAt,
    string Status,
    string? Error,
    string Payload,
    DateTimeOffset? ProcessedAt);

public static class EventStatus
{
    public const string Pending = "pending";
    public const string Processed = "processed";
    public const string Failed = "failed";
}

public static class EventData
{
    internal const string Columns = "seq, event_id, customer_id, type, name_space, received_at, status, error, payload, processed_at, tenant_id";

    /// <summary>How many <see cref="Columns"/> there are: a query may select more after them.</summary>
    internal const int ColumnCount = 11;

    /// <summary><see cref="Columns"/> of <c>events e</c>.</summary>
    private const string JoinedColumns = "e.seq, e.event_id, e.customer_id, e.type, e.name_space, e.received_at, e.status, e.error, e.payload, e.processed_at, e.tenant_id";

    public static string Name(EventType type) => type switch
    {
        EventType.Action => "action",
        EventType.Order => "order",
        EventType.Transaction => "transaction",
        EventType.Basket => "basket",
        EventType.Redemption => "redemption",
        EventType.Calendar => "calendar",
        EventType.Points => "points",
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    public static EventType Parse(string name) => name switch
    {
        "action" => EventType.Action,
        "order" => EventType.Order,
        "transaction" => EventType.Transaction,
        "basket" => EventType.Basket,
        "redemption" => EventType.Redemption,
        "calendar" => EventType.Calendar,
        "points" => EventType.Points,
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "unknown event type"),
    };

    /// <summary>
    /// Stores an event for asynchronous processing, once per eventId; creates its customer if new (unless the
    /// caller knows the customer's row is committed already). An action that no active rule of the tenant
    /// assesses (as of the rule-set version read in this transaction) has nothing to process: it is stored as
    /// processed at once, so the worker neither reads nor rewrites it.
    /// </summary>
    public static async Task<IngestedEvent> IngestAsync(DbConnection c, DbTransaction tx, NewEvent e, CancellationToken ct, bool customerKnown = false)
    {
        if (!customerKnown && await CustomerData.EnsureAsync(c, tx, e.TenantId, e.CustomerId, e.ReceivedAt, ct))
        {
            // The event introduced the customer: the loyalty event says so, in the same transaction.
            await Ledger.LedgerStore.RecordOtherAsync(c, tx, e.TenantId, e.CustomerId, DerivedId(e.TenantId, $"customerAdded:{e.CustomerId:N}"), "customerAdded",
                JsonSerializer.Serialize(new { type = "customerAdded", customerId = e.CustomerId, causingEventId = e.EventId, at = e.ReceivedAt }, TallyJson.Options),
                e.ReceivedAt, ct);
        }
        var settled = e.Type == EventType.Action && !await Rules.RuleData.HasActiveRulesAsync(c, tx, e.TenantId, "action", ct);
        return await InsertAsync(c, tx, e, null, ct, settled) ? new IngestedEvent(e.EventId, e.CustomerId, e.Type, false, null) { Queued = !settled } : await ExistingAsync(c, tx, e, ct);
    }

    /// <summary>
    /// Queues an event Tally produces itself (a due trigger, a calendar date, a balance change) for the worker,
    /// in the caller's transaction. The event id must be derived from what caused it, so producing it twice
    /// queues it once; answers whether it was new. The customer must exist.
    /// </summary>
    public static Task<bool> EnqueueInternalAsync(DbConnection c, DbTransaction tx, NewEvent e, CancellationToken ct) =>
        InsertAsync(c, tx, e, null, ct);

    /// <summary>
    /// The <c>total</c> of an order's or card transaction's stored payload (null when it has none), read without binding
    /// the rest of the body: tier spend measures read it for every order in their window.
    /// </summary>
    public static decimal? TotalOf(EventType type, string payload)
    {
        using var doc = JsonDocument.Parse(payload);
        var detail = doc.RootElement.TryGetProperty(type == EventType.Order ? "order" : "transaction", out var d) ? d : default;
        return detail.ValueKind == JsonValueKind.Object && detail.TryGetProperty("total", out var t) && t.ValueKind == JsonValueKind.Number ? t.GetDecimal() : null;
    }

    /// <summary>A stable event id for an internally produced event, from the text that names its cause.</summary>
    public static Guid DerivedId(Guid tenantId, string cause)
    {
        Span<byte> hash = stackalloc byte[32];
        System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"{tenantId:N}:{cause}"), hash);
        hash[6] = (byte)((hash[6] & 0x0F) | 0x50); // version 5-style: name-based
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return new Guid(hash[..16], bigEndian: true);
    }

    /// <summary>
    /// Accepts a redemption if the account is open and holds enough points not already promised to earlier
    /// redemptions, and promises them (reserved_points) in the same transaction. The customer row is locked
    /// first, so racing redemptions are decided one after the other and can never overdraw.
    /// </summary>
    public static async Task<RedemptionAnswer> AcceptRedemptionAsync(Database db, DbConnection c, DbTransaction tx, NewEvent e, long quantity, CancellationToken ct)
    {
        var customer = await CustomerData.GetAsync(c, tx, e.TenantId, e.CustomerId, ct, db.ForUpdate);
        var existing = await FindAsync(c, tx, e.TenantId, e.EventId, ct);
        if (existing is { } found) return Replay(found);

        var available = customer is null ? 0 : await Ledger.LedgerStore.SpendableAsync(c, tx, e.TenantId, e.CustomerId, e.ReceivedAt, ct);
        if (customer is { IsAccountLocked: true }) return new RedemptionAnswer(null, available, available, RedemptionRefusal.AccountLocked);
        if (available < quantity) return new RedemptionAnswer(null, available, available, RedemptionRefusal.InsufficientPoints);

        var result = new RedemptionResult(available, available - quantity);
        if (!await InsertAsync(c, tx, e, JsonSerializer.Serialize(result, TallyJson.Options), ct))
        {
            // Same eventId raced in under another customer: the first one stands.
            return Replay((await FindAsync(c, tx, e.TenantId, e.EventId, ct))!.Value);
        }

        await using var reserve = c.Command("UPDATE customers SET reserved_points = reserved_points + @q WHERE tenant_id = @t AND customer_id = @c", tx);
        await reserve.With("@q", quantity).With("@t", e.TenantId).With("@c", e.CustomerId).ExecuteNonQueryAsync(ct);
        return new RedemptionAnswer(new IngestedEvent(e.EventId, e.CustomerId, e.Type, false, null), result.StartingBalance, result.PendingBalance, RedemptionRefusal.None);

        static RedemptionAnswer Replay((StoredEvent Event, string? Result) existing)
        {
            var original = existing.Result is null ? null : JsonSerializer.Deserialize<RedemptionResult>(existing.Result, TallyJson.Options);
            return new RedemptionAnswer(
                new IngestedEvent(existing.Event.EventId, existing.Event.CustomerId, existing.Event.Type, true, existing.Result),
                original?.StartingBalance ?? 0, original?.PendingBalance ?? 0, RedemptionRefusal.None);
        }
    }

    /// <summary>Inserts the event unless its id is taken: pending, or (<paramref name="settled"/>) processed when received.</summary>
    private static async Task<bool> InsertAsync(DbConnection c, DbTransaction tx, NewEvent e, string? result, CancellationToken ct, bool settled = false)
    {
        var cmd = c.Prepared(
            """
            INSERT INTO events (tenant_id, event_id, customer_id, type, name_space, payload, received_at, status, result, processed_at)
            VALUES (@t, @e, @c, @type, @ns, @payload, @at, @status, @result, @done)
            ON CONFLICT (tenant_id, event_id) DO NOTHING
            """, tx);
        return await cmd.With("@t", e.TenantId).With("@e", e.EventId).With("@c", e.CustomerId).With("@type", Name(e.Type))
            .With("@ns", e.NameSpace).With("@payload", e.Payload).With("@at", e.ReceivedAt)
            .With("@status", settled ? EventStatus.Processed : EventStatus.Pending).With("@result", result).With("@done", settled ? e.ReceivedAt : null)
            .ExecuteNonQueryAsync(ct) > 0;
    }

    private static async Task<IngestedEvent> ExistingAsync(DbConnection c, DbTransaction tx, NewEvent e, CancellationToken ct)
    {
        var (existing, result) = (await FindAsync(c, tx, e.TenantId, e.EventId, ct))!.Value;
        return new IngestedEvent(existing.EventId, existing.CustomerId, existing.Type, true, result);
    }

    public static async Task<(StoredEvent Event, string? Result)?> FindAsync(DbConnection c, DbTransaction? tx, Guid tenantId, Guid eventId, CancellationToken ct)
    {
        await using var cmd = c.Command($"SELECT {Columns}, result FROM events WHERE tenant_id = @t AND event_id = @e", tx);
        await using var r = await cmd.With("@t", tenantId).With("@e", eventId).ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? (Read(r), r.GetStringOrNull(11)) : null;
    }

    /// <summary>A customer's events, newest first; the cursor is the position of the last one shown.</summary>
    public static async Task<Page<StoredEvent>> ListAsync(DbConnection c, Guid tenantId, Guid customerId, int limit, long? before, CancellationToken ct)
    {
        await using var cmd = c.Command(CustomerEvents.Select(Sql.KindOf(c), JoinedColumns, "e.seq < @before", "@n"));
        await using var r = await cmd.With("@t", tenantId).With("@c", customerId).With("@before", before ?? long.MaxValue).With("@n", limit + 1)
            .ExecuteReaderAsync(ct);
        var items = new List<StoredEvent>();
        while (await r.ReadAsync(ct)) items.Add(Read(r));
        return Page<StoredEvent>.Of(items, limit, e => e.Seq);
    }

    internal static StoredEvent Read(DbDataReader r) => new(
        r.GetInt64(0), r.GetGuidValue(10), r.GetGuidValue(1), r.GetGuidValue(2), Parse(r.GetString(3)), r.GetStringOrNull(4), r.GetInstant(5),
        r.GetString(6), r.GetStringOrNull(7), r.GetString(8), r.GetInstantOrNull(9));
}
