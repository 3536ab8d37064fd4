//! Schemas of the `/admin/webhooks` and `/admin/alerts` responses.

use serde::Serialize;
use utoipa::ToSchema;

/// A webhook as list and get show it: never its secret.
#[derive(Serialize, ToSchema)]
pub struct Webhook {
    /// Always `webhook`.
    pub object: String,
    pub id: String,
    pub account_id: String,
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    /// While a rotated-out secret still signs.
    pub secret_rotation_overlap_until: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// A webhook with its signing secret (`whsec_…`), shown once.
#[derive(Serialize, ToSchema)]
pub struct WebhookWithSecret {
    #[serde(flatten)]
    pub webhook: Webhook,
    pub secret: String,
}

#[derive(Serialize, ToSchema)]
pub struct WebhookList {
    pub object: String,
    pub data: Vec<Webhook>,
}

#[derive(Serialize, ToSchema)]
pub struct Deleted {
    pub object: String,
    pub id: String,
    pub deleted: bool,
}

/// A delivery queued (test or redelivery).
#[derive(Serialize, ToSchema)]
pub struct Queued {
    pub object: String,
    pub id: String,
    pub status: String,
}

/// One delivery of one event to one webhook.
#[derive(Serialize, ToSchema)]
pub struct Delivery {
    pub object: String,
    pub id: String,
    pub webhook_id: String,
    pub event_id: String,
    pub event_type: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub last_status: Option<u16>,
    pub next_attempt_at: Option<String>,
    pub created_at: String,
    pub delivered_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryList {
    pub object: String,
    pub data: Vec<Delivery>,
}

/// An alert, in the same shape a webhook delivery has.
#[derive(Serialize, ToSchema)]
pub struct Alert {
    pub id: String,
    /// `alert.auth_failures`, `alert.new_ip`, …
    #[serde(rename = "type")]
    pub kind: String,
    pub created_at: String,
    pub account_id: String,
    pub data: serde_json::Map<String, serde_json::Value>,
}

#[derive(Serialize, ToSchema)]
pub struct AlertList {
    pub object: String,
    pub data: Vec<Alert>,
}
