//! Configuration: raw values (defaults < TOML file < `TOLLGATE_…` env) → validated [`Config`].
//!
//! Every default lives here, and this is the only module that reads the environment
//! (`TOLLGATE_…` overrides, `TOLLGATE_DATA_DIR`, and `${VAR}` references in string
//! values). Unknown keys and bad values stop startup with a message naming the key,
//! the value, where it came from and how to fix it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::http::HeaderName;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use ipnet::IpNet;

use crate::domain::ProviderKind;
use crate::domain::money::{Currency, ExchangeRates, MicroUnits};
use crate::keys::KeyEnv;
use crate::outbound::AddressPolicy;
use crate::secret::Secret;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Load(String),
    #[error("{key} = {value:?} ({origin}): {problem}")]
    Invalid {
        key: String,
        value: String,
        origin: String,
        problem: String,
    },
    #[error("cannot prepare the data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
}

mod alerts;
mod auth;
mod connections;
mod cors;
mod raw;
mod redis;
mod routing;
mod secrets;
mod storage;
mod ui;
mod unpriced;
mod webhooks;

pub use alerts::{AlertThresholds, AlertsConfig, RawAlerts};
pub use auth::{AuthConfig, JWT_SECRET_FILE, JwtSecretSource, RawAuth, RawUserRateLimit};
pub use connections::{
    ConnectionsConfig, EmailConfig, OutboundConfig, RawConnections, RawEmail, RawOutbound,
    SmtpRelay, SmtpSecurity,
};
pub use cors::CorsOrigins;
pub use raw::*;
pub use redis::{RawOnFailure, RawOnFailureEach, RawRedis, RedisConfig};
pub use routing::{
    DEFAULT_DEPLOYMENT, DeploymentSpec, RawDeployment, RawRouting, RetryOn, RoutingConfig,
};
pub use secrets::{MASTER_KEY_FILE, RawSecrets, SecretsConfig};
pub use storage::redact_url;
pub use ui::{RawUi, UiConfig};
pub use unpriced::UnpricedPolicy;
pub use webhooks::{RawWebhooks, WebhooksConfig};

// ---------- validated configuration ----------

#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    pub upstream: UpstreamConfig,
    pub storage: StorageConfig,
    pub keys: KeysConfig,
    pub providers: BTreeMap<ProviderKind, ProviderConfig>,
    pub byok: ByokPolicy,
    pub exchange_rates: ExchangeRates,
    /// `[billing] unpriced`.
    pub unpriced: UnpricedPolicy,
    pub usage: UsageConfig,
    /// `[log]`.
    pub log: LogConfig,
    pub metrics: MetricsConfig,
    /// `[secrets]`: the master keys that seal stored secrets.
    pub secrets: SecretsConfig,
    /// `[redis]`: shared state for several instances; `None`: in process.
    pub redis: Option<RedisConfig>,
    /// `[outbound]`: where connections may lead.
    pub outbound: OutboundConfig,
    /// `[connections]`.
    pub connections: ConnectionsConfig,
    /// `[email]`: the SMTP relay of `/v1/email/send`.
    pub email: EmailConfig,
    /// `[auth]`: end users' login tokens and rate limit.
    pub auth: AuthConfig,
    /// `[webhooks]` and `[outbound]`: delivery pace, retries, target policy.
    pub webhooks: WebhooksConfig,
    /// `[ui]`: dashboard session lifetimes.
    pub ui: UiConfig,
    /// `[alerts]`: the security alert evaluators and their default thresholds.
    pub alerts: AlertsConfig,
    /// `[[models]]`, validated: the catalog adds them to (or over) its built-ins.
    pub models: Vec<ModelSpec>,
    /// `[[aliases]]`, validated.
    pub aliases: Vec<AliasSpec>,
    /// `[routing]`: retries, cooldown, per-attempt timeout.
    pub routing: RoutingConfig,
    pub data_dir: PathBuf,
    /// `TOLLGATE_BOOTSTRAP_ADMIN_KEY`: the management key to install on an empty database.
    pub bootstrap_admin_key: Option<Secret<String>>,
    /// Things worth telling the operator at startup (e.g. a provider without a key).
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub max_body_bytes: usize,
    pub shutdown_grace: Duration,
    pub trusted_proxies: Vec<IpNet>,
    pub header_read_timeout: Duration,
    pub body_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    /// The async runtime's worker threads; `None`: tokio's default (one per core,
    /// or `TOKIO_WORKER_THREADS`).
    pub worker_threads: Option<std::num::NonZeroUsize>,
    pub max_uri_bytes: usize,
    pub max_header_bytes: usize,
    /// `cors_allow_origins`, validated.
    pub cors: CorsOrigins,
}

