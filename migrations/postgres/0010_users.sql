-- PostgreSQL mirror of migrations/sqlite/0010_users.sql: end users (issue 13),
-- the provider keys they store in their vault, and the login tokens they revoked.
-- Times are unix milliseconds (BIGINT), flags BOOLEAN, as in the other tables.

-- `email` is kept lower-cased; the unique index on lower(email) makes uniqueness
-- case-insensitive even for a row written without lower-casing.
-- A deleted user keeps its row (its id stays taken and caches in other processes
-- see the change through `updated_at`); its email is released and its hash wiped.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    disabled_at   BIGINT,
    deleted_at    BIGINT
);
CREATE UNIQUE INDEX users_email ON users (lower(email));
CREATE INDEX users_updated ON users (updated_at);

-- A user's provider keys. `sealed_key` is the key sealed by `crate::seal` with the
-- row id in its associated data; the plaintext is never stored. `hint` is the
-- masked form shown in lists (`sk-…abcd`).
CREATE TABLE vault_keys (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id),
    vendor       TEXT NOT NULL,
    label        TEXT NOT NULL,
    sealed_key   TEXT NOT NULL,
    hint         TEXT NOT NULL,
    is_active    BOOLEAN NOT NULL DEFAULT TRUE,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX vault_keys_user ON vault_keys (user_id, vendor);

-- Logged-out tokens, until they would have expired anyway.
CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT NOT NULL
);
CREATE INDEX revoked_tokens_revoked ON revoked_tokens (revoked_at);
