-- PostgreSQL mirror of migrations/sqlite/0050_alerts.sql (issue 19): the alert
-- de-duplication key on the outbox (unique, so two gateways never write the same
-- alert), the per-key seen-address table for `alert.new_ip`, and per-account
-- alert thresholds (NULL: the `[alerts]` default). Times in unix ms.
ALTER TABLE webhook_events ADD COLUMN dedup_key TEXT;
CREATE UNIQUE INDEX webhook_events_dedup ON webhook_events (dedup_key);

CREATE TABLE key_seen_ips (
    key_id TEXT NOT NULL,
    ip TEXT NOT NULL,
    first_seen_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    PRIMARY KEY (key_id, ip)
);

CREATE TABLE account_alert_settings (
    account_id TEXT PRIMARY KEY,
    auth_failures INTEGER,
    auth_failures_window_secs INTEGER,
    new_ip_days INTEGER,
    rate_limit_near_pct INTEGER,
    balance_low_micro BIGINT,
    spend_daily_micro BIGINT,
    updated_at BIGINT NOT NULL
);
