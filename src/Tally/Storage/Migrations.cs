using System.Data.Common;
using Microsoft.Extensions.Logging;

namespace Tally.Storage;

/// <summary>
/// The schema, as numbered steps that upgrade an existing database in place. A step is never edited once
/// released: a change is a new step. Types are written as tokens so one text serves both engines:
/// {id} uuid, {seq} an auto-increment primary key, {bool}, {money} exact decimal, {json} a JSON document.
/// Every table carries tenant_id first, so the data can later be distributed by tenant and customer.
/// </summary>
public static class Migrations
{
    private static readonly (int Version, string Name, string Sql)[] Steps =
    [
        (1, "tenants, keys, customers, events, ledger",
        """
        CREATE TABLE tenants (
            tenant_id {id} PRIMARY KEY,
            name TEXT NOT NULL,
            created_at BIGINT NOT NULL
        );
        CREATE TABLE api_keys (
            key_id {id} PRIMARY KEY,
            tenant_id {id} NOT NULL REFERENCES tenants(tenant_id),
            key_hash TEXT NOT NULL UNIQUE,
            secret_hash TEXT NULL,
            role TEXT NOT NULL,
            name TEXT NULL,
            created_at BIGINT NOT NULL,
            revoked_at BIGINT NULL
        );
        CREATE TABLE customers (
            tenant_id {id} NOT NULL,
            customer_id {id} NOT NULL,
            first_name TEXT NULL,
            last_name TEXT NULL,
            display_name TEXT NULL,
            email_address TEXT NULL,
            email_key TEXT NULL,
            mobile_number TEXT NULL,
            contact_phone TEXT NULL,
            optin_sms {bool} NOT NULL DEFAULT {false},
            optin_email {bool} NOT NULL DEFAULT {false},
            accept_terms {bool} NOT NULL DEFAULT {false},
            date_of_birth TEXT NULL,
            external_reference TEXT NULL,
            external_status TEXT NULL,
            is_locked {bool} NOT NULL DEFAULT {false},
            attributes {json} NULL,
            created_at BIGINT NOT NULL,
            changed_at BIGINT NOT NULL,
            points_balance BIGINT NOT NULL DEFAULT 0,
            pending_points BIGINT NOT NULL DEFAULT 0,
            reserved_points BIGINT NOT NULL DEFAULT 0,
            lifetime_earned BIGINT NOT NULL DEFAULT 0,
            lifetime_redeemed BIGINT NOT NULL DEFAULT 0,
            tier TEXT NULL,
            PRIMARY KEY (tenant_id, customer_id)
        );
        CREATE UNIQUE INDEX customers_email ON customers (tenant_id, email_key) WHERE email_key IS NOT NULL;
        CREATE UNIQUE INDEX customers_external_reference ON customers (tenant_id, external_reference) WHERE external_reference IS NOT NULL;
        CREATE TABLE events (
            seq {seq},
            tenant_id {id} NOT NULL,
            event_id {id} NOT NULL,
            customer_id {id} NOT NULL,
            type TEXT NOT NULL,
            name_space TEXT NULL,
            payload {json} NOT NULL,
            received_at BIGINT NOT NULL,
            status TEXT NOT NULL,
            error TEXT NULL,
            result {json} NULL,
            processed_at BIGINT NULL
        );
        CREATE UNIQUE INDEX events_event_id ON events (tenant_id, event_id);
        CREATE INDEX events_customer ON events (tenant_id, customer_id, seq);
        CREATE INDEX events_pending ON events (seq) WHERE status = 'pending';
        CREATE TABLE ledger_entries (
            entry_id {seq},
            tenant_id {id} NOT NULL,
            customer_id {id} NOT NULL,
            ledger TEXT NOT NULL,
            type TEXT NOT NULL,
            points BIGINT NOT NULL,
            balance_after BIGINT NOT NULL,
            event_id {id} NULL,
            idempotency_key TEXT NULL,
            reason TEXT NULL,
            reference TEXT NULL,
            rule_id {id} NULL,
            rule_version INTEGER NULL,
            created_at BIGINT NOT NULL
        );
        CREATE UNIQUE INDEX ledger_entries_idempotency ON ledger_entries (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
        CREATE INDEX ledger_entries_customer ON ledger_entries (tenant_id, customer_id, entry_id);
        """),
        (2, "scheduled jobs",
        """
        CREATE TABLE scheduled_jobs (
            job_id {seq},
            tenant_id {id} NOT NULL,
            customer_id {id} NULL,
            kind TEXT NOT NULL,
            job_key TEXT NOT NULL,
            due_at BIGINT NOT NULL,
            payload {json} NULL,
            status TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            last_error TEXT NULL,
            done_at BIGINT NULL
        );
        CREATE UNIQUE INDEX scheduled_jobs_key ON scheduled_jobs (tenant_id, job_key);
        CREATE INDEX scheduled_jobs_due ON scheduled_jobs (due_at) WHERE status = 'due';
        """),
        (3, "rules, counters, usages, segments, vouchers, messages, webhook outbox, traces",
        """
        CREATE TABLE rules (
            tenant_id {id} NOT NULL,
            rule_id {id} NOT NULL,
            version INTEGER NOT NULL,
            status TEXT NOT NULL,
            event_type TEXT NOT NULL,
            campaign TEXT NULL,
            name TEXT NOT NULL,
            priority INTEGER NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            PRIMARY KEY (tenant_id, rule_id)
        );
        CREATE TABLE rule_versions (
            tenant_id {id} NOT NULL,
            rule_id {id} NOT NULL,
            version INTEGER NOT NULL,
            document {json} NOT NULL,
            created_at BIGINT NOT NULL,
            PRIMARY KEY (tenant_id, rule_id, version)
        );
        CREATE TABLE rule_sets (
            tenant_id {id} NOT NULL PRIMARY KEY,
            version BIGINT NOT NULL
        );
        CREATE TABLE rule_counters (
            tenant_id {id} NOT NULL,
            customer_id {id} NOT NULL,
            counter_key TEXT NOT NULL,
            event_id {id} NOT NULL,
            event_seq BIGINT NOT NULL,
            at BIGINT NOT NULL,
            amount_e4 BIGINT NOT NULL,
            PRIMARY KEY (tenant_id, customer_id, counter_key, event_id)
        );
        CREATE TABLE rule_usages (
            tenant_id {id} NOT NULL,
            rule_id {id} NOT NULL,
            customer_id {id} NOT NULL,
            used BIGINT NOT NULL,
            PRIMARY KEY (tenant_id, rule_id, customer_id)
        );
        CREATE TABLE rule_fires (
            tenant_id {id} NOT NULL,
            rule_id {id} NOT NULL,
            event_id {id} NOT NULL,
            customer_id {id} NOT NULL,
            rule_version INTEGER NOT NULL,
            fired_at BIGINT NOT NULL,
            PRIMARY KEY (tenant_id, rule_id, event_id)
        );
        CREATE TABLE segments (
            tenant_id {id} NOT NULL,
            name TEXT NOT NULL,
            description TEXT NULL,
            created_at BIGINT NOT NULL,
            PRIMARY KEY (tenant_id, name)
        );
        CREATE TABLE segment_members (
            tenant_id {id} NOT NULL,
            member_seq {seq},
            segment TEXT NOT NULL,
            customer_id {id} NOT NULL,
            added_at BIGINT NOT NULL
        );
        CREATE UNIQUE INDEX segment_members_key ON segment_members (tenant_id, segment, customer_id);
        CREATE INDEX segment_members_customer ON segment_members (tenant_id, customer_id);
        CREATE TABLE vouchers (
            tenant_id {id} NOT NULL,
            voucher_seq {seq},
            customer_id {id} NOT NULL,
            voucher_key TEXT NOT NULL,
            code TEXT NOT NULL,
            percent {money} NULL,
            amount {money} NULL,
            applies_to TEXT NOT NULL,
            status TEXT NOT NULL,
            rule_id {id} NOT NULL,
            rule_version INTEGER NOT NULL,
            event_id {id} NOT NULL,
            issued_at BIGINT NOT NULL
        );
        CREATE UNIQUE INDEX vouchers_key ON vouchers (tenant_id, voucher_key);
        CREATE INDEX vouchers_customer ON vouchers (tenant_id, customer_id, voucher_seq);
        CREATE TABLE messages (
            tenant_id {id} NOT NULL,
            message_seq {seq},
            customer_id {id} NOT NULL,
            message_key TEXT NOT NULL,
            channel TEXT NOT NULL,
            recipient TEXT NOT NULL,
            subject TEXT NULL,
            body TEXT NOT NULL,
            status TEXT NOT NULL,
            rule_id {id} NOT NULL,
            rule_version INTEGER NOT NULL,
            event_id {id} NOT NULL,
            created_at BIGINT NOT NULL
        );
        CREATE UNIQUE INDEX messages_key ON messages (tenant_id, message_key);
        CREATE INDEX messages_customer ON messages (tenant_id, customer_id, message_seq);
        CREATE TABLE webhook_calls (
            tenant_id {id} NOT NULL,
            call_id {seq},
            customer_id {id} NOT NULL,
            call_key TEXT NOT NULL,
            url TEXT NOT NULL,
            method TEXT NOT NULL,
            headers {json} NOT NULL,
            body TEXT NULL,
            status TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            next_attempt_at BIGINT NOT NULL,
            rule_id {id} NOT NULL,
            rule_version INTEGER NOT NULL,
            event_id {id} NOT NULL,
            created_at BIGINT NOT NULL,
            done_at BIGINT NULL
        );
        CREATE UNIQUE INDEX webhook_calls_key ON webhook_calls (tenant_id, call_key);
        CREATE INDEX webhook_calls_due ON webhook_calls (next_attempt_at) WHERE status = 'queued';
        CREATE INDEX webhook_calls_customer ON webhook_calls (tenant_id, customer_id, call_id);
        CREATE TABLE webhook_attempts (
            tenant_id {id} NOT NULL,
            attempt_id {seq},
            call_id BIGINT NOT NULL,
            attempt INTEGER NOT NULL,
            at BIGINT NOT NULL,
            status_code INTEGER NULL,
            latency_ms BIGINT NOT NULL,
            error TEXT NULL
        );
        CREATE INDEX webhook_attempts_call ON webhook_attempts (tenant_id, call_id, attempt_id);
        CREATE TABLE event_traces (
            tenant_id {id} NOT NULL,
            event_id {id} NOT NULL,
            trace {json} NOT NULL,
            created_at BIGINT NOT NULL,
            PRIMARY KEY (tenant_id, event_id)
        );
        """),
        // Version 3 is the rule engine's step (another branch); the numbers are applied in order, so a
        // database that got 4 before 3 existed is not expected: both land on main together.
        (4, "ledger: program settings, lots, entry columns, activity outbox",
        """
        CREATE TABLE program_settings (
            tenant_id {id} PRIMARY KEY,
            json TEXT NOT NULL,
            version INTEGER NOT NULL,
            changed_at BIGINT NOT NULL
        );
        CREATE TABLE lots (
            tenant_id {id} NOT NULL,
            lot_id {id} NOT NULL,
            customer_id {id} NOT NULL,
            ledger TEXT NOT NULL,
            points BIGINT NOT NULL,
            remaining BIGINT NOT NULL,
            reversed BIGINT NOT NULL,
            expired BIGINT NOT NULL,
            earned_at BIGINT NOT NULL,
            available_at BIGINT NOT NULL,
            is_pending {bool} NOT NULL,
            expires_at BIGINT NULL,
            source_key TEXT NOT NULL,
            source_event_id TEXT NULL,
            from_lot_id {id} NULL,
            PRIMARY KEY (tenant_id, lot_id)
        );
        CREATE INDEX lots_open ON lots (tenant_id, customer_id, ledger) WHERE remaining > 0 OR is_pending;
        CREATE INDEX lots_source_event ON lots (tenant_id, source_event_id) WHERE source_event_id IS NOT NULL;
        CREATE TABLE ledger_movements (
            tenant_id {id} NOT NULL,
            movement_key TEXT NOT NULL,
            customer_id {id} NOT NULL,
            created_at BIGINT NOT NULL,
            PRIMARY KEY (tenant_id, movement_key)
        );
        CREATE TABLE activity (
            seq {seq},
            tenant_id {id} NOT NULL,
            customer_id {id} NOT NULL,
            event_id {id} NOT NULL,
            type TEXT NOT NULL,
            ledger TEXT NOT NULL,
            data {json} NOT NULL,
            created_at BIGINT NOT NULL,
            delivered_at BIGINT NULL
        );
        CREATE UNIQUE INDEX activity_event ON activity (tenant_id, event_id);
        CREATE INDEX activity_customer ON activity (tenant_id, customer_id, seq);
        CREATE INDEX activity_undelivered ON activity (seq) WHERE delivered_at IS NULL;
        ALTER TABLE ledger_entries ADD COLUMN entry_uid {id} NULL;
        ALTER TABLE ledger_entries ADD COLUMN movement_key TEXT NULL;
        ALTER TABLE ledger_entries ADD COLUMN seq_no INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE ledger_entries ADD COLUMN effective_at BIGINT NULL;
        ALTER TABLE ledger_entries ADD COLUMN pending_points BIGINT NOT NULL DEFAULT 0;
        ALTER TABLE ledger_entries ADD COLUMN pending_after BIGINT NOT NULL DEFAULT 0;
        ALTER TABLE ledger_entries ADD COLUMN earned BIGINT NOT NULL DEFAULT 0;
        ALTER TABLE ledger_entries ADD COLUMN redeemed BIGINT NOT NULL DEFAULT 0;
        ALTER TABLE ledger_entries ADD COLUMN expired BIGINT NOT NULL DEFAULT 0;
        ALTER TABLE ledger_entries ADD COLUMN unrecovered BIGINT NOT NULL DEFAULT 0;
        ALTER TABLE ledger_entries ADD COLUMN rule TEXT NULL;
        ALTER TABLE ledger_entries ADD COLUMN request_key TEXT NULL;
        ALTER TABLE ledger_entries ADD COLUMN counterparty_id {id} NULL;
        ALTER TABLE ledger_entries ADD COLUMN reverses_entry_uid {id} NULL;
        ALTER TABLE ledger_entries ADD COLUMN lot_refs {json} NULL;
        CREATE INDEX ledger_entries_movement ON ledger_entries (tenant_id, movement_key) WHERE movement_key IS NOT NULL;
        CREATE INDEX ledger_entries_event ON ledger_entries (tenant_id, event_id) WHERE event_id IS NOT NULL;
        ALTER TABLE customers ADD COLUMN lifetime_expired BIGINT NOT NULL DEFAULT 0;
        ALTER TABLE customers ADD COLUMN last_earn_at BIGINT NULL;
        ALTER TABLE customers ADD COLUMN is_closed {bool} NOT NULL DEFAULT {false};
        ALTER TABLE customers ADD COLUMN tier_ends_at BIGINT NULL;
        ALTER TABLE customers ADD COLUMN tier_reminded_for BIGINT NULL;
        ALTER TABLE customers ADD COLUMN reminded_until BIGINT NULL;
        ALTER TABLE customers ADD COLUMN calendar_planned {bool} NOT NULL DEFAULT {false};
        CREATE INDEX customers_calendar_unplanned ON customers (tenant_id, customer_id) WHERE calendar_planned = {false};
        """),
        (5, "rule-set snapshots (traces are worked out again on demand)",
        """
        CREATE TABLE rule_set_snapshots (
            tenant_id {id} NOT NULL,
            version BIGINT NOT NULL,
            rules {json} NOT NULL,
            PRIMARY KEY (tenant_id, version)
        );
        """),
        (6, "SQLite: ids as 16-byte BLOBs instead of 36-character text", IdsAsBlobs),
        (7, "ledger entries: one unique index on the movement and the entry's place in it, instead of three",
        """
        CREATE UNIQUE INDEX ledger_entries_movement_seq ON ledger_entries (tenant_id, movement_key, customer_id, ledger, seq_no) WHERE movement_key IS NOT NULL;
        DROP INDEX ledger_entries_idempotency;
        DROP INDEX ledger_entries_movement;
        DROP INDEX ledger_entries_event;
        """),
        (8, "ledger entries' movement key and lots' source event indexed under their customer",
        // The same uniqueness, the customer first: an event's entries and lots then land on the customer's index pages
        // (which the customer's other rows share) instead of one random page each, so a batch dirties fewer pages.
        """
        DROP INDEX ledger_entries_movement_seq;
        CREATE UNIQUE INDEX ledger_entries_movement_seq ON ledger_entries (tenant_id, customer_id, movement_key, ledger, seq_no) WHERE movement_key IS NOT NULL;
        DROP INDEX lots_source_event;
        CREATE INDEX lots_source_event ON lots (tenant_id, customer_id, source_event_id) WHERE source_event_id IS NOT NULL;
        """),
        (9, "an event's assessment record kept in its own row",
        // The worker updates the event's row anyway (its status), and the rows of a batch sit together; a table keyed by
        // the event id cost every assessed event one more random index page.
        """
        ALTER TABLE events ADD COLUMN trace {json} NULL;
        UPDATE events SET trace = (SELECT t.trace FROM event_traces t WHERE t.tenant_id = events.tenant_id AND t.event_id = events.event_id)
        WHERE EXISTS (SELECT 1 FROM event_traces t WHERE t.tenant_id = events.tenant_id AND t.event_id = events.event_id);
        DROP TABLE event_traces;
        """),
        (10, "the instant an account's next settle work is due, kept on the customer",
        // A lower bound of the account's lots' activation, expiry and reminder times (NULL: unknown). While it lies ahead
        // an award needs none of the open lots (docs/ledger.md "Awards without the open lots").
        """
        ALTER TABLE customers ADD COLUMN settle_due_at BIGINT NULL;
        """),
        (11, "the spend of each order and card transaction, for spend-based tiers",
        // A tier's spend measure sums these over its window (one SUM over an index range) instead of reading every order's
        // body; amounts in ten-thousandths, so the sum is exact on both engines. Kept while the tenant's program measures spend,
        // filled from the events when it starts to (docs/ledger.md).
        $$"""
        CREATE TABLE spends (
            tenant_id {id} NOT NULL,
            customer_id {id} NOT NULL,
            received_at BIGINT NOT NULL,
            event_id {id} NOT NULL,
            amount_e4 BIGINT NOT NULL,
            PRIMARY KEY (tenant_id, customer_id, received_at, event_id)
        ){without_rowid};
        {{SpendsFromEvents.Replace("tenant_id = @t AND ", "", StringComparison.Ordinal)}};
        """),
        (12, "lots: no index on the source event",
        // Only a reversal looked lots up by their event, and it finds them through the award's entries
        // (LedgerStore.AwardLotsAsync): every lot an award writes costs one index entry less.
        """
        DROP INDEX lots_source_event;
        """),
        (13, "SQLite: a customer's events indexed off the request path",
        // events_customer cost every ingested event a random index leaf in the writer's commit. SQLite now finds an event
        // stored since the watermark by a scan, and the rest through customer_events, which CustomerEvents.CatchUpAsync
        // fills in key order in the background (docs/decisions.md). PostgreSQL keeps events_customer.
        SqliteOnly + """
        CREATE TABLE customer_events (
            tenant_id {id} NOT NULL,
            customer_id {id} NOT NULL,
            seq INTEGER NOT NULL,
            PRIMARY KEY (tenant_id, customer_id, seq)
        ){without_rowid};
        INSERT INTO customer_events (tenant_id, customer_id, seq) SELECT tenant_id, customer_id, seq FROM events ORDER BY tenant_id, customer_id, seq;
        CREATE TABLE customer_events_state (id INTEGER PRIMARY KEY CHECK (id = 1), indexed_upto INTEGER NOT NULL);
        INSERT INTO customer_events_state (id, indexed_upto) VALUES (1, COALESCE((SELECT MAX(seq) FROM events), 0));
        DROP INDEX events_customer;
        """),
    ];

