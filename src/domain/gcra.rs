//! GCRA (generic cell rate algorithm): a token bucket kept as one timestamp.
//!
//! A [`Quota`] of `requests` per `period` with `burst` is a bucket of `burst` tokens
//! refilled at `requests / period`. GCRA stores only the *theoretical arrival time*
//! (TAT): the instant at which the bucket will be full again. That fits in one
//! `AtomicU64`, so a check is a load and a compare-exchange: no lock, no allocation.
//!
//! # The math
//!
//! All times are nanoseconds since the limiter's own monotonic epoch.
//!
//! ```text
//! T = ⌈period / requests⌉     emission interval: what one request costs in time
//! C = burst · T               capacity: how far ahead of `now` the TAT may run
//! TAT ≤ now                   the bucket is full (a fresh state has TAT = 0)
//!
//! a request at `now`:
//!   new = max(TAT, now) + T
//!   allowed  ⇔  new − now ≤ C         and then TAT ← new
//!
//!                  allowed                 denied (TAT unchanged)
//!   remaining      ⌊(C − (new − now)) / T⌋  0
//!   reset_after    new − now               TAT − now
//!   retry_after    0                       TAT + T − C − now
//! ```
//!
//! `TAT − now` is the debt: how many requests' worth of time (in units of `T`) the
//! bucket is short. A request is allowed if, after paying `T`, the debt is at most the
//! capacity. `retry_after` solves `TAT + T − t ≤ C` for the earliest `t` (a denial
//! implies `TAT > now`, because with `TAT ≤ now` the debt after paying is `T ≤ C`).
//! `{requests: 10, period: hour, burst: 10}` thus allows 10 at once, then one every
//! 6 minutes; after 60 idle minutes all 10 are back.
//!
//! Denied requests do not move the TAT: a client hammering while limited does not
//! extend its own lockout, and a denial costs no write.
//!
//! `T` is rounded *up* to a whole nanosecond, so we never allow more than the quota.
//! The error is under 1 ns per request: a relative under-grant below `1 / T`, i.e.
//! below one in a million for any rate up to 1,000 per second.
//!
//! # Cost
//!
//! One relaxed load, two divisions and one compare-exchange (retried only when
//! another thread updated the same key in between). Measured ≈ 7 ns allowed, ≈ 4 ns
//! denied (release build, x86-64, one thread); see `local.rs` for the cost with the
//! per-key lookup, which dominates.
//!
//! This module must stay free of clocks and I/O: `now` is always an argument, so the
//! tests step time instead of sleeping and the Redis variant can share the math.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The longest time a full bucket may take to refill (`burst × period / requests`).
///
/// Not a technical limit (the arithmetic saturates safely); it turns a typo like
/// `burst = 1000000` on a per-day quota into an error at start instead of a key that
/// is effectively unlimited.
pub const MAX_REFILL: Duration = Duration::from_secs(365 * 86_400);

/// The window a quota's `requests` are counted over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    Second,
    Minute,
    Hour,
    Day,
}

impl Period {
    pub const ALL: [Period; 4] = [Period::Second, Period::Minute, Period::Hour, Period::Day];

    pub const fn as_duration(self) -> Duration {
        Duration::from_secs(self.as_secs())
    }

    pub const fn as_secs(self) -> u64 {
        match self {
            Period::Second => 1,
            Period::Minute => 60,
            Period::Hour => 3_600,
            Period::Day => 86_400,
        }
    }

    const fn as_nanos(self) -> u64 {
        self.as_secs() * 1_000_000_000
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Period::Second => "second",
            Period::Minute => "minute",
            Period::Hour => "hour",
            Period::Day => "day",
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A period name that is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown rate limit period `{0}`; use one of second, minute, hour, day")]
pub struct ParsePeriodError(pub String);

impl FromStr for Period {
    type Err = ParsePeriodError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "second" => Ok(Period::Second),
            "minute" => Ok(Period::Minute),
            "hour" => Ok(Period::Hour),
            "day" => Ok(Period::Day),
            _ => Err(ParsePeriodError(s.to_owned())),
        }
    }
}

/// Sustained rate `requests` per `period`; up to `burst` requests may arrive at once.
///
/// Deserializing does not validate; call [`Quota::validate`] where the quota enters
/// (config load, key creation). [`GcraState::check`] never panics on an invalid quota:
/// it treats `requests = 0` and `burst = 0` as 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Quota {
    pub requests: u32,
    pub period: Period,
    pub burst: u32,
}

