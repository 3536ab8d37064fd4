//! PostgreSQL backend: the same tables as SQLite (migrations/postgres mirrors
//! migrations/sqlite), times as BIGINT unix milliseconds and money as BIGINT
//! micro-units, so both share the record types. Keys and accounts are here; usage
//! events (a table partitioned by day), rollups and balances in `usage`.
//!
//! Statements use `$n` placeholders and are prepared once per connection (sqlx's
//! statement cache): variable-size batches go through `UNNEST` of arrays, so one
//! prepared statement serves every batch size. Transactions run at READ
//! COMMITTED; every read-modify-write is one statement (`balance = balance - $1`,
//! `INSERT … ON CONFLICT`), so concurrent gateways never lose an update.

mod alerts;
mod connections;
mod usage;
mod users;
mod webhooks;

#[cfg(any(test, feature = "test-support"))]
pub mod testing;

use std::collections::BTreeMap;
use std::str::FromStr;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{PgPool, Postgres, QueryBuilder, Row};
use time::OffsetDateTime;

use crate::keys::{KeyId, KeyKind, KeyPolicy, SecretHash};
use crate::store::records::{from_ms, to_ms};
use crate::store::{
    Account, AccountStore, Backend, KeyFilter, KeyRecord, KeyStatus, KeyStore, KeyUpdate, NewKey,
    StoreError, StoreOptions,
};

const KEY_SELECT: &str = "SELECT k.id, k.kid, k.account_id, \
     a.disabled_at IS NOT NULL AS account_disabled, k.name, k.env, k.kind, k.secret_hash, \
     k.prev_secret_hash, k.prev_secret_expires_at, k.policy, k.created_at, k.updated_at, \
     k.expires_at, k.revoked_at, k.last_used_at \
     FROM api_keys k JOIN accounts a ON a.id = k.account_id";

#[derive(Clone)]
pub struct PgStore {
    pub(super) pool: PgPool,
}

pub use crate::config::redact_url;

impl PgStore {
    /// Connects a pool. An unreachable server fails within the connect timeout
    /// with an error naming the URL (without its password).
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        let unreachable = |e: sqlx::Error| StoreError::Unreachable {
            url: redact_url(url),
            detail: e.to_string(),
        };
        let opts = PgConnectOptions::from_str(url).map_err(unreachable)?;
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.connect_timeout)
            .connect_with(opts)
            .await
            .map_err(unreachable)?;
        Ok(PgStore { pool })
    }
}

#[async_trait]
impl Backend for PgStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        // sqlx takes an advisory lock, so gateways starting together migrate once.
        sqlx::migrate!("migrations/postgres")
            .run(&self.pool)
            .await?;
        usage::ensure_partitions(&self.pool, OffsetDateTime::now_utc()).await?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

#[async_trait]
impl KeyStore for PgStore {
    async fn insert_key(&self, key: &NewKey) -> Result<KeyRecord, StoreError> {
        let created = to_ms(key.created_at);
        let result = sqlx::query(
            "INSERT INTO api_keys (id, kid, account_id, name, env, kind, secret_hash, policy, \
             created_at, updated_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10)",
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
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{KEY_SELECT} WHERE k.kid = $1"
        )))
        .bind(kid.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(key_from_row).transpose()
    }

    async fn find_key(&self, id_or_kid: &str) -> Result<Option<KeyRecord>, StoreError> {
        let sql = format!("{KEY_SELECT} WHERE k.id = $1 OR k.kid = $1");
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
        let mut q = QueryBuilder::<Postgres>::new(KEY_SELECT);
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
            q.push(" AND strpos(lower(k.name), lower(")
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
        let mut q = QueryBuilder::<Postgres>::new("UPDATE api_keys SET updated_at = ");
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
            "UPDATE api_keys SET prev_secret_hash = secret_hash, prev_secret_expires_at = $1, \
             secret_hash = $2, updated_at = $3 WHERE (id = $4 OR kid = $4) AND revoked_at IS NULL",
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
        sqlx::query(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1), updated_at = $1 \
             WHERE id = $2 OR kid = $2",
        )
        .bind(to_ms(now))
        .bind(id_or_kid)
        .execute(&self.pool)
        .await?;
        self.find_key(id_or_kid).await
    }

    async fn touch_keys(&self, used: &[(KeyId, OffsetDateTime)]) -> Result<(), StoreError> {
        if used.is_empty() {
            return Ok(());
        }
        // One statement for the whole batch; a kid used twice keeps its latest time.
        let mut latest: BTreeMap<&str, i64> = BTreeMap::new();
        for (kid, at) in used {
            let at = to_ms(*at);
            let entry = latest.entry(kid.as_str()).or_insert(at);
            *entry = (*entry).max(at);
        }
        let (kids, ats): (Vec<&str>, Vec<i64>) = latest.into_iter().unzip();
        sqlx::query(
            "UPDATE api_keys k SET last_used_at = GREATEST(COALESCE(k.last_used_at, 0), u.at) \
             FROM UNNEST($1::text[], $2::bigint[]) AS u(kid, at) WHERE k.kid = u.kid",
        )
        .bind(kids)
        .bind(ats)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn count_keys(&self, kind: KeyKind) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_keys WHERE kind = $1")
            .bind(kind.as_str())
            .fetch_one(&self.pool)
            .await?;
        Ok(n.max(0) as u64)
    }

    async fn keys_changed_since(&self, since_ms: i64) -> Result<Vec<KeyId>, StoreError> {
        let rows = sqlx::query("SELECT kid FROM api_keys WHERE updated_at >= $1")
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
impl AccountStore for PgStore {
    async fn create_account(&self, account: &Account) -> Result<(), StoreError> {
        let result = sqlx::query(
            "INSERT INTO accounts (id, name, created_at, disabled_at) VALUES ($1, $2, $3, $4)",
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
            sqlx::query("SELECT id, name, created_at, disabled_at FROM accounts WHERE id = $1")
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
        let changed = sqlx::query("UPDATE accounts SET disabled_at = $1 WHERE id = $2")
            .bind(disabled.then_some(now))
            .bind(account_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        // Its keys count as changed, so every cache drops them.
        sqlx::query("UPDATE api_keys SET updated_at = $1 WHERE account_id = $2")
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

fn key_from_row(row: &PgRow) -> Result<KeyRecord, StoreError> {
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

fn account_from_row(row: &PgRow) -> Result<Account, StoreError> {
    Ok(Account {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        created_at: from_ms(row.try_get("created_at")?),
        disabled_at: row.try_get::<Option<i64>, _>("disabled_at")?.map(from_ms),
    })
}
