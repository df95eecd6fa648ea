using System.Data.Common;
using System.Globalization;
using System.Text.Json;
using Tally.Events;
using Tally.Scheduling;
using Tally.Storage;

namespace Tally.Ledger;

/// <summary>An account as loaded for a movement, with what the customer row keeps beside the ledger's figures.</summary>
public sealed record LoadedAccount(
    Account Account,
    long Reserved,
    TierStatus Tier,
    DateTimeOffset? RemindedUntil,
    DateTimeOffset CreatedAt,
    DateOnly? DateOfBirth)
{
    /// <summary>What the customer may spend now: the balance less the points promised to accepted, unapplied redemptions.</summary>
    public long Available => Account.Balance - Reserved;

    /// <summary>
    /// The customer row's <c>settle_due_at</c>: no lot of the account activates, expires or is reminded of before it, and a
    /// settle job is scheduled at it while it lies ahead (<see cref="History.Never"/> when nothing is); null when unknown.
    /// </summary>
    public DateTimeOffset? SettleDueAt { get; init; }

    /// <summary>Every open lot of the account was loaded; false when it was loaded without them (nothing was due; <see cref="LedgerStore.LoadLotsIfDueAsync"/>).</summary>
    public bool AllLots { get; init; } = true;
}

/// <summary>What a persisted movement did to the balance, for the answer and the <c>points</c> event.</summary>
public sealed record Persisted(long PreviousBalance, long Balance, string? Tier);

/// <summary>
/// Loads accounts and persists <see cref="Posting"/>s (docs/ledger.md "Persisting a posting"): entries, lots,
/// the outbox, the customer's cached figures, the tier, the next scheduler job and the <c>points</c> event,
/// all in the caller's transaction. The caller holds the customer row (FOR UPDATE on PostgreSQL; SQLite has one writer).
/// </summary>
public static class LedgerStore
{
    /// <summary>The scheduler job kind that settles one account (activations, expiries, reminders, tier period ends).</summary>
    public const string SettleJob = "ledger";

    private const string CustomerColumns =
        "customer_id, points_balance, pending_points, lifetime_earned, lifetime_redeemed, lifetime_expired, last_earn_at, is_locked, " +
        "is_closed, reserved_points, tier, tier_ends_at, tier_reminded_for, reminded_until, created_at, date_of_birth, settle_due_at";

    private const string LotColumns =
        "lot_id, customer_id, ledger, points, remaining, reversed, expired, earned_at, available_at, is_pending, expires_at, source_key, source_event_id, from_lot_id";

    private const string EntryColumns =
        "entry_id, entry_uid, customer_id, ledger, type, points, pending_points, balance_after, pending_after, earned, redeemed, expired, unrecovered, " +
        "effective_at, movement_key, seq_no, event_id, rule, request_key, reason, counterparty_id, reverses_entry_uid, lot_refs";

    private static readonly Dictionary<string, EntryType> EntryTypes =
        Enum.GetValues<EntryType>().ToDictionary(Entry.Name, t => t, StringComparer.Ordinal);

    // ---- program settings ----

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<Guid, (string Json, ProgramSettings Settings)> SettingsByTenant = new();

    /// <summary>
    /// The tenant's program. Parsing (and validating) the JSON is the costly part, so the parsed settings are kept per
    /// tenant and reused while the stored text is the same: keyed by content, a rolled-back change can never leave a
    /// wrong entry behind.
    /// </summary>
    public static async Task<(ProgramSettings Settings, int Version)> SettingsAsync(DbConnection c, DbTransaction? tx, Guid tenantId, CancellationToken ct)
    {
        // In a write-queue transaction the program is read once (TransactionMemo): a batch of events reads it once per tenant,
        // not once per event and movement (on PostgreSQL a round trip each), and sees one program throughout.
        var memo = TransactionMemo.Of(tx);
        if (memo is not null && memo.TryGetValue((SettingsMemo, tenantId), out var kept)) return ((ProgramSettings, int))kept;
        var read = await ReadSettingsAsync(c, tx, tenantId, ct);
        memo?[(SettingsMemo, tenantId)] = read;
        return read;
    }

    private const string SettingsMemo = "program settings";

    private static async Task<(ProgramSettings Settings, int Version)> ReadSettingsAsync(DbConnection c, DbTransaction? tx, Guid tenantId, CancellationToken ct)
    {
        var cmd = c.Hot("SELECT json, version FROM program_settings WHERE tenant_id = @t", tx);
        await using var r = await cmd.With("@t", tenantId).ExecuteReaderAsync(ct);
        if (!await r.ReadAsync(ct)) return (ProgramSettings.Default, 0);
        var json = r.GetString(0);
        if (SettingsByTenant.TryGetValue(tenantId, out var known) && string.Equals(known.Json, json, StringComparison.Ordinal)) return (known.Settings, r.GetInt32(1));
        var parsed = ProgramSettings.Parse(json);
        var settings = parsed.Settings ?? throw new InvalidOperationException($"Stored program of tenant {tenantId} no longer parses.");
        SettingsByTenant[tenantId] = (json, settings);
        return (settings, r.GetInt32(1));
    }

    public static async Task<int> SaveSettingsAsync(DbConnection c, DbTransaction tx, Guid tenantId, ProgramSettings settings, DateTimeOffset now, CancellationToken ct)
    {
        await using var cmd = c.Command(
            """
            INSERT INTO program_settings (tenant_id, json, version, changed_at) VALUES (@t, @j, 1, @now)
            ON CONFLICT (tenant_id) DO UPDATE SET json = excluded.json, version = program_settings.version + 1, changed_at = excluded.changed_at
            RETURNING version
            """, tx);
        var (before, _) = await SettingsAsync(c, tx, tenantId, ct);
        var version = Convert.ToInt32(await cmd.With("@t", tenantId).With("@j", settings.ToJson()).With("@now", now).ExecuteScalarAsync(ct), CultureInfo.InvariantCulture);
        // Later units of the same write batch see the new program.
        TransactionMemo.Of(tx)?[(SettingsMemo, tenantId)] = (settings, version);
        if (TierRules(before) != TierRules(settings))
        {
            if (MeasuresSpend(settings) && !MeasuresSpend(before))
            {
                // Spends are kept only while tiers measure spend: fill in those of the orders processed before (one statement,
                // like the settle jobs below: an admin change that holds the writer for a moment on a large tenant).
                await using var fill = c.Command(Migrations.Translate(Migrations.SpendsFromEvents, c is Microsoft.Data.Sqlite.SqliteConnection ? StoreKind.Sqlite : StoreKind.Postgres), tx);
                await fill.With("@t", tenantId).ExecuteNonQueryAsync(ct);
            }

            await SettleEveryoneAsync(c, tx, tenantId, $"{SettleJob}:program:{version}:", now, ct);
        }
        if (DueRules(before) != DueRules(settings))
        {
            // The kept due instants were worked out under the old expiry and reminder rules: unknown now, so each account's
            // next movement loads its lots and works its instant out again (LoadedAccount.SettleDueAt).
            await using var forget = c.Command("UPDATE customers SET settle_due_at = NULL WHERE tenant_id = @t AND settle_due_at IS NOT NULL", tx);
            await forget.With("@t", tenantId).ExecuteNonQueryAsync(ct);
        }

        return version;
    }

