//! Deployment health: the cooldown state machine and the seam it is stored behind.
//!
//! A deployment is **healthy** until a call to it fails in a way that says the
//! deployment (not the request) is the problem: 429, 5xx, connect error, timeout.
//! Then it is **cooling** for `[routing] cooldown_secs` (longer when the provider's
//! `Retry-After` asks for more): routing skips it while another deployment can
//! serve. When the cooldown ends it is **half-open**: exactly one request (the probe)
//! may use it; the probe's success makes it healthy again, its failure cools it
//! again. A probe that never reports (its caller went away) frees the slot after
//! [`PROBE_LEASE_MS`], so a deployment cannot stay stuck half-open.
//!
//! Times are unix milliseconds passed in by the caller (`now_ms`), never read
//! here, so the state machine is tested by stepping time, and the shared store
//! (distributed mode) uses the same timestamps across instances. The in-process
//! store is [`LocalCooldowns`]; with `[redis]` it is
//! [`SharedCooldowns`](super::shared_cooldown::SharedCooldowns): one Redis hash per
//! deployment, the transitions as Lua scripts (claiming the probe is a
//! compare-and-set), every change published to all instances, each of which keeps
//! a [`LocalCooldowns`] as its mirror. Reads (`availability`, `view`) never leave
//! the process; only the transitions of a failing deployment await Redis (the
//! trait's two async methods).

use std::collections::HashMap;

/// Looked up twice per request, filled only from the config's deployments, so
/// no caller can grow a collision chain: foldhash instead of SipHash (as in
/// `catalog`; bench/RESULTS.md).
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use parking_lot::Mutex;

use crate::cluster::SharedHealth;
use crate::domain::ProviderKind;

/// How long a claimed probe holds the half-open slot before another request may
/// take it: longer than any sane first byte, short enough that a lost probe does
/// not keep a recovered deployment out for long.
pub const PROBE_LEASE_MS: u64 = 30_000;

/// How many recent outcomes the error rate is computed over.
pub const RECENT_WINDOW: u32 = 64;

/// One deployment: its provider and its index in `ProviderConfig::deployments`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeploymentId {
    pub provider: ProviderKind,
    pub index: usize,
}

/// Whether a deployment may take a request now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    Healthy,
    /// Skipped until this time (unix ms).
    Cooling {
        until_ms: u64,
    },
    /// The cooldown is over; one probe may go (claim it first).
    HalfOpen,
    /// The cooldown is over and another request holds the probe.
    Probing,
}

/// What `/admin/providers` shows of a deployment's health.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HealthView {
    pub availability: Availability,
    /// When the current (or last) cooldown ends, unix ms; `None` if it never cooled.
    pub cooled_until_ms: Option<u64>,
    /// Failed share of the last [`RECENT_WINDOW`] calls (0 with none).
    pub recent_error_rate: f64,
    pub recent_calls: u32,
    /// Times it entered cooldown since start.
    pub cooldowns: u64,
}

/// Where deployment health lives: per process ([`LocalCooldowns`]) or, in
/// distributed mode, shared (module doc). The sync methods are cheap and do no
/// I/O in either store (a success is the hot path); the async ones are the
/// transitions a shared store must decide in one place.
pub trait CooldownStore: Send + Sync {
    fn availability(&self, id: DeploymentId, now_ms: u64) -> Availability;
    /// Takes the half-open probe slot; `false` when another request (on any
    /// instance) holds it or the deployment is not half-open.
    fn claim_probe(&self, id: DeploymentId, now_ms: u64) -> BoxFuture<'_, bool>;
    fn record_success(&self, id: DeploymentId);
    /// Records a failure that cools the deployment until `until_ms`. Resolves to
    /// `true` when this started a cooldown (it was not cooling already).
    fn record_cooling_failure(
        &self,
        id: DeploymentId,
        now_ms: u64,
        until_ms: u64,
    ) -> BoxFuture<'_, bool>;
    /// Records a failure that says nothing about the deployment's health (e.g. a
    /// 400 for this request's body): counted in the error rate only.
    fn record_other_failure(&self, id: DeploymentId);
    fn view(&self, id: DeploymentId, now_ms: u64) -> HealthView;
}

