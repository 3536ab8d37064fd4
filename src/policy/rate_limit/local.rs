//! In-process rate limiting: one [`GcraState`] per key id, in a bounded registry.
//!
//! Used when no Redis is configured (one instance), and as the model the Redis
//! variant must agree with. Entries live in a `moka::sync::Cache` keyed by kid: its
//! reads are lock-free and allocate nothing, and it forgets keys that go idle.
//!
//! # Forgetting idle keys grants nothing
//!
//! An entry is evicted after going unread for at least `max(1 day, refill time +
//! 1 min)` and at most twice that. The refill time is `burst × period / requests`,
//! at most a day unless burst exceeds a day's worth of requests. The last allowed
//! request set `TAT ≤ its now + refill time` (that is the allow condition), and
//! denials never move the TAT; so once the entry has been idle for the refill time,
//! `TAT ≤ now` and the state decides exactly like a fresh one (see
//! `idle_for_the_refill_time_equals_a_fresh_state` in `gcra.rs`). Recreating it on the
//! next request therefore allows nothing extra. The minute of slack covers the gap
//! between our clock read and moka's. A caller holding an entry it just read is safe
//! too: after any read at least the minimum is left before expiry.
//!
//! Memory is thus bounded by the keys that made a request in the last day or two (a
//! few hundred bytes each: key, state and moka's bookkeeping). No entry-count cap:
//! evicting a *busy* key to make room would hand it a fresh burst. Callers must pass
//! only authenticated kids, so the key space is the keys that exist.
//!
//! # Cost
//!
//! A hit is one lock-free moka lookup, one `Arc` clone and the GCRA compare-exchange:
//! no lock held and no allocation. Measured ≈ 200 ns per `check` on one key and
//! ≈ 330 ns round-robin over 10,000 keys (release build, x86-64, one thread). Of that,
//! `Instant::now` is ≈ 25 ns and GCRA ≈ 7 ns; the rest is moka's lookup bookkeeping
//! (≈ 125 ns for a bare `get`, ≈ 40 ns more for the per-entry expiry). A miss (first
//! request of a key, or a changed quota) allocates the entry once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::ops::compute::{CompResult, Op};
use moka::sync::Cache;

use super::gcra::{Decision, GcraState, Quota};

/// Keys idle this long are forgotten, unless their bucket takes longer to refill.
pub const IDLE_EVICTION: Duration = Duration::from_secs(86_400);
/// Covers the difference between our clock reading and moka's own.
const CLOCK_SLACK: Duration = Duration::from_secs(60);

/// Per-key GCRA limiter for one process.
pub struct LocalRateLimiter {
    epoch: Instant,
    buckets: Cache<Arc<str>, Arc<Bucket>>,
}

/// One key's state and the quota it was created with.
#[derive(Debug)]
struct Bucket {
    quota: Quota,
    /// Minimum time kept after the last read; precomputed, moka asks on every read.
    idle_eviction: Duration,
    state: GcraState,
}

impl Bucket {
    fn new(quota: Quota) -> Self {
        Bucket {
            quota,
            idle_eviction: idle_eviction(&quota),
            state: GcraState::new(),
        }
    }
}

/// How long an entry with this quota is kept, at least, after its last read.
fn idle_eviction(quota: &Quota) -> Duration {
    IDLE_EVICTION.max(quota.refill_time().saturating_add(CLOCK_SLACK))
}

/// Time-to-idle per entry, at least the bucket's `idle_eviction` after any access.
///
/// Entries are armed for twice that and re-armed on a read only once less than
/// `idle_eviction` is left: returning moka's current duration unchanged spares it a
/// timer update, which measured ≈ 60 ns of every read. An entry thus goes between one
/// and two `idle_eviction`s after its last read.
struct IdleEviction;

impl Expiry<Arc<str>, Arc<Bucket>> for IdleEviction {
    fn expire_after_create(
        &self,
        _kid: &Arc<str>,
        bucket: &Arc<Bucket>,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(bucket.idle_eviction.saturating_mul(2))
    }

    fn expire_after_read(
        &self,
        _kid: &Arc<str>,
        bucket: &Arc<Bucket>,
        _read_at: Instant,
        until_expiry: Option<Duration>,
        _last_modified_at: Instant,
    ) -> Option<Duration> {
        match until_expiry {
            Some(left) if left >= bucket.idle_eviction => Some(left),
            _ => Some(bucket.idle_eviction.saturating_mul(2)),
        }
    }

    fn expire_after_update(
        &self,
        _kid: &Arc<str>,
        bucket: &Arc<Bucket>,
        _updated_at: Instant,
        _until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        Some(bucket.idle_eviction.saturating_mul(2))
    }
}

impl Default for LocalRateLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for LocalRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalRateLimiter")
            .field("keys", &self.buckets.entry_count())
            .finish_non_exhaustive()
    }
}

impl LocalRateLimiter {
    /// An empty limiter whose clock starts now.
    pub fn new() -> Self {
        LocalRateLimiter {
            epoch: Instant::now(),
            buckets: Cache::builder().expire_after(IdleEviction).build(),
        }
    }

    /// Counts one request of `kid` against `quota` at the current time.
    pub fn check(&self, kid: &str, quota: &Quota) -> Decision {
        self.check_at(kid, quota, self.epoch.elapsed())
    }

    /// Like [`check`](Self::check) at `now` since this limiter's creation. For tests;
    /// `now` must come from the same clock as moka's for the eviction argument to hold.
    ///
    /// If `quota` differs from the one the key's state was created with (the key was
    /// edited), the key starts over with a full bucket under the new quota.
    pub fn check_at(&self, kid: &str, quota: &Quota, now: Duration) -> Decision {
        // 584 years of uptime before this saturates.
        let now_ns = u64::try_from(now.as_nanos()).unwrap_or(u64::MAX);
        self.bucket(kid, quota).state.check(quota, now_ns)
    }

