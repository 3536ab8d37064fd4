//! Persistence, split by concern into traits: [`KeyStore`] (API keys),
//! [`AccountStore`] (accounts), [`BillingStore`] (balances, credits, billing
//! settings), [`UsageStore`] (usage events, rollups, analytics), [`ConnectionStore`]
//! (third-party connections), [`UserStore`] (end users, revoked login tokens) and
//! [`VaultStore`] (users' sealed provider keys), [`WebhookStore`] (webhooks and
//! their outbox) and [`AlertStore`] (de-duplicated alerts, seen addresses,
//! thresholds). A backend implements all of them plus
//! [`Backend`]; [`Store`] is a cheap, cloneable handle to one, opened from the storage
//! URL: `sqlite://…` (the default) or `postgres://…`. Each backend has its own
//! migrations folder (`migrations/sqlite`, `migrations/postgres`, the same tables), and
//! callers don't change.
//!
//! Callers call through the handle, which derefs to `dyn Backend`, so the traits'
//! methods need no import. The SQL of each backend lives under its own folder
//! (`sqlite/`, `postgres/`). Methods that exist
//! only for tests (`count_usage_events`, `usage_events_for_request`) are compiled
//! under `cfg(test)` or the `test-support` feature, never into a release build.
//! The trait methods are boxed futures (`async_trait`): a store call is a database
//! round trip, next to which the allocation is noise, and the hot path only reaches
//! the store on a key-cache miss.
//!
//! # Adding a store trait
//!
//! A new trait (say `WebhookStore`) is implemented by both backends:
//! 1. the trait here, and `WebhookStore` added to [`Backend`]'s supertraits;
//! 2. `impl WebhookStore for SqliteStore` in `sqlite/webhooks.rs` and its tables in
//!    the next `migrations/sqlite/NNNN_*.sql`;
//! 3. `impl WebhookStore for PgStore` in `postgres/webhooks.rs` and the same
//!    tables in `migrations/postgres/NNNN_*.sql` (BIGINT for times in ms and
//!    money, BOOLEAN for flags, BYTEA for blobs, `$1` placeholders);
//! 4. its tests written once, through [`Store`], with `testing::on_every_backend`
//!    (they then run on a fresh SQLite file and a fresh PostgreSQL database).
//!
//! The integration suite runs twice (`api` on SQLite, `api_pg` on PostgreSQL), so
//! a route built on the new trait is tested on both without more work.

mod alert_records;
pub mod connections;
mod postgres;
mod records;
mod sqlite;
#[cfg(test)]
pub(crate) mod testing;
mod usage_fold;
mod users;
mod webhook_records;

pub use alert_records::{AlertOverrides, SeenIp};
pub use connections::{ConnectionRecord, ConnectionStore};
pub use postgres::redact_url;
#[cfg(any(test, feature = "test-support"))]
pub use postgres::testing as pg_testing;
pub use sqlite::Recorded;
pub use users::{UserRecord, UserStore, VaultKeyRecord, VaultStore};

pub use records::{
    Account, AccountId, KeyFilter, KeyRecord, KeyStatus, KeyUpdate, NewKey,
    from_ms as records_from_ms, to_ms as records_ms,
};
pub use records::{
    AccountBilling, BillingMode, CreditRecord, DAY_MS, GroupBy, HOUR_MS, UsageQuery,
    UsageQueryError, UsageReport, UsageTotals,
};

