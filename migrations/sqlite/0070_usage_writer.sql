-- Usage rows in a shape the batch writer appends cheaply (issue 16), failed
-- routing attempts marked so reports count one request per client request
-- (issue 15), and an unpriced model's cost stored as unknown, not as 0 (issue 12).
--
-- usage_events: an integer rowid, the event's UUIDv7 as a 16-byte BLOB under a
-- UNIQUE index (replays stay idempotent), and one index on ts_ms (retention). The
-- row id and the UUIDv7 both grow with time, so every insert lands at the right
-- edge of its B-tree. The per-key and per-account time indexes go: the client-IP
-- ranking, the only report that read raw events, now reads usage_ip_hourly. Each
-- row was 5 B-tree inserts (TEXT primary key, its autoindex, 3 indexes); it is 3.

-- 1. Old failed attempts: a row of a request that another row of the same request
-- (same request id and start time) followed, with nothing sent back and no
-- tokens. A temporary index keeps this linear.
CREATE INDEX usage_events_migrate_request ON usage_events (request_id, ts_ms, id);

CREATE TABLE usage_events_new (
    seq             INTEGER PRIMARY KEY,
    id              BLOB NOT NULL,               -- UUIDv7, 16 bytes
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
    cost_micro_usd  INTEGER,                     -- NULL: no price known (cost unknown)
    charge_micro    INTEGER NOT NULL,
    currency        TEXT NOT NULL,
    latency_ms      INTEGER NOT NULL,
    ttfb_ms         INTEGER NOT NULL,
    client_ip       TEXT NOT NULL,
    session_id      TEXT NOT NULL,
    app_version     TEXT NOT NULL,
    byok            INTEGER NOT NULL CHECK (byok IN (0, 1)),
    streamed        INTEGER NOT NULL CHECK (streamed IN (0, 1)),
    -- 1: an upstream try that failed and was followed by another try of the same
    -- request; the request's own row (0) says how it ended.
    failed_attempt  INTEGER NOT NULL DEFAULT 0 CHECK (failed_attempt IN (0, 1))
);

INSERT INTO usage_events_new (id, ts_ms, request_id, account_id, kid, user_id, endpoint,
    provider, model_requested, model_served, status, error_code, input_tokens,
    output_tokens, cached_tokens, usage_source, cost_micro_usd, charge_micro, currency,
    latency_ms, ttfb_ms, client_ip, session_id, app_version, byok, streamed, failed_attempt)
SELECT
    CASE WHEN length(e.id) = 36 AND unhex(replace(e.id, '-', '')) IS NOT NULL
         THEN unhex(replace(e.id, '-', '')) ELSE CAST(e.id AS BLOB) END,
    e.ts_ms, e.request_id, e.account_id, e.kid, e.user_id, e.endpoint, e.provider,
    e.model_requested, e.model_served, e.status, e.error_code, e.input_tokens,
    e.output_tokens, e.cached_tokens, e.usage_source, e.cost_micro_usd, e.charge_micro,
    e.currency, e.latency_ms, e.ttfb_ms, e.client_ip, e.session_id, e.app_version, e.byok,
    e.streamed,
    CASE WHEN e.usage_source = 'none' AND e.status >= 400 AND e.input_tokens = 0
          AND e.output_tokens = 0 AND e.charge_micro = 0
          AND EXISTS (SELECT 1 FROM usage_events o WHERE o.request_id = e.request_id
                      AND o.ts_ms = e.ts_ms AND o.id > e.id)
         THEN 1 ELSE 0 END
FROM usage_events e
ORDER BY e.ts_ms, e.id;

DROP TABLE usage_events;
ALTER TABLE usage_events_new RENAME TO usage_events;
CREATE UNIQUE INDEX usage_events_id ON usage_events (id);
CREATE INDEX usage_events_ts ON usage_events (ts_ms);

CREATE TRIGGER usage_events_in_range BEFORE INSERT ON usage_events
WHEN typeof(NEW.input_tokens) <> 'integer' OR NEW.input_tokens NOT BETWEEN 0 AND 1000000000
  OR typeof(NEW.output_tokens) <> 'integer' OR NEW.output_tokens NOT BETWEEN 0 AND 1000000000
  OR typeof(NEW.cached_tokens) <> 'integer' OR NEW.cached_tokens NOT BETWEEN 0 AND 1000000000
  OR (NEW.cost_micro_usd IS NOT NULL AND (typeof(NEW.cost_micro_usd) <> 'integer'
      OR NEW.cost_micro_usd NOT BETWEEN 0 AND 1000000000000000))
  OR typeof(NEW.charge_micro) <> 'integer'
  OR NEW.charge_micro NOT BETWEEN -1000000000000000 AND 1000000000000000
  OR typeof(NEW.latency_ms) <> 'integer' OR NEW.latency_ms NOT BETWEEN 0 AND 86400000
  OR typeof(NEW.ttfb_ms) <> 'integer' OR NEW.ttfb_ms NOT BETWEEN 0 AND 86400000
