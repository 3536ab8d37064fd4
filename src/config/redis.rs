//! `[redis]`: the shared state that makes several gateway instances behave as one
//! (rate limits, concurrency caps, prepaid balances, key-change broadcasts).
//!
//! Absent (or an empty `url`): everything stays in process, as for one instance.
//! `on_failure` is either one word for every concern or a table per concern:
//!
//! ```toml
//! [redis]
//! url = "redis://127.0.0.1:6379"
//! on_failure = "closed"                      # or
//! on_failure = { limits = "open", concurrency = "open", balances = "closed" }
//! ```

use serde::{Deserialize, Serialize};

use crate::domain::{OnFailure, OnFailurePolicy};
use crate::secret::Secret;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawRedis {
    /// `redis://[user:password@]host:port[/db]`; empty: no Redis, in-process state.
    pub url: String,
    /// What a concern does while Redis cannot answer.
    pub on_failure: RawOnFailure,
}

/// `on_failure = "open"`, or a table naming any of the three concerns (the others
/// keep their defaults: limits and concurrency open, balances closed).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RawOnFailure {
    All(String),
    Each(RawOnFailureEach),
}

impl Default for RawOnFailure {
    fn default() -> Self {
        RawOnFailure::Each(RawOnFailureEach::default())
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOnFailureEach {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balances: Option<String>,
}

/// `[redis]`, validated.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// May carry a password: never logged.
    pub url: Secret<String>,
    pub on_failure: OnFailurePolicy,
}

/// A bad `[redis]` value: (key, value, what to write instead).
pub(super) type Invalid = (&'static str, String, &'static str);

const ON_FAILURE_HELP: &str = "write \"open\" or \"closed\", or a table such as { limits = \"open\", concurrency = \"open\", balances = \"closed\" }";

impl RawRedis {
    /// `None` when no Redis is configured. `url` has already had `${VAR}` expanded.
    pub(super) fn validate(&self, url: Option<String>) -> Result<Option<RedisConfig>, Invalid> {
        let on_failure = match &self.on_failure {
            RawOnFailure::All(s) => {
                let each =
                    OnFailure::parse(s).ok_or(("redis.on_failure", s.clone(), ON_FAILURE_HELP))?;
                OnFailurePolicy {
                    limits: each,
                    concurrency: each,
                    balances: each,
                }
            }
            RawOnFailure::Each(t) => {
                let d = OnFailurePolicy::default();
                let one = |key: &'static str, v: &Option<String>, default: OnFailure| match v {
                    None => Ok(default),
                    Some(s) => OnFailure::parse(s).ok_or((key, s.clone(), ON_FAILURE_HELP)),
                };
                OnFailurePolicy {
                    limits: one("redis.on_failure.limits", &t.limits, d.limits)?,
                    concurrency: one(
                        "redis.on_failure.concurrency",
                        &t.concurrency,
                        d.concurrency,
                    )?,
                    balances: one("redis.on_failure.balances", &t.balances, d.balances)?,
                }
            }
        };
        let Some(url) = url.filter(|u| !u.trim().is_empty()) else {
            return Ok(None);
        };
        let url = url.trim().to_owned();
        if !url.starts_with("redis://") {
            return Err((
                "redis.url",
                // The value may hold a password: show only its scheme.
                url.split_once(':').map(|(s, _)| s).unwrap_or("").to_owned(),
                "not a Redis URL; write redis://host:6379 (TLS is not built in: use a local TLS proxy), or leave it empty for in-process state",
            ));
        }
        Ok(Some(RedisConfig {
            url: Secret::new(url),
            on_failure,
        }))
    }
}
