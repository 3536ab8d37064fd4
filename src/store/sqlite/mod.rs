//! SQLite backend: one file, WAL journal (readers never block the writer), a busy
//! timeout so the CLI and a running server can share the file, foreign keys on.
//! Keys and accounts are here; usage events, rollups and balances in `usage`. All
//! SQL of the SQLite backend lives under this folder.

mod alerts;
mod connections;
mod usage;
mod users;
mod webhooks;

pub use usage::Recorded;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};
use time::OffsetDateTime;

use crate::keys::{KeyId, KeyKind, KeyPolicy, SecretHash};
use crate::store::records::{from_ms, to_ms};
use crate::store::{
    Account, AccountStore, Backend, KeyFilter, KeyRecord, KeyStatus, KeyStore, KeyUpdate, NewKey,
    StoreError,
};

const KEY_SELECT: &str = "SELECT k.id, k.kid, k.account_id, \
     a.disabled_at IS NOT NULL AS account_disabled, k.name, k.env, k.kind, k.secret_hash, \
     k.prev_secret_hash, k.prev_secret_expires_at, k.policy, k.created_at, k.updated_at, \
     k.expires_at, k.revoked_at, k.last_used_at \
     FROM api_keys k JOIN accounts a ON a.id = k.account_id";

/// Connections for reads and the occasional write (keys, accounts, webhooks): a
/// few, each with a small page cache, closed when idle, so memory falls back
/// after a burst of reports.
const READ_POOL_MAX: u32 = 4;
/// Page cache per read connection, in KiB (SQLite's default is 2000).
const READ_CACHE_KIB: u32 = 512;
const READ_IDLE: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct SqliteStore {
    pub(super) pool: SqlitePool,
    /// The usage writer's own connection (a pool of one, never closed when idle):
    /// SQLite takes one writer at a time anyway, and a connection that lives keeps
    /// the batch statements prepared in its statement cache.
    ///
    /// It runs with `PRAGMA ignore_check_constraints`: the CHECKs of `usage_events`
    /// (`usage_source IN (…)`, the 0/1 flags) and `usage_ip_hourly` cannot fail for
    /// what the writer binds (a Rust enum, bools, a capped sum), and SQLite compiled
    /// the three-value `IN` into a temporary B-tree built on every execution of an
    /// event INSERT, ~4k instructions per event at the batch sizes `bench/callgrind.sh`
    /// sees (bench/RESULTS.md, branch `meter`). The ranges are checked in Rust
    /// (`check_batch`); NOT NULL, STRICT types, UNIQUE and the balance trigger still
    /// hold, and every other connection keeps the CHECKs.
    pub(super) writer: SqlitePool,
}

impl SqliteStore {
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let opts = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL + NORMAL is durable across process crashes; only an OS crash can
            // lose the last transactions.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(READ_POOL_MAX)
            .idle_timeout(READ_IDLE)
            .connect_with(
                opts.clone()
                    .pragma("cache_size", format!("-{READ_CACHE_KIB}")),
            )
            .await?;
        // An in-memory database exists once per connection: there, the writer
        // has to be one of the same pool's connections.
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let writer = if in_memory {
            pool.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(opts.pragma("ignore_check_constraints", "ON"))
                .await?
        };
        Ok(SqliteStore { pool, writer })
    }
}

#[async_trait]
impl Backend for SqliteStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::migrate!("migrations/sqlite").run(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
    }
}

