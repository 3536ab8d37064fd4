//! `cluster`: the state several gateway instances share through Redis, so that
//! behind a load balancer they behave as one (`[redis] url`).
//!
//! - rate limits: GCRA in one Lua call per request, on Redis's clock (`rate`);
//! - concurrency caps: a sorted set of leases per key, scored by expiry, renewed
//!   while the request runs, so a dead instance's places come back (`lease`);
//! - prepaid balances: reserve and settle atomically in Lua (`balance`);
//! - key changes: a pub/sub channel plus a version counter for reconciliation
//!   (`broadcast`);
//! - deployment cooldowns: one hash per deployment, transitions in Lua, changes
//!   published to every instance (`cooldown`).
//!
//! Every call goes through one [`redis::aio::ConnectionManager`]: multiplexed,
//! reconnecting with exponential backoff on its own. Each concern tracks whether
//! Redis answered it last time (`health`), so an outage is logged once when it
//! starts and once when it ends, while `tollgate_redis_failures_total{concern}`
//! counts every failed call. What a failure *means* (admit or refuse) is the
//! caller's [`OnFailure`](crate::domain::OnFailure) decision, not this module's.
//!
//! This module knows Redis and the value types of `domain`; it does not know
//! requests, keys' records or the database.

mod balance;
mod broadcast;
mod cooldown;
mod health;
mod lease;
mod rate;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

pub use balance::{BalanceEpoch, Reserved};
pub use broadcast::{KeyChange, KeyChanges};
pub use cooldown::{CooldownChange, CooldownChanges, SharedHealth};
pub use health::Concern;
pub use lease::Lease;

use health::Health;

/// A Redis call that failed (connection refused, timeout, script error). The text
/// comes from the client library and never holds the URL's password.
#[derive(Debug, Clone, thiserror::Error)]
#[error("redis: {0}")]
pub struct ClusterError(String);

impl From<redis::RedisError> for ClusterError {
    fn from(e: redis::RedisError) -> Self {
        ClusterError(e.to_string())
    }
}

/// The prefix of every key and channel a gateway uses in Redis.
pub const KEY_PREFIX: &str = "tollgate";

/// How long one Redis call may take before it counts as a failure. Short: the
/// request is waiting, and the failure policy exists for exactly this case.
const RESPONSE_TIMEOUT: Duration = Duration::from_millis(500);
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// Reconnect backoff bounds (the connection manager doubles in between).
const RECONNECT_MIN: Duration = Duration::from_millis(50);
const RECONNECT_MAX: Duration = Duration::from_secs(2);
/// How long a concurrency lease lives without renewal; a dead instance's
/// requests stop counting after at most this.
pub const LEASE_TTL: Duration = Duration::from_secs(15);

/// The shared state. Cloning is one `Arc` bump.
#[derive(Clone)]
pub struct Cluster(Arc<Inner>);

struct Inner {
    client: redis::Client,
    conn: ConnectionManager,
    /// Every key and channel name starts with this (tests use a random one).
    prefix: String,
    lease_ttl: Duration,
    health: [Health; Concern::ALL.len()],
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("prefix", &self.0.prefix)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// A handle on the Redis at `url`. Does not connect yet: the first call does,
    /// so a gateway starts (and serves per its failure policy) while Redis is down.
    /// Must be called inside a Tokio runtime.
    pub fn open(url: &str, prefix: &str) -> Result<Cluster, ClusterError> {
        Self::open_with_lease_ttl(url, prefix, LEASE_TTL)
    }

    /// Like [`open`](Self::open) with another lease lifetime (tests).
    pub fn open_with_lease_ttl(
        url: &str,
        prefix: &str,
        lease_ttl: Duration,
    ) -> Result<Cluster, ClusterError> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_min_delay(RECONNECT_MIN)
            .set_max_delay(RECONNECT_MAX)
            .set_number_of_retries(3);
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), config)?;
        Ok(Cluster(Arc::new(Inner {
            client,
            conn,
            prefix: prefix.to_owned(),
            lease_ttl,
            health: Concern::ALL.map(Health::new),
        })))
    }

    fn conn(&self) -> ConnectionManager {
        self.0.conn.clone()
    }

    fn key(&self, parts: &[&str]) -> String {
        let mut k = self.0.prefix.clone();
        for p in parts {
            k.push(':');
            k.push_str(p);
        }
        k
    }

    /// Records how Redis answered a call for `concern` (logs outage edges, counts
    /// failures) and converts its error.
    fn observe<T>(
        &self,
        concern: Concern,
        result: redis::RedisResult<T>,
    ) -> Result<T, ClusterError> {
        let health = &self.0.health[concern as usize];
        match result {
            Ok(v) => {
                health.answered();
                Ok(v)
            }
            Err(e) => {
                let e = ClusterError::from(e);
                health.failed(&e);
                Err(e)
            }
        }
    }

    /// Whether the last call for `concern` failed (for tests and `/health`-like probes).
    pub fn is_down(&self, concern: Concern) -> bool {
        self.0.health[concern as usize].is_down()
    }
}
