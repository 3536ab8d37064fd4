//! `[outbound]` (where caller-chosen URLs such as webhook targets may lead) and
//! `[webhooks]` (the delivery worker's pace and retry schedule). `[alerts]` is in
//! `alerts.rs`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::RawOutbound;
use super::{ConfigError, Validator};
use crate::outbound::AddressPolicy;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawWebhooks {
    /// How often the worker looks for new events and due deliveries.
    pub poll_interval_ms: u64,
    /// The first retry waits about this long; each further one twice as long.
    pub backoff_base_ms: u64,
    /// No wait between attempts is longer than this.
    pub backoff_cap_secs: u64,
    /// A delivery that has not succeeded this long after its event is given up.
    pub retry_for_secs: u64,
    /// One attempt's whole time (connect, send, response headers).
    pub timeout_ms: u64,
    /// How long a rotated-out signing secret still signs (both `v1=` are sent).
    pub rotation_overlap_secs: u64,
}

impl Default for RawWebhooks {
    fn default() -> Self {
        RawWebhooks {
            poll_interval_ms: 1_000,
            backoff_base_ms: 1_000,
            backoff_cap_secs: 600,
            retry_for_secs: 86_400,
            timeout_ms: 10_000,
            rotation_overlap_secs: 86_400,
        }
    }
}

/// `[webhooks]` with `[outbound]`, validated.
#[derive(Debug, Clone)]
pub struct WebhooksConfig {
    pub outbound: AddressPolicy,
    pub poll_interval: Duration,
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    pub retry_for: Duration,
    pub timeout: Duration,
    pub rotation_overlap: Duration,
}

impl Validator<'_> {
    pub(super) fn webhooks(
        &mut self,
        outbound: &RawOutbound,
        raw: &RawWebhooks,
    ) -> Result<WebhooksConfig, ConfigError> {
        let positive = |v: &Self, key: &str, n: u64| {
            if n == 0 {
                Err(v.invalid(key, n, "must be at least 1"))
            } else {
                Ok(n)
            }
        };
        let poll = positive(self, "webhooks.poll_interval_ms", raw.poll_interval_ms)?;
        let base = positive(self, "webhooks.backoff_base_ms", raw.backoff_base_ms)?;
        let cap = positive(self, "webhooks.backoff_cap_secs", raw.backoff_cap_secs)?;
        let timeout = positive(self, "webhooks.timeout_ms", raw.timeout_ms)?;
        Ok(WebhooksConfig {
            outbound: AddressPolicy {
                allow_http: outbound.allow_http,
                allow_private: outbound.allow_private,
            },
            poll_interval: Duration::from_millis(poll),
            backoff_base: Duration::from_millis(base),
            backoff_cap: Duration::from_secs(cap),
            retry_for: Duration::from_secs(raw.retry_for_secs),
            timeout: Duration::from_millis(timeout),
            rotation_overlap: Duration::from_secs(raw.rotation_overlap_secs),
        })
    }
}
