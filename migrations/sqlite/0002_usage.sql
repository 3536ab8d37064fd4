-- Metering: one row per gateway request (metering::UsageEvent), hourly rollups kept
-- in the same transaction, and account balances with an audit trail of credits.
-- Times are unix milliseconds, money integer micro-units, booleans 0/1.

-- No foreign key to accounts: a request that never authenticated has an empty
-- account_id, and a usage row must never be refused.
CREATE TABLE usage_events (
    id              TEXT PRIMARY KEY,            -- UUIDv7
    ts_ms           INTEGER NOT NULL,
    request_id      TEXT NOT NULL,
    account_id      TEXT NOT NULL,
    kid             TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    endpoint        TEXT NOT NULL,
    provider        TEXT NOT NULL,
    model_requested TEXT NOT NULL,
    model_served    TEXT NOT NULL,
    status          INTEGER NOT NULL,
    error_code      TEXT NOT NULL,
    input_tokens    INTEGER NOT NULL,
    output_tokens   INTEGER NOT NULL,
    cached_tokens   INTEGER NOT NULL,
    usage_source    TEXT NOT NULL CHECK (usage_source IN ('reported', 'estimated', 'none')),
    cost_micro_usd  INTEGER NOT NULL,
    charge_micro    INTEGER NOT NULL,
    currency        TEXT NOT NULL,
    latency_ms      INTEGER NOT NULL,
    ttfb_ms         INTEGER NOT NULL,
    client_ip       TEXT NOT NULL,
    session_id      TEXT NOT NULL,
    app_version     TEXT NOT NULL,
    byok            INTEGER NOT NULL CHECK (byok IN (0, 1)),
    streamed        INTEGER NOT NULL CHECK (streamed IN (0, 1))
);

-- Time ranges (retention purge, top client IPs), per key and per account.
CREATE INDEX usage_events_ts ON usage_events (ts_ms);
CREATE INDEX usage_events_kid_ts ON usage_events (kid, ts_ms);
CREATE INDEX usage_events_account_ts ON usage_events (account_id, ts_ms);

-- What the analytics API reads: one row per hour and dimension, so reports stay
-- fast on large logs and outlive the raw events' retention.
CREATE TABLE usage_hourly (
    hour_ms        INTEGER NOT NULL,   -- start of the UTC hour
    account_id     TEXT NOT NULL,
    kid            TEXT NOT NULL,
    provider       TEXT NOT NULL,
    model_served   TEXT NOT NULL,
    status         INTEGER NOT NULL,
    requests       INTEGER NOT NULL,
    errors         INTEGER NOT NULL,   -- status >= 400
    auth_failures  INTEGER NOT NULL,   -- status = 401
    input_tokens   INTEGER NOT NULL,
    output_tokens  INTEGER NOT NULL,
    cached_tokens  INTEGER NOT NULL,
    cost_micro_usd INTEGER NOT NULL,
    charge_micro   INTEGER NOT NULL,
    latency_ms_sum INTEGER NOT NULL,
    PRIMARY KEY (hour_ms, account_id, kid, provider, model_served, status)
) WITHOUT ROWID;

-- The primary key serves whole-gateway ranges; these serve one account or one key.
CREATE INDEX usage_hourly_account ON usage_hourly (account_id, hour_ms);
CREATE INDEX usage_hourly_kid ON usage_hourly (kid, hour_ms);

-- Billing. Postpaid accounts run a negative balance that is invoiced; prepaid
-- accounts are refused once it cannot cover a request (DESIGN §4).
ALTER TABLE accounts ADD COLUMN currency TEXT NOT NULL DEFAULT 'USD';
ALTER TABLE accounts ADD COLUMN billing_mode TEXT NOT NULL DEFAULT 'postpaid'
    CHECK (billing_mode IN ('prepaid', 'postpaid'));
ALTER TABLE accounts ADD COLUMN balance_micro INTEGER NOT NULL DEFAULT 0;

-- Every manual change to a balance (top-ups and corrections), never rewritten.
CREATE TABLE account_credits (
    id                  TEXT PRIMARY KEY,    -- UUIDv7
    account_id          TEXT NOT NULL REFERENCES accounts(id),
    amount_micro        INTEGER NOT NULL,    -- negative for corrections
    balance_after_micro INTEGER NOT NULL,
    actor               TEXT NOT NULL,       -- kid of the management key, or 'cli'
    note                TEXT NOT NULL,
    created_at          INTEGER NOT NULL
);

CREATE INDEX account_credits_account ON account_credits (account_id, created_at);
