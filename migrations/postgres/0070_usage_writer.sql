-- PostgreSQL mirror of migrations/sqlite/0070_usage_writer.sql: failed routing
-- attempts marked (issue 15), an unpriced model's cost stored as unknown (NULL,
-- issue 12), the event id as a native 16-byte uuid, only the indexes reports and
-- retention use (issue 16), and client-IP counts rolled up per hour. The day
-- partitions stay; every ALTER here reaches each of them.

-- 1. Old failed attempts: a row of a request that another row of the same request
-- (same request id and start time) followed, with nothing sent back and no tokens.
ALTER TABLE usage_events ADD COLUMN failed_attempt BOOLEAN NOT NULL DEFAULT false;
CREATE INDEX usage_events_migrate_request ON usage_events (request_id, ts_ms, id);
UPDATE usage_events e SET failed_attempt = true
WHERE e.usage_source = 'none' AND e.status >= 400 AND e.input_tokens = 0
  AND e.output_tokens = 0 AND e.charge_micro = 0
  AND EXISTS (SELECT 1 FROM usage_events o WHERE o.request_id = e.request_id
              AND o.ts_ms = e.ts_ms AND o.id COLLATE "C" > e.id COLLATE "C");
DROP INDEX usage_events_migrate_request;

-- 2. The row's shape: a uuid id (16 bytes, not 36 characters of text), a cost that
-- may be unknown (the range CHECK passes NULL), and no per-key or per-account
-- time index (the client-IP ranking reads usage_ip_hourly now).
ALTER TABLE usage_events ALTER COLUMN id TYPE uuid USING id::uuid;
ALTER TABLE usage_events ALTER COLUMN cost_micro_usd DROP NOT NULL;
DROP INDEX IF EXISTS usage_events_kid_ts;
DROP INDEX IF EXISTS usage_events_account_ts;

-- 3. Rollups: failed attempts and requests of unknown cost get their own counts,
-- and what old failed-attempt rows added to requests (errors, latency) moves to
-- attempts_failed. Hours past the raw rows' retention keep their counts.
ALTER TABLE usage_hourly ADD COLUMN attempts_failed BIGINT NOT NULL DEFAULT 0;
ALTER TABLE usage_hourly ADD COLUMN cost_unknown BIGINT NOT NULL DEFAULT 0;

UPDATE usage_hourly AS h SET
    requests = GREATEST(h.requests - x.n, 0),
    errors = GREATEST(h.errors - x.errors, 0),
    auth_failures = GREATEST(h.auth_failures - x.auth_failures, 0),
    latency_ms_sum = GREATEST(h.latency_ms_sum - x.latency_ms_sum, 0),
    attempts_failed = h.attempts_failed + x.n
FROM (
    SELECT ts_ms - (((ts_ms % 3600000) + 3600000) % 3600000) AS hour_ms, account_id, kid,
           provider, model_served, status, currency, COUNT(*) AS n,
           COUNT(*) FILTER (WHERE status >= 400) AS errors,
           COUNT(*) FILTER (WHERE status = 401) AS auth_failures,
           COALESCE(SUM(latency_ms), 0)::bigint AS latency_ms_sum
    FROM usage_events WHERE failed_attempt
    GROUP BY 1, 2, 3, 4, 5, 6, 7
) AS x
WHERE h.hour_ms = x.hour_ms AND h.account_id = x.account_id AND h.kid = x.kid
  AND h.provider = x.provider AND h.model_served = x.model_served
  AND h.status = x.status AND h.currency = x.currency;

-- 4. Requests per client IP and hour, written with the other rollups.
CREATE TABLE usage_ip_hourly (
    hour_ms    BIGINT NOT NULL,
    account_id TEXT NOT NULL,
    kid        TEXT NOT NULL,
    client_ip  TEXT NOT NULL,
    requests   BIGINT NOT NULL,
    PRIMARY KEY (hour_ms, account_id, kid, client_ip)
);

CREATE INDEX usage_ip_hourly_account ON usage_ip_hourly (account_id, hour_ms);
CREATE INDEX usage_ip_hourly_kid ON usage_ip_hourly (kid, hour_ms);

INSERT INTO usage_ip_hourly (hour_ms, account_id, kid, client_ip, requests)
SELECT ts_ms - (((ts_ms % 3600000) + 3600000) % 3600000), account_id, kid, client_ip, COUNT(*)
FROM usage_events
WHERE client_ip <> '' AND NOT failed_attempt
GROUP BY 1, 2, 3, 4;
