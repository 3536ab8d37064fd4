//! PostgreSQL SQL for end users, revoked login tokens and the vault (`store::users`).

use async_trait::async_trait;
use sqlx::Row;
use sqlx::postgres::PgRow;
use time::OffsetDateTime;

use super::PgStore;
use crate::seal::Sealer;
use crate::store::StoreError;
use crate::store::records::{from_ms, to_ms};
use crate::store::users::{UserRecord, UserStore, VaultKeyRecord, VaultStore};

const USER_SELECT: &str = "SELECT id, email, password_hash, created_at, updated_at, \
     disabled_at, deleted_at FROM users";

const VAULT_SELECT: &str = "SELECT id, user_id, vendor, label, sealed_key, hint, is_active, \
     created_at, last_used_at FROM vault_keys";

fn user_from_row(row: &PgRow) -> Result<UserRecord, StoreError> {
    Ok(UserRecord {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        password_hash: row.try_get("password_hash")?,
        created_at: from_ms(row.try_get("created_at")?),
        updated_at: from_ms(row.try_get("updated_at")?),
        disabled_at: row.try_get::<Option<i64>, _>("disabled_at")?.map(from_ms),
        deleted_at: row.try_get::<Option<i64>, _>("deleted_at")?.map(from_ms),
    })
}

fn vault_from_row(row: &PgRow) -> Result<VaultKeyRecord, StoreError> {
    Ok(VaultKeyRecord {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        vendor: row.try_get("vendor")?,
        label: row.try_get("label")?,
        sealed_key: row.try_get("sealed_key")?,
        hint: row.try_get("hint")?,
        is_active: row.try_get("is_active")?,
        created_at: from_ms(row.try_get("created_at")?),
        last_used_at: row.try_get::<Option<i64>, _>("last_used_at")?.map(from_ms),
    })
}

#[async_trait]
impl UserStore for PgStore {
    async fn create_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        let result = sqlx::query(
            "INSERT INTO users (id, email, password_hash, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&user.id)
        .bind(&user.email)
        .bind(&user.password_hash)
        .bind(to_ms(user.created_at))
        .bind(to_ms(user.updated_at))
        .execute(&self.pool)
        .await;
        if let Err(sqlx::Error::Database(e)) = &result
            && e.is_unique_violation()
        {
            return Err(StoreError::Conflict("a user with this email".into()));
        }
        result?;
        Ok(())
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StoreError> {
        let sql = format!("{USER_SELECT} WHERE lower(email) = lower($1) AND deleted_at IS NULL");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(email)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn user(&self, id: &str) -> Result<Option<UserRecord>, StoreError> {
        let sql = format!("{USER_SELECT} WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn list_users(&self) -> Result<Vec<UserRecord>, StoreError> {
        let sql = format!("{USER_SELECT} WHERE deleted_at IS NULL ORDER BY created_at, id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(user_from_row).collect()
    }

    async fn set_user_disabled(
        &self,
        id: &str,
        disabled: bool,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let now = to_ms(now);
        let done = sqlx::query(
            "UPDATE users SET disabled_at = CASE WHEN $1 THEN COALESCE(disabled_at, $2) END, \
             updated_at = $2 WHERE id = $3 AND deleted_at IS NULL",
        )
        .bind(disabled)
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_user(&self, id: &str, now: OffsetDateTime) -> Result<bool, StoreError> {
        let now = to_ms(now);
        let mut tx = self.pool.begin().await?;
        // The email is released (another signup may take it); the tombstone's
        // email cannot collide with a real one (no `@` is valid after `#`).
        let done = sqlx::query(
            "UPDATE users SET deleted_at = $1, updated_at = $1, password_hash = '', \
             email = 'deleted#' || id WHERE id = $2 AND deleted_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM vault_keys WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn users_changed_since(&self, since_ms: i64) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT id FROM users WHERE updated_at >= $1")
            .bind(since_ms)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| r.try_get("id").map_err(StoreError::from))
            .collect()
    }

    async fn revoke_token(
        &self,
        jti: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let now = to_ms(now);
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM revoked_tokens WHERE expires_at < $1")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO revoked_tokens (jti, expires_at, revoked_at) VALUES ($1, $2, $3) \
             ON CONFLICT (jti) DO NOTHING",
        )
        .bind(jti)
        .bind(to_ms(expires_at))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn revoked_tokens_since(
        &self,
        since_ms: i64,
        now: OffsetDateTime,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT jti, expires_at FROM revoked_tokens WHERE revoked_at >= $1 AND expires_at >= $2",
        )
        .bind(since_ms)
        .bind(to_ms(now))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("jti")?, r.try_get("expires_at")?)))
            .collect()
    }
}

#[async_trait]
impl VaultStore for PgStore {
    async fn insert_vault_key(&self, key: &VaultKeyRecord) -> Result<(), StoreError> {
        let result = sqlx::query(
            "INSERT INTO vault_keys (id, user_id, vendor, label, sealed_key, hint, is_active, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&key.id)
        .bind(&key.user_id)
        .bind(&key.vendor)
        .bind(&key.label)
        .bind(&key.sealed_key)
        .bind(&key.hint)
        .bind(key.is_active)
        .bind(to_ms(key.created_at))
        .execute(&self.pool)
        .await;
        if let Err(sqlx::Error::Database(e)) = &result
            && e.is_foreign_key_violation()
        {
            return Err(StoreError::NotFound(format!("user {}", key.user_id)));
        }
        result?;
        Ok(())
    }

    async fn vault_key(&self, id: &str) -> Result<Option<VaultKeyRecord>, StoreError> {
        let sql = format!("{VAULT_SELECT} WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(vault_from_row).transpose()
    }

    async fn vault_keys(&self, user_id: &str) -> Result<Vec<VaultKeyRecord>, StoreError> {
        let sql = format!("{VAULT_SELECT} WHERE user_id = $1 ORDER BY created_at, id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(vault_from_row).collect()
    }

    async fn delete_vault_key(&self, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM vault_keys WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn touch_vault_key(&self, id: &str, now: OffsetDateTime) -> Result<(), StoreError> {
        sqlx::query("UPDATE vault_keys SET last_used_at = $1 WHERE id = $2")
            .bind(to_ms(now))
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn reseal_all(&self, sealer: &Sealer) -> Result<usize, StoreError> {
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query("SELECT id, sealed_key FROM vault_keys")
            .fetch_all(&mut *tx)
            .await?;
        let mut changed = 0;
        for row in &rows {
            let id: String = row.try_get("id")?;
            let sealed: String = row.try_get("sealed_key")?;
            let resealed = sealer
                .reseal(&VaultKeyRecord::aad(&id), &sealed)
                .map_err(|e| StoreError::Corrupt {
                    table: "vault_keys",
                    detail: format!("row {id}: {e}"),
                })?;
            if let Some(resealed) = resealed {
                // Compare-and-set: only the value read is replaced (READ COMMITTED
                // does not lock the rows read), so a concurrent change wins.
                let done = sqlx::query(
                    "UPDATE vault_keys SET sealed_key = $1 WHERE id = $2 AND sealed_key = $3",
                )
                .bind(resealed)
                .bind(&id)
                .bind(&sealed)
                .execute(&mut *tx)
                .await?;
                changed += done.rows_affected() as usize;
            }
        }
        tx.commit().await?;
        Ok(changed)
    }
}
