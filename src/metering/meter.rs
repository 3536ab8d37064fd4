//! One request's usage draft: filled in as the request moves through the gateway
//! (the meter middleware opens it, the gate adds the principal, the handler the
//! route, the response body the tokens), and closed exactly once into a
//! `UsageEvent` — when the response is an error, when the body ends, or when the
//! client goes away mid-stream (the body is dropped).

use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

use crate::metering::UsageSource;

/// What the handler decided about a request.
#[derive(Debug, Clone)]
pub struct RouteInfo {
    pub provider: String,
    pub model_requested: String,
    pub model_served: String,
    /// Catalog prices (micro-USD per Mtok), when the model is in the catalog.
    pub prices: Option<crate::metering::pricing::Prices>,
    /// The output tokens a prepaid reservation covered (the request's own limit,
    /// else the model's default): no more is billed.
    pub max_output_tokens: u64,
    pub byok: bool,
    pub streamed: bool,
    /// The shape of the caller-facing body, for reading usage out of it.
    pub format: crate::metering::observe::BodyFormat,
    /// Remove the OpenAI usage chunk the gateway asked for but the caller did not.
    pub strip_usage_chunk: bool,
}

/// Token counts for one request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenCounts {
    pub input: u64,
    pub output: u64,
    pub cached: u64,
}

#[derive(Debug, Default)]
pub struct Draft {
    pub request_id: String,
    /// The UUID the gateway made for this request (no `x-request-id` came in);
    /// the usage event's id reuses it, so a request makes one UUID.
    pub request_uuid: Option<uuid::Uuid>,
    pub endpoint: String,
    pub client_ip: String,
    pub user_id: String,
    pub session_id: String,
    pub app_version: String,
    pub account_id: String,
    pub kid: String,
    pub key_markup_bps: Option<u32>,
    pub route: Option<RouteInfo>,
    /// The request body, kept only until the request ends, for input estimates.
    pub request_body: bytes::Bytes,
    pub tokens: Option<(TokenCounts, UsageSource)>,
    pub ttfb: Option<std::time::Duration>,
    /// Set when money was held for this request (prepaid accounts).
    pub reservation: Option<crate::metering::ledger::Reservation>,
    /// The account currency, known once the request was routed.
    pub currency: String,
}

/// Shared handle to the draft, kept in request extensions.
#[derive(Clone)]
pub struct Meter {
    pub started: Instant,
    pub started_ms: i64,
    draft: Arc<Mutex<Draft>>,
    /// Not connected to the writer: metering is off (`[usage] enabled = false`).
    detached: bool,
}

impl Meter {
    pub fn new(draft: Draft, started_ms: i64) -> Self {
        Meter {
            started: Instant::now(),
            started_ms,
            draft: Arc::new(Mutex::new(draft)),
            detached: false,
        }
    }

    /// A meter nobody closes, for routes served with metering off.
    pub fn detached() -> Self {
        Meter {
            detached: true,
            ..Meter::new(Draft::default(), 0)
        }
    }

    pub fn is_detached(&self) -> bool {
        self.detached
    }

    /// Runs `f` on the draft. The lock is never held across an await.
    pub fn with<R>(&self, f: impl FnOnce(&mut Draft) -> R) -> R {
        f(&mut self.draft.lock())
    }

    pub fn set_route(&self, route: RouteInfo) {
        self.with(|d| d.route = Some(route));
    }
}
