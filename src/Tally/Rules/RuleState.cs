using System.Data.Common;
using Tally.Storage;

namespace Tally.Rules;

/// <summary>
/// The stateful facts of rules in storage: counter rows (nth, everyNth, repeat, lifetimeValue) and how often each
/// rule fired. Both are written in the event's own transaction and keyed by event id, so a replay counts nothing twice.
/// </summary>
public static class RuleState
{
    /// <summary>The usage row that counts a rule's fires over all customers.</summary>
    private static readonly Guid AllCustomers = Guid.Empty;

    // Amounts are kept as ten-thousandths in a BIGINT: summed exactly on both engines (SQLite has no decimal type).
    private const decimal Scale = 10_000m;

    /// <summary>
    /// Answers FactsNeeded for this customer: counter rows of the events stored before this one (seq below
    /// <paramref name="eventSeq"/>; long.MaxValue for an event that is not stored), never this event's own. So a replay,
    /// even after later events were processed, sees exactly the facts of its first run.
    /// </summary>
    public static async Task<RuleFacts> LoadAsync(
        DbConnection c, DbTransaction? tx, Guid tenantId, Guid customerId, Guid eventId, long eventSeq, FactsNeeded needed, CancellationToken ct)
    {
        if (needed.IsEmpty) return RuleFacts.None;
        var counters = new Dictionary<CounterQuery, CounterFact>();
        foreach (var query in needed.Counters)
        {
            var sql = query.Since is null
                ? "SELECT COUNT(*), COALESCE(SUM(amount_e4), 0) FROM rule_counters WHERE tenant_id = @t AND customer_id = @c AND counter_key = @k AND event_id <> @e AND event_seq < @seq"
                : "SELECT COUNT(*), COALESCE(SUM(amount_e4), 0) FROM rule_counters WHERE tenant_id = @t AND customer_id = @c AND counter_key = @k AND event_id <> @e AND event_seq < @seq AND at >= @since";
            var cmd = c.Hot(sql, tx);
            cmd.With("@t", tenantId).With("@c", customerId).With("@k", query.Key).With("@e", eventId).With("@seq", eventSeq);
            if (query.Since is { } since) cmd.With("@since", since);
            await using var r = await cmd.ExecuteReaderAsync(ct);
            await r.ReadAsync(ct);
            counters[query] = new CounterFact(r.GetInt64(0), Convert.ToInt64(r.GetValue(1), System.Globalization.CultureInfo.InvariantCulture) / Scale);
        }

        var usages = new Dictionary<string, RuleUsageFact>(StringComparer.Ordinal);
        foreach (var ruleId in needed.RuleUsages)
        {
            if (!Guid.TryParse(ruleId, out var rule)) continue;
            var cmd = c.Hot(
                """
                SELECT
                    COALESCE((SELECT used FROM rule_usages WHERE tenant_id = @t AND rule_id = @r AND customer_id = @c), 0),
                    COALESCE((SELECT used FROM rule_usages WHERE tenant_id = @t AND rule_id = @r AND customer_id = @all), 0),
                    (SELECT COUNT(*) FROM rule_fires WHERE tenant_id = @t AND rule_id = @r AND event_id = @e)
                """, tx);
            await using var r = await cmd.With("@t", tenantId).With("@r", rule).With("@c", customerId).With("@all", AllCustomers).With("@e", eventId)
                .ExecuteReaderAsync(ct);
            await r.ReadAsync(ct);
            // A replayed event sees the usage as it was before its first run.
            var own = r.GetInt64(2);
            usages[ruleId] = new RuleUsageFact(r.GetInt64(0) - own, r.GetInt64(1) - own);
        }

        return new RuleFacts { Counters = counters, Usages = usages };
    }

    public static async Task WriteCountersAsync(
        DbConnection c, DbTransaction tx, Guid tenantId, Guid customerId, Guid eventId, long eventSeq, IReadOnlyList<CounterIncrement> increments, CancellationToken ct)
    {
        if (increments.Count == 0) return;
        await using var cmd = c.Command(
            """
            INSERT INTO rule_counters (tenant_id, customer_id, counter_key, event_id, event_seq, at, amount_e4) VALUES (@t, @c, @k, @e, @seq, @at, @amount)
            ON CONFLICT (tenant_id, customer_id, counter_key, event_id) DO NOTHING
            """, tx);
        cmd.With("@t", tenantId).With("@c", customerId).With("@e", eventId).With("@seq", eventSeq).With("@k", "").With("@at", 0L).With("@amount", 0L);
        foreach (var inc in increments)
        {
            cmd.Parameters["@k"].Value = inc.Key;
            cmd.Parameters["@at"].Value = inc.At.ToUnixTimeMilliseconds();
            cmd.Parameters["@amount"].Value = (long)decimal.Round(inc.Amount * Scale, MidpointRounding.AwayFromZero);
            await cmd.ExecuteNonQueryAsync(ct);
        }
    }