/// Why a [`Quota`] cannot be used. The caller adds where it came from (file, key id).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuotaError {
    #[error(
        "requests = 0: a rate limit must allow at least 1 request per period; to block a key, revoke it instead"
    )]
    ZeroRequests,
    #[error(
        "burst = 0: nothing could ever be allowed; set burst to at least 1 (burst = requests lets a whole period's worth arrive at once)"
    )]
    ZeroBurst,
    #[error(
        "burst = {burst} at {requests} per {period} takes {refill_days} days to refill, more than the 365-day maximum; lower burst or raise requests"
    )]
    RefillTooLong {
        requests: u32,
        period: Period,
        burst: u32,
        refill_days: u64,
    },
}

impl Quota {
    pub fn validate(&self) -> Result<(), QuotaError> {
        if self.requests == 0 {
            return Err(QuotaError::ZeroRequests);
        }
        if self.burst == 0 {
            return Err(QuotaError::ZeroBurst);
        }
        let refill = self.refill_time();
        if refill > MAX_REFILL {
            return Err(QuotaError::RefillTooLong {
                requests: self.requests,
                period: self.period,
                burst: self.burst,
                refill_days: refill.as_secs() / 86_400,
            });
        }
        Ok(())
    }

    /// How long an emptied bucket takes to become full again: `burst × T`.
    ///
    /// A state untouched for this long is indistinguishable from a fresh one, which is
    /// what lets the per-key registry forget idle keys.
    pub fn refill_time(&self) -> Duration {
        Duration::from_nanos(Params::of(self).capacity_ns)
    }

    /// The time one request costs: `⌈period / requests⌉`.
    pub fn emission_interval(&self) -> Duration {
        Duration::from_nanos(Params::of(self).emission_ns)
    }
}

/// `T` and `C` from the module docs, in nanoseconds.
#[derive(Debug, Clone, Copy)]
struct Params {
    emission_ns: u64,
    capacity_ns: u64,
}

impl Params {
    fn of(quota: &Quota) -> Self {
        let requests = u64::from(quota.requests.max(1));
        let burst = u64::from(quota.burst.max(1));
        // Rounded up: see "The math". Always ≥ 1 ns, so time always advances.
        let emission_ns = quota.period.as_nanos().div_ceil(requests);
        Params {
            emission_ns,
            // Saturates only for quotas `validate` rejects (refill beyond ~584 years);
            // such a key is then effectively unlimited rather than a panic.
            capacity_ns: emission_ns.saturating_mul(burst),
        }
    }
}

/// The outcome of one check, with what the `X-RateLimit-*` headers and the 429 body
/// need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// `quota.requests`.
    pub limit: u32,
    /// Requests that would still be allowed right now after this one (0 when denied).
    pub remaining: u32,
    /// Time until the bucket is completely full again.
    pub reset_after: Duration,
    /// When denied, time until the next request would be allowed; zero when allowed.
    pub retry_after: Duration,
}

impl Decision {
    /// The wall-clock instant the bucket is full again, given the wall clock now.
    pub fn reset_at(&self, now: SystemTime) -> SystemTime {
        // Overflow would need a clock near the end of SystemTime's range; stay at now
        // rather than panic.
        now.checked_add(self.reset_after).unwrap_or(now)
    }

    /// `X-RateLimit-Reset`: [`reset_at`](Self::reset_at) in unix seconds, rounded up
    /// so a client that waits until then is never early.
    pub fn reset_unix_secs(&self, now: SystemTime) -> u64 {
        let since_epoch = self
            .reset_at(now)
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        ceil_secs(since_epoch)
    }

    /// `resetTime` in the 429 body: the same whole second as
    /// [`reset_unix_secs`](Self::reset_unix_secs), in UTC. Serialize it with
    /// `time::serde::rfc3339` (or format with `well_known::Rfc3339`).
    pub fn reset_time(&self, now: SystemTime) -> OffsetDateTime {
        let secs = i64::try_from(self.reset_unix_secs(now)).unwrap_or(i64::MAX);
        // Out of range only past year 9999, which a reset at most ~584 years ahead
        // cannot reach; saturate instead of panicking anyway.
        OffsetDateTime::from_unix_timestamp(secs)
            .unwrap_or(time::PrimitiveDateTime::MAX.assume_utc())
    }

