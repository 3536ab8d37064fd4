-- PostgreSQL mirror of migrations/sqlite/0040_webhooks.sql (issue 19): endpoints,
-- the event outbox, and one delivery row per (webhook, event). Times are unix
-- milliseconds (BIGINT), flags BOOLEAN. Event data is JSONB (the alert filters
-- and the key.expired de-duplication look inside it); the webhook's event list
-- is a JSON array kept as TEXT, only ever read whole.

CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    url TEXT NOT NULL,
    events TEXT NOT NULL,              -- JSON array of event types ("*" for all)
    description TEXT,
    secret_sealed TEXT NOT NULL,       -- crate::seal, AAD "webhook:<id>"
    prev_secret_sealed TEXT,           -- rotation overlap: AAD "webhook-prev:<id>"
    prev_secret_until BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX webhooks_account ON webhooks (account_id);

-- Every event, whoever wrote it (the server, the CLI); fanned out once.
CREATE TABLE webhook_events (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    account_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    data JSONB NOT NULL,
    fanned_out BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX webhook_events_pending ON webhook_events (fanned_out, created_at);

CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id TEXT NOT NULL REFERENCES webhook_events (id),
    status TEXT NOT NULL,              -- pending | delivered | failed
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    last_status INTEGER,
    next_attempt_at BIGINT NOT NULL,
    lease_until BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (webhook_id, created_at);
