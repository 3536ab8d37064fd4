-- PostgreSQL mirror of migrations/sqlite/0001_keys.sql: the same tables and
-- columns. Times are unix milliseconds (BIGINT), as in SQLite, so both backends
-- share the record types.
CREATE TABLE accounts (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    disabled_at BIGINT
);

INSERT INTO accounts (id, name, created_at) VALUES ('default', 'default', 0);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    kid          TEXT NOT NULL UNIQUE,
    account_id   TEXT NOT NULL REFERENCES accounts(id),
    name         TEXT NOT NULL,
    env          TEXT NOT NULL CHECK (env IN ('live', 'stg', 'dev')),
    kind         TEXT NOT NULL CHECK (kind IN ('sk', 'mk')),
    secret_hash  BYTEA NOT NULL,
    -- During a rotation's grace period the previous secret still authenticates.
    prev_secret_hash       BYTEA,
    prev_secret_expires_at BIGINT,
    -- Scopes, limits, IP allowlist, allowed models/providers: JSON (keys::KeyPolicy),
    -- only ever read whole, with the key.
    policy       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    revoked_at   BIGINT,
    -- Written in coalesced batches; never bumps updated_at (which drives cache eviction).
    last_used_at BIGINT
);

CREATE INDEX api_keys_account ON api_keys (account_id);

-- The revocation poller asks "what changed since T?" every second.
CREATE INDEX api_keys_updated_at ON api_keys (updated_at);
