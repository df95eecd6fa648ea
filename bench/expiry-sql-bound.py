#!/usr/bin/env python3
"""Lower bound for the expiry sweep's writer time on SQLite: the sweep's writes done entirely inside SQLite.

Not Tally's code path: a probe. It seeds `customers` x `per` due lots (with one earn entry and one pointsIssued
outbox row per lot, ids clustered by customer as Tally's are) into the tables Tally's schema gives them, then expires
every lot in rounds of `round` customers, each round one transaction of set-based statements (INSERT ... SELECT with
window sums, UPDATE ... FROM), synchronous=FULL, WAL, an 8 MB page cache, and prints the writer time per lot.
  mode perlot: one expire entry and one pointsExpired row per lot (what Tally writes);
  mode agg:    one expire entry and one pointsExpired row per customer and round.
  order due_at (the due jobs' order, as Tally takes them) or customer_id.
usage: bench/expiry-sql-bound.py [customers=10000] [per=10] [perlot|agg] [round=250] [due_at|customer_id]
Needs only python3 (its sqlite3 module). Results in docs/benchmarks.md (expiry, session 18).
"""
import os, sys, tempfile, time, uuid, sqlite3

SCHEMA = """
CREATE TABLE customers (tenant_id BLOB NOT NULL, customer_id BLOB NOT NULL, created_at BIGINT NOT NULL, changed_at BIGINT NOT NULL,
  points_balance BIGINT NOT NULL DEFAULT 0, lifetime_earned BIGINT NOT NULL DEFAULT 0, lifetime_expired BIGINT NOT NULL DEFAULT 0,
  last_earn_at BIGINT NULL, reminded_until BIGINT NULL, settle_due_at BIGINT NULL, PRIMARY KEY (tenant_id, customer_id));
CREATE TABLE lots (tenant_id BLOB NOT NULL, lot_id BLOB NOT NULL, customer_id BLOB NOT NULL, ledger TEXT NOT NULL, points BIGINT NOT NULL,
  remaining BIGINT NOT NULL, reversed BIGINT NOT NULL, expired BIGINT NOT NULL, earned_at BIGINT NOT NULL, available_at BIGINT NOT NULL,
  is_pending INTEGER NOT NULL, expires_at BIGINT NULL, source_key TEXT NOT NULL, PRIMARY KEY (tenant_id, lot_id));
CREATE INDEX lots_open ON lots (tenant_id, customer_id, ledger) WHERE remaining > 0 OR is_pending;
CREATE TABLE ledger_entries (entry_id INTEGER PRIMARY KEY AUTOINCREMENT, tenant_id BLOB NOT NULL, customer_id BLOB NOT NULL, ledger TEXT NOT NULL,
  type TEXT NOT NULL, points BIGINT NOT NULL, balance_after BIGINT NOT NULL, created_at BIGINT NOT NULL, entry_uid BLOB NULL, movement_key TEXT NULL,
  seq_no INTEGER NOT NULL DEFAULT 0, effective_at BIGINT NULL, earned BIGINT NOT NULL DEFAULT 0, expired BIGINT NOT NULL DEFAULT 0, lot_refs TEXT NULL);
CREATE INDEX ledger_entries_customer ON ledger_entries (tenant_id, customer_id, entry_id);
CREATE UNIQUE INDEX ledger_entries_movement_seq ON ledger_entries (tenant_id, customer_id, movement_key, ledger, seq_no) WHERE movement_key IS NOT NULL;
CREATE TABLE activity (seq INTEGER PRIMARY KEY AUTOINCREMENT, tenant_id BLOB NOT NULL, customer_id BLOB NOT NULL, event_id BLOB NOT NULL,
  type TEXT NOT NULL, ledger TEXT NOT NULL, data TEXT NOT NULL, created_at BIGINT NOT NULL, delivered_at BIGINT NULL);
CREATE UNIQUE INDEX activity_event ON activity (tenant_id, event_id);
CREATE INDEX activity_customer ON activity (tenant_id, customer_id, seq);
CREATE INDEX activity_undelivered ON activity (seq) WHERE delivered_at IS NULL;
CREATE TABLE scheduled_jobs (job_id INTEGER PRIMARY KEY AUTOINCREMENT, tenant_id BLOB NOT NULL, customer_id BLOB NULL, kind TEXT NOT NULL,
  job_key TEXT NOT NULL, due_at BIGINT NOT NULL, status TEXT NOT NULL, done_at BIGINT NULL);
CREATE UNIQUE INDEX scheduled_jobs_key ON scheduled_jobs (tenant_id, job_key);
CREATE INDEX scheduled_jobs_due ON scheduled_jobs (due_at) WHERE status = 'due';
"""