    /// `Retry-After` in whole seconds, rounded up: a client told `0` while still
    /// limited would retry at once and be denied again.
    pub fn retry_after_secs(&self) -> u64 {
        ceil_secs(self.retry_after)
    }
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// The GCRA state of one key: its TAT in nanoseconds since the owner's epoch.
///
/// The owner (e.g. [`LocalRateLimiter`](crate::policy::rate_limit::LocalRateLimiter)) supplies `now`
/// from one monotonic clock; times from different clocks must not be mixed.
#[derive(Debug, Default)]
pub struct GcraState {
    tat_ns: AtomicU64,
}

impl GcraState {
    /// A full bucket.
    pub const fn new() -> Self {
        GcraState {
            tat_ns: AtomicU64::new(0),
        }
    }

    /// Counts one request at `now_ns` against `quota`, if the quota allows it.
    ///
    /// Lock-free and exact under concurrency: with a fixed `now` and `burst = L`,
    /// exactly `L` of any number of concurrent callers are allowed. Every successful
    /// compare-exchange advances the TAT by `T` from the exact value it read, so the
    /// successes form one chain `now + T, now + 2T, …` and the `k`-th is allowed only
    /// if `k·T ≤ L·T`.
    ///
    /// `Relaxed` is enough: the TAT is the only shared datum and nothing else is
    /// published through it, and read-modify-write operations on one atomic are
    /// totally ordered whatever the ordering argument.
    ///
    /// A `now` older than another caller's (a thread delayed between reading the clock
    /// and calling this) only makes its own check stricter, never looser.
    pub fn check(&self, quota: &Quota, now_ns: u64) -> Decision {
        let Params {
            emission_ns: t,
            capacity_ns: c,
        } = Params::of(quota);
        let denied = |tat: u64| Decision {
            allowed: false,
            limit: quota.requests,
            remaining: 0,
            reset_after: Duration::from_nanos(tat.saturating_sub(now_ns)),
            retry_after: Duration::from_nanos(
                tat.saturating_add(t)
                    .saturating_sub(c)
                    .saturating_sub(now_ns),
            ),
        };

        let mut tat = self.tat_ns.load(Ordering::Relaxed);
        loop {
            let new_tat = tat.max(now_ns).saturating_add(t);
            let debt = new_tat - now_ns; // new_tat ≥ now_ns + t > now_ns
            if debt > c {
                return denied(tat);
            }
            match self.tat_ns.compare_exchange_weak(
                tat,
                new_tat,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    return Decision {
                        allowed: true,
                        limit: quota.requests,
                        // ≤ burst − 1, so it fits; saturate rather than truncate anyway.
                        remaining: u32::try_from((c - debt) / t).unwrap_or(u32::MAX),
                        reset_after: Duration::from_nanos(debt),
                        retry_after: Duration::ZERO,
                    };
                }
                Err(current) => tat = current,
            }
        }
    }

