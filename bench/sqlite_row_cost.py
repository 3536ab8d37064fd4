"""One schema variant of usage_events, written N rows at a time; run by
bench/sqlite_row_cost.sh (which explains the variants) under callgrind.

Usage: sqlite_row_cost.py VARIANT EVENTS BATCH
"""
import sqlite3, sys, os, uuid, tempfile
variant, n, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
EVENT_VARIANTS = ("trigger", "none", "check", "withoutrowid", "nots")
HOURLY_VARIANTS = ("hourly-trigger", "hourly-none", "hourly-check", "hourly-strict")
if variant not in EVENT_VARIANTS + HOURLY_VARIANTS:
    sys.exit(f"unknown variant {variant}")
tmp = tempfile.TemporaryDirectory()
db = sqlite3.connect(os.path.join(tmp.name, "t.db"), isolation_level=None)
db.execute("PRAGMA journal_mode=WAL"); db.execute("PRAGMA synchronous=NORMAL")
if variant in HOURLY_VARIANTS:
    # One rollup upsert (the common case: the row exists) per transaction;
    # EVENTS upserts, BATCH is not used.
    db.execute("""CREATE TABLE usage_hourly (hour_ms INTEGER NOT NULL, account_id TEXT NOT NULL, kid TEXT NOT NULL, provider TEXT NOT NULL,
     model_served TEXT NOT NULL, status INTEGER NOT NULL, currency TEXT NOT NULL, requests INTEGER NOT NULL, errors INTEGER NOT NULL,
     auth_failures INTEGER NOT NULL, input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL, cached_tokens INTEGER NOT NULL,
     cost_micro_usd INTEGER NOT NULL, charge_micro INTEGER NOT NULL, latency_ms_sum INTEGER NOT NULL, attempts_failed INTEGER NOT NULL DEFAULT 0, cost_unknown INTEGER NOT NULL DEFAULT 0,
     PRIMARY KEY (hour_ms, account_id, kid, provider, model_served, status, currency)) WITHOUT ROWID""")
    db.execute("CREATE INDEX usage_hourly_account ON usage_hourly (account_id, hour_ms)")
    db.execute("CREATE INDEX usage_hourly_kid ON usage_hourly (kid, hour_ms)")
    cond = " OR ".join(f"typeof(NEW.{c}) <> 'integer'" for c in "requests errors auth_failures input_tokens output_tokens cached_tokens cost_micro_usd charge_micro latency_ms_sum attempts_failed cost_unknown".split())
    if variant == "hourly-strict":
        db.execute("DROP TABLE usage_hourly")
        db.execute("""CREATE TABLE usage_hourly (hour_ms INTEGER NOT NULL, account_id TEXT NOT NULL, kid TEXT NOT NULL, provider TEXT NOT NULL,
     model_served TEXT NOT NULL, status INTEGER NOT NULL, currency TEXT NOT NULL, requests INTEGER NOT NULL, errors INTEGER NOT NULL,
     auth_failures INTEGER NOT NULL, input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL, cached_tokens INTEGER NOT NULL,
     cost_micro_usd INTEGER NOT NULL, charge_micro INTEGER NOT NULL, latency_ms_sum INTEGER NOT NULL, attempts_failed INTEGER NOT NULL DEFAULT 0, cost_unknown INTEGER NOT NULL DEFAULT 0,
     PRIMARY KEY (hour_ms, account_id, kid, provider, model_served, status, currency)) WITHOUT ROWID, STRICT""")
        db.execute("CREATE INDEX usage_hourly_account ON usage_hourly (account_id, hour_ms)")
        db.execute("CREATE INDEX usage_hourly_kid ON usage_hourly (kid, hour_ms)")
    if variant == "hourly-check":
        db.execute("DROP TABLE usage_hourly")
        chk = ", ".join(f"CHECK (typeof({c}) = 'integer')" for c in "requests errors auth_failures input_tokens output_tokens cached_tokens cost_micro_usd charge_micro latency_ms_sum attempts_failed cost_unknown".split())
        db.execute(f"""CREATE TABLE usage_hourly (hour_ms INTEGER NOT NULL, account_id TEXT NOT NULL, kid TEXT NOT NULL, provider TEXT NOT NULL,
     model_served TEXT NOT NULL, status INTEGER NOT NULL, currency TEXT NOT NULL, requests INTEGER NOT NULL, errors INTEGER NOT NULL,
     auth_failures INTEGER NOT NULL, input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL, cached_tokens INTEGER NOT NULL,
     cost_micro_usd INTEGER NOT NULL, charge_micro INTEGER NOT NULL, latency_ms_sum INTEGER NOT NULL, attempts_failed INTEGER NOT NULL DEFAULT 0, cost_unknown INTEGER NOT NULL DEFAULT 0,
     {chk}, PRIMARY KEY (hour_ms, account_id, kid, provider, model_served, status, currency)) WITHOUT ROWID""")
        db.execute("CREATE INDEX usage_hourly_account ON usage_hourly (account_id, hour_ms)")
        db.execute("CREATE INDEX usage_hourly_kid ON usage_hourly (kid, hour_ms)")
    if variant == "hourly-trigger":
        db.execute(f"CREATE TRIGGER i BEFORE INSERT ON usage_hourly WHEN {cond} BEGIN SELECT RAISE(ABORT, 'x'); END")
        db.execute(f"CREATE TRIGGER u BEFORE UPDATE ON usage_hourly WHEN {cond} BEGIN SELECT RAISE(ABORT, 'x'); END")
    cols = "hour_ms, account_id, kid, provider, model_served, status, currency, requests, errors, auth_failures, attempts_failed, cost_unknown, input_tokens, output_tokens, cached_tokens, cost_micro_usd, charge_micro, latency_ms_sum"
    upd = ", ".join(f"{c} = MAX(MIN({c} + excluded.{c}, 9000000000000000000), -9000000000000000000)" for c in cols.split(", ")[7:])
    sql = f"INSERT INTO usage_hourly ({cols}) VALUES ({','.join(['?']*18)}) ON CONFLICT (hour_ms, account_id, kid, provider, model_served, status, currency) DO UPDATE SET {upd}"
    for i in range(n):
        db.execute("BEGIN IMMEDIATE")
        db.execute(sql, [0, "acme", "kid", "openai", "gpt", 200, "USD", 10, 0, 0, 0, 0, 100, 200, 0, 300, 400, 50])
        db.execute("COMMIT")
    db.close()
    sys.exit(0)
