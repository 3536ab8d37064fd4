//! Signed webhooks: endpoints per account, a durable outbox in the database and a
//! delivery worker ([`worker`]).
//!
//! Events (key lifecycle, alerts, `webhook.test`) are rows in the outbox, written
//! by whoever caused them (the key service for the API and the CLI alike, the alert
//! evaluator); the worker fans each out to the webhooks that subscribe to its type
//! and then delivers, retrying with exponential backoff and jitter. Every state
//! lives in the database, so a restart loses nothing: a delivery claimed by a
//! process that died is taken up again once its lease runs out.
//!
//! Signing secrets must be read back to sign, so they are sealed (`crate::seal`,
//! bound to the webhook's id), shown once at creation or rotation, and never in
//! a list, a get, a payload or a log. Targets obey the `[outbound]` address policy,
//! checked when a webhook is saved and again at every attempt (and by the client's
//! DNS resolver at connect time).

pub mod signature;
pub mod worker;

use std::sync::Arc;

use rand::RngCore;
use time::OffsetDateTime;
use tokio::sync::Notify;

use crate::config::WebhooksConfig;
use crate::outbound::OutboundError;
use crate::seal::{SealError, Sealer};
use crate::secret::Secret;
use crate::store::{DeliveryRecord, NewEvent, Store, StoreError, WebhookRecord, WebhookUpdate};

/// Event types a webhook may subscribe to (`*`: all of them).
pub const EVENT_TYPES: &[&str] = &[
    "key.created",
    "key.rotated",
    "key.revoked",
    "key.expired",
    "alert.auth_failures",
    "alert.new_ip",
    "alert.rate_limit_near",
    "alert.rate_limited",
    "alert.balance_low",
    "alert.spend_daily",
    "webhook.test",
];

/// Longest description, in characters.
const MAX_DESCRIPTION: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("`url` {0}")]
    Url(OutboundError),
    #[error("{0}")]
    Events(String),
    #[error("`description` may be at most 1024 characters")]
    Description,
    #[error("no webhook with id `{0}`")]
    NotFound(String),
    #[error("no delivery `{0}` for this webhook")]
    DeliveryNotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("webhook secret cannot be opened: {0}")]
    Seal(#[from] SealError),
}

/// What a create asks for.
#[derive(Debug, Clone)]
pub struct WebhookSpec {
    pub account_id: String,
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
}

/// The webhook service: shared by the handlers and the worker.
#[derive(Clone)]
pub struct Webhooks {
    store: Store,
    sealer: Arc<Sealer>,
    config: WebhooksConfig,
    wake: Arc<Notify>,
}

impl Webhooks {
    pub fn new(store: Store, sealer: Arc<Sealer>, config: WebhooksConfig) -> Webhooks {
        Webhooks {
            store,
            sealer,
            config,
            wake: Arc::new(Notify::new()),
        }
    }

    pub fn config(&self) -> &WebhooksConfig {
        &self.config
    }

    /// What wakes the worker, for writers of events outside this module (alerts).
    pub fn waker(&self) -> Arc<Notify> {
        Arc::clone(&self.wake)
    }

