-- Range rules that cost a sub-program per row become cheap (issue 16).
--
-- SQLite runs a trigger as a sub-program on every row it fires for: about 22k
-- instructions each, whatever its WHEN clause says, against about 0.3k for the
-- same range rule as a CHECK constraint (bench/sqlite_row_cost.sh;
-- bench/RESULTS.md, branch `writer`). The batch writer paid that once per usage
-- event and once per rollup row per batch. (accounts_balance_in_range stays: once
-- per account per batch, and rebuilding accounts, which other tables reference,
-- is not worth it.)
--
-- 1. usage_events_in_range goes. Its typeof tests cannot fail for what the store
-- writes (every number is bound as an i64), and the ranges are checked in Rust
-- before a batch is written (domain::bounds::check_event, in both backends'
-- record_usage_batch): an out-of-range event still refuses its whole batch and
-- nothing is stored. Rebuilding usage_events for a CHECK constraint would copy
-- every raw row at start-up; the check in Rust does not.
DROP TRIGGER IF EXISTS usage_events_in_range;

-- 2. usage_hourly keeps its rule in the database, as a STRICT table: an INTEGER
-- column of a STRICT table refuses a REAL (a sum that overflowed i64) on INSERT
-- and UPDATE, as the two triggers did, for a type test per column instead of a
-- sub-program per row (CHECK (typeof(x) = 'integer') constraints cost a function
-- call per column). The table is rebuilt for that: same columns, same order,
-- same key and indexes.
CREATE TABLE usage_hourly_new (
    hour_ms         INTEGER NOT NULL,
    account_id      TEXT NOT NULL,
    kid             TEXT NOT NULL,
    provider        TEXT NOT NULL,
    model_served    TEXT NOT NULL,
    status          INTEGER NOT NULL,
    currency        TEXT NOT NULL,
    requests        INTEGER NOT NULL,
    errors          INTEGER NOT NULL,
    auth_failures   INTEGER NOT NULL,
    input_tokens    INTEGER NOT NULL,
    output_tokens   INTEGER NOT NULL,
    cached_tokens   INTEGER NOT NULL,
    cost_micro_usd  INTEGER NOT NULL,
    charge_micro    INTEGER NOT NULL,
    latency_ms_sum  INTEGER NOT NULL,
    attempts_failed INTEGER NOT NULL DEFAULT 0,
    cost_unknown    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (hour_ms, account_id, kid, provider, model_served, status, currency)
) WITHOUT ROWID, STRICT;

-- The triggers kept every stored sum an integer, so the copy passes the type test.
INSERT INTO usage_hourly_new (hour_ms, account_id, kid, provider, model_served, status,
    currency, requests, errors, auth_failures, input_tokens, output_tokens, cached_tokens,
    cost_micro_usd, charge_micro, latency_ms_sum, attempts_failed, cost_unknown)
SELECT hour_ms, account_id, kid, provider, model_served, status, currency, requests, errors,
    auth_failures, input_tokens, output_tokens, cached_tokens, cost_micro_usd, charge_micro,
    latency_ms_sum, attempts_failed, cost_unknown
FROM usage_hourly;

DROP TABLE usage_hourly;
ALTER TABLE usage_hourly_new RENAME TO usage_hourly;
CREATE INDEX usage_hourly_account ON usage_hourly (account_id, hour_ms);
CREATE INDEX usage_hourly_kid ON usage_hourly (kid, hour_ms);
