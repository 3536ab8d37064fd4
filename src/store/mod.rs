//! Persistence. [`Store`] is what callers use; it dispatches to a backend
//! (`sqlite` today). A PostgreSQL backend is one more variant of `Backend` and one
//! more file beside `sqlite.rs`, with its own migrations folder; callers don't change.

mod records;
mod sqlite;
mod usage;

pub use usage::Recorded;

pub use records::{
    Account, AccountId, KeyFilter, KeyRecord, KeyStatus, KeyUpdate, NewKey,
    from_ms as records_from_ms, to_ms as records_ms,
};
pub use records::{
    AccountBilling, BillingMode, CreditRecord, DAY_MS, GroupBy, HOUR_MS, UsageQuery,
    UsageQueryError, UsageReport, UsageTotals,
};

use time::OffsetDateTime;

use crate::keys::{KeyId, KeyKind, SecretHash};
use crate::metering::UsageEvent;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0} does not exist")]
    NotFound(String),
    #[error("{0} already exists")]
    Conflict(String),
    #[error("unsupported storage url {0:?}: use sqlite://PATH")]
    UnsupportedUrl(String),
    /// A failure reported through a shared cache load (the original is not `Clone`).
    #[error("store lookup failed: {0}")]
    Lookup(String),
    /// A value the store refuses to hold (a credit too large, a balance that
    /// would leave its range): the caller's mistake, not a failure.
    #[error("{0}")]
    OutOfRange(String),
    #[error("corrupt row in {table}: {detail}")]
    Corrupt { table: &'static str, detail: String },
}

#[derive(Clone)]
pub struct Store {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Sqlite(sqlite::SqliteStore),
}