    /// <summary>
    /// Counts the fires of this event, each once: per customer and in total, never past a limit. The increment is
    /// conditional (used &lt; limit), so of two racing events only one takes the last use; false when this event lost
    /// such a race (the caller rolls back what it claimed and evaluates again). Rules are claimed in id order so two
    /// events never wait on each other's rows.
    /// </summary>
    public static async Task<bool> ClaimAsync(
        DbConnection c, DbTransaction tx, Guid tenantId, Guid customerId, Guid eventId, IReadOnlyList<RuleUsage> usages, DateTimeOffset now, CancellationToken ct)
    {
        foreach (var usage in usages.OrderBy(u => u.RuleId, StringComparer.Ordinal))
        {
            // Only limits need counting; an unlimited rule's fires are in the traces and the ledger.
            if (usage.PerCustomerLimit is null && usage.TotalLimit is null) continue;
            if (!Guid.TryParse(usage.RuleId, out var rule)) continue;
            await using (var fire = c.Command(
                """
                INSERT INTO rule_fires (tenant_id, rule_id, event_id, customer_id, rule_version, fired_at) VALUES (@t, @r, @e, @c, @v, @now)
                ON CONFLICT (tenant_id, rule_id, event_id) DO NOTHING
                """, tx))
            {
                // Already counted: this is a replay of an event whose fires were stored.
                if (await fire.With("@t", tenantId).With("@r", rule).With("@e", eventId).With("@c", customerId).With("@v", usage.RuleVersion)
                        .With("@now", now).ExecuteNonQueryAsync(ct) == 0) continue;
            }

            if (!await IncrementAsync(c, tx, tenantId, rule, AllCustomers, usage.TotalLimit, ct)) return false;
            if (!await IncrementAsync(c, tx, tenantId, rule, customerId, usage.PerCustomerLimit, ct)) return false;
        }

        return true;
    }

    private static async Task<bool> IncrementAsync(DbConnection c, DbTransaction tx, Guid tenantId, Guid rule, Guid customerId, long? limit, CancellationToken ct)
    {
        await using (var ensure = c.Command(
            "INSERT INTO rule_usages (tenant_id, rule_id, customer_id, used) VALUES (@t, @r, @c, 0) ON CONFLICT (tenant_id, rule_id, customer_id) DO NOTHING", tx))
        {
            await ensure.With("@t", tenantId).With("@r", rule).With("@c", customerId).ExecuteNonQueryAsync(ct);
        }

        await using var cmd = c.Command(
            "UPDATE rule_usages SET used = used + 1 WHERE tenant_id = @t AND rule_id = @r AND customer_id = @c AND used < @limit", tx);
        return await cmd.With("@t", tenantId).With("@r", rule).With("@c", customerId).With("@limit", limit ?? long.MaxValue).ExecuteNonQueryAsync(ct) == 1;
    }

    /// <summary>Keeps the trace of a processed event, in its row; it also marks the event as assessed.</summary>
    public static async Task SaveTraceAsync(DbConnection c, DbTransaction tx, long seq, string trace, CancellationToken ct)
    {
        var cmd = c.Prepared("UPDATE events SET trace = @trace WHERE seq = @s", tx);
        await cmd.With("@s", seq).With("@trace", trace).ExecuteNonQueryAsync(ct);
    }

    /// <summary>Keeps the traces of a batch's events (as <see cref="SaveTraceAsync"/> each), in as few statements as the store allows.</summary>
    public static async Task SaveTracesAsync(DbConnection c, DbTransaction tx, IReadOnlyList<(long Seq, string Trace)> traces, CancellationToken ct)
    {
        if (c is Microsoft.Data.Sqlite.SqliteConnection)
        {
            // In process, a statement costs no round trip: the plain one per event stays the cheapest.
            foreach (var (seq, trace) in traces) await SaveTraceAsync(c, tx, seq, trace, ct);
            return;
        }

        // UPDATE ... FROM (VALUES ...): PostgreSQL names the columns of an unaliased VALUES list column1, column2, ...
        await c.ExecuteRowsAsync(tx, "UPDATE events SET trace = v.column2 FROM (", ") AS v WHERE events.seq = v.column1", traces,
            t => [t.Seq, t.Trace], ct);
    }

    /// <summary>The assessment record of the event at <paramref name="seq"/>; null when it was never assessed.</summary>
    public static async Task<string?> TraceAsync(DbConnection c, DbTransaction? tx, long seq, CancellationToken ct)
    {
        var cmd = c.Hot("SELECT trace FROM events WHERE seq = @s", tx);
        return await cmd.With("@s", seq).ExecuteScalarAsync(ct) as string;
    }
}
