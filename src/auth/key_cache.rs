//! Key records cached by kid, so an authenticated request on a hot key does no I/O.
//!
//! Freshness across processes: a background task asks the store every
//! `[keys] revocation_poll_ms` (default 1 s) which keys changed since its last look
//! and evicts them, so a revocation made by the CLI or another instance takes effect
//! here within about one poll interval (well under the 5 s we promise). Entries also
//! expire after `[keys] cache_ttl_secs` as a backstop. Unknown kids are cached as
//! absent for a short time so a flood of well-formed fake keys cannot hammer the
//! database; a newly created key is evicted from that negative cache by the poller.
//!
//! `last_used_at` is coalesced: each cached key remembers when it was last marked,
//! and only the first use per second per key takes a (short) lock to join the dirty
//! set that a background task writes in one batch every few seconds.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use moka::future::Cache;
use parking_lot::Mutex;
use time::OffsetDateTime;

use crate::keys::KeyId;
use crate::store::{KeyRecord, Store, StoreError, records_ms};

/// Extra look-back on each poll, so a change stamped slightly before the previous
/// poll started (a slow transaction, another writer's clock) is not missed. A change
/// is thus seen by a few consecutive polls; evicting twice is harmless.
const POLL_OVERLAP_MS: i64 = 5_000;
const NEGATIVE_TTL: Duration = Duration::from_secs(30);
/// `last_used_at` resolution: uses closer together than this are not recorded.
const TOUCH_EVERY_MS: i64 = 1_000;
/// How often the batched `last_used_at` writes go to the store.
const TOUCH_FLUSH_EVERY: Duration = Duration::from_secs(5);

/// A cached key record plus when it was last marked used.
pub struct CachedKey {
    pub record: Arc<KeyRecord>,
    last_marked_ms: AtomicI64,
}

#[derive(Clone)]
pub struct KeyCache {
    store: Store,
    found: Cache<KeyId, Arc<CachedKey>>,
    absent: Cache<KeyId, ()>,
    dirty: Arc<Mutex<HashMap<KeyId, i64>>>,
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
            dirty: Arc::default(),
        }
    }

    /// The record for `kid`: from memory, or loaded once (concurrent misses for the
    /// same kid share one query).
    pub async fn get(&self, kid: &KeyId) -> Result<Option<Arc<CachedKey>>, StoreError> {
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
                    Ok(Some(rec)) => Ok(Arc::new(CachedKey {
                        last_marked_ms: AtomicI64::new(
                            rec.last_used_at.map(records_ms).unwrap_or(0),
                        ),
                        record: Arc::new(rec),
                    })),
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

    /// Notes that `key` was used at `now`; cheap (an atomic load) except once a second.
    pub fn mark_used(&self, key: &CachedKey, now: OffsetDateTime) {
        let now_ms = records_ms(now);
        let last = key.last_marked_ms.load(Ordering::Relaxed);
        if now_ms - last < TOUCH_EVERY_MS {
            return;
        }
        if key
            .last_marked_ms
            .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            // No await while held: the map insert is the whole critical section.
            self.dirty.lock().insert(key.record.kid.clone(), now_ms);
        }
    }

    /// Writes pending `last_used_at` values (also called at shutdown).
    pub async fn flush_used(&self) -> Result<(), StoreError> {
        // The guard is a temporary of this statement: released before the await.
        let batch: Vec<(KeyId, OffsetDateTime)> = self
            .dirty
            .lock()
            .drain()
            .map(|(kid, ms)| (kid, crate::store::records_from_ms(ms)))
            .collect();
        self.store.touch_keys(&batch).await
    }

    /// Forgets `kid` (after a change made in this process, or a poll hit).
    pub async fn invalidate(&self, kid: &KeyId) {
        self.found.invalidate(kid).await;
        self.absent.invalidate(kid).await;
    }

    /// Forgets every cached record (after an account-wide change in this process).
    pub fn invalidate_all(&self) {
        self.found.invalidate_all();
        self.absent.invalidate_all();
    }

    /// Runs the change poller and the `last_used_at` flusher until aborted.
    pub fn spawn_background(&self, poll_every: Duration) -> Vec<tokio::task::JoinHandle<()>> {
        let cache = self.clone();
        let poller = tokio::spawn(async move {
            let mut since = records_ms(OffsetDateTime::now_utc()) - POLL_OVERLAP_MS;
            let mut tick = tokio::time::interval(poll_every);
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
        });
        let cache = self.clone();
        let flusher = tokio::spawn(async move {
            let mut tick = tokio::time::interval(TOUCH_FLUSH_EVERY);
            loop {
                tick.tick().await;
                if let Err(e) = cache.flush_used().await {
                    tracing::warn!(error = %e, "writing last_used_at failed");
                }
            }
        });
        vec![poller, flusher]
    }
}

#[derive(Debug)]
enum LoadError {
    Absent,
    Store(String),
}
