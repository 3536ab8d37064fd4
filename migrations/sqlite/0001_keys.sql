-- Accounts own keys; keys are stored as a peppered HMAC of the full key string.
-- Times are unix milliseconds (INTEGER) so the PostgreSQL schema can mirror them as BIGINT.
CREATE TABLE accounts (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    disabled_at INTEGER
);

INSERT INTO accounts (id, name, created_at) VALUES ('default', 'default', 0);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    kid          TEXT NOT NULL UNIQUE,
    account_id   TEXT NOT NULL REFERENCES accounts(id),
    name         TEXT NOT NULL,
    env          TEXT NOT NULL CHECK (env IN ('live', 'stg', 'dev')),
    kind         TEXT NOT NULL CHECK (kind IN ('sk', 'mk')),
    secret_hash  BLOB NOT NULL,
    -- During a rotation's grace period the previous secret still authenticates.
    prev_secret_hash       BLOB,
    prev_secret_expires_at INTEGER,
    -- Scopes, limits, IP allowlist, allowed models/providers: JSON (keys::KeyPolicy).
    -- Only ever read whole, with the key, so it needs no columns of its own.
    policy       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER,
    -- Written in coalesced batches; never bumps updated_at (which drives cache eviction).
    last_used_at INTEGER
);

CREATE INDEX api_keys_account ON api_keys (account_id);

-- The revocation poller asks "what changed since T?" every second.
CREATE INDEX api_keys_updated_at ON api_keys (updated_at);