#[async_trait]
impl KeyStore for SqliteStore {
    async fn insert_key(&self, key: &NewKey) -> Result<KeyRecord, StoreError> {
        let created = to_ms(key.created_at);
        let result = sqlx::query(
            "INSERT INTO api_keys (id, kid, account_id, name, env, kind, secret_hash, policy, \
             created_at, updated_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&key.id)
        .bind(key.kid.as_str())
        .bind(&key.account_id)
        .bind(&key.name)
        .bind(key.env.as_str())
        .bind(key.kind.as_str())
        .bind(&key.secret_hash.0[..])
        .bind(policy_json(&key.policy)?)
        .bind(created)
        .bind(created)
        .bind(key.expires_at.map(to_ms))
        .execute(&self.pool)
        .await;
        if let Err(sqlx::Error::Database(e)) = &result
            && e.is_foreign_key_violation()
        {
            return Err(StoreError::NotFound(format!("account {}", key.account_id)));
        }
        result?;
        self.find_key(&key.id)
            .await?
            .ok_or_else(|| corrupt("inserted row not found"))
    }

    async fn key_by_kid(&self, kid: &KeyId) -> Result<Option<KeyRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("{KEY_SELECT} WHERE k.kid = ?")))
            .bind(kid.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(key_from_row).transpose()
    }

    async fn find_key(&self, id_or_kid: &str) -> Result<Option<KeyRecord>, StoreError> {
        let sql = format!("{KEY_SELECT} WHERE k.id = ?1 OR k.kid = ?1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id_or_kid)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(key_from_row).transpose()
    }

    async fn list_keys(
        &self,
        filter: &KeyFilter,
        now: OffsetDateTime,
    ) -> Result<Vec<KeyRecord>, StoreError> {
        let now = to_ms(now);
        let mut q = QueryBuilder::<Sqlite>::new(KEY_SELECT);
        q.push(" WHERE 1 = 1");
        if let Some(env) = filter.env {
            q.push(" AND k.env = ").push_bind(env.as_str());
        }
        if let Some(kind) = filter.kind {
            q.push(" AND k.kind = ").push_bind(kind.as_str());
        }
        if let Some(account) = &filter.account_id {
            q.push(" AND k.account_id = ").push_bind(account.clone());
        }
        if let Some(name) = &filter.name {
            q.push(" AND instr(lower(k.name), lower(")
                .push_bind(name.clone())
                .push(")) > 0");
        }
        match filter.status {
            None => {}
            Some(KeyStatus::Revoked) => {
                q.push(" AND k.revoked_at IS NOT NULL");
            }
            Some(KeyStatus::Expired) => {
                q.push(" AND k.revoked_at IS NULL AND k.expires_at <= ")
                    .push_bind(now);
            }
            Some(KeyStatus::Active) => {
                q.push(" AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > ")
                    .push_bind(now)
                    .push(")");
            }
        }
        q.push(" ORDER BY k.created_at, k.id");
        let rows = q.build().fetch_all(&self.pool).await?;
        rows.iter().map(key_from_row).collect()
    }

    async fn update_key(
        &self,
        id_or_kid: &str,
        update: &KeyUpdate,
        now: OffsetDateTime,
    ) -> Result<Option<KeyRecord>, StoreError> {
        let mut q = QueryBuilder::<Sqlite>::new("UPDATE api_keys SET updated_at = ");
        q.push_bind(to_ms(now));
        if let Some(name) = &update.name {
            q.push(", name = ").push_bind(name.clone());
        }
        if let Some(policy) = &update.policy {
            q.push(", policy = ").push_bind(policy_json(policy)?);
        }
        if let Some(expires_at) = update.expires_at {
            q.push(", expires_at = ").push_bind(expires_at.map(to_ms));
        }
        q.push(" WHERE id = ")
            .push_bind(id_or_kid.to_owned())
            .push(" OR kid = ")
            .push_bind(id_or_kid.to_owned());
        q.build().execute(&self.pool).await?;
        self.find_key(id_or_kid).await
    }

    async fn rotate_key(
        &self,
        id_or_kid: &str,
        new_hash: &SecretHash,
        old_valid_until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Option<KeyRecord>, StoreError> {
        sqlx::query(
            "UPDATE api_keys SET prev_secret_hash = secret_hash, prev_secret_expires_at = ?1, \
             secret_hash = ?2, updated_at = ?3 WHERE (id = ?4 OR kid = ?4) AND revoked_at IS NULL",
        )
        .bind(to_ms(old_valid_until))
        .bind(&new_hash.0[..])
        .bind(to_ms(now))
        .bind(id_or_kid)
        .execute(&self.pool)
        .await?;
        self.find_key(id_or_kid).await
    }

    async fn revoke_key(
        &self,
        id_or_kid: &str,
        now: OffsetDateTime,
    ) -> Result<Option<KeyRecord>, StoreError> {
        let now = to_ms(now);
        sqlx::query(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?1), updated_at = ?1 \
             WHERE id = ?2 OR kid = ?2",
        )
        .bind(now)
        .bind(id_or_kid)
        .execute(&self.pool)
        .await?;
        self.find_key(id_or_kid).await
    }

    async fn touch_keys(&self, used: &[(KeyId, OffsetDateTime)]) -> Result<(), StoreError> {
        if used.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for (kid, at) in used {
            sqlx::query(
                "UPDATE api_keys SET last_used_at = MAX(COALESCE(last_used_at, 0), ?1) WHERE kid = ?2",
            )
            .bind(to_ms(*at))
            .bind(kid.as_str())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn count_keys(&self, kind: KeyKind) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_keys WHERE kind = ?")
            .bind(kind.as_str())
            .fetch_one(&self.pool)
            .await?;
        Ok(n.max(0) as u64)
    }

    async fn keys_changed_since(&self, since_ms: i64) -> Result<Vec<KeyId>, StoreError> {
        let rows = sqlx::query("SELECT kid FROM api_keys WHERE updated_at >= ?")
            .bind(since_ms)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let kid: String = row.try_get("kid")?;
                KeyId::parse(&kid).map_err(|e| corrupt(e.to_string()))
            })
            .collect()
    }
}