#[derive(Debug, Clone, Default)]
pub struct MetricsConfig {
    /// `/metrics` gets its own listener here, and leaves the main one.
    pub listen: Option<SocketAddr>,
    /// Callers of `/metrics` must send `Authorization: Bearer <token>`.
    pub bearer_token: Option<Secret<String>>,
}

#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    pub connect_timeout: Duration,
    pub first_byte_timeout: Duration,
    pub idle_timeout: Duration,
    /// `[upstream] http2`: HTTP/2 only, one multiplexed connection per host
    /// (`providers::transport` says why HTTP/1.1 is the default).
    pub http2: bool,
}

/// `[log]`: what is logged besides warnings and errors (`TOLLGATE_LOG` filters).
#[derive(Debug, Clone, Copy, Default)]
pub struct LogConfig {
    /// One line per successful request (refusals and failures are always logged).
    pub access: bool,
}

#[derive(Debug, Clone)]
pub struct UsageConfig {
    pub enabled: bool,
    pub retain: Duration,
    pub queue_capacity: usize,
    /// The usage spill file (`metering::spill`).
    pub spill_path: PathBuf,
    pub spill_max_bytes: u64,
}

#[derive(Debug, Clone)]
pub struct StorageConfig {
    pub url: String,
    /// PostgreSQL pool size (`[storage] max_connections`).
    pub max_connections: u32,
    /// PostgreSQL connect/acquire timeout (`[storage] connect_timeout_ms`).
    pub connect_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct KeysConfig {
    pub prefix: String,
    pub alt_header: HeaderName,
    pub pepper: PepperSource,
    pub cache_ttl: Duration,
    pub revocation_poll: Duration,
    /// Models each environment's keys are confined to (`[keys] env_models`).
    pub env_models: BTreeMap<KeyEnv, Vec<String>>,
    /// The failed-authentication brake per client network; `None` when off.
    pub auth_failures: Option<crate::domain::gcra::Quota>,
}

#[derive(Debug, Clone)]
pub enum PepperSource {
    Configured(Secret<Vec<u8>>),
    File(PathBuf),
}

#[derive(Debug, Clone)]
pub struct ProviderConfig {
    pub base_url: String,
    pub api_key: Option<Secret<String>>,
    pub api_version: Option<String>,
    /// `[[providers.X.deployments]]`; [`ProviderConfig::deployments`] adds `default`.
    pub extra_deployments: Vec<DeploymentSpec>,
}

impl Config {
    /// Loads defaults, then `file` (if any), then `TOLLGATE_…` env vars, and validates.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(RawConfig::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::Load(format!(
                    "config file {} does not exist; check --config",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        // Only `TOLLGATE_SECTION__KEY` variables are config: every key lives in a
        // section, and this leaves `TOLLGATE_DATA_DIR`, `TOLLGATE_LOG` or a
        // `${TOLLGATE_…}` secret referenced from the file alone.
        figment = figment.merge(
            Env::prefixed("TOLLGATE_")
                .filter(|k| k.as_str().contains("__"))
                .split("__"),
        );
        let raw: RawConfig = figment.extract().map_err(|e| {
            ConfigError::Load(
                e.into_iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        let data_dir = data_dir();
        let mut config = Validator {
            figment: &figment,
            warnings: Vec::new(),
        }
        .validate(raw, data_dir)?;
        config.bootstrap_admin_key = std::env::var("TOLLGATE_BOOTSTRAP_ADMIN_KEY")
            .ok()
            .filter(|k| !k.trim().is_empty())
            .map(|k| Secret::new(k.trim().to_owned()));
        Ok(config)
    }

    /// A config for tests and `demo`: no file, no env; the caller fills in the rest.
    pub fn from_raw(raw: RawConfig, data_dir: PathBuf) -> Result<Config, ConfigError> {
        let figment = Figment::from(Serialized::defaults(&raw));
        Validator {
            figment: &figment,
            warnings: Vec::new(),
        }
        .validate(raw, data_dir)
    }

    pub fn provider(&self, kind: ProviderKind) -> &ProviderConfig {
        &self.providers[&kind]
    }
}

struct Validator<'a> {
    figment: &'a Figment,
    warnings: Vec<String>,
}

impl Validator<'_> {
    fn origin(&self, key: &str) -> String {
        match self.figment.find_metadata(key) {
            Some(meta) => match &meta.source {
                Some(source) => format!("{}: {source}", meta.name),
                None => meta.name.to_string(),
            },
            None => "default".into(),
        }
    }