    /// <summary>A step whose text starts with this runs on SQLite only (PostgreSQL records it and runs nothing).</summary>
    private const string SqliteOnly = "{sqlite-only}";

    /// <summary>The spends (in ten-thousandths) of a tenant's orders and card transactions with a numeric total, from their stored bodies (@t the tenant).</summary>
    internal const string SpendsFromEvents =
        """
        INSERT INTO spends (tenant_id, customer_id, received_at, event_id, amount_e4)
        SELECT tenant_id, customer_id, received_at, event_id, {payload_total} FROM events
        WHERE tenant_id = @t AND type IN ('order', 'transaction') AND {payload_total_is_number}
        ON CONFLICT (tenant_id, customer_id, received_at, event_id) DO NOTHING
        """;

    /// <summary>
    /// Step 6, on SQLite only (PostgreSQL's uuid is 16 bytes already): every {id} column's text becomes the 16 bytes
    /// of the uuid, big-endian so they sort as the text did. Index entries shrink by more than half, so the hot pages
    /// of the events', ledger's and outbox's indexes stay in cache longer and an insert touches less. The columns are
    /// the ones the earlier steps declared {id}, found in their text, so none is missed.
    /// </summary>
    private const string IdsAsBlobs = "{sqlite:ids-as-blobs}";