    /// Tells the worker there is something to do now rather than at its next tick.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    async fn check_url(&self, url: &str) -> Result<String, WebhookError> {
        let policy = self.config.outbound;
        let parsed = policy.check_url(url).map_err(WebhookError::Url)?;
        policy
            .check_resolved(&parsed)
            .await
            .map_err(WebhookError::Url)?;
        Ok(parsed.to_string())
    }

    /// Registers a webhook; returns it with its secret (shown this once).
    pub async fn create(
        &self,
        spec: WebhookSpec,
    ) -> Result<(WebhookRecord, Secret<String>), WebhookError> {
        // The cheap checks first; the URL's may need DNS.
        let events = check_events(spec.events)?;
        check_description(spec.description.as_deref())?;
        let url = self.check_url(&spec.url).await?;
        let id = format!("wh_{}", uuid::Uuid::now_v7().simple());
        let secret = new_secret();
        let now = OffsetDateTime::now_utc();
        let hook = WebhookRecord {
            secret_sealed: self.sealer.seal(&aad(&id), secret.expose().as_bytes()),
            id,
            account_id: spec.account_id,
            url,
            events,
            description: spec.description,
            prev_secret_sealed: None,
            prev_secret_until: None,
            created_at: now,
            updated_at: now,
        };
        self.store.insert_webhook(&hook).await?;
        Ok((hook, secret))
    }

    pub async fn get(&self, id: &str) -> Result<WebhookRecord, WebhookError> {
        self.store
            .webhook(id)
            .await?
            .ok_or_else(|| WebhookError::NotFound(id.to_owned()))
    }

    pub async fn list(&self, account: Option<&str>) -> Result<Vec<WebhookRecord>, WebhookError> {
        Ok(self.store.list_webhooks(account).await?)
    }

    pub async fn update(
        &self,
        id: &str,
        mut update: WebhookUpdate,
    ) -> Result<WebhookRecord, WebhookError> {
        if let Some(url) = &update.url {
            update.url = Some(self.check_url(url).await?);
        }
        if let Some(events) = update.events.take() {
            update.events = Some(check_events(events)?);
        }
        if let Some(d) = &update.description {
            check_description(d.as_deref())?;
        }
        self.store
            .update_webhook(id, &update, OffsetDateTime::now_utc())
            .await?
            .ok_or_else(|| WebhookError::NotFound(id.to_owned()))
    }

    /// A new secret; the current one keeps signing (a second `v1=`) for the
    /// `[webhooks] rotation_overlap_secs` window.
    pub async fn rotate_secret(
        &self,
        id: &str,
    ) -> Result<(WebhookRecord, Secret<String>), WebhookError> {
        let hook = self.get(id).await?;
        let secret = new_secret();
        let now = OffsetDateTime::now_utc();
        let sealed = self.sealer.seal(&aad(id), secret.expose().as_bytes());
        let hook = self
            .store
            .rotate_webhook_secret(
                id,
                &sealed,
                &hook.secret_sealed,
                now + self.config.rotation_overlap,
                now,
            )
            .await?
            .ok_or_else(|| WebhookError::NotFound(id.to_owned()))?;
        Ok((hook, secret))
    }

    pub async fn delete(&self, id: &str) -> Result<(), WebhookError> {
        if self.store.delete_webhook(id).await? {
            Ok(())
        } else {
            Err(WebhookError::NotFound(id.to_owned()))
        }
    }

    /// Queues a `webhook.test` event for this webhook alone; returns the delivery id.
    pub async fn send_test(&self, hook: &WebhookRecord) -> Result<String, WebhookError> {
        let event = NewEvent::now(
            "webhook.test",
            &hook.account_id,
            serde_json::json!({"webhook_id": hook.id, "message": "a test delivery from Tollgate"}),
        );
        let id = self.store.insert_direct_delivery(&hook.id, &event).await?;
        self.wake();
        Ok(id)
    }

    pub async fn deliveries(
        &self,
        hook: &WebhookRecord,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>, WebhookError> {
        Ok(self.store.deliveries(&hook.id, limit).await?)
    }

    pub async fn redeliver(
        &self,
        hook: &WebhookRecord,
        delivery_id: &str,
    ) -> Result<(), WebhookError> {
        if self
            .store
            .redeliver(&hook.id, delivery_id, OffsetDateTime::now_utc())
            .await?
        {
            self.wake();
            Ok(())
        } else {
            Err(WebhookError::DeliveryNotFound(delivery_id.to_owned()))
        }
    }

    /// The secrets that sign now: current, then the rotated-out one in its overlap.
    fn signing_secrets(
        &self,
        hook: &WebhookRecord,
        now: OffsetDateTime,
    ) -> Result<Vec<Secret<Vec<u8>>>, WebhookError> {
        let mut out = vec![self.sealer.open(&aad(&hook.id), &hook.secret_sealed)?];
        if let (Some(prev), Some(until)) = (&hook.prev_secret_sealed, hook.prev_secret_until)
            && until > now
        {
            out.push(self.sealer.open(&aad(&hook.id), prev)?);
        }
        Ok(out)
    }
}

/// The JSON body of a delivery (DESIGN §1.7).
pub fn payload(event: &NewEvent) -> serde_json::Value {
    serde_json::json!({
        "id": event.id,
        "type": event.kind,
        "created_at": event
            .created_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        "account_id": event.account_id,
        "data": event.data,
    })
}

/// What list and get show: never the secret.
pub fn public_view(hook: &WebhookRecord) -> serde_json::Value {
    let rfc = |t: OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    serde_json::json!({
        "object": "webhook",
        "id": hook.id,
        "account_id": hook.account_id,
        "url": hook.url,
        "events": hook.events,
        "description": hook.description,
        "secret_rotation_overlap_until": hook
            .prev_secret_until
            .filter(|t| *t > OffsetDateTime::now_utc())
            .map(rfc),
        "created_at": rfc(hook.created_at),
        "updated_at": rfc(hook.updated_at),
    })
}

/// One delivery in the log.
pub fn delivery_view(d: &DeliveryRecord) -> serde_json::Value {
    let rfc = |t: OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    serde_json::json!({
        "object": "webhook_delivery",
        "id": d.id,
        "webhook_id": d.webhook_id,
        "event_id": d.event.id,
        "event_type": d.event.kind,
        "status": d.status.as_str(),
        "attempts": d.attempts,
        "last_error": d.last_error,
        "last_status": d.last_status,
        "next_attempt_at": (d.status == crate::store::DeliveryStatus::Pending)
            .then(|| rfc(d.next_attempt_at)),
        "created_at": rfc(d.created_at),
        "delivered_at": d.delivered_at.map(rfc),
    })
}

fn aad(id: &str) -> Vec<u8> {
    format!("webhook:{id}").into_bytes()
}

fn new_secret() -> Secret<String> {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    Secret::new(format!("whsec_{}", signature::hex(&bytes)))
}

fn check_events(events: Vec<String>) -> Result<Vec<String>, WebhookError> {
    if events.is_empty() {
        return Err(WebhookError::Events(
            "`events` must name at least one event type, or \"*\" for all".into(),
        ));
    }
    for e in &events {
        if e != "*" && !EVENT_TYPES.contains(&e.as_str()) {
            return Err(WebhookError::Events(format!(
                "`events`: unknown event type {e:?}; known: {}, or \"*\"",
                EVENT_TYPES.join(", ")
            )));
        }
    }
    let mut events = events;
    events.sort();
    events.dedup();
    Ok(events)
}

fn check_description(d: Option<&str>) -> Result<(), WebhookError> {
    match d {
        Some(d) if d.chars().count() > MAX_DESCRIPTION => Err(WebhookError::Description),
        _ => Ok(()),
    }
}
