//! Key records cached by kid, so an authenticated request on a hot key does no I/O.
//!
//! Freshness across processes: a background task asks the store every
//! `[keys] revocation_poll_ms` (default 1 s) which keys changed since its last look
//! and evicts them, so a revocation made by the CLI or another instance takes effect
//! here within about one poll interval (well under the 5 s we promise). Entries also
//! expire after `[keys] cache_ttl_secs` as a backstop. Unknown kids are cached as
//! absent for a short time so a flood of well-formed fake keys cannot hammer the
//! database; a newly created key is evicted from that negative cache by the poller.

use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;
use time::OffsetDateTime;

use crate::keys::KeyId;
use crate::store::{KeyRecord, Store, StoreError, records_ms};

/// Extra look-back on each poll, so a change stamped slightly before the previous
/// poll started (a slow transaction, another writer's clock) is not missed. A change
/// is thus seen by a few consecutive polls; evicting twice is harmless.
const POLL_OVERLAP_MS: i64 = 5_000;
const NEGATIVE_TTL: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct KeyCache {
    store: Store,
    found: Cache<KeyId, Arc<KeyRecord>>,
    absent: Cache<KeyId, ()>,
}

impl KeyCache {
    pub fn new(store: Store, ttl: Duration) -> Self {
        KeyCache {
            store,
            found: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(ttl)
                .build(),
            absent: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(NEGATIVE_TTL)
                .build(),
        }
    }

    /// The record for `kid`: from memory, or loaded once (concurrent misses for the
    /// same kid share one query).
    pub async fn get(&self, kid: &KeyId) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        if let Some(rec) = self.found.get(kid).await {
            return Ok(Some(rec));
        }
        if self.absent.contains_key(kid) {
            return Ok(None);
        }
        let store = self.store.clone();
        let loaded = self
            .found
            .try_get_with_by_ref(kid, async move {
                match store.key_by_kid(kid).await {
                    Ok(Some(rec)) => Ok(Arc::new(rec)),
                    Ok(None) => Err(LoadError::Absent),
                    Err(e) => Err(LoadError::Store(e.to_string())),
                }
            })
            .await;
        match loaded {
            Ok(rec) => Ok(Some(rec)),
            Err(e) => match &*e {
                LoadError::Absent => {
                    self.absent.insert(kid.clone(), ()).await;
                    Ok(None)
                }
                LoadError::Store(msg) => Err(StoreError::Lookup(msg.clone())),
            },
        }
    }

    /// Forgets `kid` (after a revoke or rotate in this process, or a poll hit).
    pub async fn invalidate(&self, kid: &KeyId) {
        self.found.invalidate(kid).await;
        self.absent.invalidate(kid).await;
    }

    /// Runs the change poller until the returned handle is dropped or aborted.
    pub fn spawn_poller(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let cache = self.clone();
        tokio::spawn(async move {
            let mut since = records_ms(OffsetDateTime::now_utc()) - POLL_OVERLAP_MS;
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let started = records_ms(OffsetDateTime::now_utc());
                match cache.store.keys_changed_since(since).await {
                    Ok(kids) => {
                        for kid in &kids {
                            cache.invalidate(kid).await;
                        }
                        since = started - POLL_OVERLAP_MS;
                    }
                    Err(e) => tracing::warn!(error = %e, "key change poll failed; will retry"),
                }
            }
        })
    }
}

#[derive(Debug)]
enum LoadError {
    Absent,
    Store(String),
}
