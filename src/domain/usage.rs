//! `UsageEvent`: one row per gateway request, success or failure, written by the
//! batch writer. Money is integer micro-units (1e-6 of the currency), never floats.

use serde::{Deserialize, Serialize};

/// Where the token counts came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UsageSource {
    /// The provider reported them.
    Reported,
    /// The gateway counted them (no usage from the provider, or a stream cut short).
    Estimated,
    /// Nothing was sent upstream (refused before forwarding).
    None,
}

impl UsageSource {
    pub fn as_str(self) -> &'static str {
        match self {
            UsageSource::Reported => "reported",
            UsageSource::Estimated => "estimated",
            UsageSource::None => "none",
        }
    }
}

/// Serialized as one JSON line in the spill file (`metering::spill`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageEvent {
    /// UUIDv7, so ids sort by time.
    pub id: String,
    /// Unix milliseconds when the request arrived.
    pub ts_ms: i64,
    pub request_id: String,
    /// Empty when the caller never authenticated.
    pub account_id: String,
    /// The key's public id; empty when the caller never authenticated.
    pub kid: String,
    /// `X-User-Id` (or a JWT user, later); empty for org-wide calls.
    pub user_id: String,
    /// The route, e.g. `/v1/chat/completions`.
    pub endpoint: String,
    /// Empty when the request never reached routing.
    pub provider: String,
    pub model_requested: String,
    pub model_served: String,
    pub status: u16,
    /// The documented error code, empty on success.
    pub error_code: String,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cached_tokens: i64,
    pub usage_source: UsageSource,
    /// Provider cost in micro-USD.
    pub cost_micro_usd: i64,
    /// What the account is charged, in micro-units of `currency` (0 for BYOK).
    pub charge_micro: i64,
    pub currency: String,
    pub latency_ms: i64,
    /// Time to the first response byte; equals latency for non-streamed answers.
    pub ttfb_ms: i64,
    pub client_ip: String,
    pub session_id: String,
    pub app_version: String,
    pub byok: bool,
    pub streamed: bool,
}