#[derive(Debug, Default, Clone, Copy)]
struct Health {
    /// The shared state's version this mirrors (distributed mode; 0 otherwise).
    version: u64,
    cooled_until_ms: Option<u64>,
    /// A probe holds the half-open slot until this time.
    probe_until_ms: u64,
    /// Whether the deployment is out of rotation (cooling or half-open) until a
    /// success.
    tripped: bool,
    /// Last outcomes, newest in bit 0; 1 = failure.
    outcomes: u64,
    calls: u32,
    cooldowns: u64,
}

impl Health {
    fn availability(&self, now_ms: u64) -> Availability {
        match self.cooled_until_ms {
            _ if !self.tripped => Availability::Healthy,
            Some(until_ms) if now_ms < until_ms => Availability::Cooling { until_ms },
            _ if now_ms < self.probe_until_ms => Availability::Probing,
            _ => Availability::HalfOpen,
        }
    }

    fn push(&mut self, failed: bool) {
        self.outcomes = (self.outcomes << 1) | u64::from(failed);
        self.calls = (self.calls + 1).min(RECENT_WINDOW);
    }

    fn error_rate(&self) -> f64 {
        if self.calls == 0 {
            return 0.0;
        }
        let mask = if self.calls >= 64 {
            u64::MAX
        } else {
            (1u64 << self.calls) - 1
        };
        f64::from((self.outcomes & mask).count_ones()) / f64::from(self.calls)
    }
}

/// The in-process store: one short lock per deployment, never held across an
/// await (each method is a few field updates).
#[derive(Default)]
pub struct LocalCooldowns {
    health: FastMap<DeploymentId, Mutex<Health>>,
}

impl LocalCooldowns {
    /// A store for exactly these deployments (unknown ids read as healthy).
    pub fn new(ids: impl IntoIterator<Item = DeploymentId>) -> Arc<Self> {
        Arc::new(LocalCooldowns {
            health: ids
                .into_iter()
                .map(|id| (id, Mutex::new(Health::default())))
                .collect(),
        })
    }

    fn with<R>(&self, id: DeploymentId, default: R, f: impl FnOnce(&mut Health) -> R) -> R {
        match self.health.get(&id) {
            Some(h) => f(&mut h.lock()),
            None => default,
        }
    }

    /// The shared part of `id`'s health as this process last saw it: whether it
    /// is tripped, and how many cooldowns it has entered.
    pub fn tripped(&self, id: DeploymentId) -> Option<u64> {
        self.with(id, None, |h| h.tripped.then_some(h.cooldowns))
    }

    /// Takes on `shared` (the state Redis holds) unless this mirror already saw
    /// a newer version. The recent outcomes stay this process's own.
    pub fn adopt(&self, id: DeploymentId, shared: &SharedHealth) {
        self.with(id, (), |h| {
            if shared.version < h.version {
                return;
            }
            h.version = shared.version;
            h.tripped = shared.tripped;
            h.cooled_until_ms = (shared.cooled_until_ms > 0).then_some(shared.cooled_until_ms);
            h.probe_until_ms = shared.probe_until_ms;
            h.cooldowns = shared.cooldowns;
        });
    }

    /// The in-process probe claim (see [`CooldownStore::claim_probe`]).
    pub fn claim_probe_now(&self, id: DeploymentId, now_ms: u64) -> bool {
        self.with(id, false, |h| {
            if h.availability(now_ms) != Availability::HalfOpen {
                return false;
            }
            h.probe_until_ms = now_ms.saturating_add(PROBE_LEASE_MS);
            true
        })
    }

    /// The in-process cooling failure (see [`CooldownStore::record_cooling_failure`]).
    pub fn cool_now(&self, id: DeploymentId, now_ms: u64, until_ms: u64) -> bool {
        self.with(id, false, |h| {
            h.push(true);
            let was_cooling = matches!(h.availability(now_ms), Availability::Cooling { .. });
            h.tripped = true;
            h.probe_until_ms = 0;
            let until_ms = until_ms.max(now_ms);
            if was_cooling {
                h.cooled_until_ms = h.cooled_until_ms.map(|u| u.max(until_ms));
                return false;
            }
            h.cooled_until_ms = Some(until_ms);
            h.cooldowns += 1;
            true
        })
    }
}

