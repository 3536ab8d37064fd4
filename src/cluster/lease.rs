//! Concurrency caps across instances: per key, a sorted set of lease ids scored by
//! their expiry (Redis time, ms). Acquiring is one script: drop expired leases, and
//! add ours if fewer than `max` remain. While the request runs a task renews the
//! lease every third of its lifetime; when the request ends (the [`Lease`] is
//! dropped) it is removed. If the instance dies, its leases simply expire, so the
//! key gets its places back after at most [`LEASE_TTL`](super::LEASE_TTL).
//!
//! A lease whose renewal fails (Redis down) keeps its place until it expires; a
//! release that fails leaves it to expire too. Both err on the side of the cap.

use std::sync::LazyLock;
use std::time::Duration;

use super::{Cluster, ClusterError, Concern};

/// KEYS[1] = lease set; ARGV = max, lease id, ttl ms. Returns 1 if added.
const ACQUIRE: &str = r"
local now_t = redis.call('TIME')
local now = tonumber(now_t[1]) * 1000 + math.floor(tonumber(now_t[2]) / 1000)
local ttl = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[2])
redis.call('PEXPIRE', KEYS[1], ttl * 2)
return 1
";

/// KEYS[1] = lease set; ARGV = lease id, ttl ms. Returns 1 if the lease was still held.
const RENEW: &str = r"
local now_t = redis.call('TIME')
local now = tonumber(now_t[1]) * 1000 + math.floor(tonumber(now_t[2]) / 1000)
local ttl = tonumber(ARGV[2])
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], 'XX', now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl * 2)
return 1
";

static ACQUIRE_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(ACQUIRE));
static RENEW_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(RENEW));

/// One request's place among its key's in-flight requests, on every instance.
/// Renewed while held; removed on drop.
#[derive(Debug)]
#[must_use = "the place is given back as soon as the lease is dropped"]
pub struct Lease {
    cluster: Cluster,
    set: String,
    id: String,
    pub(super) renewer: tokio::task::JoinHandle<()>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.renewer.abort();
        let cluster = self.cluster.clone();
        let set = std::mem::take(&mut self.set);
        let id = std::mem::take(&mut self.id);
        // Drop cannot await: the removal runs on its own. Without a runtime (the
        // process is exiting) the lease expires instead.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let removed: redis::RedisResult<i64> = redis::cmd("ZREM")
                    .arg(&set)
                    .arg(&id)
                    .query_async(&mut cluster.conn())
                    .await;
                let _ = cluster.observe(Concern::Concurrency, removed);
            });
        }
    }
}

impl Cluster {
    /// A place for one more request of `kid`, if fewer than `max` hold one across
    /// all instances. `max = 0` admits nothing.
    pub async fn acquire(&self, kid: &str, max: u32) -> Result<Option<Lease>, ClusterError> {
        if max == 0 {
            return Ok(None);
        }
        let set = self.key(&["cc", kid]);
        let id = uuid::Uuid::new_v4().simple().to_string();
        let ttl_ms = u64::try_from(self.0.lease_ttl.as_millis()).unwrap_or(u64::MAX);
        let added: redis::RedisResult<i64> = ACQUIRE_SCRIPT
            .key(&set)
            .arg(max)
            .arg(&id)
            .arg(ttl_ms)
            .invoke_async(&mut self.conn())
            .await;
        if self.observe(Concern::Concurrency, added)? != 1 {
            return Ok(None);
        }
        let renewer = tokio::spawn(renew(self.clone(), set.clone(), id.clone(), ttl_ms));
        Ok(Some(Lease {
            cluster: self.clone(),
            set,
            id,
            renewer,
        }))
    }

    /// Leases of `kid` now held (expired ones excluded), for tests and probes.
    pub async fn leases(&self, kid: &str) -> Result<u64, ClusterError> {
        let set = self.key(&["cc", kid]);
        let now_ms = i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis(),
        )
        .unwrap_or(i64::MAX);
        let n: redis::RedisResult<u64> = redis::cmd("ZCOUNT")
            .arg(&set)
            .arg(now_ms)
            .arg("+inf")
            .query_async(&mut self.conn())
            .await;
        self.observe(Concern::Concurrency, n)
    }
}

/// Renews the lease every third of its lifetime until aborted.
async fn renew(cluster: Cluster, set: String, id: String, ttl_ms: u64) {
    let every = Duration::from_millis((ttl_ms / 3).max(1));
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        tick.tick().await;
        let renewed: redis::RedisResult<i64> = RENEW_SCRIPT
            .key(&set)
            .arg(&id)
            .arg(ttl_ms)
            .invoke_async(&mut cluster.conn())
            .await;
        // Failures are counted and logged by `observe`; the next tick retries.
        let _ = cluster.observe(Concern::Concurrency, renewed);
    }
}