customers = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
per = int(sys.argv[2]) if len(sys.argv) > 2 else 10
mode = sys.argv[3] if len(sys.argv) > 3 else "perlot"
round_size = int(sys.argv[4]) if len(sys.argv) > 4 else 250
order = sys.argv[5] if len(sys.argv) > 5 else "due_at"
assert mode in ("perlot", "agg") and order in ("due_at", "customer_id")

folder = tempfile.mkdtemp(prefix="tally-expiry-bound-")
db = sqlite3.connect(os.path.join(folder, "tally.db"), isolation_level=None)
db.execute("PRAGMA journal_mode=WAL"); db.execute("PRAGMA synchronous=FULL"); db.execute("PRAGMA cache_size=-8000")
db.executescript(SCHEMA)
tenant = uuid.uuid4().bytes
now = 1_800_000_000_000; long_ago = now - 10**10; due = now - 60_000

t = time.time()
db.execute("BEGIN")
for i in range(customers):
    c = uuid.uuid4().bytes
    db.execute("INSERT INTO customers (tenant_id, customer_id, created_at, changed_at, points_balance, lifetime_earned, last_earn_at, reminded_until) VALUES (?,?,?,?,?,?,?,?)",
               (tenant, c, long_ago, long_ago, 10 * per, 10 * per, long_ago, now))
    for l in range(per):
        db.execute("INSERT INTO lots VALUES (?,?,?,'main',10,10,0,0,?,?,0,?,'bench')", (tenant, c[:8] + os.urandom(8), c, long_ago, long_ago, due - l * 60_000))
        db.execute("INSERT INTO ledger_entries (tenant_id, customer_id, ledger, type, points, balance_after, created_at, entry_uid, movement_key, effective_at, earned, lot_refs) "
                   "VALUES (?,?,'main','earn',10,?,?,?,?,?,10,'[{\"lot\":\"x\",\"points\":10}]')",
                   (tenant, c, 10 * (l + 1), long_ago, c[:8] + os.urandom(8), "event:%s:r:1:0" % uuid.uuid4(), long_ago))
        db.execute("INSERT INTO activity (tenant_id, customer_id, event_id, type, ledger, data, created_at) VALUES (?,?,?,'pointsIssued','main',?,?)",
                   (tenant, c, c[:8] + os.urandom(8), '{"customerId":"%s","points":10,"balance":%d,"eventId":"%s"}' % (uuid.UUID(bytes=c), 10 * (l + 1), uuid.uuid4()), long_ago))
    db.execute("INSERT INTO scheduled_jobs (tenant_id, customer_id, kind, job_key, due_at, status) VALUES (?,?,'ledger',?,?,'due')", (tenant, c, "ledger:%s:main" % c.hex(), due))
    if i % 20_000 == 19_999: db.execute("COMMIT"); db.execute("BEGIN")
db.execute("COMMIT")
db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
print(f"seeded {customers:,} customers x {per} lots in {time.time() - t:.1f} s; mode {mode}, rounds of {round_size} customers in {order} order")

db.execute("CREATE TEMP TABLE round (tenant_id BLOB, customer_id BLOB, job_id INTEGER, PRIMARY KEY (tenant_id, customer_id))")
# CROSS JOIN pins the round's customers as the outer loop (without it the planner scanned every open lot each round).
due_lots = """SELECT l.tenant_id, l.customer_id, l.lot_id, l.remaining, l.expires_at,
      row_number() OVER w AS k, c.points_balance - SUM(l.remaining) OVER w AS after
    FROM round r CROSS JOIN lots l ON l.tenant_id = r.tenant_id AND l.customer_id = r.customer_id AND l.ledger = 'main' AND (l.remaining > 0 OR l.is_pending)
    CROSS JOIN customers c ON c.tenant_id = r.tenant_id AND c.customer_id = r.customer_id
    WHERE l.expires_at <= :now AND l.remaining > 0 AND NOT l.is_pending
    WINDOW w AS (PARTITION BY l.customer_id ORDER BY l.expires_at, l.lot_id)"""