impl CooldownStore for LocalCooldowns {
    fn availability(&self, id: DeploymentId, now_ms: u64) -> Availability {
        self.with(id, Availability::Healthy, |h| h.availability(now_ms))
    }

    fn claim_probe(&self, id: DeploymentId, now_ms: u64) -> BoxFuture<'_, bool> {
        Box::pin(std::future::ready(self.claim_probe_now(id, now_ms)))
    }

    fn record_success(&self, id: DeploymentId) {
        self.with(id, (), |h| {
            h.push(false);
            h.tripped = false;
            h.probe_until_ms = 0;
        });
    }

    fn record_cooling_failure(
        &self,
        id: DeploymentId,
        now_ms: u64,
        until_ms: u64,
    ) -> BoxFuture<'_, bool> {
        Box::pin(std::future::ready(self.cool_now(id, now_ms, until_ms)))
    }

    fn record_other_failure(&self, id: DeploymentId) {
        self.with(id, (), |h| h.push(true));
    }

    fn view(&self, id: DeploymentId, now_ms: u64) -> HealthView {
        let h = self.with(id, Health::default(), |h| *h);
        HealthView {
            availability: h.availability(now_ms),
            cooled_until_ms: h.cooled_until_ms,
            recent_error_rate: h.error_rate(),
            recent_calls: h.calls,
            cooldowns: h.cooldowns,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: DeploymentId = DeploymentId {
        provider: ProviderKind::OpenAi,
        index: 0,
    };

    #[test]
    fn cools_then_half_opens_for_one_probe() {
        let s = LocalCooldowns::new([A]);
        assert_eq!(s.availability(A, 1_000), Availability::Healthy);
        assert!(s.cool_now(A, 1_000, 31_000));
        assert_eq!(
            s.availability(A, 30_999),
            Availability::Cooling { until_ms: 31_000 }
        );
        // Another failure while cooling does not count a new cooldown.
        assert!(!s.cool_now(A, 2_000, 32_000));
        assert_eq!(s.view(A, 2_000).cooldowns, 1);
        assert_eq!(s.availability(A, 32_000), Availability::HalfOpen);
        assert!(s.claim_probe_now(A, 32_000));
        assert!(!s.claim_probe_now(A, 32_001), "one probe at a time");
        assert_eq!(s.availability(A, 32_001), Availability::Probing);
        s.record_success(A);
        assert_eq!(s.availability(A, 32_002), Availability::Healthy);
    }

    #[test]
    fn failed_probe_cools_again_and_lost_probe_expires() {
        let s = LocalCooldowns::new([A]);
        s.cool_now(A, 0, 10);
        assert!(s.claim_probe_now(A, 10));
        assert!(s.cool_now(A, 20, 40), "a failed probe cools again");
        assert_eq!(s.view(A, 20).cooldowns, 2);
        assert!(s.claim_probe_now(A, 40));
        // The probe never reports: after the lease another request may probe.
        assert!(!s.claim_probe_now(A, 40 + PROBE_LEASE_MS - 1));
        assert!(s.claim_probe_now(A, 40 + PROBE_LEASE_MS));
    }

    #[test]
    fn error_rate_covers_recent_calls() {
        let s = LocalCooldowns::new([A]);
        assert_eq!(s.view(A, 0).recent_error_rate, 0.0);
        s.record_success(A);
        s.record_other_failure(A);
        s.record_success(A);
        s.cool_now(A, 0, 1);
        let v = s.view(A, 0);
        assert_eq!(v.recent_calls, 4);
        assert!((v.recent_error_rate - 0.5).abs() < 1e-9);
        for _ in 0..100 {
            s.record_success(A);
        }
        assert_eq!(s.view(A, 0).recent_error_rate, 0.0);
        assert_eq!(s.view(A, 0).recent_calls, RECENT_WINDOW);
    }
}
