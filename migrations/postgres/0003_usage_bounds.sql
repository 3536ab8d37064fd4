-- PostgreSQL mirror of migrations/sqlite/0003_usage_bounds.sql: rollups keep
-- currencies apart, and the database refuses numbers out of range. BIGINT is
-- always an integer and an overflowing sum is an error here (not REAL), so CHECK
-- constraints are all it takes. The limits match metering::bounds: tokens 0..1e9
-- per count, money ±1e15 micro-units per event or credit, balances ±1e18,
-- latencies 0..86400000 ms.
ALTER TABLE usage_hourly ADD COLUMN currency TEXT NOT NULL DEFAULT 'USD';
ALTER TABLE usage_hourly ALTER COLUMN currency DROP DEFAULT;
ALTER TABLE usage_hourly DROP CONSTRAINT usage_hourly_pkey;
ALTER TABLE usage_hourly ADD PRIMARY KEY
    (hour_ms, account_id, kid, provider, model_served, status, currency);

ALTER TABLE usage_events ADD CONSTRAINT usage_events_in_range CHECK (
    input_tokens BETWEEN 0 AND 1000000000
    AND output_tokens BETWEEN 0 AND 1000000000
    AND cached_tokens BETWEEN 0 AND 1000000000
    AND cost_micro_usd BETWEEN 0 AND 1000000000000000
    AND charge_micro BETWEEN -1000000000000000 AND 1000000000000000
    AND latency_ms BETWEEN 0 AND 86400000
    AND ttfb_ms BETWEEN 0 AND 86400000
);

ALTER TABLE accounts ADD CONSTRAINT accounts_balance_in_range
    CHECK (balance_micro BETWEEN -1000000000000000000 AND 1000000000000000000);

ALTER TABLE account_credits ADD CONSTRAINT account_credits_in_range
    CHECK (amount_micro BETWEEN -1000000000000000 AND 1000000000000000);