    private static string DueRules(ProgramSettings s) => $"{s.ExpiryMode}|{s.ExpiryAfter}|{s.ExpiryReminderBefore}|{s.TimeZone.Id}";

    private static string TierRules(ProgramSettings s) =>
        $"{string.Join(";", s.Tiers.Select(t => $"{t.Name}={t.Threshold}"))}|{s.TierMeasure}|{s.TierPeriod}";

    /// <summary>
    /// Schedules a settle job, due now, for every customer of the tenant: after the tiers changed, each customer's tier is
    /// decided again by the scheduler in its rounds (upgrades recorded as for any movement), not left as it was until the
    /// customer's next movement. One statement; on a very large tenant it holds the writer for a moment (an admin change).
    /// </summary>
    private static async Task SettleEveryoneAsync(DbConnection c, DbTransaction tx, Guid tenantId, string keyPrefix, DateTimeOffset now, CancellationToken ct)
    {
        await using var cmd = c.Command(
            $"""
            INSERT INTO scheduled_jobs (tenant_id, customer_id, kind, job_key, due_at, payload, status, attempts)
            SELECT tenant_id, customer_id, @kind, @prefix || {Sql.IdAsHex(c, "customer_id")}, @now, NULL, 'due', 0 FROM customers WHERE tenant_id = @t
            ON CONFLICT (tenant_id, job_key) DO NOTHING
            """, tx);
        await cmd.With("@kind", SettleJob).With("@prefix", keyPrefix).With("@now", now).With("@t", tenantId).ExecuteNonQueryAsync(ct);
    }

    // ---- accounts ----

    /// <summary>
    /// Loads the customer's main-ledger account with its open lots and any <paramref name="extraLots"/> (an award's
    /// or a redemption's lots); null when there is no such customer. <paramref name="lockClause"/> is Database.ForUpdate for writes.
    /// </summary>
    public static Task<LoadedAccount?> LoadAsync(DbConnection c, DbTransaction? tx, Guid tenantId, Guid customerId, string lockClause,
        CancellationToken ct, IReadOnlyCollection<Guid>? extraLots = null) =>
        LoadAsync(c, tx, tenantId, customerId, lockClause, null, default, ct, extraLots);

    /// <summary>
    /// As <see cref="LoadAsync(DbConnection, DbTransaction?, Guid, Guid, string, CancellationToken, IReadOnlyCollection{Guid}?)"/>,
    /// but without the open lots when nothing of theirs can fall due by <paramref name="dueBy"/> (<see cref="History.NothingDue"/>):
    /// for movements that only credit (an award, a positive adjustment; <paramref name="dueBy"/> is now) and for reads that
    /// look no further than <paramref name="dueBy"/>, which then cost the same however many lots the customer holds. The
    /// answer says which it did (<see cref="LoadedAccount.AllLots"/>).
    /// </summary>
    public static Task<LoadedAccount?> LoadLotsIfDueAsync(DbConnection c, DbTransaction? tx, Guid tenantId, Guid customerId, string lockClause,
        ProgramSettings settings, DateTimeOffset dueBy, CancellationToken ct) =>
        LoadAsync(c, tx, tenantId, customerId, lockClause, settings, dueBy, ct, null);

    private static async Task<LoadedAccount?> LoadAsync(DbConnection c, DbTransaction? tx, Guid tenantId, Guid customerId, string lockClause,
        ProgramSettings? lotsIfDue, DateTimeOffset dueBy, CancellationToken ct, IReadOnlyCollection<Guid>? extraLots)
    {
        LoadedAccount loaded;
        {
            var cmd = c.Hot($"SELECT {CustomerColumns} FROM customers WHERE tenant_id = @t AND customer_id = @c{lockClause}", tx);
            await using var r = await cmd.With("@t", tenantId).With("@c", customerId).ExecuteReaderAsync(ct);
            if (!await r.ReadAsync(ct)) return null;
            loaded = ReadAccount(r);
        }

        if (lotsIfDue is not null && History.NothingDue(loaded.SettleDueAt, loaded.Account, lotsIfDue, dueBy)) return loaded with { AllLots = false };

        var lots = new Dictionary<Guid, Lot>();
        {
            var cmd = c.Hot($"SELECT {LotColumns} FROM lots WHERE tenant_id = @t AND customer_id = @c AND ledger = @l AND (remaining > 0 OR is_pending)", tx);
            await using var r = await cmd.With("@t", tenantId).With("@c", customerId).With("@l", Account.MainLedger).ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                var lot = ReadLot(r);
                lots[lot.LotId] = lot;
            }
        }

        foreach (var id in extraLots ?? [])
        {
            if (lots.ContainsKey(id)) continue;
            await using var cmd = c.Command($"SELECT {LotColumns} FROM lots WHERE tenant_id = @t AND lot_id = @id", tx);
            await using var r = await cmd.With("@t", tenantId).With("@id", id).ExecuteReaderAsync(ct);
            if (await r.ReadAsync(ct)) lots[id] = ReadLot(r);
        }

