//! Key records cached by kid, so an authenticated request on a hot key does no I/O.
//!
//! Freshness across processes: a background task asks the store every
//! `[keys] revocation_poll_ms` (default 1 s) which keys changed since its last look
//! and evicts them, so a revocation made by the CLI or another instance takes effect
//! here within about one poll interval (well under the 5 s we promise). Entries also
//! expire after `[keys] cache_ttl_secs` as a backstop. Unknown kids are cached as
//! absent for a short time, so a client retrying a deleted or mistyped key costs one
//! query per [`NEGATIVE_TTL`]; a newly created key is evicted from that negative cache
//! by the poller. A flood of *different* forged kids is the failure brake's job
//! (`brake.rs`): the caller reserves a brake token before [`KeyCache::load`].
//!
//! The negative cache is sized for an attack: it is its own cache, so absent kids can
//! never evict a found key, and it is capped at [`NEGATIVE_CAPACITY`] entries (a
//! 12-character kid plus moka's bookkeeping, ≈ 150 bytes: ≈ 15 MB when full). With the
//! brake at its default (20 failures per minute per client network), filling it
//! within one [`NEGATIVE_TTL`] takes ~10,000 networks; past that, moka's admission
//! keeps the kids asked for most often and the rest only cost brake-charged lookups.
//! The found cache holds only kids that exist, so its size is bounded by the key
//! table, whoever asks.
//!
//! With `[redis]`, changes are also broadcast (`crate::cluster::broadcast`): the
//! instance that makes one publishes it and every instance evicts at once, well
//! under a second. A message missed while disconnected is caught on reconnect (the
//! whole cache is dropped) and by the version check every [`RECONCILE_EVERY`]; the
//! database poll above stays as the last line.
//!
//! `last_used_at` is coalesced: each cached key remembers when it was last marked,
//! and only the first use per second per key takes a (short) lock to join the dirty
//! set that a background task writes in one batch every few seconds.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use moka::future::Cache;
use parking_lot::Mutex;
use time::OffsetDateTime;

use crate::cluster::{Cluster, KeyChange};
use crate::keys::KeyId;
use crate::store::{KeyRecord, Store, StoreError, records_ms};

/// Extra look-back on each poll, so a change stamped slightly before the previous
/// poll started (a slow transaction, another writer's clock) is not missed. A change
/// is thus seen by a few consecutive polls; evicting twice is harmless.
const POLL_OVERLAP_MS: i64 = 5_000;
/// How long a kid the store did not have is answered from memory.
pub const NEGATIVE_TTL: Duration = Duration::from_secs(30);
/// Absent kids remembered at once (see the module docs for the sizing).
pub const NEGATIVE_CAPACITY: u64 = 100_000;
/// `last_used_at` resolution: uses closer together than this are not recorded.
const TOUCH_EVERY_MS: i64 = 1_000;
/// How often the broadcast version counter is compared with the last one seen.
pub const RECONCILE_EVERY: Duration = Duration::from_secs(30);
/// Resubscribing after a lost connection backs off between these.
const RESUBSCRIBE_MIN: Duration = Duration::from_millis(100);
const RESUBSCRIBE_MAX: Duration = Duration::from_secs(5);
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
    /// Store queries by kid, for `/metrics` and tests.
    lookups: Arc<AtomicU64>,
    /// Where changes are broadcast to the other instances (`[redis]`).
    broadcast: Option<Cluster>,
}