    /// How many keys are currently tracked (approximate: moka updates it lazily).
    pub fn tracked_keys(&self) -> u64 {
        self.buckets.entry_count()
    }

    fn bucket(&self, kid: &str, quota: &Quota) -> Arc<Bucket> {
        if let Some(bucket) = self.buckets.get(kid)
            && bucket.quota == *quota
        {
            return bucket;
        }
        // Slow path: first request of this key, or its quota changed. The compute
        // runs under moka's per-key lock, so concurrent first requests share one
        // state instead of each getting a fresh burst.
        //
        // While an edit propagates (old and new quota both in flight for about one key
        // cache refresh) the two may replace each other's state a few times, each time
        // with a full bucket. Accepted: edits are rare and the window is short.
        let fresh = Arc::new(Bucket::new(*quota));
        let result =
            self.buckets
                .entry(Arc::from(kid))
                .and_compute_with(|existing| match existing {
                    Some(entry) if entry.value().quota == *quota => Op::Nop,
                    _ => Op::Put(Arc::clone(&fresh)),
                });
        match result {
            CompResult::Unchanged(entry) => entry.into_value(),
            // Inserted or replaced: ours. (`StillNone`/`Removed` cannot follow from
            // `Put`/`Nop` on an existing entry.)
            _ => fresh,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::rate_limit::Period;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn quota(requests: u32, period: Period, burst: u32) -> Quota {
        Quota {
            requests,
            period,
            burst,
        }
    }

    #[test]
    fn keys_are_independent() {
        let limiter = LocalRateLimiter::new();
        let q = quota(2, Period::Minute, 2);
        let t0 = Duration::from_secs(1);
        assert!(limiter.check_at("kidA", &q, t0).allowed);
        assert!(limiter.check_at("kidA", &q, t0).allowed);
        assert!(!limiter.check_at("kidA", &q, t0).allowed);
        let d = limiter.check_at("kidB", &q, t0);
        assert!(d.allowed);
        assert_eq!(d.remaining, 1);
        // Time steps, no sleeping: one more for A after 30 s.
        assert!(
            limiter
                .check_at("kidA", &q, t0 + Duration::from_secs(30))
                .allowed
        );
    }

    #[test]
    fn changed_quota_starts_a_fresh_state() {
        let limiter = LocalRateLimiter::new();
        let old = quota(1, Period::Hour, 1);
        let t = Duration::from_secs(5);
        assert!(limiter.check_at("kid", &old, t).allowed);
        assert!(!limiter.check_at("kid", &old, t).allowed);

        let new = quota(3, Period::Hour, 3);
        let d = limiter.check_at("kid", &new, t);
        assert!(d.allowed);
        assert_eq!(d.remaining, 2);
        assert_eq!(d.limit, 3);
        // And the new state is kept for later requests.
        assert_eq!(limiter.check_at("kid", &new, t).remaining, 1);
    }

    #[test]
    fn first_requests_racing_share_one_state() {
        let limiter = LocalRateLimiter::new();
        let q = quota(100, Period::Minute, 100);
        let now = Duration::from_secs(7);
        let allowed = AtomicU32::new(0);
        let start = std::sync::Barrier::new(16);
        std::thread::scope(|scope| {
            for _ in 0..16 {
                scope.spawn(|| {
                    start.wait();
                    for _ in 0..50 {
                        if limiter.check_at("hot", &q, now).allowed {
                            allowed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        assert_eq!(allowed.into_inner(), 100);
    }

    #[test]
    fn real_clock_check_counts() {
        let limiter = LocalRateLimiter::new();
        let q = quota(1, Period::Day, 1);
        assert!(limiter.check("kid", &q).allowed);
        let d = limiter.check("kid", &q);
        assert!(!d.allowed);
        assert!(d.retry_after > Duration::from_secs(86_000));
    }

    #[test]
    fn reads_rearm_only_when_less_than_the_minimum_is_left() {
        let bucket = Arc::new(Bucket::new(quota(10, Period::Hour, 10)));
        let kid: Arc<str> = Arc::from("kid");
        let now = Instant::now();
        let twice = IDLE_EVICTION * 2;
        assert_eq!(
            IdleEviction.expire_after_create(&kid, &bucket, now),
            Some(twice)
        );
        let plenty = Some(IDLE_EVICTION + Duration::from_secs(1));
        assert_eq!(
            IdleEviction.expire_after_read(&kid, &bucket, now, plenty, now),
            plenty
        );
        let short = Some(IDLE_EVICTION - Duration::from_secs(1));
        assert_eq!(
            IdleEviction.expire_after_read(&kid, &bucket, now, short, now),
            Some(twice)
        );
        assert_eq!(
            IdleEviction.expire_after_update(&kid, &bucket, now, short),
            Some(twice)
        );
    }

    #[test]
    fn idle_eviction_covers_the_refill_time() {
        // Typical quotas refill within a day: forget after a day.
        assert_eq!(idle_eviction(&quota(10, Period::Hour, 10)), IDLE_EVICTION);
        assert_eq!(idle_eviction(&quota(2, Period::Day, 1)), IDLE_EVICTION);
        // A whole day's worth of burst: a day plus the clock slack.
        assert_eq!(
            idle_eviction(&quota(1, Period::Day, 1)),
            IDLE_EVICTION + CLOCK_SLACK
        );
        // A burst of 3 days' worth must be remembered for at least 3 days.
        let long = quota(1, Period::Day, 3);
        assert!(idle_eviction(&long) >= long.refill_time());
        assert_eq!(
            idle_eviction(&long),
            Duration::from_secs(3 * 86_400) + CLOCK_SLACK
        );
    }
}
