-- PostgreSQL mirror of migrations/sqlite/0002_usage.sql, with one difference:
-- usage_events is partitioned by range on ts_ms (one partition per UTC day,
-- named usage_events_pYYYYMMDD). The store creates partitions ahead of time (on
-- start and hourly) and retention drops whole partitions instead of deleting rows.
-- Events outside every day partition land in usage_events_default, so a usage
-- row is never refused for want of a partition.
--
-- The primary key must contain the partition key, hence (id, ts_ms): an event's
-- id and time never change, so a retried event still conflicts with itself.
CREATE TABLE usage_events (
    id              TEXT NOT NULL,            -- UUIDv7
    ts_ms           BIGINT NOT NULL,
    request_id      TEXT NOT NULL,
    account_id      TEXT NOT NULL,
    kid             TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    endpoint        TEXT NOT NULL,
    provider        TEXT NOT NULL,
    model_requested TEXT NOT NULL,
    model_served    TEXT NOT NULL,
    status          BIGINT NOT NULL,
    error_code      TEXT NOT NULL,
    input_tokens    BIGINT NOT NULL,
    output_tokens   BIGINT NOT NULL,
    cached_tokens   BIGINT NOT NULL,
    usage_source    TEXT NOT NULL CHECK (usage_source IN ('reported', 'estimated', 'none')),
    cost_micro_usd  BIGINT NOT NULL,
    charge_micro    BIGINT NOT NULL,
    currency        TEXT NOT NULL,
    latency_ms      BIGINT NOT NULL,
    ttfb_ms         BIGINT NOT NULL,
    client_ip       TEXT NOT NULL,
    session_id      TEXT NOT NULL,
    app_version     TEXT NOT NULL,
    byok            BOOLEAN NOT NULL,
    streamed        BOOLEAN NOT NULL,
    PRIMARY KEY (id, ts_ms)
) PARTITION BY RANGE (ts_ms);

CREATE TABLE usage_events_default PARTITION OF usage_events DEFAULT;

-- Time ranges (top client IPs), per key and per account; created on every partition.
CREATE INDEX usage_events_ts ON usage_events (ts_ms);
CREATE INDEX usage_events_kid_ts ON usage_events (kid, ts_ms);
CREATE INDEX usage_events_account_ts ON usage_events (account_id, ts_ms);

CREATE TABLE usage_hourly (
    hour_ms        BIGINT NOT NULL,   -- start of the UTC hour
    account_id     TEXT NOT NULL,
    kid            TEXT NOT NULL,
    provider       TEXT NOT NULL,
    model_served   TEXT NOT NULL,
    status         BIGINT NOT NULL,
    requests       BIGINT NOT NULL,
    errors         BIGINT NOT NULL,   -- status >= 400
    auth_failures  BIGINT NOT NULL,   -- status = 401
    input_tokens   BIGINT NOT NULL,
    output_tokens  BIGINT NOT NULL,
    cached_tokens  BIGINT NOT NULL,
    cost_micro_usd BIGINT NOT NULL,
    charge_micro   BIGINT NOT NULL,
    latency_ms_sum BIGINT NOT NULL,
    PRIMARY KEY (hour_ms, account_id, kid, provider, model_served, status)
);

CREATE INDEX usage_hourly_account ON usage_hourly (account_id, hour_ms);
CREATE INDEX usage_hourly_kid ON usage_hourly (kid, hour_ms);

ALTER TABLE accounts ADD COLUMN currency TEXT NOT NULL DEFAULT 'USD';
ALTER TABLE accounts ADD COLUMN billing_mode TEXT NOT NULL DEFAULT 'postpaid'
    CHECK (billing_mode IN ('prepaid', 'postpaid'));
ALTER TABLE accounts ADD COLUMN balance_micro BIGINT NOT NULL DEFAULT 0;

CREATE TABLE account_credits (
    id                  TEXT PRIMARY KEY,    -- UUIDv7
    account_id          TEXT NOT NULL REFERENCES accounts(id),
    amount_micro        BIGINT NOT NULL,     -- negative for corrections
    balance_after_micro BIGINT NOT NULL,
    actor               TEXT NOT NULL,       -- kid of the management key, or 'cli'
    note                TEXT NOT NULL,
    created_at          BIGINT NOT NULL
);

CREATE INDEX account_credits_account ON account_credits (account_id, created_at);