        return loaded with { Account = loaded.Account with { Lots = [.. lots.Values] } };
    }

    /// <summary>
    /// Loads many accounts of one tenant with their open lots, in two statements (the scheduler's sweep). On PostgreSQL
    /// the rows are locked in customer-id order (<paramref name="lockClause"/>), the order every batch locks customers in.
    /// Customers that do not exist are absent from the answer.
    /// </summary>
    public static async Task<Dictionary<Guid, LoadedAccount>> LoadManyAsync(DbConnection c, DbTransaction tx, Guid tenantId,
        IReadOnlyList<Guid> customerIds, string lockClause, CancellationToken ct)
    {
        var accounts = new Dictionary<Guid, LoadedAccount>(customerIds.Count);
        if (customerIds.Count == 0) return accounts;
        var inList = string.Join(", ", customerIds.Select((_, i) => string.Create(CultureInfo.InvariantCulture, $"@c{i}")));
        await using (var cmd = c.Command(
            $"SELECT {CustomerColumns} FROM customers WHERE tenant_id = @t AND customer_id IN ({inList}) ORDER BY customer_id{lockClause}", tx))
        {
            cmd.With("@t", tenantId);
            for (var i = 0; i < customerIds.Count; i++) cmd.With(string.Create(CultureInfo.InvariantCulture, $"@c{i}"), customerIds[i]);
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                var loaded = ReadAccount(r);
                accounts[loaded.Account.CustomerId] = loaded;
            }
        }

        var lots = new Dictionary<Guid, List<Lot>>();
        await using (var cmd = c.Command(
            $"SELECT {LotColumns} FROM lots WHERE tenant_id = @t AND customer_id IN ({inList}) AND ledger = @l AND (remaining > 0 OR is_pending)", tx))
        {
            cmd.With("@t", tenantId).With("@l", Account.MainLedger);
            for (var i = 0; i < customerIds.Count; i++) cmd.With(string.Create(CultureInfo.InvariantCulture, $"@c{i}"), customerIds[i]);
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                var lot = ReadLot(r);
                if (!lots.TryGetValue(lot.CustomerId, out var list)) lots[lot.CustomerId] = list = [];
                list.Add(lot);
            }
        }

        foreach (var (id, loaded) in accounts)
            accounts[id] = loaded with { Account = loaded.Account with { Lots = lots.TryGetValue(id, out var list) ? list : [] } };
        return accounts;
    }

    /// <summary>
    /// What the customer may spend at <paramref name="now"/>: the balance as settled up to now (a scheduler running
    /// behind must not let expired points be promised) less the points promised to accepted redemptions.
    /// </summary>
    public static async Task<long> SpendableAsync(DbConnection c, DbTransaction? tx, Guid tenantId, Guid customerId, DateTimeOffset now, CancellationToken ct)
    {
        var (settings, _) = await SettingsAsync(c, tx, tenantId, ct);
        var loaded = await LoadLotsIfDueAsync(c, tx, tenantId, customerId, "", settings, now, ct);
        if (loaded is null) return 0;
        return Movements.Settle(loaded.Account, settings, Cause.Schedule("spendable"), now).Account.Balance - loaded.Reserved;
    }

    /// <summary>
    /// The lots an award created, oldest first: those its <c>earn</c> entries credited. An event's outcomes post under
    /// movement keys <c>event:&lt;id&gt;:...</c> (<see cref="Cause.Event"/>), found among the customer's entries; no index on
    /// the lots' source is kept for this rare lookup (one index entry less for every lot an award writes).
    /// </summary>
    public static async Task<List<Guid>> AwardLotsAsync(DbConnection c, DbTransaction? tx, Guid tenantId, Guid customerId, string eventId, CancellationToken ct)
    {
        var prefix = $"event:{eventId}:";
        // Text order is the engine's collation on PostgreSQL (which may ignore punctuation), so the key range narrowing the
        // scan is SQLite's alone (byte order); the prefix test is exact on both.
        var range = c is Microsoft.Data.Sqlite.SqliteConnection ? " AND movement_key >= @lo AND movement_key < @hi" : "";
        var credited = new HashSet<Guid>();
        await using (var cmd = c.Command(
            $"""
            SELECT lot_refs FROM ledger_entries WHERE tenant_id = @t AND customer_id = @c{range}
              AND substr(movement_key, 1, @n) = @lo AND type = 'earn' AND lot_refs IS NOT NULL
            """, tx))
        {
            await using var r = await cmd.With("@t", tenantId).With("@c", customerId).With("@lo", prefix).With("@hi", $"event:{eventId};")
                .With("@n", prefix.Length).ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                foreach (var lot in JsonSerializer.Deserialize<List<LotRef>>(r.GetString(0), TallyJson.Options) ?? [])
                    if (lot.Points > 0) credited.Add(lot.LotId);
            }
        }

        if (credited.Count == 0) return [];
        var ids = credited.ToList();
        var names = string.Join(", ", ids.Select((_, i) => string.Create(CultureInfo.InvariantCulture, $"@l{i}")));
        await using var order = c.Command(
            $"SELECT lot_id FROM lots WHERE tenant_id = @t AND lot_id IN ({names}) AND from_lot_id IS NULL ORDER BY earned_at, lot_id", tx);
        order.With("@t", tenantId);
        for (var i = 0; i < ids.Count; i++) order.With(string.Create(CultureInfo.InvariantCulture, $"@l{i}"), ids[i]);
        await using var lots = await order.ExecuteReaderAsync(ct);
        var sorted = new List<Guid>(ids.Count);
        while (await lots.ReadAsync(ct)) sorted.Add(lots.GetGuidValue(0));
        return sorted;
    }

    /// <summary>The redeem entry a redemption event posted, and the redemption_reversal entries that already gave some of it back.</summary>
    public static async Task<(Entry? Redeem, List<Entry> Reversals)> RedemptionAsync(DbConnection c, DbTransaction? tx, Guid tenantId, Guid customerId, Guid eventId,
        CancellationToken ct)
    {
        Entry? redeem = null;
        await using (var cmd = c.Command(
            $"SELECT {EntryColumns} FROM ledger_entries WHERE tenant_id = @t AND customer_id = @c AND movement_key = @k AND type = 'redeem' AND entry_uid IS NOT NULL", tx))
        {
            // The redemption's movement is keyed by its event (PointsBook.RedeemAsync) and posted for the event's customer.
            await using var r = await cmd.With("@t", tenantId).With("@c", customerId).With("@k", PointsBook.RedeemKey(eventId)).ExecuteReaderAsync(ct);
            if (await r.ReadAsync(ct)) redeem = ReadEntry(r);
        }

        var reversals = new List<Entry>();
        if (redeem is null) return (null, reversals);
        await using (var cmd = c.Command(
            $"SELECT {EntryColumns} FROM ledger_entries WHERE tenant_id = @t AND customer_id = @c AND reverses_entry_uid = @id ORDER BY entry_id", tx))
        {
            await using var r = await cmd.With("@t", tenantId).With("@c", redeem.CustomerId).With("@id", redeem.EntryId).ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct)) reversals.Add(ReadEntry(r));
        }

        return (redeem, reversals);
    }

    /// <summary>All entries of an account (for asOf answers): the history, oldest first.</summary>
    public static async Task<List<Entry>> HistoryAsync(DbConnection c, Guid tenantId, Guid customerId, DateTimeOffset until, CancellationToken ct)
    {
        await using var cmd = c.Command(
            $"SELECT {EntryColumns} FROM ledger_entries WHERE tenant_id = @t AND customer_id = @c AND ledger = @l AND entry_uid IS NOT NULL AND effective_at <= @u ORDER BY entry_id");
        await using var r = await cmd.With("@t", tenantId).With("@c", customerId).With("@l", Account.MainLedger).With("@u", until).ExecuteReaderAsync(ct);
        var list = new List<Entry>();
        while (await r.ReadAsync(ct)) list.Add(ReadEntry(r));
        return list;
    }

    /// <summary>
    /// Records a movement's key once per tenant; false when it was recorded before (a replay: post nothing).
    /// A posting may be empty, so the entries' keys alone cannot say a movement happened.
    /// </summary>
    public static async Task<bool> ClaimAsync(DbConnection c, DbTransaction tx, Guid tenantId, string movementKey, Guid customerId, DateTimeOffset now, CancellationToken ct)
    {
        await using var cmd = c.Command(
            "INSERT INTO ledger_movements (tenant_id, movement_key, customer_id, created_at) VALUES (@t, @k, @c, @now) ON CONFLICT (tenant_id, movement_key) DO NOTHING", tx);
        return await cmd.With("@t", tenantId).With("@k", movementKey).With("@c", customerId).With("@now", now).ExecuteNonQueryAsync(ct) > 0;
    }

    /// <summary>
    /// Records several movement keys at once; answers those recorded now (the others were recorded before: replays).
    /// </summary>
    public static async Task<HashSet<string>> ClaimAllAsync(DbConnection c, DbTransaction tx, Guid tenantId, IReadOnlyList<string> movementKeys, Guid customerId,
        DateTimeOffset now, CancellationToken ct)
    {
        var claimed = new HashSet<string>(StringComparer.Ordinal);
        if (movementKeys.Count == 0) return claimed;
        var sql = new System.Text.StringBuilder("INSERT INTO ledger_movements (tenant_id, movement_key, customer_id, created_at) VALUES ");
        for (var i = 0; i < movementKeys.Count; i++) sql.Append(i == 0 ? "" : ", ").Append(CultureInfo.InvariantCulture, $"(@t, @k{i}, @c, @now)");
        sql.Append(" ON CONFLICT (tenant_id, movement_key) DO NOTHING RETURNING movement_key");
        var cmd = c.Prepared(sql.ToString(), tx);
        cmd.With("@t", tenantId).With("@c", customerId).With("@now", now);
        for (var i = 0; i < movementKeys.Count; i++) cmd.With(string.Create(CultureInfo.InvariantCulture, $"@k{i}"), movementKeys[i]);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct)) claimed.Add(r.GetString(0));
        return claimed;
    }

    /// <summary>The customer a movement key was first recorded for, or null when it was never used.</summary>
    public static async Task<Guid?> ClaimedByAsync(DbConnection c, DbTransaction tx, Guid tenantId, string movementKey, CancellationToken ct)
    {
        await using var cmd = c.Command("SELECT customer_id FROM ledger_movements WHERE tenant_id = @t AND movement_key = @k", tx);
        await using var r = await cmd.With("@t", tenantId).With("@k", movementKey).ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? r.GetGuidValue(0) : null;
    }

    /// <summary>The id (list position) of the first entry of the given type a movement posted for a customer.</summary>
    public static async Task<long?> EntryIdAsync(DbConnection c, DbTransaction? tx, Guid tenantId, Guid customerId, string movementKey, EntryType type, CancellationToken ct)
    {
        await using var cmd = c.Command(
            "SELECT MIN(entry_id) FROM ledger_entries WHERE tenant_id = @t AND movement_key = @k AND customer_id = @c AND type = @type", tx);
        var v = await cmd.With("@t", tenantId).With("@k", movementKey).With("@c", customerId).With("@type", Entry.Name(type)).ExecuteScalarAsync(ct);
        return v is null or DBNull ? null : Convert.ToInt64(v, CultureInfo.InvariantCulture);
    }

    // ---- persisting ----

    /// <summary>
    /// Writes a posting (see the class summary). <paramref name="reservedDelta"/> moves reserved_points (a redemption
    /// applied releases its promise). <paramref name="queuePoints"/> is false for movements caused by a <c>points</c>
    /// event, so points rules cannot loop.
    /// </summary>
    public static Task<Persisted> SaveAsync(DbConnection c, DbTransaction tx, Guid tenantId, LoadedAccount before, Posting posting,
        ProgramSettings settings, DateTimeOffset now, CancellationToken ct, long reservedDelta = 0, bool queuePoints = true, string? campaign = null,
        string? reference = null, DateTimeOffset? remindedUntil = null) =>
        SaveChainAsync(c, tx, tenantId, before, [posting], settings, now, ct, reservedDelta, queuePoints, campaign, reference, remindedUntil);

    /// <summary>
    /// Writes movements chained on one account (each decided on the previous one's account, e.g. every award of one
    /// event) with one write per table and one customer update: the rows are exactly those the movements would write one
    /// by one. The tier and the next settle job are decided once, on the account as it ends up; each movement that
    /// changed the balance still queues its own <c>points</c> event.
    /// </summary>
    public static async Task<Persisted> SaveChainAsync(DbConnection c, DbTransaction tx, Guid tenantId, LoadedAccount before, IReadOnlyList<Posting> steps,
        ProgramSettings settings, DateTimeOffset now, CancellationToken ct, long reservedDelta = 0, bool queuePoints = true, string? campaign = null,
        string? reference = null, DateTimeOffset? remindedUntil = null)
    {
        var posting = Posting.Chain(steps);
        var a = posting.Account;
        await WriteRowsAsync(c, tx, tenantId, posting.Entries, posting.NewLots, posting.ChangedLots, now, ct, reference);

        await RecordAsync(c, tx, tenantId, posting.Events, now, ct);

        var tier = await DecideTierAsync(c, tx, tenantId, before.Tier, a, settings, now, ct);
        await RecordAsync(c, tx, tenantId, tier.Events, now, ct);
        var (due, job) = NextSettle(before, a, tier.Status, settings, now);

        {
            var update = c.Prepared(
            """
            UPDATE customers SET points_balance = @b, pending_points = @p, lifetime_earned = @le, lifetime_redeemed = @lr, lifetime_expired = @lx,
                last_earn_at = @last, is_closed = @closed, reserved_points = reserved_points + @rd, tier = @tier, tier_ends_at = @tend,
                tier_reminded_for = @trem, reminded_until = COALESCE(@ru, reminded_until), settle_due_at = @due, changed_at = @now
            WHERE tenant_id = @t AND customer_id = @c
            """, tx);
            await update.With("@b", a.Balance).With("@p", a.Pending).With("@le", a.LifetimeEarned).With("@lr", a.LifetimeRedeemed)
                .With("@lx", a.LifetimeExpired).With("@last", a.LastEarnAt).With("@closed", a.IsClosed).With("@rd", reservedDelta)
                .With("@tier", tier.Status.Tier).With("@tend", tier.Status.PeriodEndsAt).With("@trem", tier.Status.RemindedFor)
                .With("@ru", remindedUntil).With("@due", due).With("@now", now).With("@t", tenantId).With("@c", a.CustomerId).ExecuteNonQueryAsync(ct);
        }

        if (job is { } j) await Scheduler.ScheduleAsync(c, tx, tenantId, a.CustomerId, SettleJob, j.Key, j.DueAt, null, ct);

        var previous = before.Account.Balance;
        if (queuePoints && a.Balance != previous && posting.Entries.Count > 0 && await Rules.RuleData.HasActivePointsRulesAsync(c, tx, tenantId, ct))
        {
            var balance = previous;
            foreach (var step in steps)
            {
                if (step.Account.Balance != balance && step.Entries.Count > 0) await QueuePointsEventAsync(c, tx, tenantId, step, balance, campaign, now, ct);
                balance = step.Account.Balance;
            }
        }

        return new Persisted(previous, a.Balance, tier.Status.Tier);
    }

    // Multi-row statements: a settle that expires many lots (or a sweep of many accounts) writes them in a few round trips, not one per row.
    private static async Task WriteRowsAsync(DbConnection c, DbTransaction tx, Guid tenantId, IReadOnlyList<Entry> entries, IReadOnlyList<Lot> newLots,
        IReadOnlyList<Lot> changedLots, DateTimeOffset now, CancellationToken ct, string? reference = null)
    {
        await c.ExecuteRowsAsync(tx,
            """
            INSERT INTO ledger_entries (tenant_id, customer_id, ledger, type, points, balance_after, event_id, idempotency_key, reason, reference,
                rule_id, rule_version, created_at, entry_uid, movement_key, seq_no, effective_at, pending_points, pending_after, earned, redeemed,
                expired, unrecovered, rule, request_key, counterparty_id, reverses_entry_uid, lot_refs)
            """, "", entries, e =>
            {
                var (ruleId, ruleVersion) = SplitRule(e.Rule);
                return
                [
                    tenantId, e.CustomerId, e.Ledger, e.TypeName, e.Points, e.BalanceAfter, e.EventId is { } ev && Guid.TryParse(ev, out var g) ? g : null,
                    null, e.Reason, e.Type is EntryType.Activate or EntryType.Expire ? null : reference,
                    ruleId, ruleVersion, now, e.EntryId, e.MovementKey, e.Seq, e.At, e.PendingPoints, e.PendingAfter, e.Earned, e.Redeemed,
                    e.Expired, e.Unrecovered, e.Rule, e.RequestKey, e.CounterpartyId, e.ReversesEntryId, JsonSerializer.Serialize(e.Lots, TallyJson.Options),
                ];
            }, ct);

        await c.ExecuteRowsAsync(tx, $"INSERT INTO lots (tenant_id, {LotColumns})", "", newLots, lot =>
            [
                tenantId, lot.LotId, lot.CustomerId, lot.Ledger, lot.Points, lot.Remaining, lot.Reversed, lot.Expired, lot.EarnedAt, lot.AvailableAt,
                lot.IsPending, lot.ExpiresAt, lot.SourceKey, lot.SourceEventId, lot.FromLotId,
            ], ct);

        // UPDATE ... FROM (VALUES ...): both engines name the columns of an unaliased VALUES list column1, column2, ...
        await c.ExecuteRowsAsync(tx, "UPDATE lots SET remaining = v.column2, reversed = v.column3, expired = v.column4, is_pending = v.column5 FROM (",
            $") AS v WHERE lots.tenant_id = @tenant AND lots.lot_id = v.column1", changedLots,
            lot => [lot.LotId, lot.Remaining, lot.Reversed, lot.Expired, lot.IsPending], ct, cmd => cmd.With("@tenant", tenantId));
    }

    /// <summary>
    /// Writes the settle postings of many accounts of one tenant, as <see cref="SaveAsync"/> would one by one, but with a
    /// few multi-row statements for the whole set (docs/ledger.md "The expiry sweep"): entries, lots, the outbox (each
    /// account's <paramref name="reminders"/> first, then its posting's events, then its tier's), the customers' figures,
    /// tiers and <c>reminded_until</c>, and the next settle jobs. The caller holds the customer rows.
    /// </summary>
    public static async Task SaveManyAsync(DbConnection c, DbTransaction tx, Guid tenantId,
        IReadOnlyList<(LoadedAccount Before, Posting Posting, IReadOnlyList<LedgerEvent> Reminders)> settled, ProgramSettings settings,
        DateTimeOffset now, CancellationToken ct)
    {
        if (settled.Count == 0) return;
        await WriteRowsAsync(c, tx, tenantId, [.. settled.SelectMany(s => s.Posting.Entries)], [.. settled.SelectMany(s => s.Posting.NewLots)],
            [.. settled.SelectMany(s => s.Posting.ChangedLots)], now, ct);

        var events = new List<LedgerEvent>();
        var tiers = new List<TierStatus>(settled.Count);
        var dues = new List<DateTimeOffset>(settled.Count);
        var next = new List<(Guid Customer, string Key, DateTimeOffset DueAt)>();
        foreach (var (before, posting, reminders) in settled)
        {
            var a = posting.Account;
            // Only a program with tiers reads anything here (a measure over a window or over spend is one query per account).
            var tier = await DecideTierAsync(c, tx, tenantId, before.Tier, a, settings, now, ct);
            tiers.Add(tier.Status);
            events.AddRange(reminders);
            events.AddRange(posting.Events);
            events.AddRange(tier.Events);
            var (due, job) = NextSettle(before, a, tier.Status, settings, now);
            dues.Add(due);
            if (job is { } j) next.Add((a.CustomerId, j.Key, j.DueAt));
        }

        await RecordAsync(c, tx, tenantId, events, now, ct);

        // CASTs: PostgreSQL types a VALUES column that is NULL in every row as text.
        await c.ExecuteRowsAsync(tx,
            """
            UPDATE customers SET points_balance = v.column2, pending_points = v.column3, lifetime_earned = v.column4, lifetime_redeemed = v.column5,
                lifetime_expired = v.column6, last_earn_at = CAST(v.column7 AS BIGINT), tier = CAST(v.column8 AS TEXT),
                tier_ends_at = CAST(v.column9 AS BIGINT), tier_reminded_for = CAST(v.column10 AS BIGINT), settle_due_at = v.column11,
                reminded_until = @now, changed_at = @now FROM (
            """,
            ") AS v WHERE customers.tenant_id = @tenant AND customers.customer_id = v.column1",
            [.. settled.Select((s, i) => (s.Posting.Account, Tier: tiers[i], Due: dues[i]))],
            x => [x.Account.CustomerId, x.Account.Balance, x.Account.Pending, x.Account.LifetimeEarned, x.Account.LifetimeRedeemed,
                x.Account.LifetimeExpired, x.Account.LastEarnAt, x.Tier.Tier, x.Tier.PeriodEndsAt, x.Tier.RemindedFor, x.Due],
            ct, cmd => cmd.With("@now", now).With("@tenant", tenantId));

        await c.ExecuteRowsAsync(tx, "INSERT INTO scheduled_jobs (tenant_id, customer_id, kind, job_key, due_at, payload, status, attempts)",
            " ON CONFLICT (tenant_id, job_key) DO NOTHING", next,
            j => [tenantId, j.Customer, SettleJob, j.Key, j.DueAt, null, "due", 0], ct);

        var changed = settled.Where(s => s.Posting.Account.Balance != s.Before.Account.Balance && s.Posting.Entries.Count > 0).ToList();
        if (changed.Count > 0 && await Rules.RuleData.HasActivePointsRulesAsync(c, tx, tenantId, ct))
        {
            foreach (var (before, posting, _) in changed) await QueuePointsEventAsync(c, tx, tenantId, posting, before.Account.Balance, null, now, ct);
        }
    }

    /// <summary>
    /// What the customer row keeps as <c>settle_due_at</c> after a movement, and the settle job to schedule (null when there
    /// is none, or when the one at the kept instant is scheduled already). A movement decided without the open lots
    /// (<see cref="LoadedAccount.AllLots"/> false) keeps the earlier of the instant it found and what its own lots and tier bring.
    /// </summary>
    private static (DateTimeOffset Due, (string Key, DateTimeOffset DueAt)? Job) NextSettle(LoadedAccount before, Account a, TierStatus tier,
        ProgramSettings settings, DateTimeOffset now)
    {
        var next = NextSettle(a, tier, settings, now);
        var due = History.KeptDue(before.SettleDueAt, before.AllLots, next?.DueAt);
        // The job at an instant still ahead that the row already named was scheduled with it.
        return (due, next is null || (before.SettleDueAt == due && due > now) ? null : next);
    }

    private static (string Key, DateTimeOffset DueAt)? NextSettle(Account a, TierStatus tier, ProgramSettings settings, DateTimeOffset now)
    {
        if (a.IsClosed) return null;
        // A downgrade reminder whose time passed without one being due (the measure held) leaves the period end to schedule.
        var tierDue = Tiers.NextDue(settings, tier) is { } t && t > now ? t : tier.PeriodEndsAt is { } end && end > now ? end : (DateTimeOffset?)null;
        var next = Min(History.NextDue(a, settings, now), tierDue);
        if (next is not { } due) return null;
        return ($"{SettleJob}:{a.CustomerId:N}:{a.Ledger}:{due.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture)}", due);
    }

    /// <summary>Writes domain events into the outbox; the ids are deterministic, so a duplicate is skipped.</summary>
    public static async Task RecordAsync(DbConnection c, DbTransaction tx, Guid tenantId, IReadOnlyList<LedgerEvent> events, DateTimeOffset now, CancellationToken ct)
    {
        await c.ExecuteRowsAsync(tx, "INSERT INTO activity (tenant_id, customer_id, event_id, type, ledger, data, created_at)",
            " ON CONFLICT (tenant_id, event_id) DO NOTHING", events,
            e => [tenantId, e.CustomerId, e.EventId, e.TypeName, e.Ledger, JsonSerializer.Serialize(e, TallyJson.Options), now], ct);
    }

    /// <summary>Records a loyalty event that is not a ledger movement (customerAdded, customerUpdated) in the outbox.</summary>
    public static async Task RecordOtherAsync(DbConnection c, DbTransaction tx, Guid tenantId, Guid customerId, Guid eventId, string type, string data,
        DateTimeOffset now, CancellationToken ct)
    {
        var insert = c.Prepared(
            """
            INSERT INTO activity (tenant_id, customer_id, event_id, type, ledger, data, created_at) VALUES (@t, @c, @e, @type, @l, @data, @now)
            ON CONFLICT (tenant_id, event_id) DO NOTHING
            """, tx);
        await insert.With("@t", tenantId).With("@c", customerId).With("@e", eventId).With("@type", type).With("@l", Account.MainLedger)
            .With("@data", data).With("@now", now).ExecuteNonQueryAsync(ct);
    }

    /// <summary>Recomputes the tier from the program's basis for the account as it now stands.</summary>
    public static async Task<TierDecision> DecideTierAsync(DbConnection c, DbTransaction? tx, Guid tenantId, TierStatus current, Account a,
        ProgramSettings settings, DateTimeOffset now, CancellationToken ct)
    {
        if (settings.Tiers.Count == 0) return new(current.Tier is null ? current : TierStatus.None, [], null, null);
        // At a period end the measure is the one over the window that ends with the period.
        var at = current.PeriodEndsAt is { } end && end <= now ? end : now;
        var measure = await MeasureAsync(c, tx, tenantId, a, settings, at, ct);
        return Tiers.Decide(settings, a.CustomerId, current, measure, now, a.Balance);
    }

    /// <summary>
    /// The points promised at <paramref name="at"/> (in the past) to redemptions accepted by then and not yet applied: those
    /// received up to it whose processing (which spends or releases the promise) came after it, or has not come yet.
    /// </summary>
    public static async Task<long> ReservedAsOfAsync(DbConnection c, Guid tenantId, Guid customerId, DateTimeOffset at, CancellationToken ct)
    {
        await using var cmd = c.Command(Events.CustomerEvents.Select(Sql.KindOf(c), "e.payload",
            "e.type = 'redemption' AND e.received_at <= @at AND (e.processed_at IS NULL OR e.processed_at > @at)", null));
        await using var r = await cmd.With("@t", tenantId).With("@c", customerId).With("@at", at).ExecuteReaderAsync(ct);
        long reserved = 0;
        while (await r.ReadAsync(ct)) reserved += JsonSerializer.Deserialize<RedemptionEvent>(r.GetString(0), TallyJson.Options)!.Redemption!.Quantity!.Value;
        return reserved;
    }

    /// <summary>
    /// The tier as it stood at <paramref name="at"/> (in the past), with the next tier and what the measure at that instant
    /// lacked to reach it, by today's program: the tier the first tier change after <paramref name="at"/> started from, or
    /// the current tier when none came after. <paramref name="asOf"/> is the account as it stood then (History.AccountAsOf).
    /// </summary>
    public static async Task<(string? Tier, Tier? Next, decimal? ToNext)> TierAsOfAsync(DbConnection c, Guid tenantId, string? currentTier, Account asOf,
        ProgramSettings settings, DateTimeOffset at, CancellationToken ct)
    {
        if (settings.Tiers.Count == 0) return (null, null, null);
        var tier = currentTier;
        await using (var cmd = c.Command(
            """
            SELECT data FROM activity WHERE tenant_id = @t AND customer_id = @c AND created_at > @at
              AND type IN ('tierUpgraded', 'tierDowngraded', 'tierRenewed') ORDER BY seq LIMIT 1
            """))
        {
            if (await cmd.With("@t", tenantId).With("@c", asOf.CustomerId).With("@at", at).ExecuteScalarAsync(ct) is string data)
            {
                using var json = JsonDocument.Parse(data);
                tier = json.RootElement.TryGetProperty("tierFrom", out var from) && from.ValueKind == JsonValueKind.String ? from.GetString() : null;
            }
        }

        var (next, toNext) = Tiers.Next(settings, tier, await MeasureAsync(c, null, tenantId, asOf, settings, at, ct));
        return (tier, next, toNext);
    }

    private static async Task<decimal> MeasureAsync(DbConnection c, DbTransaction? tx, Guid tenantId, Account a, ProgramSettings settings,
        DateTimeOffset at, CancellationToken ct)
    {
        if (settings.TierMeasure == TierMeasure.Spend) return await SpendAsync(c, tx, tenantId, a.CustomerId, settings, at, ct);

        if (settings.TierPeriod is null) return a.LifetimeEarned;
        var since = settings.Subtract(at, settings.TierPeriod);
        await using var cmd = c.Command(
            """
            SELECT COALESCE(SUM(earned), 0) FROM ledger_entries
            WHERE tenant_id = @t AND customer_id = @c AND ledger = @l AND entry_uid IS NOT NULL AND effective_at > @since AND effective_at <= @at
              AND type <> 'merge_in' AND type <> 'merge_out'
            """, tx);
        return Convert.ToDecimal(await cmd.With("@t", tenantId).With("@c", a.CustomerId).With("@l", a.Ledger).With("@since", since).With("@at", at)
            .ExecuteScalarAsync(ct), CultureInfo.InvariantCulture);
    }

    /// <summary>Whether the program's tiers measure spend: then the spend of every processed order and card transaction is kept.</summary>
    public static bool MeasuresSpend(ProgramSettings settings) => settings.Tiers.Count > 0 && settings.TierMeasure == TierMeasure.Spend;

    /// <summary>
    /// Keeps the spend of an order or card transaction the worker processes, when the tenant's tiers measure spend (in the
    /// event's transaction, before its tier is decided, so the order counts towards it). Once per event.
    /// </summary>
    public static async Task RecordSpendAsync(DbConnection c, DbTransaction tx, Guid tenantId, Guid customerId, Guid eventId, DateTimeOffset receivedAt,
        decimal amount, CancellationToken ct)
    {
        var (settings, _) = await SettingsAsync(c, tx, tenantId, ct);
        if (!MeasuresSpend(settings)) return;
        var insert = c.Prepared(
            """
            INSERT INTO spends (tenant_id, customer_id, received_at, event_id, amount_e4) VALUES (@t, @c, @at, @e, @a)
            ON CONFLICT (tenant_id, customer_id, received_at, event_id) DO NOTHING
            """, tx);
        await insert.With("@t", tenantId).With("@c", customerId).With("@at", receivedAt).With("@e", eventId)
            .With("@a", (long)Math.Clamp(decimal.Round(amount * SpendScale, MidpointRounding.AwayFromZero), long.MinValue, long.MaxValue)).ExecuteNonQueryAsync(ct);
    }

    /// <summary>The spend of the customer's processed orders and transactions received in the tier window ending at <paramref name="at"/>.</summary>
    private static async Task<decimal> SpendAsync(DbConnection c, DbTransaction? tx, Guid tenantId, Guid customerId, ProgramSettings settings,
        DateTimeOffset at, CancellationToken ct)
    {
        var since = settings.TierPeriod is null ? DateTimeOffset.UnixEpoch : settings.Subtract(at, settings.TierPeriod);
        await using var cmd = c.Command(
            "SELECT COALESCE(SUM(amount_e4), 0) FROM spends WHERE tenant_id = @t AND customer_id = @c AND received_at > @since AND received_at <= @at", tx);
        var sum = await cmd.With("@t", tenantId).With("@c", customerId).With("@since", since).With("@at", at).ExecuteScalarAsync(ct);
        return Convert.ToDecimal(sum, CultureInfo.InvariantCulture) / SpendScale;
    }

    /// <summary>Spends are kept in ten-thousandths of the currency unit (exact sums on both engines).</summary>
    private const decimal SpendScale = 10_000m;

    private static async Task QueuePointsEventAsync(DbConnection c, DbTransaction tx, Guid tenantId, Posting posting, long previous, string? campaign,
        DateTimeOffset now, CancellationToken ct)
    {
        var a = posting.Account;
        var first = posting.Entries.First(e => e.Points != 0);
        var id = EventData.DerivedId(tenantId, $"points:{first.EntryId:N}");
        var body = new PointsEvent
        {
            EventId = id.ToString(),
            CustomerId = a.CustomerId.ToString(),
            NameSpace = first.TypeName,
            Campaign = campaign,
            CreatedAt = now,
            Points = new PointsDetail { Quantity = a.Balance - previous, PreviousBalance = previous, Balance = a.Balance, Campaign = campaign, LifetimeEarned = a.LifetimeEarned },
        };
        await EventData.EnqueueInternalAsync(c, tx,
            new NewEvent(tenantId, id, a.CustomerId, EventType.Points, first.TypeName, JsonSerializer.Serialize(body, TallyJson.Options), now), ct);
    }

    /// <summary>Whether the event that caused a movement is itself a <c>points</c> event (then no new points event is queued).</summary>
    public static async Task<bool> IsPointsEventAsync(DbConnection c, DbTransaction tx, Guid tenantId, string? eventId, CancellationToken ct)
    {
        if (eventId is null || !Guid.TryParse(eventId, out var id)) return false;
        await using var cmd = c.Command("SELECT type FROM events WHERE tenant_id = @t AND event_id = @e", tx);
        return await cmd.With("@t", tenantId).With("@e", id).ExecuteScalarAsync(ct) is string type && type == "points";
    }

    // ---- reading ----

    private static LoadedAccount ReadAccount(DbDataReader r)
    {
        var account = new Account
        {
            CustomerId = r.GetGuidValue(0),
            Balance = r.GetInt64(1),
            Pending = r.GetInt64(2),
            LifetimeEarned = r.GetInt64(3),
            LifetimeRedeemed = r.GetInt64(4),
            LifetimeExpired = r.GetInt64(5),
            LastEarnAt = r.GetInstantOrNull(6),
            IsLocked = r.GetBool(7),
            IsClosed = r.GetBool(8),
        };
        return new LoadedAccount(account, r.GetInt64(9), new TierStatus(r.GetStringOrNull(10), r.GetInstantOrNull(11), r.GetInstantOrNull(12)),
            r.GetInstantOrNull(13), r.GetInstant(14), r.GetDateOrNull(15)) { SettleDueAt = r.GetInstantOrNull(16) };
    }

    private static Lot ReadLot(DbDataReader r) => new()
    {
        LotId = r.GetGuidValue(0),
        CustomerId = r.GetGuidValue(1),
        Ledger = r.GetString(2),
        Points = r.GetInt64(3),
        Remaining = r.GetInt64(4),
        Reversed = r.GetInt64(5),
        Expired = r.GetInt64(6),
        EarnedAt = r.GetInstant(7),
        AvailableAt = r.GetInstant(8),
        IsPending = r.GetBool(9),
        ExpiresAt = r.GetInstantOrNull(10),
        SourceKey = r.GetString(11),
        SourceEventId = r.GetStringOrNull(12),
        FromLotId = r.GetGuidOrNull(13),
    };

    private static Entry ReadEntry(DbDataReader r) => new()
    {
        EntryId = r.GetGuidValue(1),
        CustomerId = r.GetGuidValue(2),
        Ledger = r.GetString(3),
        Type = EntryTypes[r.GetString(4)],
        Points = r.GetInt64(5),
        PendingPoints = r.GetInt64(6),
        BalanceAfter = r.GetInt64(7),
        PendingAfter = r.GetInt64(8),
        Earned = r.GetInt64(9),
        Redeemed = r.GetInt64(10),
        Expired = r.GetInt64(11),
        Unrecovered = r.GetInt64(12),
        At = r.GetInstant(13),
        MovementKey = r.GetString(14),
        Seq = r.GetInt32(15),
        EventId = r.GetGuidOrNull(16)?.ToString(),
        Rule = r.GetStringOrNull(17),
        RequestKey = r.GetStringOrNull(18),
        Reason = r.GetStringOrNull(19),
        CounterpartyId = r.GetGuidOrNull(20),
        ReversesEntryId = r.GetGuidOrNull(21),
        Lots = r.IsDBNull(22) ? [] : JsonSerializer.Deserialize<List<LotRef>>(r.GetString(22), TallyJson.Options) ?? [],
    };

    private static (Guid? RuleId, int? Version) SplitRule(string? rule)
    {
        if (rule is null) return (null, null);
        var at = rule.IndexOf('@', StringComparison.Ordinal);
        var id = at < 0 ? rule : rule[..at];
        int? version = at >= 0 && int.TryParse(rule[(at + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : null;
        return (Guid.TryParse(id, out var g) ? g : null, version);
    }

    private static DateTimeOffset? Min(DateTimeOffset? a, DateTimeOffset? b) => a is null ? b : b is null ? a : a < b ? a : b;
}