    fn invalid(&self, key: &str, value: impl ToString, problem: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            key: key.into(),
            value: value.to_string(),
            origin: self.origin(key),
            problem: problem.into(),
        }
    }

    /// A provider's (or a deployment's) `base_url`, `${VAR}`s expanded, checked once
    /// here against what the upstream transport can call: an absolute http(s) URL
    /// that `http::Uri` parses, with a host and no credentials in it (keys belong in
    /// `api_key`). Without this a base the transport cannot use would pass startup and
    /// fail every call with a 502.
    fn base_url(&mut self, key: &str, raw: &str) -> Result<String, ConfigError> {
        let base_url = self.expand(key, raw)?.unwrap_or_default();
        let parsed = reqwest::Url::parse(&base_url)
            .map_err(|_| self.invalid(key, redact_url(&base_url), "not an absolute http(s) URL"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(self.invalid(key, redact_url(&base_url), "scheme must be http or https"));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(self.invalid(
                key,
                redact_url(&base_url),
                "must not carry credentials; put the key in api_key",
            ));
        }
        if base_url.parse::<http::Uri>().is_err() {
            return Err(self.invalid(
                key,
                redact_url(&base_url),
                "not a URL the upstream client can call (check for spaces or unusual characters)",
            ));
        }
        Ok(base_url)
    }

    /// Expands `${VAR}` references. An unset variable yields `None` (with a warning),
    /// so the built-in defaults work on a machine without provider keys.
    fn expand(&mut self, key: &str, value: &str) -> Result<Option<String>, ConfigError> {
        let mut out = String::with_capacity(value.len());
        let mut rest = value;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                return Err(self.invalid(key, value, "unclosed `${`; write ${VAR_NAME}"));
            };
            let var = &after[..end];
            if var.is_empty() || !var.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(self.invalid(
                    key,
                    value,
                    format!("`${{{var}}}` is not a valid variable reference"),
                ));
            }
            match std::env::var(var) {
                Ok(v) if !v.is_empty() => out.push_str(&v),
                _ => {
                    self.warnings.push(format!(
                        "{key} refers to ${{{var}}}, which is not set; it is treated as empty"
                    ));
                    return Ok(None);
                }
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(if out.is_empty() { None } else { Some(out) })
    }

