//! The failed-authentication brake: a client network that keeps presenting keys
//! that do not authenticate is refused early, without a database lookup.
//!
//! Why: a forged key with a correct checksum but an unknown kid costs a store query
//! (≈ 170 µs, against ≈ 17 µs for a cached kid), which is both database load and a
//! kid-existence oracle. The checksum stops typos, not someone who computes CRC32.
//!
//! # What is counted, and what is refused
//!
//! Each client network has a GCRA bucket of `[keys] auth_failure_limit` tokens
//! refilled over `auth_failure_period` ([`Quota`] with `burst = limit`). A token is
//! taken **before** anything the key's secret has not yet earned: a store lookup for a
//! kid we do not have cached, or an answer about a cached kid whose secret did not
//! match (or that is cached as absent). A lookup that finds a valid key gives its
//! token back ([`Reservation::refund`]), so only failures stay counted. Taking the
//! token first is what makes the bound hold under concurrency: however many forged
//! keys arrive at once, at most `limit` lookups start per bucket.
//!
//! With the bucket empty, such requests get 429 `rate_limit_exceeded` with
//! `Retry-After` (the time until one token is back), and nothing else is learnt:
//! known, unknown and absent-cached kids all look the same. A cached key presented
//! with its right secret is never charged, nor is the lookup of a key whose record
//! just left the cache if the same secret authenticated within the last day (the
//! authenticator's `vouched` memory), so the brake cannot lock out a valid key that
//! is in use, even from the braked address; an attacker can only brake itself
//! (and addresses behind the same NAT or untrusted proxy, so list your load
//! balancers in `[server] trusted_proxies`).
//!
//! # Client networks, memory
//!
//! IPv4 addresses count one by one; IPv6 by /64, the smallest block a host is
//! usually given, so an attacker cannot mint a fresh bucket per address. Buckets
//! live in a `moka` cache capped at [`MAX_NETWORKS`] entries that forgets a bucket
//! once idle for the period (a full refill: a forgotten bucket and a fresh one decide
//! alike, the argument of `policy/rate_limit/local.rs`). The cap bounds memory (about
//! 25 MB at worst); moka's frequency-based admission keeps a busy (braked) network's
//! bucket when a flood of new addresses competes for room.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::sync::Cache;

use crate::domain::gcra::{GcraState, Quota};

/// Client networks tracked at once. An entry is the key (17 bytes), a GCRA state
/// (8) and moka's bookkeeping (~200): ≈ 25 MB when full.
pub const MAX_NETWORKS: u64 = 100_000;

/// A client network, as the brake counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientNet(IpAddr);

impl ClientNet {
    pub fn of(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V6(v6) => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                ClientNet(IpAddr::V6(bits.into()))
            }
            v4 => ClientNet(v4),
        }
    }
}

/// Refused by the brake: how long until one more attempt is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Braked {
    pub limit: u32,
    pub retry_after: Duration,
}

/// Per-network failed-authentication limiter. Cheap to clone (shared state).
#[derive(Clone)]
pub struct FailureBrake {
    quota: Option<Quota>,
    epoch: Instant,
    buckets: Cache<ClientNet, Arc<GcraState>>,
}

/// A token taken for one attempt; [`refund`](Reservation::refund) it if the
/// attempt turns out to be a valid key. Dropping it keeps the failure counted.
#[must_use]
pub struct Reservation {
    bucket: Option<(Arc<GcraState>, Quota)>,
}

impl Reservation {
    pub fn refund(self) {
        if let Some((state, quota)) = self.bucket {
            state.refund(&quota);
        }
    }
}

impl FailureBrake {
    /// `None` turns the brake off (`auth_failure_limit = 0`).
    pub fn new(quota: Option<Quota>) -> Self {
        let idle = quota.map_or(Duration::from_secs(60), |q| q.refill_time());
        FailureBrake {
            quota,
            epoch: Instant::now(),
            buckets: Cache::builder()
                .max_capacity(MAX_NETWORKS)
                .time_to_idle(idle)
                .build(),
        }
    }

    /// Takes a token for an attempt from `ip` now.
    pub fn reserve(&self, ip: IpAddr) -> Result<Reservation, Braked> {
        let now_ns = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.reserve_at(ip, now_ns)
    }

    /// [`reserve`](Self::reserve) at `now_ns` since the brake's epoch (tests step it).
    pub fn reserve_at(&self, ip: IpAddr, now_ns: u64) -> Result<Reservation, Braked> {
        let Some(quota) = self.quota else {
            return Ok(Reservation { bucket: None });
        };
        let state = self
            .buckets
            .get_with(ClientNet::of(ip), || Arc::new(GcraState::new()));
        let decision = state.check(&quota, now_ns);
        if decision.allowed {
            Ok(Reservation {
                bucket: Some((state, quota)),
            })
        } else {
            metrics::counter!("tollgate_auth_braked_total").increment(1);
            Err(Braked {
                limit: quota.requests,
                retry_after: decision.retry_after,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::gcra::Period;

    const SEC: u64 = 1_000_000_000;

    fn brake(limit: u32, period: Period) -> FailureBrake {
        FailureBrake::new(Some(Quota {
            requests: limit,
            period,
            burst: limit,
        }))
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn n_failures_then_braked_until_a_token_is_back() {
        let b = brake(3, Period::Minute);
        let attacker = ip("203.0.113.7");
        for _ in 0..3 {
            drop(b.reserve_at(attacker, 0).unwrap());
        }
        let braked = b.reserve_at(attacker, 0).err().unwrap();
        assert_eq!(braked.limit, 3);
        assert_eq!(braked.retry_after, Duration::from_secs(20));
        // Still braked just before, free again exactly when Retry-After says.
        assert!(b.reserve_at(attacker, 20 * SEC - 1).is_err());
        assert!(b.reserve_at(attacker, 20 * SEC).is_ok());
    }

    #[test]
    fn other_networks_are_not_affected() {
        let b = brake(1, Period::Hour);
        drop(b.reserve_at(ip("203.0.113.7"), 0).unwrap());
        assert!(b.reserve_at(ip("203.0.113.7"), 0).is_err());
        assert!(b.reserve_at(ip("203.0.113.8"), 0).is_ok());
        assert!(b.reserve_at(ip("2001:db8:1::1"), 0).is_ok());
    }

    #[test]
    fn ipv6_counts_by_slash_64_and_mapped_v4_as_v4() {
        let b = brake(1, Period::Hour);
        drop(b.reserve_at(ip("2001:db8:1:2::1"), 0).unwrap());
        assert!(b.reserve_at(ip("2001:db8:1:2:ffff::9"), 0).is_err());
        assert!(b.reserve_at(ip("2001:db8:1:3::1"), 0).is_ok());
        drop(b.reserve_at(ip("198.51.100.1"), 0).unwrap());
        assert!(b.reserve_at(ip("::ffff:198.51.100.1"), 0).is_err());
    }

    #[test]
    fn a_refunded_reservation_is_not_a_failure() {
        let b = brake(2, Period::Hour);
        let client = ip("198.51.100.1");
        for _ in 0..10 {
            b.reserve_at(client, 0).unwrap().refund();
        }
        assert!(b.reserve_at(client, 0).is_ok());
    }

    #[test]
    fn off_means_never_braked() {
        let b = FailureBrake::new(None);
        for _ in 0..1_000 {
            drop(b.reserve_at(ip("203.0.113.7"), 0).unwrap());
        }
    }
}
