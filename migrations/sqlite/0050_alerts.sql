-- Security alerts (issue 19). Alerts are outbox rows (`webhook_events`, type
-- `alert.*`); `dedup_key` names the alert's (type, subject, window), and its unique
-- index is what makes "one alert per subject per window" hold across instances:
-- whichever gateway inserts first wins, the others' inserts do nothing. Key
-- lifecycle events leave it NULL (NULLs never collide).
ALTER TABLE webhook_events ADD COLUMN dedup_key TEXT;
CREATE UNIQUE INDEX webhook_events_dedup ON webhook_events (dedup_key);

-- The addresses each key was used from, for `alert.new_ip`. Written by the alert
-- evaluator (off the request path), at most once an hour per (key, address).
CREATE TABLE key_seen_ips (
    key_id TEXT NOT NULL,             -- api_keys.id (row id)
    ip TEXT NOT NULL,
    first_seen_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    PRIMARY KEY (key_id, ip)
);

-- Per-account alert thresholds; NULL: the `[alerts]` default.
CREATE TABLE account_alert_settings (
    account_id TEXT PRIMARY KEY,
    auth_failures INTEGER,
    auth_failures_window_secs INTEGER,
    new_ip_days INTEGER,
    rate_limit_near_pct INTEGER,
    balance_low_micro INTEGER,
    spend_daily_micro INTEGER,
    updated_at INTEGER NOT NULL
);
