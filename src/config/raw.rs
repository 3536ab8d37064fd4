//! Raw configuration values, as they come from the built-in defaults, the TOML file
//! and `TOLLGATE_…` env vars, before validation. Every default lives here.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawConfig {
    pub server: RawServer,
    pub upstream: RawUpstream,
    pub storage: RawStorage,
    pub keys: RawKeys,
    pub providers: RawProviders,
    pub byok: RawByok,
    pub billing: RawBilling,
    pub usage: RawUsage,
    pub log: RawLog,
    pub metrics: RawMetrics,
    pub secrets: super::RawSecrets,
    pub redis: super::redis::RawRedis,
    pub outbound: super::RawOutbound,
    pub connections: super::RawConnections,
    pub email: super::RawEmail,
    pub auth: super::RawAuth,
    pub webhooks: super::RawWebhooks,
    pub ui: super::RawUi,
    pub alerts: super::RawAlerts,
    pub models: Vec<RawModel>,
    pub aliases: Vec<RawAlias>,
    pub routing: super::routing::RawRouting,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawBilling {
    /// Units of each currency per 1 USD, as decimal strings: `TRY = "34.25"`.
    pub exchange_rates: BTreeMap<String, String>,
    /// `"refuse"` (default) or `"allow"`: prepaid calls to a model with no price.
    pub unpriced: super::UnpricedPolicy,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLog {
    /// One `info` line per answered request ("request done"). Off by default: it
    /// cost ~10 % of the instructions per request (bench/RESULTS.md); refusals and failures are
    /// logged either way.
    pub access: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawUsage {
    /// Record usage at all. Off: no usage events, no charges, no balance checks —
    /// a pure proxy (and the baseline for the metering benchmark).
    pub enabled: bool,
    /// Raw usage events older than this are deleted (hourly rollups are kept).
    pub retain_days: u64,
    /// Events waiting for the writer before they spill to the overflow list.
    pub queue_capacity: u64,
    /// Where usage goes when the database refuses it (and at shutdown, what it
    /// could not take); empty: `<database file>.usage-spill`.
    pub spill_path: String,
    /// The spill file's size bound, in MiB.
    pub spill_max_mb: u64,
}

impl Default for RawUsage {
    fn default() -> Self {
        RawUsage {
            enabled: true,
            retain_days: 90,
            queue_capacity: 10_000,
            spill_path: String::new(),
            spill_max_mb: 1024,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawServer {
    pub listen: String,
    pub max_body_bytes: u64,
    pub shutdown_grace_secs: u64,
    /// Proxies whose `X-Forwarded-For` we believe (IPs or CIDRs).
    pub trusted_proxies: Vec<String>,
    /// A connection must deliver a complete request head within this; the clock
    /// also runs while an HTTP/1.1 connection waits for its next request.
    pub header_read_timeout_ms: u64,
    /// A request body must arrive completely within this (slow bodies hold permits).
    pub body_read_timeout_ms: u64,
    /// A connection with no request in flight for this long is closed.
    pub idle_timeout_ms: u64,
    /// Open connections per listener; at the cap, new ones wait in the accept backlog.
    pub max_connections: u64,
    /// Threads of the async runtime (`tollgate serve`); 0: one per core, or
    /// `TOKIO_WORKER_THREADS` when that is set.
    pub worker_threads: u64,
    /// Request line target longer than this: 414 `uri_too_long`.
    pub max_uri_bytes: u64,
    /// Header names + values (+4 per header) above this: 431 `header_too_large`.
    pub max_header_bytes: u64,
    /// Browser origins allowed to call the gateway (CORS): `["https://app.example"]`
    /// or `["*"]`. Empty: no CORS headers at all.
    pub cors_allow_origins: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawMetrics {
    /// Serve `/metrics` on this address only (not on `[server] listen`). Empty: main listener.
    pub listen: String,
    /// Require `Authorization: Bearer <token>` on `/metrics`. Empty: open.
    pub bearer_token: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawUpstream {
    pub connect_timeout_ms: u64,
    pub first_byte_timeout_ms: u64,
    pub idle_timeout_ms: u64,
    /// Speak HTTP/2 to upstreams (ALPN on https, prior knowledge on http) instead
    /// of HTTP/1.1 over a keep-alive pool.
    pub http2: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawStorage {
    /// Empty means `sqlite://<data dir>/tollgate.db`; `postgres://…` selects PostgreSQL.
    pub url: String,
    /// PostgreSQL: most pooled connections per gateway.
    pub max_connections: u32,
    /// PostgreSQL: how long to wait for a connection (and for the server at startup).
    pub connect_timeout_ms: u64,
}

impl Default for RawStorage {
    fn default() -> Self {
        RawStorage {
            url: String::new(),
            max_connections: 16,
            connect_timeout_ms: 5_000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawKeys {
    pub prefix: String,
    pub alt_header: String,
    /// HMAC pepper for stored key hashes. Empty: a random one kept in `<data dir>/tollgate.pepper`.
    pub pepper: String,
    pub cache_ttl_secs: u64,
    pub revocation_poll_ms: u64,
    /// Per environment (`live`, `stg`, `dev`): the only models its keys may use
    /// (ids as requested or served, `provider/*`, `*`). Absent: no restriction.
    pub env_models: BTreeMap<String, Vec<String>>,
    /// Failed authentications per client network (IPv4 address, IPv6 /64) per
    /// `auth_failure_period` before key lookups from it are refused with 429; 0 = off.
    pub auth_failure_limit: u32,
    /// `second`, `minute`, `hour` or `day`.
    pub auth_failure_period: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawProviders {
    pub openai: RawProvider,
    pub anthropic: RawProvider,
    pub gemini: RawProvider,
    pub deepgram: RawProvider,
    pub deepseek: RawProvider,
    pub qwen: RawProvider,
    pub moonshot: RawProvider,
    pub minimax: RawProvider,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawByok {
    /// Allow `http://` in `x-byok-api-base` (tests, trusted networks only).
    pub allow_http_base: bool,
    /// Allow `x-byok-api-base` to reach loopback, private and link-local addresses.
    pub allow_private_base: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawProvider {
    pub base_url: String,
    pub api_key: String,
    /// Anthropic: the `anthropic-version` sent when the caller sends none.
    pub api_version: String,
    /// More accounts of this provider besides `base_url`/`api_key` (`config::routing`).
    pub deployments: Vec<super::routing::RawDeployment>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModel {
    pub id: String,
    pub provider: String,
    #[serde(default)]
    pub input_usd_per_mtok: f64,
    #[serde(default)]
    pub output_usd_per_mtok: f64,
    #[serde(default)]
    pub cached_input_usd_per_mtok: Option<f64>,
    /// Models tried, in order, when every deployment of this one failed.
    #[serde(default)]
    pub fallbacks: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlias {
    pub id: String,
    #[serde(default)]
    pub openai: Option<String>,
    #[serde(default)]
    pub anthropic: Option<String>,
    #[serde(default)]
    pub gemini: Option<String>,
    /// Models tried, in order, when the alias's model failed everywhere.
    #[serde(default)]
    pub fallbacks: Vec<String>,
}

impl Default for RawServer {
    fn default() -> Self {
        RawServer {
            listen: "127.0.0.1:8080".into(),
            max_body_bytes: 25 * 1024 * 1024,
            shutdown_grace_secs: 30,
            trusted_proxies: Vec::new(),
            header_read_timeout_ms: 10_000,
            body_read_timeout_ms: 120_000,
            idle_timeout_ms: 60_000,
            max_connections: 10_000,
            worker_threads: 0,
            max_uri_bytes: 8_192,
            max_header_bytes: 32_768,
            cors_allow_origins: Vec::new(),
        }
    }
}

impl Default for RawUpstream {
    fn default() -> Self {
        // Reasoning models can think for minutes before the first byte, so the
        // first-byte budget is generous; idle is the longest silence mid-stream.
        RawUpstream {
            connect_timeout_ms: 5_000,
            first_byte_timeout_ms: 600_000,
            idle_timeout_ms: 300_000,
            http2: false,
        }
    }
}

impl Default for RawKeys {
    fn default() -> Self {
        RawKeys {
            prefix: "tg".into(),
            alt_header: "X-Tollgate-API-Key".into(),
            pepper: String::new(),
            cache_ttl_secs: 300,
            revocation_poll_ms: 1_000,
            env_models: BTreeMap::new(),
            auth_failure_limit: 20,
            auth_failure_period: "minute".into(),
        }
    }
}

impl Default for RawProviders {
    fn default() -> Self {
        let p = |base: &str, var: &str| RawProvider {
            base_url: base.into(),
            api_key: format!("${{{var}}}"),
            api_version: String::new(),
            deployments: Vec::new(),
        };
        RawProviders {
            openai: p("https://api.openai.com/v1", "OPENAI_API_KEY"),
            anthropic: RawProvider {
                api_version: "2023-06-01".into(),
                ..p("https://api.anthropic.com", "ANTHROPIC_API_KEY")
            },
            gemini: p(
                "https://generativelanguage.googleapis.com",
                "GEMINI_API_KEY",
            ),
            deepgram: p("https://api.deepgram.com", "DEEPGRAM_API_KEY"),
            deepseek: p("https://api.deepseek.com/v1", "DEEPSEEK_API_KEY"),
            qwen: p(
                "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
                "DASHSCOPE_API_KEY",
            ),
            moonshot: p("https://api.moonshot.ai/v1", "MOONSHOT_API_KEY"),
            minimax: p("https://api.minimax.io/v1", "MINIMAX_API_KEY"),
        }
    }
}
