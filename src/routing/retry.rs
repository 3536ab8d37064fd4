//! Which failures are worth another try, how long to wait before one, and what a
//! failure says about the deployment that made it.
//!
//! Retried (`[routing] retry_on`, default all four): connect errors, timeouts
//! (the whole-request first byte or `attempt_first_byte_timeout_ms`), 429 and 5xx.
//! Never other 4xx: the same body would fail the same way anywhere.
//!
//! Waiting: a try on a deployment this request has not used yet goes at once. A
//! second try on the same deployment waits an exponential backoff with jitter, or
//! the provider's `Retry-After` when that is longer and at most
//! [`MAX_HONOURED_RETRY_AFTER`]; a longer `Retry-After` means that deployment is
//! not tried again in this request (it cools down at least that long).

use std::time::Duration;

use rand::Rng;

use super::deployments::Failure;
use crate::config::RetryOn;
use crate::providers::UpstreamError;

/// The longest `Retry-After` the gateway waits out inside one request.
pub const MAX_HONOURED_RETRY_AFTER: Duration = Duration::from_secs(5);
/// The first backoff step; each further retry doubles it, up to [`MAX_BACKOFF`].
pub const BASE_BACKOFF: Duration = Duration::from_millis(100);
pub const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// What one failed attempt means for the request and the deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// Another attempt may succeed.
    pub retry: bool,
    /// What to record against the deployment.
    pub failure: Failure,
    /// The provider's `Retry-After`, if it sent one.
    pub retry_after: Option<Duration>,
}

impl Verdict {
    /// Whether this deployment may be tried again in the same request.
    pub fn same_deployment_again(&self) -> bool {
        self.retry
            && self
                .retry_after
                .is_none_or(|r| r <= MAX_HONOURED_RETRY_AFTER)
    }
}

pub fn judge(error: &UpstreamError, retry_on: RetryOn) -> Verdict {
    let retry_after = error.retry_after_secs().map(Duration::from_secs);
    let cooling = Failure::Cooling {
        at_least: retry_after.unwrap_or(Duration::ZERO),
    };
    let (retry, failure) = match error {
        UpstreamError::Connect { .. } => (retry_on.connect, cooling),
        UpstreamError::Timeout { .. } => (retry_on.timeout, cooling),
        UpstreamError::Rejected { status: 429, .. } => (retry_on.rate_limited, cooling),
        UpstreamError::Rejected { status, .. } if *status >= 500 => {
            (retry_on.server_error, cooling)
        }
        _ => (false, Failure::Other),
    };
    Verdict {
        retry,
        failure,
        retry_after,
    }
}

/// The wait before the `retry`-th retry of a deployment (1 = the first): full
/// jitter over the upper half of `BASE_BACKOFF · 2^(retry-1)`, capped.
pub fn backoff(retry: u32, rng: &mut impl Rng) -> Duration {
    let step = BASE_BACKOFF
        .saturating_mul(1u32 << retry.saturating_sub(1).min(16))
        .min(MAX_BACKOFF);
    let half = step / 2;
    half + half.mul_f64(rng.random::<f64>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ProviderKind;
    use crate::providers::Credentials;

    const ALL: RetryOn = RetryOn {
        connect: true,
        timeout: true,
        rate_limited: true,
        server_error: true,
    };

    fn rejected(status: u16, retry_after: Option<u64>) -> UpstreamError {
        UpstreamError::Rejected {
            provider: ProviderKind::OpenAi,
            status,
            message: "m".into(),
            code: None,
            retry_after,
            credentials: Credentials::Gateway,
        }
    }

    #[test]
    fn retries_429_and_5xx_but_never_other_4xx() {
        assert!(judge(&rejected(429, None), ALL).retry);
        assert!(judge(&rejected(503, None), ALL).retry);
        assert!(judge(&rejected(529, None), ALL).retry);
        let bad = judge(&rejected(400, None), ALL);
        assert!(!bad.retry);
        assert_eq!(bad.failure, Failure::Other);
        assert!(!judge(&rejected(401, None), ALL).retry);
        let timeout = UpstreamError::Timeout {
            provider: ProviderKind::OpenAi,
        };
        assert!(judge(&timeout, ALL).retry);
        let no_timeouts = RetryOn {
            timeout: false,
            ..ALL
        };
        let v = judge(&timeout, no_timeouts);
        assert!(!v.retry, "retry_on decides");
        assert!(matches!(v.failure, Failure::Cooling { .. }), "still cools");
    }

    #[test]
    fn long_retry_after_rules_out_the_same_deployment() {
        let short = judge(&rejected(429, Some(1)), ALL);
        assert!(short.same_deployment_again());
        assert_eq!(
            short.failure,
            Failure::Cooling {
                at_least: Duration::from_secs(1)
            }
        );
        let long = judge(&rejected(429, Some(120)), ALL);
        assert!(long.retry);
        assert!(!long.same_deployment_again());
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let mut rng = rand::rng();
        for retry in 1..20 {
            let b = backoff(retry, &mut rng);
            let step = BASE_BACKOFF
                .saturating_mul(1 << (retry - 1).min(16))
                .min(MAX_BACKOFF);
            assert!(b >= step / 2 && b <= step, "{retry}: {b:?}");
        }
    }
}
