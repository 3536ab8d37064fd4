//! SQLite SQL of [`ConnectionStore`] (`migrations/sqlite/0020_connections.sql`).

use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::SqliteStore;
use crate::seal::Sealer;
use crate::store::StoreError;
use crate::store::connections::{ConnectionRecord, ConnectionStore, connection_aad};
use crate::store::records::{from_ms, to_ms};

const SELECT: &str = "SELECT id, account_id, user_id, name, base_url, auth_type, auth_name, \
     sealed_auth, created_at FROM connections";

fn from_row(row: &SqliteRow) -> Result<ConnectionRecord, StoreError> {
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
impl ConnectionStore for SqliteStore {
    async fn insert_connection(&self, c: &ConnectionRecord) -> Result<(), StoreError> {
        let result = sqlx::query(
            "INSERT INTO connections (id, account_id, user_id, name, base_url, auth_type, \
             auth_name, sealed_auth, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
            "{SELECT} WHERE account_id = ? AND id = ?"
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
            "{SELECT} WHERE account_id = ? AND user_id = ? AND name = ?"
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
            "{SELECT} WHERE account_id = ? AND (user_id = '' OR user_id = ?) \
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
        let done =
            sqlx::query("DELETE FROM connections WHERE account_id = ? AND user_id = ? AND id = ?")
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
                    "UPDATE connections SET sealed_auth = ? WHERE id = ? AND sealed_auth = ?",
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

#[cfg(test)]
mod tests {
    use crate::seal::{MasterKeySource, Sealer};
    use crate::secret::Secret;
    use crate::store::StoreError;
    use crate::store::connections::{ConnectionRecord, connection_aad};
    use crate::store::testing::fresh_stores;

    const K1: &str = "1111111111111111111111111111111111111111111111111111111111111111";
    const K2: &str = "2222222222222222222222222222222222222222222222222222222222222222";

    fn sealer(current: &str, previous: &[&str]) -> Sealer {
        Sealer::load(&MasterKeySource::Configured {
            current: Secret::new(current.to_owned()),
            previous: previous
                .iter()
                .map(|k| Secret::new((*k).to_owned()))
                .collect(),
        })
        .unwrap()
    }

    fn record(id: &str, user: &str, name: &str, sealer: &Sealer) -> ConnectionRecord {
        ConnectionRecord {
            id: id.into(),
            account_id: "default".into(),
            user_id: user.into(),
            name: name.into(),
            base_url: "https://api.example.com".into(),
            auth_type: "bearer".into(),
            auth_name: String::new(),
            sealed_auth: sealer.seal(&connection_aad(id), b"{\"token\":\"t\"}"),
            created_at: time::OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
        }
    }

    #[tokio::test]
    async fn names_are_unique_per_account_and_user_and_lists_mix_user_and_org() {
        for fresh in fresh_stores().await {
            let s = &fresh.store;
            let k = sealer(K1, &[]);
            s.insert_connection(&record("c1", "", "gh", &k))
                .await
                .unwrap();
            s.insert_connection(&record("c2", "u1", "gh", &k))
                .await
                .unwrap();
            s.insert_connection(&record("c3", "u2", "gh", &k))
                .await
                .unwrap();
            let dup = s.insert_connection(&record("c4", "u1", "gh", &k)).await;
            assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
            let ids = |v: Vec<ConnectionRecord>| v.into_iter().map(|c| c.id).collect::<Vec<_>>();
            assert_eq!(
                ids(s.list_connections("default", None).await.unwrap()),
                ["c1"]
            );
            assert_eq!(
                ids(s.list_connections("default", Some("u1")).await.unwrap()),
                ["c2", "c1"]
            );
            let got = s.connection_by_name("default", "u2", "gh").await.unwrap();
            assert_eq!(got.map(|c| c.id).as_deref(), Some("c3"));
            assert!(!s.delete_connection("default", "", "c2").await.unwrap());
            assert!(s.delete_connection("default", "u1", "c2").await.unwrap());
            assert!(s.connection("default", "c2").await.unwrap().is_none());
        }
    }

    #[tokio::test]
    async fn reseal_moves_rows_to_the_current_key_and_they_still_open() {
        for fresh in fresh_stores().await {
            let s = &fresh.store;
            let old = sealer(K1, &[]);
            s.insert_connection(&record("c1", "", "a", &old))
                .await
                .unwrap();
            s.insert_connection(&record("c2", "u", "b", &old))
                .await
                .unwrap();
            let rotated = sealer(K2, &[K1]);
            assert_eq!(s.reseal_connections(&rotated).await.unwrap(), 2);
            assert_eq!(s.reseal_connections(&rotated).await.unwrap(), 0);
            let only_new = sealer(K2, &[]);
            for id in ["c1", "c2"] {
                let row = s.connection("default", id).await.unwrap().unwrap();
                let opened = only_new
                    .open(&connection_aad(id), &row.sealed_auth)
                    .unwrap();
                assert_eq!(opened.expose().as_slice(), b"{\"token\":\"t\"}");
            }
        }
    }
}
