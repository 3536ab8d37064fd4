//! The login brake: per email and per client network, at most [`LOGIN_FAILURES`]
//! failed logins in [`LOGIN_WINDOW`]; past that, 429 `rate_limit_exceeded` with
//! `Retry-After`, before the password is even checked.
//!
//! A GCRA bucket (`domain::gcra`) of burst 10 refilled one token per 90 s: ten
//! failures at once empty it, and a steady guesser gets ten per 15 minutes. Like the
//! key brake (`auth::brake`), a token is taken *before* the check and given back when
//! the password was right, so only failures count and a burst of concurrent guesses
//! cannot overshoot. Counting per email stops one account being guessed from many
//! addresses; per network (IPv4 address, IPv6 /64) stops one address trying many
//! accounts. Idle buckets are forgotten after a full refill.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::sync::Cache;

use crate::auth::{Braked, ClientNet};
use crate::domain::gcra::{GcraState, Period, Quota};

/// Failures allowed in a [`LOGIN_WINDOW`].
pub const LOGIN_FAILURES: u32 = 10;
/// The window the failures are counted over.
pub const LOGIN_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Buckets kept per kind (emails, networks): bounds memory under a spray.
const CAPACITY: u64 = 100_000;

/// 10 per 15 minutes, as a GCRA quota: 40 per hour, burst 10.
const QUOTA: Quota = Quota {
    requests: 40,
    period: Period::Hour,
    burst: LOGIN_FAILURES,
};

#[derive(Clone)]
pub struct LoginBrake {
    epoch: Instant,
    emails: Cache<String, Arc<GcraState>>,
    networks: Cache<ClientNet, Arc<GcraState>>,
}

/// The tokens one login attempt took; [`refund`](Attempt::refund) them when it
/// succeeds. Dropping it keeps the failure counted.
#[must_use]
pub struct Attempt {
    taken: Vec<Arc<GcraState>>,
}

impl Attempt {
    pub fn refund(self) {
        for state in self.taken {
            state.refund(&QUOTA);
        }
    }
}

impl Default for LoginBrake {
    fn default() -> Self {
        Self::new()
    }
}

impl LoginBrake {
    pub fn new() -> Self {
        let idle = QUOTA.refill_time();
        LoginBrake {
            epoch: Instant::now(),
            emails: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_idle(idle)
                .build(),
            networks: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_idle(idle)
                .build(),
        }
    }

    /// Takes a token for an attempt on `email` from `ip`, or says how long to wait.
    pub fn attempt(&self, email: &str, ip: IpAddr) -> Result<Attempt, Braked> {
        let now_ns = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.attempt_at(email, ip, now_ns)
    }

    pub fn attempt_at(&self, email: &str, ip: IpAddr, now_ns: u64) -> Result<Attempt, Braked> {
        let net = self
            .networks
            .get_with(ClientNet::of(ip), || Arc::new(GcraState::new()));
        let mail = self
            .emails
            .get_with(email.to_owned(), || Arc::new(GcraState::new()));
        let mut taken = Vec::with_capacity(2);
        for state in [net, mail] {
            let d = state.check(&QUOTA, now_ns);
            if !d.allowed {
                Attempt { taken }.refund();
                metrics::counter!("tollgate_login_braked_total").increment(1);
                return Err(Braked {
                    limit: LOGIN_FAILURES,
                    retry_after: d.retry_after,
                });
            }
            taken.push(state);
        }
        Ok(Attempt { taken })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000_000;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ten_failures_per_email_then_braked_from_any_address() {
        let b = LoginBrake::new();
        for i in 0..10 {
            drop(
                b.attempt_at("a@x.org", ip(&format!("203.0.113.{i}")), 0)
                    .unwrap(),
            );
        }
        let braked = b
            .attempt_at("a@x.org", ip("198.51.100.1"), 0)
            .err()
            .unwrap();
        assert_eq!(braked.retry_after, Duration::from_secs(90));
        assert!(b.attempt_at("b@x.org", ip("198.51.100.1"), 0).is_ok());
        // A token is back after 90 s: 10 per 15 minutes sustained.
        assert!(
            b.attempt_at("a@x.org", ip("198.51.100.2"), 90 * SEC)
                .is_ok()
        );
    }

    #[test]
    fn ten_failures_per_network_then_braked_for_any_email() {
        let b = LoginBrake::new();
        for i in 0..10 {
            drop(
                b.attempt_at(&format!("u{i}@x.org"), ip("203.0.113.9"), 0)
                    .unwrap(),
            );
        }
        assert!(b.attempt_at("new@x.org", ip("203.0.113.9"), 0).is_err());
        assert!(b.attempt_at("new@x.org", ip("203.0.113.10"), 0).is_ok());
    }

    #[test]
    fn successes_are_refunded() {
        let b = LoginBrake::new();
        for _ in 0..50 {
            b.attempt_at("a@x.org", ip("203.0.113.9"), 0)
                .unwrap()
                .refund();
        }
        assert!(b.attempt_at("a@x.org", ip("203.0.113.9"), 0).is_ok());
    }
}