    private static string IdsAsBlobsSql()
    {
        var columns = new List<(string Table, string Column)>();
        foreach (var (version, _, sql) in Steps)
        {
            if (version >= 6) break; // later steps' tables are created with 16-byte ids already
            string? table = null;
            foreach (var line in sql.Split('\n'))
            {
                var words = line.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (words.Length >= 3 && words[0] == "CREATE" && words[1] == "TABLE") table = words[2];
                if (words.Length >= 7 && words[0] == "ALTER" && words[1] == "TABLE" && words[3] == "ADD" && words[4] == "COLUMN")
                {
                    if (words[6] == "{id}") columns.Add((words[2], words[5]));
                    continue;
                }

                if (table is not null && words.Length >= 2 && words[1].StartsWith("{id}", StringComparison.Ordinal)) columns.Add((table, words[0]));
            }
        }

        var text = new System.Text.StringBuilder("PRAGMA defer_foreign_keys = ON;\n");
        foreach (var table in columns.GroupBy(c => c.Table))
        {
            var sets = string.Join(", ", table.Select(c => $"{c.Column} = CASE WHEN typeof({c.Column}) = 'text' THEN unhex(replace({c.Column}, '-', '')) ELSE {c.Column} END"));
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $"UPDATE {table.Key} SET {sets};\n");
        }

