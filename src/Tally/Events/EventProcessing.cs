using System.Data.Common;
using System.Text.Json;
using Tally.Customers;
using Tally.Ledger;
using Tally.Rules;
using Tally.Storage;

namespace Tally.Events;

/// <summary>What one event's processing may use: the open transaction it must write in, and the time.</summary>
public sealed record ProcessingContext(Database Db, DbConnection Connection, DbTransaction Tx, DateTimeOffset Now)
{
    /// <summary>
    /// The worker's batch: the events it claimed that were assessed before (their trace is set: re-queued by hand), read with
    /// the claim, so an assessment need not read its event's row again. Null elsewhere: the row is read.
    /// </summary>
    public IReadOnlySet<long>? Assessed { get; init; }

    /// <summary>
    /// The worker's batch: the traces of the events assessed in it, written with the batch's "processed" mark in one pass
    /// (on PostgreSQL a round trip per batch rather than per event). Null elsewhere: each trace is written at once.
    /// </summary>
    public List<(long Seq, string Trace)>? Traces { get; init; }
}

/// <summary>Tells the worker which event was being processed when a batch threw, so that event alone is failed.</summary>
public sealed class ProcessingCursor
{
    public long? Current { get; set; }

    /// <summary>The batch left pending events behind (it was full, or ran out of time): run the next one at once.</summary>
    public bool MorePending { get; set; }

    /// <summary>The batch stopped at its time budget with claimed events left over.</summary>
    public bool OutOfTime { get; set; }
}

/// <summary>
/// Turns one stored event into its effects, inside the transaction that marks it processed: so an event's
/// effects and its status commit together, and a crash replays the event from scratch with no effect twice.
/// The rule engine plugs in here.
/// </summary>
public sealed class EventProcessor(RuleProcessing rules)
{
    /// <summary>
    /// Applies the event; null when it took effect, or why it could not (a redemption whose points are gone): the event
    /// is then marked failed with that error, in the same transaction as whatever it did (it released its promise).
    /// </summary>
    public async Task<string?> ProcessAsync(ProcessingContext ctx, StoredEvent e, CancellationToken ct)
    {
        switch (e.Type)
        {
            case EventType.Redemption:
                return await ApplyRedemptionAsync(ctx, e, ct);
            case EventType.Order or EventType.Transaction:
                var total = EventData.TotalOf(e.Type, e.Payload);
                await RecordTransactionAddedAsync(ctx, e, total, ct);
                if (total is { } amount) await LedgerStore.RecordSpendAsync(ctx.Connection, ctx.Tx, e.TenantId, e.CustomerId, e.EventId, e.ReceivedAt, amount, ct);
                await rules.ProcessAsync(ctx, e, ct);
                await PointsBook.DecideSpendTierAsync(ctx, e.TenantId, e.CustomerId, e.EventId.ToString(), ct);
                break;
            default:
                // Action, order, transaction, calendar and points events are assessed against the tenant's live rules.
                await rules.ProcessAsync(ctx, e, ct);
                break;
        }
        return null;
    }

    /// <summary>The seed's <c>transactionAdded</c> loyalty event for an order or card transaction; its id derives from the event, so a replay records it once.</summary>
    private static Task RecordTransactionAddedAsync(ProcessingContext ctx, StoredEvent e, decimal? total, CancellationToken ct)
    {
        var data = JsonSerializer.Serialize(
            new { type = "transactionAdded", customerId = e.CustomerId, causingEventId = e.EventId, kind = EventData.Name(e.Type), total, at = e.ReceivedAt },
            TallyJson.Options);
        return LedgerStore.RecordOtherAsync(ctx.Connection, ctx.Tx, e.TenantId, e.CustomerId, EventData.DerivedId(e.TenantId, $"transactionAdded:{e.EventId:N}"),
            "transactionAdded", data, ctx.Now, ct);
    }

    private static Task<string?> ApplyRedemptionAsync(ProcessingContext ctx, StoredEvent e, CancellationToken ct)
    {
        var body = JsonSerializer.Deserialize<RedemptionEvent>(e.Payload, TallyJson.Options)!;
        var quantity = body.Redemption!.Quantity!.Value;
        return PointsBook.RedeemAsync(ctx, e.TenantId, e.CustomerId, e.EventId, quantity, body.Redemption.ExternalReference ?? body.Reference, ct);
    }

}

