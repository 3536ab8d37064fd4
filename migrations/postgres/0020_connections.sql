-- PostgreSQL mirror of migrations/sqlite/0020_connections.sql. Connections: a
-- named third-party base URL and the credential the gateway injects when executing
-- calls against it. Owned by an account, and by one end user (user_id) or by the
-- whole account (user_id = '', "org-wide"). The credential is only ever stored
-- sealed (crate::seal, AAD "connection:<id>"); auth_type and auth_name (the header
-- or query parameter name, not secret) are for listings.
CREATE TABLE connections (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id),
    user_id     TEXT NOT NULL DEFAULT '',
    name        TEXT NOT NULL,
    base_url    TEXT NOT NULL,
    auth_type   TEXT NOT NULL CHECK (auth_type IN ('bearer', 'header', 'basic', 'query')),
    auth_name   TEXT NOT NULL DEFAULT '',
    sealed_auth TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (account_id, user_id, name)
);