pub use webhook_records::{
    AttemptOutcome, DeliveryRecord, DeliveryStatus, EventFilter, NewEvent, WebhookRecord,
    WebhookUpdate,
};

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::domain::UsageEvent;
use crate::keys::{KeyId, KeyKind, SecretHash};

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
    #[error("unsupported storage url {0:?}: use sqlite://PATH or postgres://USER@HOST/DB")]
    UnsupportedUrl(String),
    /// The database server could not be reached (or refused the login); the URL
    /// is shown without its password.
    #[error("cannot connect to {url}: {detail}")]
    Unreachable { url: String, detail: String },
    /// A failure reported through a shared cache load: every caller waiting on the
    /// load gets the one original error.
    #[error("store lookup failed: {0}")]
    Lookup(#[source] Arc<StoreError>),
    /// A value the store refuses to hold (a credit too large, a balance that
    /// would leave its range): the caller's mistake, not a failure.
    #[error("{0}")]
    OutOfRange(String),
    #[error("corrupt row in {table}: {detail}")]
    Corrupt { table: &'static str, detail: String },
}

/// API keys: issue, look up, change, revoke, rotate, and the freshness feed for
/// caches in other processes.
#[async_trait]
pub trait KeyStore: Send + Sync {
    async fn insert_key(&self, key: &NewKey) -> Result<KeyRecord, StoreError>;

    async fn key_by_kid(&self, kid: &KeyId) -> Result<Option<KeyRecord>, StoreError>;

    /// Finds a key by its row id or its kid (what operators have at hand).
    async fn find_key(&self, id_or_kid: &str) -> Result<Option<KeyRecord>, StoreError>;

    async fn list_keys(
        &self,
        filter: &KeyFilter,
        now: OffsetDateTime,
    ) -> Result<Vec<KeyRecord>, StoreError>;

    async fn update_key(
        &self,
        id_or_kid: &str,
        update: &KeyUpdate,
        now: OffsetDateTime,
    ) -> Result<Option<KeyRecord>, StoreError>;

    /// Replaces a key's secret; the old one stays valid until `old_valid_until`.
    async fn rotate_key(
        &self,
        id_or_kid: &str,
        new_hash: &SecretHash,
        old_valid_until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Option<KeyRecord>, StoreError>;

    /// Marks a key revoked (idempotent: the first revocation time is kept).
    async fn revoke_key(
        &self,
        id_or_kid: &str,
        now: OffsetDateTime,
    ) -> Result<Option<KeyRecord>, StoreError>;

    /// Records when keys were last used (a coalesced batch; does not evict caches).
    async fn touch_keys(&self, used: &[(KeyId, OffsetDateTime)]) -> Result<(), StoreError>;

    async fn count_keys(&self, kind: KeyKind) -> Result<u64, StoreError>;

    /// Kids of keys created or changed at or after `since_ms`, for cache
    /// invalidation across processes.
    async fn keys_changed_since(&self, since_ms: i64) -> Result<Vec<KeyId>, StoreError>;
}

/// Accounts: the owners of keys, which can be disabled as a whole.
#[async_trait]
pub trait AccountStore: Send + Sync {
    async fn create_account(&self, account: &Account) -> Result<(), StoreError>;

    async fn account(&self, id: &str) -> Result<Option<Account>, StoreError>;

    async fn list_accounts(&self) -> Result<Vec<Account>, StoreError>;

    /// Disables (or re-enables) an account; its keys count as changed so caches drop them.
    async fn set_account_disabled(
        &self,
        account_id: &str,
        disabled: bool,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
}

/// Money on accounts: currency, billing mode, balance and the credit audit trail.
#[async_trait]
pub trait BillingStore: Send + Sync {
    async fn account_billing(&self, id: &str) -> Result<Option<AccountBilling>, StoreError>;

    /// Changes the given billing settings; `false` when the account does not exist.
    async fn set_account_billing(
        &self,
        id: &str,
        currency: Option<&str>,
        mode: Option<BillingMode>,
    ) -> Result<bool, StoreError>;

    /// Adds funds (negative for corrections) and records the audit row, in one
    /// transaction. Returns the new balance, `None` when the account does not exist.
    async fn credit_account(
        &self,
        id: &str,
        amount_micro: i64,
        actor: &str,
        note: &str,
        now: OffsetDateTime,
    ) -> Result<Option<i64>, StoreError>;

    /// An account's credit audit trail, oldest first.
    async fn account_credits(&self, id: &str) -> Result<Vec<CreditRecord>, StoreError>;
}

/// Usage events, their hourly rollups, and the analytics read from them.
#[async_trait]
pub trait UsageStore: Send + Sync {
    /// One transaction: inserts the events, adds them to the hourly rollups (see
    /// `usage_fold` for what counts where: failed attempts and unknown costs have
    /// their own counts) and subtracts each event's `charge_micro` from its
    /// account's balance (events with an empty `account_id` skip the balance). Idempotent per event id: only events
    /// not stored before touch rollups and balances, so a retried batch never
    /// double-charges. Returns how many events were new.
    async fn record_usage(&self, events: &[UsageEvent]) -> Result<u64, StoreError>;

    /// Like [`UsageStore::record_usage`], also saying what each account was
    /// charged, so the caller tells the ledger only what was committed. A failed
    /// batch leaves no transaction behind on its connection.
    async fn record_usage_batch(&self, events: &[UsageEvent]) -> Result<Recorded, StoreError>;

    /// Makes the database behave as if its disk were full (`true`) or had room
    /// again (`false`) (tests only).
    #[cfg(any(test, feature = "test-support"))]
    async fn limit_size_for_tests(&self, capped: bool) -> Result<(), StoreError>;

    /// Deletes raw events older than `ts_ms`; the hourly rollups stay.
    async fn purge_usage_before(&self, ts_ms: i64) -> Result<u64, StoreError>;

    /// Totals and groups from the hourly rollups (fast on large logs, and beyond the
    /// raw events' retention) over the query's range widened to whole hours
    /// ([`UsageQuery::window`]); an empty range gives an empty report.
    async fn usage_report(&self, q: &UsageQuery) -> Result<UsageReport, StoreError>;

    /// The client IPs with the most requests over the same window as
    /// [`UsageStore::usage_report`], most first, counting requests (not failed
    /// attempts). Reads the hourly client-IP rollups, so it outlives retention too.
    async fn top_client_ips(
        &self,
        q: &UsageQuery,
        limit: u32,
    ) -> Result<Vec<(String, u64)>, StoreError>;

    /// How many raw events are stored (tests only).
    #[cfg(any(test, feature = "test-support"))]
    async fn count_usage_events(&self) -> Result<u64, StoreError>;

    /// The raw events of one request (a full scan: tests only).
    #[cfg(any(test, feature = "test-support"))]
    async fn usage_events_for_request(
        &self,
        request_id: &str,
    ) -> Result<Vec<UsageEvent>, StoreError>;
}

/// Webhooks: endpoints, the durable event outbox (written by the server and the
/// CLI alike) and the delivery log the worker drives.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    async fn insert_webhook(&self, hook: &WebhookRecord) -> Result<(), StoreError>;
    async fn webhook(&self, id: &str) -> Result<Option<WebhookRecord>, StoreError>;
    /// Every webhook, or those of one account.
    async fn list_webhooks(&self, account: Option<&str>) -> Result<Vec<WebhookRecord>, StoreError>;
    async fn update_webhook(
        &self,
        id: &str,
        update: &WebhookUpdate,
        now: OffsetDateTime,
    ) -> Result<Option<WebhookRecord>, StoreError>;
    /// Installs a new sealed secret, keeping the previous one until `prev_until`.
    async fn rotate_webhook_secret(
        &self,
        id: &str,
        new_sealed: &str,
        prev_sealed: &str,
        prev_until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Option<WebhookRecord>, StoreError>;
    async fn delete_webhook(&self, id: &str) -> Result<bool, StoreError>;
    /// Appends an event to the outbox (the worker fans it out to webhooks).
    async fn insert_event(&self, event: &NewEvent) -> Result<(), StoreError>;
    /// Turns up to `limit` new events into deliveries for the webhooks that want
    /// them, in one transaction; returns how many events were fanned out.
    async fn fan_out_events(&self, limit: u32, now: OffsetDateTime) -> Result<u64, StoreError>;
    /// Stores `event` (already fanned out) with one delivery to `webhook_id`.
    async fn insert_direct_delivery(
        &self,
        webhook_id: &str,
        event: &NewEvent,
    ) -> Result<String, StoreError>;
    /// Leases up to `limit` due deliveries until `lease_until`.
    async fn claim_due_deliveries(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>, StoreError>;
    async fn finish_attempt(
        &self,
        delivery_id: &str,
        outcome: &AttemptOutcome,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// A webhook's deliveries, newest first.
    async fn deliveries(
        &self,
        webhook_id: &str,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>, StoreError>;
    /// Makes a delivery due again now; `false` when it is not this webhook's.
    async fn redeliver(
        &self,
        webhook_id: &str,
        delivery_id: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Writes `key.expired` for keys whose expiry passed (in the last 7 days) and
    /// that have none yet; returns how many.
    async fn announce_expired_keys(&self, now: OffsetDateTime) -> Result<u64, StoreError>;
    /// Recent events, newest first.
    async fn list_events(&self, filter: &EventFilter) -> Result<Vec<NewEvent>, StoreError>;
}

/// Alerts: outbox rows written at most once per (type, subject, window), the
/// addresses each key was used from, and per-account thresholds.
#[async_trait]
pub trait AlertStore: Send + Sync {
    /// Appends an alert to the outbox unless one with the same `dedup_key` exists
    /// (a unique index: holds across gateways). `true` when it was written.
    async fn insert_alert(&self, event: &NewEvent, dedup_key: &str) -> Result<bool, StoreError>;
    /// Records that `key_id` was used from `ip` at `now`; says what was known before.
    async fn note_key_ip(
        &self,
        key_id: &str,
        ip: &str,
        now: OffsetDateTime,
    ) -> Result<SeenIp, StoreError>;
    /// An account's threshold overrides (`None`: it has none).
    async fn alert_overrides(&self, account_id: &str)
    -> Result<Option<AlertOverrides>, StoreError>;
    /// Replaces an account's overrides (all `None`: back to the defaults).
    async fn set_alert_overrides(
        &self,
        account_id: &str,
        overrides: &AlertOverrides,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
}

/// Everything a storage backend provides, plus its own lifecycle.
#[async_trait]
pub trait Backend:
    KeyStore
    + AccountStore
    + BillingStore
    + UsageStore
    + ConnectionStore
    + UserStore
    + VaultStore
    + WebhookStore
    + AlertStore
{
    async fn migrate(&self) -> Result<(), StoreError>;

    async fn close(&self);
}

/// A handle to the opened backend. Cloning is one `Arc` bump; it derefs to the
/// backend, so `store.find_key(..)` works with [`KeyStore`] in scope.
#[derive(Clone)]
pub struct Store(Arc<dyn Backend>);

impl std::ops::Deref for Store {
    type Target = dyn Backend;
    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

/// How a backend connects (`[storage]` pool settings; SQLite ignores them).
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Most connections in the pool.
    pub max_connections: u32,
    /// How long to wait for a connection (at startup: for the server to answer).
    pub connect_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_connections: 16,
            connect_timeout: Duration::from_secs(5),
        }
    }
}

impl Store {
    /// Opens (creating if needed) the database at `url` and applies migrations.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        Self::open_with(url, &StoreOptions::default()).await
    }

    /// Like [`Store::open`], with pool settings.
    pub async fn open_with(url: &str, options: &StoreOptions) -> Result<Store, StoreError> {
        let store = if url.starts_with("sqlite:") {
            Store(Arc::new(sqlite::SqliteStore::connect(url).await?))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Store(Arc::new(postgres::PgStore::connect(url, options).await?))
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_owned()));
        };
        store.migrate().await?;
        Ok(store)
    }
}