/// What memory alone knows about a kid.
pub enum Cached {
    Found(Arc<CachedKey>),
    /// The store did not have it a moment ago.
    Absent,
    /// Not in memory: only [`KeyCache::load`] can tell.
    Unknown,
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
                .max_capacity(NEGATIVE_CAPACITY)
                .time_to_live(NEGATIVE_TTL)
                .build(),
            dirty: Arc::default(),
            lookups: Arc::default(),
            broadcast: None,
        }
    }

    /// Publishes this process's key changes to, and follows those of, every
    /// instance sharing `cluster`.
    pub fn with_broadcast(mut self, cluster: Cluster) -> Self {
        self.broadcast = Some(cluster);
        self
    }

    /// A key was changed here (revoked, rotated, edited): forget it in this process
    /// and tell the other instances. A broadcast that fails is logged and counted
    /// by the cluster; the others then catch up by reconciliation or their poll.
    pub async fn changed(&self, kid: &KeyId) {
        self.invalidate(kid).await;
        if let Some(cluster) = &self.broadcast {
            let _ = cluster
                .publish_key_change(&KeyChange::Key(kid.as_str().to_owned()))
                .await;
        }
    }

    /// Like [`changed`](Self::changed) for every key (an account-wide change).
    pub async fn changed_all(&self) {
        self.invalidate_all();
        if let Some(cluster) = &self.broadcast {
            let _ = cluster.publish_key_change(&KeyChange::All).await;
        }
    }

    /// What memory knows about `kid`, without I/O.
    pub async fn cached(&self, kid: &KeyId) -> Cached {
        if let Some(rec) = self.found.get(kid).await {
            return Cached::Found(rec);
        }
        if self.absent.contains_key(kid) {
            return Cached::Absent;
        }
        Cached::Unknown
    }

    /// The record for `kid` from memory, or else from the store (concurrent misses
    /// for the same kid share one query).
    pub async fn load(&self, kid: &KeyId) -> Result<Option<Arc<CachedKey>>, StoreError> {
        match self.load_gated(kid, || Ok(())).await {
            Ok(found) => Ok(found),
            Err(Refused::Store(e)) => Err(e),
            // The gate above never refuses.
            Err(Refused::Gate(())) => Ok(None),
        }
    }

    /// Like [`load`](Self::load), but the store is only asked if `gate` agrees,
    /// and `gate` runs once per store query, not once per caller: concurrent
    /// misses on one kid share one query (moka coalesces them) and so share one
    /// `gate` call, made by whichever caller started the query. A refusal is
    /// returned to every caller waiting on that query and is not cached.
    pub async fn load_gated<G: Clone + Send + Sync + 'static>(
        &self,
        kid: &KeyId,
        gate: impl FnOnce() -> Result<(), G> + Send,
    ) -> Result<Option<Arc<CachedKey>>, Refused<G>> {
        match self.cached(kid).await {
            Cached::Found(rec) => return Ok(Some(rec)),
            Cached::Absent => return Ok(None),
            Cached::Unknown => {}
        }
        let store = self.store.clone();
        let lookups = Arc::clone(&self.lookups);
        let loaded = self
            .found
            .try_get_with_by_ref(kid, async move {
                gate().map_err(LoadError::Gate)?;
                lookups.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("tollgate_key_lookups_total").increment(1);
                match store.key_by_kid(kid).await {
                    Ok(Some(rec)) => Ok(Arc::new(CachedKey {
                        last_marked_ms: AtomicI64::new(
                            rec.last_used_at.map(records_ms).unwrap_or(0),
                        ),
                        record: Arc::new(rec),
                    })),
                    Ok(None) => Err(LoadError::Absent),
                    Err(e) => Err(LoadError::Store(Arc::new(e))),
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
                LoadError::Store(e) => Err(Refused::Store(StoreError::Lookup(Arc::clone(e)))),
                LoadError::Gate(g) => Err(Refused::Gate(g.clone())),
            },
        }
    }

    /// Store queries by kid so far (each coalesced miss counts once).
    pub fn store_lookups(&self) -> u64 {
        self.lookups.load(Ordering::Relaxed)
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
        let mut tasks = vec![poller, flusher];
        if let Some(cluster) = &self.broadcast {
            tasks.push(tokio::spawn(follow(self.clone(), cluster.clone())));
            tasks.push(tokio::spawn(reconcile(self.clone(), cluster.clone())));
        }
        tasks
    }

    async fn apply(&self, change: KeyChange) {
        match change {
            KeyChange::All => self.invalidate_all(),
            KeyChange::Key(kid) => match KeyId::parse(&kid) {
                Ok(kid) => self.invalidate(&kid).await,
                // Not a kid we could have cached; be safe anyway.
                Err(_) => self.invalidate_all(),
            },
        }
    }
}

/// Follows the broadcast channel, resubscribing with backoff when it drops.
async fn follow(cache: KeyCache, cluster: Cluster) {
    let mut backoff = RESUBSCRIBE_MIN;
    let mut subscribed_before = false;
    loop {
        // A failed subscribe is logged once per outage by the cluster.
        if let Ok(mut changes) = cluster.key_changes().await {
            backoff = RESUBSCRIBE_MIN;
            if subscribed_before {
                // Messages sent while we were away are lost: start clean.
                cache.invalidate_all();
                tracing::info!("key-change channel resubscribed; cached keys dropped");
            }
            subscribed_before = true;
            while let Some(change) = changes.next().await {
                cache.apply(change).await;
            }
            tracing::warn!("key-change channel lost; resubscribing");
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(RESUBSCRIBE_MAX);
    }
}

/// Drops the cache when the version counter moved by more than what we applied,
/// which is what a missed message looks like.
async fn reconcile(cache: KeyCache, cluster: Cluster) {
    let mut last: Option<i64> = None;
    let mut tick = tokio::time::interval(RECONCILE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Ok(version) = cluster.key_version().await else {
            continue;
        };
        if last.is_some_and(|seen| seen != version) {
            // Cheap when nothing was missed: the cache refills on the next requests.
            cache.invalidate_all();
        }
        last = Some(version);
    }
}

#[derive(Debug)]
enum LoadError<G> {
    Absent,
    Store(Arc<StoreError>),
    Gate(G),
}

/// Why [`KeyCache::load_gated`] found nothing to return.
#[derive(Debug)]
pub enum Refused<G> {
    /// The store failed.
    Store(StoreError),
    /// The gate said no; the store was not asked.
    Gate(G),
}
