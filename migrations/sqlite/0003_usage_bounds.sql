-- Usage numbers stay integers within range, and rollups keep currencies apart.
--
-- A provider reporting ~2^64 tokens had stored input_tokens = -1, and sums past
-- i64 had turned rollups and balances into REAL (SQLite's overflow), after which
-- every read of them failed. The writer now clamps (metering::bounds); these
-- triggers make the database refuse what slips through, instead of storing it.
-- The limits match metering::bounds: tokens 0..1e9 per count, money ±1e15
-- micro-units per event or credit, balances ±1e18, latencies 0..86400000 ms.

-- 1. Repair what an earlier version may have stored.
UPDATE usage_events SET input_tokens = 0 WHERE typeof(input_tokens) <> 'integer' OR input_tokens < 0;
UPDATE usage_events SET output_tokens = 0 WHERE typeof(output_tokens) <> 'integer' OR output_tokens < 0;
UPDATE usage_events SET cached_tokens = 0 WHERE typeof(cached_tokens) <> 'integer' OR cached_tokens < 0;
UPDATE usage_events SET input_tokens = 1000000000 WHERE input_tokens > 1000000000;
UPDATE usage_events SET output_tokens = 1000000000 WHERE output_tokens > 1000000000;
UPDATE usage_events SET cached_tokens = 1000000000 WHERE cached_tokens > 1000000000;
UPDATE usage_events SET cost_micro_usd = CAST(MAX(MIN(cost_micro_usd, 1000000000000000), 0) AS INTEGER)
    WHERE typeof(cost_micro_usd) <> 'integer' OR cost_micro_usd NOT BETWEEN 0 AND 1000000000000000;
UPDATE usage_events SET charge_micro = CAST(MAX(MIN(charge_micro, 1000000000000000), -1000000000000000) AS INTEGER)
    WHERE typeof(charge_micro) <> 'integer' OR charge_micro NOT BETWEEN -1000000000000000 AND 1000000000000000;
UPDATE accounts SET balance_micro = CAST(MAX(MIN(balance_micro, 1000000000000000000), -1000000000000000000) AS INTEGER)
    WHERE typeof(balance_micro) <> 'integer' OR balance_micro NOT BETWEEN -1000000000000000000 AND 1000000000000000000;

-- 2. Rollups get the currency in their key. Rows written before carry the
-- account's current currency (USD when there is no account), the best record left.
CREATE TABLE usage_hourly_new (
    hour_ms        INTEGER NOT NULL,
    account_id     TEXT NOT NULL,
    kid            TEXT NOT NULL,
    provider       TEXT NOT NULL,
    model_served   TEXT NOT NULL,
    status         INTEGER NOT NULL,
    currency       TEXT NOT NULL,
    requests       INTEGER NOT NULL,
    errors         INTEGER NOT NULL,
    auth_failures  INTEGER NOT NULL,
    input_tokens   INTEGER NOT NULL,
    output_tokens  INTEGER NOT NULL,
    cached_tokens  INTEGER NOT NULL,
    cost_micro_usd INTEGER NOT NULL,
    charge_micro   INTEGER NOT NULL,
    latency_ms_sum INTEGER NOT NULL,
    PRIMARY KEY (hour_ms, account_id, kid, provider, model_served, status, currency)
) WITHOUT ROWID;

INSERT INTO usage_hourly_new
SELECT h.hour_ms, h.account_id, h.kid, h.provider, h.model_served, h.status,
       COALESCE((SELECT a.currency FROM accounts a WHERE a.id = h.account_id), 'USD'),
       CAST(MAX(MIN(h.requests, 9000000000000000000), 0) AS INTEGER),
       CAST(MAX(MIN(h.errors, 9000000000000000000), 0) AS INTEGER),
       CAST(MAX(MIN(h.auth_failures, 9000000000000000000), 0) AS INTEGER),
       CAST(MAX(MIN(h.input_tokens, 9000000000000000000), 0) AS INTEGER),
       CAST(MAX(MIN(h.output_tokens, 9000000000000000000), 0) AS INTEGER),
       CAST(MAX(MIN(h.cached_tokens, 9000000000000000000), 0) AS INTEGER),
       CAST(MAX(MIN(h.cost_micro_usd, 9000000000000000000), 0) AS INTEGER),
       CAST(MAX(MIN(h.charge_micro, 9000000000000000000), -9000000000000000000) AS INTEGER),
       CAST(MAX(MIN(h.latency_ms_sum, 9000000000000000000), 0) AS INTEGER)
FROM usage_hourly h;

DROP TABLE usage_hourly;
ALTER TABLE usage_hourly_new RENAME TO usage_hourly;
CREATE INDEX usage_hourly_account ON usage_hourly (account_id, hour_ms);
CREATE INDEX usage_hourly_kid ON usage_hourly (kid, hour_ms);

-- 3. From now on, out-of-range or non-integer values are refused.
CREATE TRIGGER usage_events_in_range BEFORE INSERT ON usage_events
WHEN typeof(NEW.input_tokens) <> 'integer' OR NEW.input_tokens NOT BETWEEN 0 AND 1000000000
  OR typeof(NEW.output_tokens) <> 'integer' OR NEW.output_tokens NOT BETWEEN 0 AND 1000000000
  OR typeof(NEW.cached_tokens) <> 'integer' OR NEW.cached_tokens NOT BETWEEN 0 AND 1000000000
  OR typeof(NEW.cost_micro_usd) <> 'integer' OR NEW.cost_micro_usd NOT BETWEEN 0 AND 1000000000000000
  OR typeof(NEW.charge_micro) <> 'integer'
  OR NEW.charge_micro NOT BETWEEN -1000000000000000 AND 1000000000000000
  OR typeof(NEW.latency_ms) <> 'integer' OR NEW.latency_ms NOT BETWEEN 0 AND 86400000
  OR typeof(NEW.ttfb_ms) <> 'integer' OR NEW.ttfb_ms NOT BETWEEN 0 AND 86400000
BEGIN
    SELECT RAISE(ABORT, 'usage_events: a number is out of range');
END;

CREATE TRIGGER usage_hourly_insert_in_range BEFORE INSERT ON usage_hourly
WHEN typeof(NEW.requests) <> 'integer' OR typeof(NEW.errors) <> 'integer'
  OR typeof(NEW.auth_failures) <> 'integer' OR typeof(NEW.input_tokens) <> 'integer'
  OR typeof(NEW.output_tokens) <> 'integer' OR typeof(NEW.cached_tokens) <> 'integer'
  OR typeof(NEW.cost_micro_usd) <> 'integer' OR typeof(NEW.charge_micro) <> 'integer'
  OR typeof(NEW.latency_ms_sum) <> 'integer'
BEGIN
    SELECT RAISE(ABORT, 'usage_hourly: a sum is not an integer');
END;

CREATE TRIGGER usage_hourly_update_in_range BEFORE UPDATE ON usage_hourly
WHEN typeof(NEW.requests) <> 'integer' OR typeof(NEW.errors) <> 'integer'
  OR typeof(NEW.auth_failures) <> 'integer' OR typeof(NEW.input_tokens) <> 'integer'
  OR typeof(NEW.output_tokens) <> 'integer' OR typeof(NEW.cached_tokens) <> 'integer'
  OR typeof(NEW.cost_micro_usd) <> 'integer' OR typeof(NEW.charge_micro) <> 'integer'
  OR typeof(NEW.latency_ms_sum) <> 'integer'
BEGIN
    SELECT RAISE(ABORT, 'usage_hourly: a sum is not an integer');
END;

CREATE TRIGGER accounts_balance_in_range BEFORE UPDATE OF balance_micro ON accounts
WHEN typeof(NEW.balance_micro) <> 'integer'
  OR NEW.balance_micro NOT BETWEEN -1000000000000000000 AND 1000000000000000000
BEGIN
    SELECT RAISE(ABORT, 'accounts: balance out of range');
END;

CREATE TRIGGER account_credits_in_range BEFORE INSERT ON account_credits
WHEN typeof(NEW.amount_micro) <> 'integer'
  OR NEW.amount_micro NOT BETWEEN -1000000000000000 AND 1000000000000000
  OR typeof(NEW.balance_after_micro) <> 'integer'
BEGIN
    SELECT RAISE(ABORT, 'account_credits: amount out of range');
END;
