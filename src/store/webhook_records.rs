//! Rows of the webhook tables: endpoints, the event outbox and deliveries. Plain
//! data; the sealed secrets stay sealed here (only `crate::webhooks` opens them).

use time::OffsetDateTime;

/// A registered endpoint. `secret_sealed` is a `crate::seal` value, never plaintext.
#[derive(Debug, Clone)]
pub struct WebhookRecord {
    pub id: String,
    pub account_id: String,
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    pub secret_sealed: String,
    pub prev_secret_sealed: Option<String>,
    pub prev_secret_until: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// What a PATCH may change (`None`: unchanged).
#[derive(Debug, Clone, Default)]
pub struct WebhookUpdate {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<Option<String>>,
}

/// An event for the outbox: key lifecycle or an alert.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub id: String,
    pub kind: String,
    pub account_id: String,
    pub created_at: OffsetDateTime,
    pub data: serde_json::Value,
}

impl NewEvent {
    /// A new event with a fresh id, stamped now.
    pub fn now(kind: &str, account_id: &str, data: serde_json::Value) -> NewEvent {
        NewEvent {
            id: format!("evt_{}", uuid::Uuid::now_v7().simple()),
            kind: kind.to_owned(),
            account_id: account_id.to_owned(),
            created_at: OffsetDateTime::now_utc(),
            data,
        }
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryStatus> {
        match s {
            "pending" => Some(DeliveryStatus::Pending),
            "delivered" => Some(DeliveryStatus::Delivered),
            "failed" => Some(DeliveryStatus::Failed),
            _ => None,
        }
    }
}

/// One delivery of one event to one webhook, with its event.
#[derive(Debug, Clone)]
pub struct DeliveryRecord {
    pub id: String,
    pub webhook_id: String,
    pub event: NewEvent,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub last_status: Option<u16>,
    pub next_attempt_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
    pub delivered_at: Option<OffsetDateTime>,
}

/// The outcome of one attempt, written back by the worker.
#[derive(Debug, Clone)]
pub enum AttemptOutcome {
    Delivered {
        status: u16,
    },
    Retry {
        error: String,
        status: Option<u16>,
        next_attempt_at: OffsetDateTime,
    },
    GiveUp {
        error: String,
        status: Option<u16>,
    },
}

/// Recent alerts, as `GET /admin/alerts` filters them.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub type_prefix: Option<String>,
    pub kind: Option<String>,
    pub account_id: Option<String>,
    pub key_id: Option<String>,
    pub since: Option<OffsetDateTime>,
    pub limit: u32,
}

/// The account whose webhooks hear every account's events (the operator's).
const OPERATOR_ACCOUNT: &str = "default";

/// A webhook's event list as stored (a JSON array), by both backends.
pub(super) fn events_json(events: &[String]) -> String {
    serde_json::Value::from(events.to_vec()).to_string()
}

/// Whether `hook` subscribes to `event`: its account (or the operator's hears
/// all), its types, and not an event from before the webhook existed.
pub(super) fn wants(hook: &WebhookRecord, event: &NewEvent) -> bool {
    if event.created_at < hook.created_at {
        return false;
    }
    let account_ok = hook.account_id == OPERATOR_ACCOUNT || hook.account_id == event.account_id;
    account_ok && hook.events.iter().any(|e| e == "*" || *e == event.kind)
}

/// A fresh delivery id.
pub(super) fn delivery_id() -> String {
    format!("dlv_{}", uuid::Uuid::now_v7().simple())
}