    fn validate(mut self, raw: RawConfig, data_dir: PathBuf) -> Result<Config, ConfigError> {
        let listen: SocketAddr = raw.server.listen.parse().map_err(|_| {
            self.invalid(
                "server.listen",
                &raw.server.listen,
                "not a socket address; write e.g. \"127.0.0.1:8080\" or \"0.0.0.0:8080\"",
            )
        })?;
        if raw.server.max_body_bytes < 1024 {
            return Err(self.invalid(
                "server.max_body_bytes",
                raw.server.max_body_bytes,
                "must be at least 1024",
            ));
        }
        let cors =
            CorsOrigins::parse(&raw.server.cors_allow_origins).map_err(|(value, problem)| {
                self.invalid("server.cors_allow_origins", value, problem)
            })?;
        let max_body_bytes = usize::try_from(raw.server.max_body_bytes).map_err(|_| {
            self.invalid(
                "server.max_body_bytes",
                raw.server.max_body_bytes,
                "too large",
            )
        })?;
        for (key, v) in [
            (
                "upstream.connect_timeout_ms",
                raw.upstream.connect_timeout_ms,
            ),
            (
                "upstream.first_byte_timeout_ms",
                raw.upstream.first_byte_timeout_ms,
            ),
            ("upstream.idle_timeout_ms", raw.upstream.idle_timeout_ms),
            ("keys.revocation_poll_ms", raw.keys.revocation_poll_ms),
            ("keys.cache_ttl_secs", raw.keys.cache_ttl_secs),
            (
                "server.header_read_timeout_ms",
                raw.server.header_read_timeout_ms,
            ),
            (
                "server.body_read_timeout_ms",
                raw.server.body_read_timeout_ms,
            ),
            ("server.idle_timeout_ms", raw.server.idle_timeout_ms),
            ("server.max_connections", raw.server.max_connections),
        ] {
            if v == 0 {
                return Err(self.invalid(key, v, "must be at least 1"));
            }
        }

        if raw.server.worker_threads > 1024 {
            return Err(self.invalid(
                "server.worker_threads",
                raw.server.worker_threads,
                "must be between 0 (one per core) and 1024",
            ));
        }
        for (key, v) in [
            ("server.max_uri_bytes", raw.server.max_uri_bytes),
            ("server.max_header_bytes", raw.server.max_header_bytes),
        ] {
            if !(256..=1 << 20).contains(&v) {
                return Err(self.invalid(key, v, "must be between 256 and 1048576"));
            }
        }
        let metrics_listen = match raw.metrics.listen.trim() {
            "" => None,
            addr => Some(addr.parse::<SocketAddr>().map_err(|_| {
                self.invalid(
                    "metrics.listen",
                    addr,
                    "not a socket address; write e.g. \"127.0.0.1:9100\", or leave it empty to serve /metrics on [server] listen",
                )
            })?),
        };
        // Fail closed: a token that names an unset variable must not leave /metrics open.
        let metrics_token = match self.expand("metrics.bearer_token", &raw.metrics.bearer_token)? {
            Some(token) => Some(Secret::new(token)),
            None if raw.metrics.bearer_token.trim().is_empty() => None,
            None => {
                return Err(self.invalid(
                    "metrics.bearer_token",
                    "[redacted]",
                    "refers to an unset or empty variable; set it, or remove bearer_token to leave /metrics open",
                ));
            }
        };

        let mut rates = Vec::new();
        for (code, rate) in &raw.billing.exchange_rates {
            let key = format!("billing.exchange_rates.{code}");
            let currency =
                Currency::parse(code).map_err(|e| self.invalid(&key, code, e.to_string()))?;
            let rate = MicroUnits::parse_decimal(rate)
                .map_err(|e| self.invalid(&key, rate, e.to_string()))?;
            rates.push((currency, rate));
        }
        let exchange_rates = ExchangeRates::new(rates)
            .map_err(|e| self.invalid("billing.exchange_rates", "…", e.to_string()))?;
        if raw.usage.spill_max_mb == 0 {
            return Err(self.invalid("usage.spill_max_mb", "0", "must be at least 1"));
        }
        if raw.usage.retain_days == 0 || raw.usage.queue_capacity == 0 {
            return Err(self.invalid(
                "usage",
                format!(
                    "retain_days = {}, queue_capacity = {}",
                    raw.usage.retain_days, raw.usage.queue_capacity
                ),
                "both must be at least 1",
            ));
        }

        let auth_failures = match raw.keys.auth_failure_limit {
            0 => None,
            limit => {
                let period = raw.keys.auth_failure_period.parse().map_err(
                    |e: crate::domain::gcra::ParsePeriodError| {
                        self.invalid(
                            "keys.auth_failure_period",
                            &raw.keys.auth_failure_period,
                            e.to_string(),
                        )
                    },
                )?;
                Some(crate::domain::gcra::Quota {
                    requests: limit,
                    period,
                    burst: limit,
                })
            }
        };

        let mut env_models = BTreeMap::new();
        for (env, models) in &raw.keys.env_models {
            let env: KeyEnv = env.parse().map_err(|_| {
                self.invalid(
                    &format!("keys.env_models.{env}"),
                    env,
                    "the environment must be live, stg or dev",
                )
            })?;
            env_models.insert(env, models.clone());
        }

        let mut trusted_proxies = Vec::new();
        for (i, entry) in raw.server.trusted_proxies.iter().enumerate() {
            let net = entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    self.invalid(
                        &format!("server.trusted_proxies[{i}]"),
                        entry,
                        "not an IP address or CIDR (e.g. \"10.0.0.0/8\" or \"192.0.2.1\")",
                    )
                })?;
            trusted_proxies.push(net);
        }

        let prefix = raw.keys.prefix.clone();
        if prefix.is_empty()
            || prefix.len() > 16
            || !prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            return Err(self.invalid(
                "keys.prefix",
                &prefix,
                "use 1-16 lowercase letters or digits (no `_`: it separates the key's fields)",
            ));
        }
        let alt_header = HeaderName::try_from(raw.keys.alt_header.as_str()).map_err(|_| {
            self.invalid(
                "keys.alt_header",
                &raw.keys.alt_header,
                "not a valid HTTP header name",
            )
        })?;
        let pepper = match self.expand("keys.pepper", &raw.keys.pepper)? {
            Some(p) if p.len() >= 16 => PepperSource::Configured(Secret::new(p.into_bytes())),
            Some(_) => {
                return Err(self.invalid(
                    "keys.pepper",
                    "[redacted]",
                    "must be at least 16 characters of random text",
                ));
            }
            None => PepperSource::File(data_dir.join("tollgate.pepper")),
        };

        let secrets = self.secrets(&raw.secrets, &data_dir)?;
        let email = self.email(&raw.email)?;
        let auth = self.auth(&raw.auth, &data_dir)?;
        let webhooks = self.webhooks(&raw.outbound, &raw.webhooks)?;
        let alerts = self.alerts(&raw.alerts)?;

        let redis_url = self.expand("redis.url", &raw.redis.url)?;
        let redis = raw
            .redis
            .validate(redis_url)
            .map_err(|(key, value, problem)| self.invalid(key, value, problem))?;
        let storage_url = match self.expand("storage.url", &raw.storage.url)? {
            Some(url) => url,
            None => format!("sqlite://{}", data_dir.join("tollgate.db").display()),
        };
        let is_postgres =
            storage_url.starts_with("postgres://") || storage_url.starts_with("postgresql://");
        if !storage_url.starts_with("sqlite:") && !is_postgres {
            return Err(self.invalid(
                "storage.url",
                redact_url(&storage_url),
                "use sqlite://PATH (e.g. \"sqlite://tollgate.db\") or \
                 postgres://USER:PASSWORD@HOST:PORT/DATABASE",
            ));
        }
        if raw.storage.max_connections == 0 || raw.storage.connect_timeout_ms == 0 {
            return Err(self.invalid(
                "storage",
                format!(
                    "max_connections = {}, connect_timeout_ms = {}",
                    raw.storage.max_connections, raw.storage.connect_timeout_ms
                ),
                "max_connections and connect_timeout_ms must be at least 1",
            ));
        }
        let spill_path = match raw.usage.spill_path.as_str() {
            "" => default_spill_path(&storage_url, &data_dir),
            path => PathBuf::from(path),
        };

        let mut providers = BTreeMap::new();
        for (kind, p) in [
            (ProviderKind::OpenAi, &raw.providers.openai),
            (ProviderKind::Anthropic, &raw.providers.anthropic),
            (ProviderKind::Gemini, &raw.providers.gemini),
            (ProviderKind::Deepgram, &raw.providers.deepgram),
            (ProviderKind::DeepSeek, &raw.providers.deepseek),
            (ProviderKind::Qwen, &raw.providers.qwen),
            (ProviderKind::Moonshot, &raw.providers.moonshot),
            (ProviderKind::MiniMax, &raw.providers.minimax),
        ] {
            let name = kind.as_str();
            let base_key = format!("providers.{name}.base_url");
            let base_url = self.base_url(&base_key, &p.base_url)?;
            let api_key = self
                .expand(&format!("providers.{name}.api_key"), &p.api_key)?
                .map(Secret::new);
            let extra_deployments = self.deployments(name, &p.deployments, api_key.is_some())?;
            providers.insert(
                kind,
                ProviderConfig {
                    base_url: base_url.trim_end_matches('/').to_owned(),
                    api_key,
                    api_version: (!p.api_version.is_empty()).then(|| p.api_version.clone()),
                    extra_deployments,
                },
            );
        }

        let mut models = Vec::with_capacity(raw.models.len());
        for (i, m) in raw.models.iter().enumerate() {
            if m.id.is_empty() {
                return Err(self.invalid(&format!("models[{i}].id"), "", "must not be empty"));
            }
            let provider = m.provider.parse::<ProviderKind>().map_err(|e| {
                self.invalid(&format!("models[{i}].provider"), &m.provider, e.to_string())
            })?;
            let price = |field: &str, usd: f64| {
                if usd.is_finite() && (0.0..=MAX_USD_PER_MTOK).contains(&usd) {
                    Ok((usd * 1_000_000.0).round() as u64)
                } else {
                    Err(self.invalid(
                        &format!("models[{i}].{field}"),
                        usd,
                        "must be a price from 0 to 1000000 (USD per million tokens)",
                    ))
                }
            };
            let input = price("input_usd_per_mtok", m.input_usd_per_mtok)?;
            let output = price("output_usd_per_mtok", m.output_usd_per_mtok)?;
            let cached = match m.cached_input_usd_per_mtok {
                Some(usd) => price("cached_input_usd_per_mtok", usd)?,
                None => input,
            };
            models.push(ModelSpec {
                id: m.id.clone(),
                provider,
                input_micro_usd_per_mtok: input,
                output_micro_usd_per_mtok: output,
                cached_input_micro_usd_per_mtok: cached,
                fallbacks: self.fallbacks(
                    &format!("models[{i}].fallbacks"),
                    &m.id,
                    &m.fallbacks,
                )?,
            });
        }
        let mut aliases = Vec::with_capacity(raw.aliases.len());
        for (i, a) in raw.aliases.iter().enumerate() {
            let targets: Vec<(ProviderKind, String)> = [
                (ProviderKind::OpenAi, &a.openai),
                (ProviderKind::Anthropic, &a.anthropic),
                (ProviderKind::Gemini, &a.gemini),
            ]
            .into_iter()
            .filter_map(|(p, m)| m.clone().map(|m| (p, m)))
            .collect();
            if a.id.is_empty() || targets.is_empty() {
                return Err(self.invalid(
                    &format!("aliases[{i}]"),
                    &a.id,
                    "an alias needs an id and at least one of openai, anthropic, gemini",
                ));
            }
            aliases.push(AliasSpec {
                id: a.id.clone(),
                targets,
                fallbacks: self.fallbacks(
                    &format!("aliases[{i}].fallbacks"),
                    &a.id,
                    &a.fallbacks,
                )?,
            });
        }

        Ok(Config {
            server: ServerConfig {
                listen,
                max_body_bytes,
                shutdown_grace: Duration::from_secs(raw.server.shutdown_grace_secs),
                trusted_proxies,
                header_read_timeout: Duration::from_millis(raw.server.header_read_timeout_ms),
                body_read_timeout: Duration::from_millis(raw.server.body_read_timeout_ms),
                idle_timeout: Duration::from_millis(raw.server.idle_timeout_ms),
                max_connections: usize::try_from(raw.server.max_connections).unwrap_or(usize::MAX),
                // Checked to lie in 0..=1024 above.
                worker_threads: std::num::NonZeroUsize::new(raw.server.worker_threads as usize),
                // Both checked to lie in 256..=1 MiB above.
                max_uri_bytes: raw.server.max_uri_bytes as usize,
                max_header_bytes: raw.server.max_header_bytes as usize,
                cors,
            },
            redis,
            metrics: MetricsConfig {
                listen: metrics_listen,
                bearer_token: metrics_token,
            },
            upstream: UpstreamConfig {
                connect_timeout: Duration::from_millis(raw.upstream.connect_timeout_ms),
                first_byte_timeout: Duration::from_millis(raw.upstream.first_byte_timeout_ms),
                idle_timeout: Duration::from_millis(raw.upstream.idle_timeout_ms),
                http2: raw.upstream.http2,
            },
            storage: StorageConfig {
                url: storage_url,
                max_connections: raw.storage.max_connections,
                connect_timeout: Duration::from_millis(raw.storage.connect_timeout_ms),
            },
            keys: KeysConfig {
                prefix,
                alt_header,
                pepper,
                cache_ttl: Duration::from_secs(raw.keys.cache_ttl_secs),
                revocation_poll: Duration::from_millis(raw.keys.revocation_poll_ms),
                env_models,
                auth_failures,
            },
            providers,
            byok: ByokPolicy {
                allow_http_base: raw.byok.allow_http_base,
                allow_private_base: raw.byok.allow_private_base,
            },
            exchange_rates,
            unpriced: raw.billing.unpriced,
            usage: UsageConfig {
                enabled: raw.usage.enabled,
                retain: Duration::from_secs(raw.usage.retain_days.saturating_mul(86_400)),
                queue_capacity: usize::try_from(raw.usage.queue_capacity).unwrap_or(usize::MAX),
                spill_path,
                spill_max_bytes: raw.usage.spill_max_mb.saturating_mul(1 << 20),
            },
            log: LogConfig {
                access: raw.log.access,
            },
            secrets,
            outbound: self.outbound(&raw.outbound)?,
            connections: ConnectionsConfig {
                user_fallback_to_org: raw.connections.user_fallback_to_org,
            },
            email,
            auth,
            webhooks,
            ui: self.ui(&raw.ui)?,
            alerts,
            models,
            aliases,
            routing: self.routing(&raw.routing)?,
            data_dir,
            bootstrap_admin_key: None,
            warnings: self.warnings,
        })
    }
}

