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
//! on_failure = { limits = "open", concurrency = "open", balances = "closed", cooldowns = "open" }
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

/// `on_failure = "open"`, or a table naming any of the four concerns (the others
/// keep their defaults: limits, concurrency and cooldowns open, balances closed).
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldowns: Option<String>,
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

const ON_FAILURE_HELP: &str = "write \"open\" or \"closed\", or a table such as { limits = \"open\", concurrency = \"open\", balances = \"closed\", cooldowns = \"open\" }";

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
                    cooldowns: each,
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
                    cooldowns: one("redis.on_failure.cooldowns", &t.cooldowns, d.cooldowns)?,
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

#[cfg(test)]
mod tests {
    use crate::config::{Config, ConfigError};
    use crate::domain::{OnFailure, OnFailurePolicy};

    fn load(toml: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("t.toml");
        std::fs::write(&path, toml).expect("written");
        Config::load(Some(&path))
    }

    #[test]
    fn absent_or_empty_means_in_process() {
        assert!(load("").expect("valid").redis.is_none());
        assert!(
            load("[redis]\nurl = \"\"\n")
                .expect("valid")
                .redis
                .is_none()
        );
    }

    #[test]
    fn defaults_fail_limits_open_and_balances_closed() {
        let r = load("[redis]\nurl = \"redis://127.0.0.1:6379\"\n")
            .expect("valid")
            .redis
            .expect("configured");
        assert_eq!(r.url.expose(), "redis://127.0.0.1:6379");
        assert_eq!(r.on_failure, OnFailurePolicy::default());
        assert_eq!(r.on_failure.balances, OnFailure::Closed);
        assert_eq!(r.on_failure.limits, OnFailure::Open);
    }

    #[test]
    fn one_word_sets_every_concern() {
        let r = load("[redis]\nurl = \"redis://h:1\"\non_failure = \"closed\"\n")
            .expect("valid")
            .redis
            .expect("configured");
        assert_eq!(
            r.on_failure,
            OnFailurePolicy {
                limits: OnFailure::Closed,
                concurrency: OnFailure::Closed,
                balances: OnFailure::Closed,
                cooldowns: OnFailure::Closed,
            }
        );
    }

    #[test]
    fn a_table_sets_some_and_keeps_the_other_defaults() {
        let r = load(
            "[redis]\nurl = \"redis://h:1\"\non_failure = { concurrency = \"closed\", balances = \"open\" }\n",
        )
        .expect("valid")
        .redis
        .expect("configured");
        assert_eq!(r.on_failure.limits, OnFailure::Open);
        assert_eq!(r.on_failure.concurrency, OnFailure::Closed);
        assert_eq!(r.on_failure.balances, OnFailure::Open);
        assert_eq!(r.on_failure.cooldowns, OnFailure::Open);
        let r = load("[redis]\nurl = \"redis://h:1\"\non_failure = { cooldowns = \"closed\" }\n")
            .expect("valid")
            .redis
            .expect("configured");
        assert_eq!(r.on_failure.cooldowns, OnFailure::Closed);
        assert_eq!(r.on_failure.balances, OnFailure::Closed);
    }

    #[test]
    fn bad_values_and_unknown_keys_stop_startup() {
        let err = load("[redis]\nurl = \"redis://h:1\"\non_failure = \"sometimes\"\n")
            .expect_err("bad word");
        assert!(err.to_string().contains("redis.on_failure"), "{err}");
        assert!(err.to_string().contains("sometimes"), "{err}");
        let err = load("[redis]\nurl = \"redis://h:1\"\non_failure = { limits = \"shut\" }\n")
            .expect_err("bad word in the table");
        assert!(err.to_string().contains("redis.on_failure.limits"), "{err}");
        assert!(load("[redis]\nurl = \"redis://h:1\"\nurls = 1\n").is_err());
        assert!(load("[redis]\non_failure = { limit = \"open\" }\n").is_err());
    }

    #[test]
    fn a_non_redis_url_is_refused_without_echoing_its_password() {
        let err = load("[redis]\nurl = \"http://user:hunter2@h:1\"\n").expect_err("not redis");
        let msg = err.to_string();
        assert!(msg.contains("redis.url"), "{msg}");
        assert!(!msg.contains("hunter2"), "{msg}");
    }
}
