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

/// Serialized as one JSON line in the spill file (`metering::spill`). Fields added
/// later carry `serde(default)`, so a spill file an older version left still reads.
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
    /// Provider cost in micro-USD; `None` when it is unknown (the model has no
    /// price: an open-catalog forward, or BYOK with a model the catalog lacks).
    pub cost_micro_usd: Option<i64>,
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
    /// An upstream try that failed and that another try of the same request
    /// followed (`metering::attempts`). Reports count such rows as
    /// `attempts_failed`, never as requests: the request's own row says how it ended.
    #[serde(default)]
    pub failed_attempt: bool,
}

impl UsageEvent {
    /// The id as the 16 bytes of its UUID, as the stores keep it. Ids are UUIDv7s
    /// the gateway made; anything else (hand-made test rows) maps to a stable UUID
    /// derived from its text, so a replayed event still meets itself.
    pub fn id_bytes(&self) -> [u8; 16] {
        id_bytes(&self.id)
    }
}

/// See [`UsageEvent::id_bytes`].
pub fn id_bytes(id: &str) -> [u8; 16] {
    match uuid::Uuid::try_parse(id) {
        Ok(u) => u.into_bytes(),
        Err(_) => {
            use sha2::Digest;
            let digest = sha2::Sha256::digest(id.as_bytes());
            let mut b = [0u8; 16];
            b.copy_from_slice(&digest[..16]);
            b
        }
    }
}