    /// Gives back one allowed request's cost `T` (a reservation that turned out not
    /// to count, e.g. an auth lookup that found a valid key). Never makes the bucket
    /// fuller than full: a TAT moved below `now` means full, whatever its value.
    pub fn refund(&self, quota: &Quota) {
        let t = Params::of(quota).emission_ns;
        // `fetch_update` with a closure that always returns `Some` cannot fail.
        let _ = self
            .tat_ns
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |tat| {
                Some(tat.saturating_sub(t))
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SEC: u64 = 1_000_000_000;
    const MIN: u64 = 60 * SEC;

    fn quota(requests: u32, period: Period, burst: u32) -> Quota {
        Quota {
            requests,
            period,
            burst,
        }
    }

    #[test]
    fn a_refund_gives_back_exactly_one_request() {
        let q = quota(3, Period::Minute, 3);
        let s = GcraState::new();
        for _ in 0..3 {
            assert!(s.check(&q, 0).allowed);
        }
        assert!(!s.check(&q, 0).allowed);
        s.refund(&q);
        assert!(s.check(&q, 0).allowed);
        assert!(!s.check(&q, 0).allowed);
        // Refunds on a full bucket do not bank extra requests.
        let fresh = GcraState::new();
        fresh.refund(&q);
        fresh.refund(&q);
        for _ in 0..3 {
            assert!(fresh.check(&q, 10 * SEC).allowed);
        }
        assert!(!fresh.check(&q, 10 * SEC).allowed);
    }

    #[test]
    fn ten_per_hour_allows_ten_then_one_every_six_minutes() {
        let q = quota(10, Period::Hour, 10);
        let s = GcraState::new();
        for i in 0..10 {
            let d = s.check(&q, 0);
            assert!(d.allowed, "request {i}");
            assert_eq!(d.limit, 10);
            assert_eq!(d.remaining, 9 - i);
            assert_eq!(
                d.reset_after,
                Duration::from_secs(6 * 60 * (u64::from(i) + 1))
            );
            assert_eq!(d.retry_after, Duration::ZERO);
        }
        let d = s.check(&q, 0);
        assert_eq!(
            d,
            Decision {
                allowed: false,
                limit: 10,
                remaining: 0,
                reset_after: Duration::from_secs(3_600),
                retry_after: Duration::from_secs(360),
            }
        );
        // One nanosecond early is still too early.
        assert!(!s.check(&q, 6 * MIN - 1).allowed);
        let d = s.check(&q, 6 * MIN);
        assert!(d.allowed);
        assert_eq!(d.remaining, 0);
        assert_eq!(d.reset_after, Duration::from_secs(3_600));
        let d = s.check(&q, 6 * MIN);
        assert!(!d.allowed);
        assert_eq!(d.retry_after, Duration::from_secs(360));
    }

    #[test]
    fn stepping_one_emission_interval_allows_exactly_one_more() {
        for q in [
            quota(7, Period::Second, 3),
            quota(100, Period::Minute, 100),
            quota(3, Period::Day, 1),
        ] {
            let t = q.emission_interval().as_nanos() as u64;
            let s = GcraState::new();
            let mut now = 5 * SEC;
            while s.check(&q, now).allowed {}
            for _ in 0..20 {
                now += t;
                assert!(s.check(&q, now).allowed, "{q:?} at {now}");
                assert!(!s.check(&q, now).allowed, "{q:?} at {now}");
            }
        }
    }

    #[test]
    fn burst_smaller_than_requests() {
        // 10 per minute, but only 2 at once: then one every 6 s.
        let q = quota(10, Period::Minute, 2);
        let s = GcraState::new();
        assert_eq!(s.check(&q, 0).remaining, 1);
        assert_eq!(s.check(&q, 0).remaining, 0);
        let d = s.check(&q, 0);
        assert!(!d.allowed);
        assert_eq!(d.retry_after, Duration::from_secs(6));
        assert_eq!(d.reset_after, Duration::from_secs(12));
        assert!(s.check(&q, 6 * SEC).allowed);
        assert!(!s.check(&q, 6 * SEC).allowed);
        // Idle for the whole refill time: both back.
        assert_eq!(s.check(&q, 18 * SEC).remaining, 1);
    }

    #[test]
    fn burst_larger_than_requests() {
        let q = quota(1, Period::Second, 5);
        let s = GcraState::new();
        for _ in 0..5 {
            assert!(s.check(&q, 0).allowed);
        }
        let d = s.check(&q, 0);
        assert!(!d.allowed);
        assert_eq!(d.retry_after, Duration::from_secs(1));
        assert_eq!(d.reset_after, Duration::from_secs(5));
    }

    #[test]
    fn period_day() {
        let q = quota(1, Period::Day, 1);
        let day = 86_400 * SEC;
        let s = GcraState::new();
        let start = 3 * day + 17;
        assert!(s.check(&q, start).allowed);
        let d = s.check(&q, start + 1);
        assert!(!d.allowed);
        assert_eq!(d.retry_after, Duration::from_nanos(day - 1));
        assert!(!s.check(&q, start + day - 1).allowed);
        assert!(s.check(&q, start + day).allowed);
    }

    #[test]
    fn denials_do_not_extend_the_lockout() {
        let q = quota(1, Period::Second, 1);
        let s = GcraState::new();
        assert!(s.check(&q, 0).allowed);
        for i in 1..1_000 {
            assert!(!s.check(&q, i * 1_000).allowed);
        }
        assert!(s.check(&q, SEC).allowed);
    }

    #[test]
    fn idle_for_the_refill_time_equals_a_fresh_state() {
        let q = quota(5, Period::Minute, 3);
        let used = GcraState::new();
        for now in [0, 1, 2, 3, 30 * SEC, 31 * SEC] {
            used.check(&q, now);
        }
        // The last allowed request set TAT ≤ its now + refill time.
        let later = 31 * SEC + q.refill_time().as_nanos() as u64;
        let fresh = GcraState::new();
        for step in 0..10 {
            let now = later + step * SEC;
            assert_eq!(used.check(&q, now), fresh.check(&q, now), "step {step}");
        }
    }

    #[test]
    fn an_older_now_is_only_stricter() {
        let q = quota(2, Period::Second, 2);
        let s = GcraState::new();
        assert!(s.check(&q, 10 * SEC).allowed);
        // A caller that read the clock earlier sees a bigger debt, not a reset.
        let d = s.check(&q, 9 * SEC);
        assert!(!d.allowed);
        assert!(s.check(&q, 10 * SEC).allowed);
    }

    #[test]
    fn exact_under_concurrency() {
        let q = quota(100, Period::Minute, 100);
        let s = GcraState::new();
        let now = 42 * SEC;
        let allowed = std::sync::atomic::AtomicU32::new(0);
        std::thread::scope(|scope| {
            for _ in 0..16 {
                scope.spawn(|| {
                    for _ in 0..50 {
                        if s.check(&q, now).allowed {
                            allowed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        assert_eq!(allowed.into_inner(), 100);
    }

    #[test]
    fn invalid_quotas_do_not_panic() {
        let s = GcraState::new();
        for q in [
            quota(0, Period::Second, 0),
            quota(u32::MAX, Period::Second, u32::MAX),
            quota(1, Period::Day, u32::MAX),
        ] {
            let _ = s.check(&q, 0);
            let _ = s.check(&q, u64::MAX);
            let _ = s.check(&q, 0);
        }
    }

    #[test]
    fn validate_names_the_problem_and_the_fix() {
        assert_eq!(quota(10, Period::Hour, 10).validate(), Ok(()));
        assert_eq!(
            quota(0, Period::Hour, 10).validate(),
            Err(QuotaError::ZeroRequests)
        );
        assert_eq!(
            quota(10, Period::Hour, 0).validate(),
            Err(QuotaError::ZeroBurst)
        );
        let err = quota(1, Period::Day, 400).validate().unwrap_err();
        assert_eq!(
            err.to_string(),
            "burst = 400 at 1 per day takes 400 days to refill, more than the 365-day maximum; lower burst or raise requests"
        );
        assert!(quota(1, Period::Day, 365).validate().is_ok());
        assert!(
            QuotaError::ZeroBurst
                .to_string()
                .contains("set burst to at least 1")
        );
    }

    #[test]
    fn period_names_round_trip() {
        for p in Period::ALL {
            assert_eq!(p.as_str().parse::<Period>(), Ok(p));
            assert_eq!(
                serde_json::to_string(&p).unwrap(),
                format!("\"{}\"", p.as_str())
            );
            assert_eq!(p.as_duration().as_secs(), p.as_secs());
        }
        let err = "weekly".parse::<Period>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown rate limit period `weekly`; use one of second, minute, hour, day"
        );
        let q: Quota =
            serde_json::from_str(r#"{"requests":10,"period":"hour","burst":5}"#).unwrap();
        assert_eq!(q, quota(10, Period::Hour, 5));
    }

    #[test]
    fn header_values_round_up() {
        let d = Decision {
            allowed: false,
            limit: 10,
            remaining: 0,
            reset_after: Duration::from_millis(90_500),
            retry_after: Duration::from_millis(1),
        };
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(d.reset_at(now), now + Duration::from_millis(90_500));
        assert_eq!(d.reset_unix_secs(now), 1_700_000_091);
        assert_eq!(d.retry_after_secs(), 1);
        let rfc = d
            .reset_time(now)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        assert_eq!(rfc, "2023-11-14T22:14:51Z");
        let exact = Decision {
            retry_after: Duration::from_secs(6),
            ..d
        };
        assert_eq!(exact.retry_after_secs(), 6);
    }

    proptest! {
        /// Over any arrival pattern, by time `t` at most `burst + t / T` requests were
        /// allowed (the quota is never exceeded), and requests spaced at least `T`
        /// apart are never denied.
        #[test]
        fn never_exceeds_the_quota(
            requests in 1u32..1_000,
            burst in 1u32..50,
            period in prop::sample::select(Period::ALL.to_vec()),
            gaps in prop::collection::vec(0u64..2_000_000_000, 1..300),
        ) {
            let q = quota(requests, period, burst);
            let t = q.emission_interval().as_nanos() as u64;
            let s = GcraState::new();
            let mut now = 0u64;
            let mut allowed = 0u64;
            for gap in gaps {
                now += gap;
                if s.check(&q, now).allowed {
                    allowed += 1;
                }
                prop_assert!(allowed <= u64::from(burst) + now / t);
            }

            let spaced = GcraState::new();
            for i in 0..100u64 {
                prop_assert!(spaced.check(&q, i * t).allowed);
            }
        }
    }
}