impl Store {
    /// Opens (creating if needed) the database at `url` and applies migrations.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        let store = if url.starts_with("sqlite:") {
            Store {
                backend: Backend::Sqlite(sqlite::SqliteStore::connect(url).await?),
            }
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_owned()));
        };
        store.migrate().await?;
        Ok(store)
    }

    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.migrate().await,
        }
    }

    pub async fn insert_key(&self, key: &NewKey) -> Result<KeyRecord, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.insert_key(key).await,
        }
    }

    pub async fn key_by_kid(&self, kid: &KeyId) -> Result<Option<KeyRecord>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.key_by_kid(kid).await,
        }
    }

    /// Finds a key by its row id or its kid (what operators have at hand).
    pub async fn find_key(&self, id_or_kid: &str) -> Result<Option<KeyRecord>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.find_key(id_or_kid).await,
        }
    }

    pub async fn list_keys(
        &self,
        filter: &KeyFilter,
        now: OffsetDateTime,
    ) -> Result<Vec<KeyRecord>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.list_keys(filter, now).await,
        }
    }

    pub async fn update_key(
        &self,
        id_or_kid: &str,
        update: &KeyUpdate,
        now: OffsetDateTime,
    ) -> Result<Option<KeyRecord>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.update_key(id_or_kid, update, now).await,
        }
    }

    /// Replaces a key's secret; the old one stays valid until `old_valid_until`.
    pub async fn rotate_key(
        &self,
        id_or_kid: &str,
        new_hash: &SecretHash,
        old_valid_until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Option<KeyRecord>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => {
                s.rotate_key(id_or_kid, new_hash, old_valid_until, now)
                    .await
            }
        }
    }

    /// Records when keys were last used (a coalesced batch; does not evict caches).
    pub async fn touch_keys(&self, used: &[(KeyId, OffsetDateTime)]) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.touch_keys(used).await,
        }
    }

    pub async fn count_keys(&self, kind: KeyKind) -> Result<u64, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.count_keys(kind).await,
        }
    }

    pub async fn create_account(&self, account: &Account) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.create_account(account).await,
        }
    }

    pub async fn account(&self, id: &str) -> Result<Option<Account>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.account(id).await,
        }
    }

    pub async fn list_accounts(&self) -> Result<Vec<Account>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.list_accounts().await,
        }
    }

    /// Marks a key revoked (idempotent: the first revocation time is kept).
    pub async fn revoke_key(
        &self,
        id_or_kid: &str,
        now: OffsetDateTime,
    ) -> Result<Option<KeyRecord>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.revoke_key(id_or_kid, now).await,
        }
    }

    /// Kids of keys created or changed at or after `since_ms`, for cache
    /// invalidation across processes.
    pub async fn keys_changed_since(&self, since_ms: i64) -> Result<Vec<KeyId>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.keys_changed_since(since_ms).await,
        }
    }

    /// Disables (or re-enables) an account; its keys count as changed so caches drop them.
    pub async fn set_account_disabled(
        &self,
        account_id: &str,
        disabled: bool,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.set_account_disabled(account_id, disabled, now).await,
        }
    }

    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite(s) => s.close().await,
        }
    }

    /// One transaction: inserts the events, adds them to the hourly rollups and
    /// subtracts each event's `charge_micro` from its account's balance (events with
    /// an empty `account_id` skip the balance). Idempotent per event id: only events
    /// not stored before touch rollups and balances, so a retried batch never
    /// double-charges. Returns how many events were new.
    pub async fn record_usage(&self, events: &[UsageEvent]) -> Result<u64, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.record_usage(events).await,
        }
    }

    /// Like [`Store::record_usage`], also saying what each account was charged.
    pub async fn record_usage_batch(&self, events: &[UsageEvent]) -> Result<Recorded, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.record_usage_batch(events).await,
        }
    }

    /// Test support: makes the database behave as if its disk were full (`true`)
    /// or had room again (`false`).
    #[doc(hidden)]
    pub async fn limit_size_for_tests(&self, capped: bool) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.limit_size_for_tests(capped).await,
        }
    }

    /// Deletes raw events older than `ts_ms`; the hourly rollups stay.
    pub async fn purge_usage_before(&self, ts_ms: i64) -> Result<u64, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.purge_usage_before(ts_ms).await,
        }
    }

    pub async fn count_usage_events(&self) -> Result<u64, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.count_usage_events().await,
        }
    }

    /// The raw events of one request (a full scan: for tests and debugging).
    pub async fn usage_events_for_request(
        &self,
        request_id: &str,
    ) -> Result<Vec<UsageEvent>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.usage_events_for_request(request_id).await,
        }
    }

    pub async fn account_billing(&self, id: &str) -> Result<Option<AccountBilling>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.account_billing(id).await,
        }
    }

    /// Changes the given billing settings; `false` when the account does not exist.
    pub async fn set_account_billing(
        &self,
        id: &str,
        currency: Option<&str>,
        mode: Option<BillingMode>,
    ) -> Result<bool, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.set_account_billing(id, currency, mode).await,
        }
    }

    /// Adds funds (negative for corrections) and records the audit row, in one
    /// transaction. Returns the new balance, `None` when the account does not exist.
    pub async fn credit_account(
        &self,
        id: &str,
        amount_micro: i64,
        actor: &str,
        note: &str,
        now: OffsetDateTime,
    ) -> Result<Option<i64>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.credit_account(id, amount_micro, actor, note, now).await,
        }
    }

    /// An account's credit audit trail, oldest first.
    pub async fn account_credits(&self, id: &str) -> Result<Vec<CreditRecord>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.account_credits(id).await,
        }
    }

    /// Totals and groups from the hourly rollups (fast on large logs, and beyond the
    /// raw events' retention) over the query's range widened to whole hours
    /// ([`UsageQuery::window`]); an empty range gives an empty report.
    pub async fn usage_report(&self, q: &UsageQuery) -> Result<UsageReport, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.usage_report(q).await,
        }
    }

    /// The client IPs with the most requests over the same window as
    /// [`Store::usage_report`], most first. Reads raw events, so only what is still
    /// within retention counts.
    pub async fn top_client_ips(
        &self,
        q: &UsageQuery,
        limit: u32,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.top_client_ips(q, limit).await,
        }
    }
}