public static class EventProcessing
{
    /// <summary>
    /// Processes up to <paramref name="limit"/> pending events in arrival order and returns how many.
    /// On PostgreSQL several nodes may run this at once: events are claimed with SKIP LOCKED, then each
    /// customer's row is locked too (a customer another node holds is skipped), and a customer's claimed events
    /// are processed only up to the first pending event of theirs we did not claim, so one customer's events are
    /// always applied in order.
    /// </summary>
    /// <remarks>
    /// A batch holds the write queue (on SQLite, the only writer) while it runs, so it stops taking further events
    /// once <paramref name="budget"/> has passed: ingestion waits at most about that long behind the worker. What it
    /// claimed but did not reach stays pending for the next batch. The answer is the number of events handled;
    /// <see cref="ProcessingCursor.MorePending"/> says whether the caller should come back at once.
    /// </remarks>
    public static async Task<int> ProcessPendingAsync(
        Database db, DbConnection c, DbTransaction tx, EventProcessor processor, int limit, DateTimeOffset now, ProcessingCursor cursor, CancellationToken ct,
        TimeSpan? budget = null)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        cursor.MorePending = false;
        cursor.OutOfTime = false;
        var claimed = new List<StoredEvent>();
        var assessed = new HashSet<long>();
        {
            var cmd = c.Prepared(
                $"SELECT {EventData.Columns}, trace IS NOT NULL FROM events WHERE status = 'pending' ORDER BY seq LIMIT @n{db.ForUpdateSkipLocked}", tx);
            await using var r = await cmd.With("@n", limit).ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                var e = EventData.Read(r);
                claimed.Add(e);
                if (r.GetBoolean(EventData.ColumnCount)) assessed.Add(e.Seq);
            }
        }

        if (claimed.Count == 0) return 0;
        cursor.MorePending = claimed.Count == limit;
        if (db.Kind == StoreKind.Postgres) claimed = await KeepCustomersWeOwnAsync(c, tx, claimed, ct);

        var traces = new List<(long Seq, string Trace)>();
        var ctx = new ProcessingContext(db, c, tx, now) { Assessed = assessed, Traces = traces };
        var handled = 0;
        List<(long Seq, string Error)>? refused = null;
        foreach (var e in claimed)
        {
            if (budget is { } b && handled > 0 && System.Diagnostics.Stopwatch.GetElapsedTime(started) > b)
            {
                cursor.MorePending = cursor.OutOfTime = true;
                break;
            }

            handled++;
            cursor.Current = e.Seq;
            if (await processor.ProcessAsync(ctx, e, ct) is { } error) (refused ??= []).Add((e.Seq, error));
        }

        cursor.Current = null;
        // One "processed" mark for the batch: it commits with the events' effects, or rolls back with them. An event that
        // could not take effect is marked failed with its reason instead.
        await RuleState.SaveTracesAsync(c, tx, traces, ct);
        foreach (var (seq, error) in refused ?? []) await MarkFailedAsync(c, tx, seq, error, now, ct);
        await MarkProcessedAsync(c, tx, refused is null ? claimed.Take(handled) : claimed.Take(handled).Where(e => !refused.Exists(r => r.Seq == e.Seq)), now, ct);
        return handled;
    }

    private static async Task MarkProcessedAsync(DbConnection c, DbTransaction tx, IEnumerable<StoredEvent> events, DateTimeOffset now, CancellationToken ct)
    {
        foreach (var chunk in events.Chunk(500))
        {
            var names = string.Join(", ", chunk.Select((_, i) => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"@s{i}")));
            var cmd = c.Prepared($"UPDATE events SET status = 'processed', processed_at = @now, error = NULL WHERE seq IN ({names})", tx);
            cmd.With("@now", now);
            for (var i = 0; i < chunk.Length; i++) cmd.With(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"@s{i}"), chunk[i].Seq);
            await cmd.ExecuteNonQueryAsync(ct);
        }
    }

    private static async Task<List<StoredEvent>> KeepCustomersWeOwnAsync(DbConnection c, DbTransaction tx, List<StoredEvent> claimed, CancellationToken ct)
    {
        var customers = claimed.Select(x => (x.TenantId, x.CustomerId)).Distinct().ToArray();
        var tenants = customers.Select(x => x.TenantId).ToArray();
        var ids = customers.Select(x => x.CustomerId).ToArray();
        var owned = new HashSet<(Guid, Guid)>();
        await using (var lockCmd = c.Command(
            """
            SELECT c.tenant_id, c.customer_id FROM customers c
            JOIN unnest(@ts, @cs) AS k(tenant_id, customer_id) ON c.tenant_id = k.tenant_id AND c.customer_id = k.customer_id
            FOR UPDATE OF c SKIP LOCKED
            """, tx))
        {
            await using var r = await lockCmd.With("@ts", tenants).With("@cs", ids).ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct)) owned.Add((r.GetGuid(0), r.GetGuid(1)));
        }

        // SKIP LOCKED can leave holes: another node may hold (without processing) a customer's event that sits
        // between two we claimed. So for each customer we own, we process the claimed events only up to the first
        // pending event we did not claim; the rest wait for a later batch.
        var maxClaimed = claimed[^1].Seq;
        var pending = new List<(Guid Tenant, Guid Customer, long Seq)>();
        await using (var pendingCmd = c.Command(
            """
            SELECT e.tenant_id, e.customer_id, e.seq FROM events e
            JOIN unnest(@ts, @cs) AS k(tenant_id, customer_id) ON e.tenant_id = k.tenant_id AND e.customer_id = k.customer_id
            WHERE e.status = 'pending' AND e.seq <= @max ORDER BY e.seq
            """, tx))
        {
            await using var r = await pendingCmd.With("@ts", tenants).With("@cs", ids).With("@max", maxClaimed).ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct)) pending.Add((r.GetGuid(0), r.GetGuid(1), r.GetInt64(2)));
        }

        var claimedSeqs = claimed.Select(x => x.Seq).ToHashSet();
        var blockedAt = new Dictionary<(Guid, Guid), long>();
        foreach (var p in pending)
        {
            if (!claimedSeqs.Contains(p.Seq)) blockedAt.TryAdd((p.Tenant, p.Customer), p.Seq);
        }

        return claimed.Where(x =>
        {
            var key = (x.TenantId, x.CustomerId);
            return owned.Contains(key) && (!blockedAt.TryGetValue(key, out var hole) || x.Seq < hole);
        }).ToList();
    }

    public static async Task MarkFailedAsync(DbConnection c, DbTransaction tx, long seq, string error, DateTimeOffset now, CancellationToken ct)
    {
        await using var cmd = c.Command("UPDATE events SET status = 'failed', error = @err, processed_at = @now WHERE seq = @s AND status = 'pending'", tx);
        await cmd.With("@err", error).With("@now", now).With("@s", seq).ExecuteNonQueryAsync(ct);
    }

    /// <summary>How many events wait to be processed (the queue depth).</summary>
    public static async Task<long> PendingCountAsync(DbConnection c, CancellationToken ct)
    {
        await using var cmd = c.Command("SELECT COUNT(*) FROM events WHERE status = 'pending'");
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture);
    }
}