        return text.ToString();
    }

    public static int Latest => Steps[^1].Version;

    /// <summary>Brings the schema up to date. Safe to call from several processes at once.</summary>
    public static async Task MigrateAsync(Database db, ILogger logger, CancellationToken ct) => await MigrateAsync(db, logger, Latest, ct);

    /// <summary>Brings the schema up to <paramref name="target"/> (tests use it to build an older database to upgrade).</summary>
    public static async Task MigrateAsync(Database db, ILogger logger, int target, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        if (db.Kind == StoreKind.Postgres)
        {
            // Two nodes starting together: the second waits here, then finds nothing to do.
            await using var lockCmd = c.Command("SELECT pg_advisory_xact_lock(727274)", tx);
            await lockCmd.ExecuteNonQueryAsync(ct);
        }

        await using (var create = c.Command(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)", tx))
        {
            await create.ExecuteNonQueryAsync(ct);
        }

        var current = await CurrentVersionAsync(c, tx, ct);
        foreach (var (version, name, sql) in Steps)
        {
            if (version <= current || version > target) continue;
            await using (var step = c.Command(Translate(sql, db.Kind), tx))
            {
                await step.ExecuteNonQueryAsync(ct);
            }

            await using (var record = c.Command("INSERT INTO schema_migrations (version, name, applied_at) VALUES (@v, @n, @t)", tx))
            {
                await record.With("@v", version).With("@n", name).With("@t", DateTimeOffset.UtcNow).ExecuteNonQueryAsync(ct);
            }

            logger.LogInformation("Schema migrated to version {Version}: {Name}", version, name);
        }

        await tx.CommitAsync(ct);
    }

    public static async Task<int> CurrentVersionAsync(DbConnection c, DbTransaction? tx, CancellationToken ct)
    {
        await using var cmd = c.Command("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", tx);
        return Convert.ToInt32(await cmd.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture);
    }

    internal static string Translate(string sql, StoreKind kind) => sql == IdsAsBlobs
        ? kind == StoreKind.Sqlite ? IdsAsBlobsSql() : "SELECT 1"
        : sql.StartsWith(SqliteOnly, StringComparison.Ordinal)
        ? kind == StoreKind.Sqlite ? Translate(sql[SqliteOnly.Length..], kind) : "SELECT 1"
        : kind == StoreKind.Sqlite
        ? sql.Replace("{id}", "TEXT", StringComparison.Ordinal)
            .Replace("{seq}", "INTEGER PRIMARY KEY AUTOINCREMENT", StringComparison.Ordinal)
            .Replace("{bool}", "INTEGER", StringComparison.Ordinal)
            .Replace("{false}", "0", StringComparison.Ordinal)
            .Replace("{true}", "1", StringComparison.Ordinal)
            .Replace("{money}", "TEXT", StringComparison.Ordinal)
            .Replace("{json}", "TEXT", StringComparison.Ordinal)
            .Replace("{without_rowid}", " WITHOUT ROWID", StringComparison.Ordinal)
            .Replace("{payload_total}", "CAST(round(json_extract(payload, '$.' || type || '.total') * 10000) AS INTEGER)", StringComparison.Ordinal)
            .Replace("{payload_total_is_number}", "json_type(payload, '$.' || type || '.total') IN ('integer', 'real')", StringComparison.Ordinal)
        : sql.Replace("{id}", "uuid", StringComparison.Ordinal)
            .Replace("{seq}", "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", StringComparison.Ordinal)
            .Replace("{bool}", "BOOLEAN", StringComparison.Ordinal)
            .Replace("{false}", "FALSE", StringComparison.Ordinal)
            .Replace("{true}", "TRUE", StringComparison.Ordinal)
            .Replace("{money}", "NUMERIC", StringComparison.Ordinal)
            .Replace("{json}", "TEXT", StringComparison.Ordinal)
            .Replace("{without_rowid}", "", StringComparison.Ordinal)
            .Replace("{payload_total}", "round((payload::jsonb -> type ->> 'total')::numeric * 10000)::bigint", StringComparison.Ordinal)
            .Replace("{payload_total_is_number}", "jsonb_typeof(payload::jsonb -> type -> 'total') = 'number'", StringComparison.Ordinal);
}