/// Where files live when no path is configured: `$TOLLGATE_DATA_DIR`, else the
/// working directory.
/// `<database file>.usage-spill` beside an SQLite file; in the data directory for
/// an in-memory database.
fn default_spill_path(storage_url: &str, data_dir: &Path) -> PathBuf {
    if !storage_url.starts_with("sqlite:") {
        // A database server: the spill file is this machine's, in the data directory.
        return data_dir.join("tollgate.usage-spill");
    }
    let path = storage_url
        .strip_prefix("sqlite://")
        .or_else(|| storage_url.strip_prefix("sqlite:"))
        .unwrap_or(storage_url);
    let path = path.split('?').next().unwrap_or(path);
    if path.is_empty() || path.contains(":memory:") {
        return data_dir.join("tollgate.usage-spill");
    }
    PathBuf::from(format!("{path}.usage-spill"))
}

pub fn data_dir() -> PathBuf {
    std::env::var_os("TOLLGATE_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

impl KeysConfig {
    /// The pepper bytes: configured, or read from (and on first use written to) the
    /// pepper file with owner-only permissions.
    pub fn load_pepper(&self) -> Result<Secret<Vec<u8>>, ConfigError> {
        match &self.pepper {
            PepperSource::Configured(p) => Ok(p.clone()),
            PepperSource::File(path) => read_or_create_pepper(path),
        }
    }
}

fn read_or_create_pepper(path: &Path) -> Result<Secret<Vec<u8>>, ConfigError> {
    use std::io::Write;
    let io_err = |source| ConfigError::DataDir {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(io_err)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(path) {
        Ok(mut f) => {
            let pepper: [u8; 32] = rand::random();
            let hex: String = pepper.iter().map(|b| format!("{b:02x}")).collect();
            f.write_all(hex.as_bytes()).map_err(io_err)?;
            f.sync_all().map_err(io_err)?;
            Ok(Secret::new(hex.into_bytes()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(path).map_err(io_err)?;
            let text = text.trim();
            if text.len() < 32 {
                return Err(io_err(std::io::Error::other(
                    "pepper file is shorter than 32 characters; restore it from backup (keys hashed with the old pepper stop working otherwise)",
                )));
            }
            Ok(Secret::new(text.as_bytes().to_vec()))
        }
        Err(e) => Err(io_err(e)),
    }
}

/// `[byok]` settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct ByokPolicy {
    pub allow_http_base: bool,
    pub allow_private_base: bool,
}

impl ByokPolicy {
    /// The outbound address policy for caller-chosen BYOK bases.
    pub fn addresses(self) -> AddressPolicy {
        AddressPolicy {
            allow_http: self.allow_http_base,
            allow_private: self.allow_private_base,
        }
    }
}

/// The highest price a configured model may have, in USD per million tokens: far
/// above any real one, and low enough that micro-units stay exact in a u64.
const MAX_USD_PER_MTOK: f64 = 1_000_000.0;

/// A `[[models]]` entry after validation: a known provider and prices in integer
/// micro-USD per million tokens (the cached-input price defaults to the input one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSpec {
    pub id: String,
    pub provider: ProviderKind,
    pub input_micro_usd_per_mtok: u64,
    pub output_micro_usd_per_mtok: u64,
    pub cached_input_micro_usd_per_mtok: u64,
    /// Model ids tried in order when this one fails on every deployment.
    pub fallbacks: Vec<String>,
}

/// An `[[aliases]]` entry after validation: one gateway name and the model it means
/// on each provider that has one (at least one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasSpec {
    pub id: String,
    pub targets: Vec<(ProviderKind, String)>,
    pub fallbacks: Vec<String>,
}

#[cfg(test)]
mod tests;