BEGIN
    SELECT RAISE(ABORT, 'usage_events: a number is out of range');
END;

-- 2. Rollups: failed attempts and requests of unknown cost get their own counts,
-- and what the old failed-attempt rows added to requests (and errors, latency)
-- moves to attempts_failed. Hours whose raw rows are past retention keep their
-- counts as they were: nothing is left to tell the attempts apart there.
ALTER TABLE usage_hourly ADD COLUMN attempts_failed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_hourly ADD COLUMN cost_unknown INTEGER NOT NULL DEFAULT 0;

UPDATE usage_hourly AS h SET
    requests = MAX(h.requests - x.n, 0),
    errors = MAX(h.errors - x.errors, 0),
    auth_failures = MAX(h.auth_failures - x.auth_failures, 0),
    latency_ms_sum = MAX(h.latency_ms_sum - x.latency_ms_sum, 0),
    attempts_failed = h.attempts_failed + x.n
FROM (
    SELECT ts_ms - (((ts_ms % 3600000) + 3600000) % 3600000) AS hour_ms, account_id, kid,
           provider, model_served, status, currency, COUNT(*) AS n,
           SUM(status >= 400) AS errors, SUM(status = 401) AS auth_failures,
           SUM(latency_ms) AS latency_ms_sum
    FROM usage_events WHERE failed_attempt = 1
    GROUP BY 1, 2, 3, 4, 5, 6, 7
) AS x
WHERE h.hour_ms = x.hour_ms AND h.account_id = x.account_id AND h.kid = x.kid
  AND h.provider = x.provider AND h.model_served = x.model_served
  AND h.status = x.status AND h.currency = x.currency;

DROP TRIGGER usage_hourly_insert_in_range;
DROP TRIGGER usage_hourly_update_in_range;

CREATE TRIGGER usage_hourly_insert_in_range BEFORE INSERT ON usage_hourly
WHEN typeof(NEW.requests) <> 'integer' OR typeof(NEW.errors) <> 'integer'
  OR typeof(NEW.auth_failures) <> 'integer' OR typeof(NEW.input_tokens) <> 'integer'
  OR typeof(NEW.output_tokens) <> 'integer' OR typeof(NEW.cached_tokens) <> 'integer'
  OR typeof(NEW.cost_micro_usd) <> 'integer' OR typeof(NEW.charge_micro) <> 'integer'
  OR typeof(NEW.latency_ms_sum) <> 'integer' OR typeof(NEW.attempts_failed) <> 'integer'
  OR typeof(NEW.cost_unknown) <> 'integer'
BEGIN
    SELECT RAISE(ABORT, 'usage_hourly: a sum is not an integer');
END;

CREATE TRIGGER usage_hourly_update_in_range BEFORE UPDATE ON usage_hourly
WHEN typeof(NEW.requests) <> 'integer' OR typeof(NEW.errors) <> 'integer'
  OR typeof(NEW.auth_failures) <> 'integer' OR typeof(NEW.input_tokens) <> 'integer'
  OR typeof(NEW.output_tokens) <> 'integer' OR typeof(NEW.cached_tokens) <> 'integer'
  OR typeof(NEW.cost_micro_usd) <> 'integer' OR typeof(NEW.charge_micro) <> 'integer'
  OR typeof(NEW.latency_ms_sum) <> 'integer' OR typeof(NEW.attempts_failed) <> 'integer'
  OR typeof(NEW.cost_unknown) <> 'integer'
BEGIN
    SELECT RAISE(ABORT, 'usage_hourly: a sum is not an integer');
END;

-- 3. Requests per client IP and hour, kept in the same transaction as the other
-- rollups: the top-client-IPs ranking reads this instead of scanning raw rows.
-- Filled from the raw rows still within retention.
CREATE TABLE usage_ip_hourly (
    hour_ms    INTEGER NOT NULL,
    account_id TEXT NOT NULL,
    kid        TEXT NOT NULL,
    client_ip  TEXT NOT NULL,
    requests   INTEGER NOT NULL CHECK (typeof(requests) = 'integer'),
    PRIMARY KEY (hour_ms, account_id, kid, client_ip)
) WITHOUT ROWID;

CREATE INDEX usage_ip_hourly_account ON usage_ip_hourly (account_id, hour_ms);
CREATE INDEX usage_ip_hourly_kid ON usage_ip_hourly (kid, hour_ms);

INSERT INTO usage_ip_hourly (hour_ms, account_id, kid, client_ip, requests)
SELECT ts_ms - (((ts_ms % 3600000) + 3600000) % 3600000), account_id, kid, client_ip, COUNT(*)
FROM usage_events
WHERE client_ip <> '' AND failed_attempt = 0
GROUP BY 1, 2, 3, 4;
