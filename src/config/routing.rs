//! `[routing]` and `[[providers.X.deployments]]`: raw values with their defaults,
//! and their validation into [`RoutingConfig`] and [`DeploymentSpec`]s.
//!
//! A provider's own `base_url`/`api_key` is the deployment `default` (when it has a
//! key); `deployments` add more. [`ProviderConfig::deployments`] lists them all in
//! that order, which is the order `providers` and `routing` index them by.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{ConfigError, ProviderConfig, Validator};
use crate::secret::Secret;

/// The most tries one request may make (`routing.max_attempts`).
pub const MAX_ATTEMPTS_LIMIT: u32 = 10;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawRouting {
    /// Total tries for one request, across deployments and fallback models.
    pub max_attempts: u32,
    /// A deployment that failed with a retryable error is skipped this long.
    pub cooldown_secs: u64,
    /// Which failures are retried: `connect`, `timeout`, `429`, `5xx`.
    pub retry_on: Vec<String>,
    /// Per attempt: no response head within this moves on to the next try; 0 = off.
    pub attempt_first_byte_timeout_ms: u64,
}

impl Default for RawRouting {
    fn default() -> Self {
        RawRouting {
            max_attempts: 3,
            cooldown_secs: 30,
            retry_on: ["connect", "timeout", "429", "5xx"]
                .into_iter()
                .map(String::from)
                .collect(),
            attempt_first_byte_timeout_ms: 0,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDeployment {
    pub name: String,
    pub base_url: String,
    pub api_key: String,
    #[serde(default = "one")]
    pub weight: u32,
    /// Upstream model names this deployment serves; absent: all of the provider's.
    #[serde(default)]
    pub models: Option<Vec<String>>,
}

fn one() -> u32 {
    1
}

/// Which failures a retry may help with (`routing.retry_on`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryOn {
    pub connect: bool,
    pub timeout: bool,
    pub rate_limited: bool,
    pub server_error: bool,
}

#[derive(Debug, Clone)]
pub struct RoutingConfig {
    pub max_attempts: u32,
    pub cooldown: Duration,
    pub retry_on: RetryOn,
    pub attempt_first_byte_timeout: Option<Duration>,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        RoutingConfig {
            max_attempts: 3,
            cooldown: Duration::from_secs(30),
            retry_on: RetryOn {
                connect: true,
                timeout: true,
                rate_limited: true,
                server_error: true,
            },
            attempt_first_byte_timeout: None,
        }
    }
}

/// One upstream account of a provider: where to send and with which key.
#[derive(Debug, Clone)]
pub struct DeploymentSpec {
    pub name: String,
    /// Without a trailing `/`.
    pub base_url: String,
    pub api_key: Secret<String>,
    pub weight: u32,
    /// Upstream model names it serves; `None`: every model of the provider.
    pub models: Option<Vec<String>>,
}

/// The name of the deployment a provider's own `base_url`/`api_key` make.
pub const DEFAULT_DEPLOYMENT: &str = "default";

impl ProviderConfig {
    /// Every deployment of the provider: `default` first (when the provider has a
    /// key), then `[[providers.X.deployments]]` in file order.
    pub fn deployments(&self) -> Vec<DeploymentSpec> {
        self.api_key
            .iter()
            .map(|key| DeploymentSpec {
                name: DEFAULT_DEPLOYMENT.into(),
                base_url: self.base_url.clone(),
                api_key: key.clone(),
                weight: 1,
                models: None,
            })
            .chain(self.extra_deployments.iter().cloned())
            .collect()
    }
}

impl Validator<'_> {
    pub(super) fn routing(&self, raw: &RawRouting) -> Result<RoutingConfig, ConfigError> {
        if !(1..=MAX_ATTEMPTS_LIMIT).contains(&raw.max_attempts) {
            return Err(self.invalid(
                "routing.max_attempts",
                raw.max_attempts,
                format!("must be from 1 to {MAX_ATTEMPTS_LIMIT} (1 = no retries)"),
            ));
        }
        let mut retry_on = RetryOn {
            connect: false,
            timeout: false,
            rate_limited: false,
            server_error: false,
        };
        for v in &raw.retry_on {
            match v.as_str() {
                "connect" => retry_on.connect = true,
                "timeout" => retry_on.timeout = true,
                "429" => retry_on.rate_limited = true,
                "5xx" => retry_on.server_error = true,
                other => {
                    return Err(self.invalid(
                        "routing.retry_on",
                        other,
                        "each entry must be one of \"connect\", \"timeout\", \"429\", \"5xx\"",
                    ));
                }
            }
        }
        Ok(RoutingConfig {
            max_attempts: raw.max_attempts,
            cooldown: Duration::from_secs(raw.cooldown_secs),
            retry_on,
            attempt_first_byte_timeout: (raw.attempt_first_byte_timeout_ms > 0)
                .then(|| Duration::from_millis(raw.attempt_first_byte_timeout_ms)),
        })
    }

    /// `[[providers.<name>.deployments]]`, validated; `has_default` when the
    /// provider's own key makes the deployment `default`.
    pub(super) fn deployments(
        &mut self,
        name: &str,
        raw: &[RawDeployment],
        has_default: bool,
    ) -> Result<Vec<DeploymentSpec>, ConfigError> {
        let mut out: Vec<DeploymentSpec> = Vec::with_capacity(raw.len());
        for (i, d) in raw.iter().enumerate() {
            let at = |field: &str| format!("providers.{name}.deployments[{i}].{field}");
            let taken = out.iter().any(|o| o.name == d.name)
                || (has_default && d.name == DEFAULT_DEPLOYMENT);
            if d.name.is_empty() || taken {
                return Err(self.invalid(
                    &at("name"),
                    &d.name,
                    "each deployment needs a name of its own (`default` is the provider's own base_url/api_key)",
                ));
            }
            let base_key = at("base_url");
            let base_url = self.base_url(&base_key, &d.base_url)?;
            let Some(api_key) = self.expand(&at("api_key"), &d.api_key)? else {
                // An unset `${VAR}` was warned about; the deployment is left out.
                self.warnings.push(format!(
                    "deployment {} of provider {name} has no api_key; it is not used",
                    d.name
                ));
                continue;
            };
            if d.weight == 0 {
                return Err(self.invalid(
                    &at("weight"),
                    d.weight,
                    "must be at least 1 (remove the deployment to stop using it)",
                ));
            }
            if let Some(models) = &d.models
                && (models.is_empty() || models.iter().any(String::is_empty))
            {
                return Err(self.invalid(
                    &at("models"),
                    format!("{models:?}"),
                    "list upstream model names, or leave `models` out to serve them all",
                ));
            }
            out.push(DeploymentSpec {
                name: d.name.clone(),
                base_url: base_url.trim_end_matches('/').to_owned(),
                api_key: Secret::new(api_key),
                weight: d.weight,
                models: d.models.clone(),
            });
        }
        Ok(out)
    }

    /// `fallbacks` of `[[models]]` / `[[aliases]]` entry `key`: model ids, not the
    /// entry itself.
    pub(super) fn fallbacks(
        &self,
        key: &str,
        id: &str,
        fallbacks: &[String],
    ) -> Result<Vec<String>, ConfigError> {
        if let Some(bad) = fallbacks.iter().find(|f| f.is_empty() || *f == id) {
            return Err(self.invalid(
                key,
                bad,
                "fallbacks name other models or aliases (not empty, not the entry itself)",
            ));
        }
        Ok(fallbacks.to_vec())
    }
}