per_customer = f"""SELECT tenant_id, customer_id, SUM(remaining) AS s, MIN(after) AS after, MAX(expires_at) AS at,
    json_group_array(json_object('lot', lower(hex(lot_id)), 'points', -remaining)) AS refs FROM ({due_lots}) GROUP BY tenant_id, customer_id"""
if mode == "perlot":
    entries = f"""SELECT tenant_id, customer_id, 'main', 'expire', -remaining, after, :now, substr(customer_id, 1, 8) || randomblob(8), 'settle:' || hex(customer_id),
        k - 1, expires_at, remaining, json_array(json_object('lot', lower(hex(lot_id)), 'points', -remaining)) FROM ({due_lots})"""
    events = f"""SELECT tenant_id, customer_id, substr(customer_id, 1, 8) || randomblob(8), 'pointsExpired', 'main',
        json_object('customerId', lower(hex(customer_id)), 'points', remaining, 'balance', after, 'expiresAt', expires_at), :now FROM ({due_lots})"""
else:
    entries = f"""SELECT tenant_id, customer_id, 'main', 'expire', -s, after, :now, substr(customer_id, 1, 8) || randomblob(8), 'settle:' || hex(customer_id),
        0, at, s, refs FROM ({per_customer})"""
    events = f"""SELECT tenant_id, customer_id, substr(customer_id, 1, 8) || randomblob(8), 'pointsExpired', 'main',
        json_object('customerId', lower(hex(customer_id)), 'points', s, 'balance', after), :now FROM ({per_customer})"""
statements = [
    f"INSERT INTO ledger_entries (tenant_id, customer_id, ledger, type, points, balance_after, created_at, entry_uid, movement_key, seq_no, effective_at, expired, lot_refs) {entries}",
    f"INSERT INTO activity (tenant_id, customer_id, event_id, type, ledger, data, created_at) {events}",
    """UPDATE customers SET points_balance = points_balance - x.s, lifetime_expired = lifetime_expired + x.s
       FROM (SELECT l.tenant_id, l.customer_id, SUM(l.remaining) AS s FROM round r CROSS JOIN lots l ON l.tenant_id = r.tenant_id AND l.customer_id = r.customer_id
             AND l.ledger = 'main' AND (l.remaining > 0 OR l.is_pending) WHERE l.expires_at <= :now AND l.remaining > 0 AND NOT l.is_pending GROUP BY l.tenant_id, l.customer_id) x
       WHERE customers.tenant_id = x.tenant_id AND customers.customer_id = x.customer_id""",
    """UPDATE lots SET expired = expired + remaining, remaining = 0 WHERE (tenant_id, customer_id) IN (SELECT tenant_id, customer_id FROM round)
       AND ledger = 'main' AND (remaining > 0 OR is_pending) AND expires_at <= :now AND remaining > 0 AND NOT is_pending""",
    "UPDATE scheduled_jobs SET status = 'done', done_at = :now WHERE job_id IN (SELECT job_id FROM round)",
]
work = commit = 0.0
t = time.time()
while True:
    t0 = time.time()
    db.execute("BEGIN IMMEDIATE")
    db.execute("DELETE FROM round")
    n = db.execute(f"INSERT INTO round SELECT tenant_id, customer_id, job_id FROM scheduled_jobs WHERE due_at <= ? AND status = 'due' ORDER BY {order} LIMIT ?", (now, round_size)).rowcount
    if n == 0:
        db.execute("COMMIT")
        break
    for s in statements:
        db.execute(s, {"now": now})
    t1 = time.time()
    db.execute("COMMIT")
    work += t1 - t0; commit += time.time() - t1
lots = customers * per
elapsed = time.time() - t
expires = db.execute("SELECT COUNT(*) FROM ledger_entries WHERE type = 'expire'").fetchone()[0]
left = db.execute("SELECT COUNT(*) FROM lots WHERE remaining > 0").fetchone()[0] + db.execute("SELECT COUNT(*) FROM customers WHERE points_balance <> 0").fetchone()[0]
print(f"expired {lots:,} lots in {elapsed:.2f} s: {elapsed / lots * 1e6:.1f} us of writer time per lot (statements {work / lots * 1e6:.1f}, commit {commit / lots * 1e6:.1f}); "
      f"expire entries {expires:,}, open lots or balances left {left}")
db.close()
for f in os.listdir(folder): os.remove(os.path.join(folder, f))
os.rmdir(folder)