#[async_trait]
impl AccountStore for SqliteStore {
    async fn create_account(&self, account: &Account) -> Result<(), StoreError> {
        let result = sqlx::query(
            "INSERT INTO accounts (id, name, created_at, disabled_at) VALUES (?, ?, ?, ?)",
        )
        .bind(&account.id)
        .bind(&account.name)
        .bind(to_ms(account.created_at))
        .bind(account.disabled_at.map(to_ms))
        .execute(&self.pool)
        .await;
        match result {
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StoreError::Conflict(format!("account {}", account.id)))
            }
            other => other.map(|_| ()).map_err(Into::into),
        }
    }

    async fn account(&self, id: &str) -> Result<Option<Account>, StoreError> {
        let row =
            sqlx::query("SELECT id, name, created_at, disabled_at FROM accounts WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        row.as_ref().map(account_from_row).transpose()
    }

    async fn list_accounts(&self) -> Result<Vec<Account>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, created_at, disabled_at FROM accounts ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(account_from_row).collect()
    }

    async fn set_account_disabled(
        &self,
        account_id: &str,
        disabled: bool,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let now = to_ms(now);
        let mut tx = self.pool.begin().await?;
        let changed = sqlx::query("UPDATE accounts SET disabled_at = ?1 WHERE id = ?2")
            .bind(disabled.then_some(now))
            .bind(account_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        // Its keys count as changed, so every cache drops them.
        sqlx::query("UPDATE api_keys SET updated_at = ?1 WHERE account_id = ?2")
            .bind(now)
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(changed == 1)
    }
}

fn corrupt(detail: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        table: "api_keys",
        detail: detail.into(),
    }
}

fn policy_json(policy: &KeyPolicy) -> Result<String, StoreError> {
    serde_json::to_string(policy).map_err(|e| corrupt(format!("policy does not serialize: {e}")))
}

fn key_from_row(row: &SqliteRow) -> Result<KeyRecord, StoreError> {
    let kid: String = row.try_get("kid")?;
    let env: String = row.try_get("env")?;
    let kind: String = row.try_get("kind")?;
    let hash: Vec<u8> = row.try_get("secret_hash")?;
    let prev: Option<Vec<u8>> = row.try_get("prev_secret_hash")?;
    let policy: String = row.try_get("policy")?;
    Ok(KeyRecord {
        id: row.try_get("id")?,
        kid: KeyId::parse(&kid).map_err(|e| corrupt(e.to_string()))?,
        account_id: row.try_get("account_id")?,
        account_disabled: row.try_get("account_disabled")?,
        name: row.try_get("name")?,
        env: env.parse().map_err(|_| corrupt(format!("env {env:?}")))?,
        kind: kind
            .parse()
            .map_err(|_| corrupt(format!("kind {kind:?}")))?,
        secret_hash: SecretHash::from_slice(&hash)
            .ok_or_else(|| corrupt("secret_hash is not 32 bytes"))?,
        prev_secret_hash: prev
            .map(|p| {
                SecretHash::from_slice(&p)
                    .ok_or_else(|| corrupt("prev_secret_hash is not 32 bytes"))
            })
            .transpose()?,
        prev_secret_expires_at: row
            .try_get::<Option<i64>, _>("prev_secret_expires_at")?
            .map(from_ms),
        policy: serde_json::from_str(&policy).map_err(|e| corrupt(format!("policy: {e}")))?,
        created_at: from_ms(row.try_get("created_at")?),
        updated_at: from_ms(row.try_get("updated_at")?),
        expires_at: row.try_get::<Option<i64>, _>("expires_at")?.map(from_ms),
        revoked_at: row.try_get::<Option<i64>, _>("revoked_at")?.map(from_ms),
        last_used_at: row.try_get::<Option<i64>, _>("last_used_at")?.map(from_ms),
    })
}

fn account_from_row(row: &SqliteRow) -> Result<Account, StoreError> {
    Ok(Account {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        created_at: from_ms(row.try_get("created_at")?),
        disabled_at: row.try_get::<Option<i64>, _>("disabled_at")?.map(from_ms),
    })
}
