//! SQLite backend: one file, WAL journal (readers never block the writer), a busy
//! timeout so the CLI and a running server can share the file, foreign keys on.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use time::OffsetDateTime;

use super::records::{from_ms, to_ms};
use super::{KeyRecord, NewKey, StoreError};
use crate::keys::{KeyId, SecretHash};

const KEY_COLUMNS: &str = "k.id, k.kid, k.account_id, a.disabled_at IS NOT NULL AS account_disabled, \
     k.name, k.env, k.kind, k.secret_hash, k.created_at, k.updated_at, k.expires_at, \
     k.revoked_at, k.last_used_at";

#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
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
            .max_connections(8)
            .connect_with(opts)
            .await?;
        Ok(SqliteStore { pool })
    }

    pub async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::migrate!("migrations/sqlite").run(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub async fn insert_key(&self, key: &NewKey) -> Result<KeyRecord, StoreError> {
        let created = to_ms(key.created_at);
        sqlx::query(
            "INSERT INTO api_keys (id, kid, account_id, name, env, kind, secret_hash, \
             created_at, updated_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&key.id)
        .bind(key.kid.as_str())
        .bind(&key.account_id)
        .bind(&key.name)
        .bind(key.env.as_str())
        .bind(key.kind.as_str())
        .bind(&key.secret_hash.0[..])
        .bind(created)
        .bind(created)
        .bind(key.expires_at.map(to_ms))
        .execute(&self.pool)
        .await?;
        self.find_key(&key.id).await?.ok_or(StoreError::Corrupt {
            table: "api_keys",
            detail: "inserted row not found".into(),
        })
    }

    pub async fn key_by_kid(&self, kid: &KeyId) -> Result<Option<KeyRecord>, StoreError> {
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM api_keys k JOIN accounts a ON a.id = k.account_id \
             WHERE k.kid = ?"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(kid.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(key_from_row).transpose()
    }

    pub async fn find_key(&self, id_or_kid: &str) -> Result<Option<KeyRecord>, StoreError> {
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM api_keys k JOIN accounts a ON a.id = k.account_id \
             WHERE k.id = ?1 OR k.kid = ?1"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id_or_kid)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(key_from_row).transpose()
    }

    pub async fn list_keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM api_keys k JOIN accounts a ON a.id = k.account_id \
             ORDER BY k.created_at, k.id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(key_from_row).collect()
    }

    pub async fn revoke_key(
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

    pub async fn set_account_disabled(
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
        sqlx::query("UPDATE api_keys SET updated_at = ?1 WHERE account_id = ?2")
            .bind(now)
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(changed == 1)
    }

    pub async fn keys_changed_since(&self, since_ms: i64) -> Result<Vec<KeyId>, StoreError> {
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

fn corrupt(detail: String) -> StoreError {
    StoreError::Corrupt {
        table: "api_keys",
        detail,
    }
}

fn key_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<KeyRecord, StoreError> {
    let kid: String = row.try_get("kid")?;
    let env: String = row.try_get("env")?;
    let kind: String = row.try_get("kind")?;
    let hash: Vec<u8> = row.try_get("secret_hash")?;
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
            .ok_or_else(|| corrupt("secret_hash is not 32 bytes".into()))?,
        created_at: from_ms(row.try_get("created_at")?),
        updated_at: from_ms(row.try_get("updated_at")?),
        expires_at: row.try_get::<Option<i64>, _>("expires_at")?.map(from_ms),
        revoked_at: row.try_get::<Option<i64>, _>("revoked_at")?.map(from_ms),
        last_used_at: row.try_get::<Option<i64>, _>("last_used_at")?.map(from_ms),
    })
}