cols = """id BLOB NOT NULL, ts_ms INTEGER NOT NULL, request_id TEXT NOT NULL, account_id TEXT NOT NULL,
 kid TEXT NOT NULL, user_id TEXT NOT NULL, endpoint TEXT NOT NULL, provider TEXT NOT NULL,
 model_requested TEXT NOT NULL, model_served TEXT NOT NULL, status INTEGER NOT NULL, error_code TEXT NOT NULL,
 input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL, cached_tokens INTEGER NOT NULL,
 usage_source TEXT NOT NULL CHECK (usage_source IN ('reported', 'estimated', 'none')),
 cost_micro_usd INTEGER, charge_micro INTEGER NOT NULL, currency TEXT NOT NULL, latency_ms INTEGER NOT NULL,
 ttfb_ms INTEGER NOT NULL, client_ip TEXT NOT NULL, session_id TEXT NOT NULL, app_version TEXT NOT NULL,
 byok INTEGER NOT NULL CHECK (byok IN (0, 1)), streamed INTEGER NOT NULL CHECK (streamed IN (0, 1)),
 failed_attempt INTEGER NOT NULL DEFAULT 0 CHECK (failed_attempt IN (0, 1))"""
checks = """, CHECK (input_tokens BETWEEN 0 AND 1000000000 AND output_tokens BETWEEN 0 AND 1000000000
 AND cached_tokens BETWEEN 0 AND 1000000000 AND (cost_micro_usd IS NULL OR cost_micro_usd BETWEEN 0 AND 1000000000000000)
 AND charge_micro BETWEEN -1000000000000000 AND 1000000000000000 AND latency_ms BETWEEN 0 AND 86400000 AND ttfb_ms BETWEEN 0 AND 86400000)"""
trigger = """CREATE TRIGGER usage_events_in_range BEFORE INSERT ON usage_events
WHEN typeof(NEW.input_tokens) <> 'integer' OR NEW.input_tokens NOT BETWEEN 0 AND 1000000000
  OR typeof(NEW.output_tokens) <> 'integer' OR NEW.output_tokens NOT BETWEEN 0 AND 1000000000
  OR typeof(NEW.cached_tokens) <> 'integer' OR NEW.cached_tokens NOT BETWEEN 0 AND 1000000000
  OR (NEW.cost_micro_usd IS NOT NULL AND (typeof(NEW.cost_micro_usd) <> 'integer'
      OR NEW.cost_micro_usd NOT BETWEEN 0 AND 1000000000000000))
  OR typeof(NEW.charge_micro) <> 'integer'
  OR NEW.charge_micro NOT BETWEEN -1000000000000000 AND 1000000000000000
  OR typeof(NEW.latency_ms) <> 'integer' OR NEW.latency_ms NOT BETWEEN 0 AND 86400000
  OR typeof(NEW.ttfb_ms) <> 'integer' OR NEW.ttfb_ms NOT BETWEEN 0 AND 86400000
BEGIN SELECT RAISE(ABORT, 'usage_events: a number is out of range'); END"""
if variant == "withoutrowid":
    db.execute(f"CREATE TABLE usage_events ({cols.replace('id BLOB NOT NULL', 'id BLOB PRIMARY KEY', 1)}) WITHOUT ROWID")
else:
    db.execute(f"CREATE TABLE usage_events (seq INTEGER PRIMARY KEY, {cols}{checks if variant == 'check' else ''})")
    db.execute("CREATE UNIQUE INDEX usage_events_id ON usage_events (id)")
if variant != "nots":
    db.execute("CREATE INDEX usage_events_ts ON usage_events (ts_ms)")
if variant == "trigger":
    db.execute(trigger)
names = "id, ts_ms, request_id, account_id, kid, user_id, endpoint, provider, model_requested, model_served, status, error_code, input_tokens, output_tokens, cached_tokens, usage_source, cost_micro_usd, charge_micro, currency, latency_ms, ttfb_ms, client_ip, session_id, app_version, byok, streamed, failed_attempt"
row = "(" + ",".join(["?"] * 27) + ")"
sql = f"INSERT INTO usage_events ({names}) VALUES " + ",".join([row] * batch) + " ON CONFLICT (id) DO NOTHING"
t0 = 1767225600000
i = 0
while i < n:
    params = []
    for k in range(i, i + batch):
        params += [uuid.UUID(int=(0x0194c000000070008000 << 48) | k).bytes, t0 + k // 10, f"req-{k:08d}", "acme", "kid_a1", "", "/v1/chat/completions", "openai",
                   "gpt-4o-mini", "gpt-4o-mini", 200, "", 12 + k % 40, 30 + k % 90, 0, "reported", 20 + k % 30, 30 + k % 45, "USD",
                   3 + k % 20, 2 + k % 10, "127.0.0.1", "", "", 0, k % 4 == 0, 0]
    db.execute("BEGIN IMMEDIATE")
    db.execute(sql, params)
    db.execute("COMMIT")
    i += batch
db.close()
