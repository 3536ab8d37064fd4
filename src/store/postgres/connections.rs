//! PostgreSQL SQL of [`ConnectionStore`] (`migrations/postgres/0020_connections.sql`).

use async_trait::async_trait;
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::PgStore;
use crate::seal::Sealer;
use crate::store::StoreError;
use crate::store::connections::{ConnectionRecord, ConnectionStore, connection_aad};
use crate::store::records::{from_ms, to_ms};

const SELECT: &str = "SELECT id, account_id, user_id, name, base_url, auth_type, auth_name, \
     sealed_auth, created_at FROM connections";

fn from_row(row: &PgRow) -> Result<ConnectionRecord, StoreError> {
    Ok(ConnectionRecord {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        user_id: row.try_get("user_id")?,
        name: row.try_get("name")?,
        base_url: row.try_get("base_url")?,
        auth_type: row.try_get("auth_type")?,
        auth_name: row.try_get("auth_name")?,
        sealed_auth: row.try_get("sealed_auth")?,
        created_at: from_ms(row.try_get("created_at")?),
    })
}

#[async_trait]
impl ConnectionStore for PgStore {
    async fn insert_connection(&self, c: &ConnectionRecord) -> Result<(), StoreError> {
        let result = sqlx::query(
            "INSERT INTO connections (id, account_id, user_id, name, base_url, auth_type, \
             auth_name, sealed_auth, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&c.id)
        .bind(&c.account_id)
        .bind(&c.user_id)
        .bind(&c.name)
        .bind(&c.base_url)
        .bind(&c.auth_type)
        .bind(&c.auth_name)
        .bind(&c.sealed_auth)
        .bind(to_ms(c.created_at))
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StoreError::Conflict(format!("connection `{}`", c.name)))
            }
            Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
                Err(StoreError::NotFound(format!("account {}", c.account_id)))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn connection(
        &self,
        account_id: &str,
        id: &str,
    ) -> Result<Option<ConnectionRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE account_id = $1 AND id = $2"
        )))
        .bind(account_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    async fn connection_by_name(
        &self,
        account_id: &str,
        user_id: &str,
        name: &str,
    ) -> Result<Option<ConnectionRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE account_id = $1 AND user_id = $2 AND name = $3"
        )))
        .bind(account_id)
        .bind(user_id)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    async fn list_connections(
        &self,
        account_id: &str,
        user_id: Option<&str>,
    ) -> Result<Vec<ConnectionRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE account_id = $1 AND (user_id = '' OR user_id = $2) \
             ORDER BY name, user_id DESC"
        )))
        .bind(account_id)
        .bind(user_id.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    async fn delete_connection(
        &self,
        account_id: &str,
        user_id: &str,
        id: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "DELETE FROM connections WHERE account_id = $1 AND user_id = $2 AND id = $3",
        )
        .bind(account_id)
        .bind(user_id)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn reseal_connections(&self, sealer: &Sealer) -> Result<usize, StoreError> {
        let rows = sqlx::query("SELECT id, sealed_auth FROM connections")
            .fetch_all(&self.pool)
            .await?;
        let mut changed = 0;
        for row in &rows {
            let id: String = row.try_get("id")?;
            let sealed: String = row.try_get("sealed_auth")?;
            if !sealer.needs_reseal(&sealed) {
                continue;
            }
            let fresh =
                sealer
                    .reseal(&connection_aad(&id), &sealed)
                    .map_err(|e| StoreError::Corrupt {
                        table: "connections",
                        detail: format!("connection {id}: {e}"),
                    })?;
            if let Some(fresh) = fresh {
                // Only the value read is replaced: a concurrent change wins.
                let done = sqlx::query(
                    "UPDATE connections SET sealed_auth = $1 WHERE id = $2 AND sealed_auth = $3",
                )
                .bind(&fresh)
                .bind(&id)
                .bind(&sealed)
                .execute(&self.pool)
                .await?;
                changed += done.rows_affected() as usize;
            }
        }
        Ok(changed)
    }
}
