//! `/admin/webhooks`: register, list, read, change, delete webhooks, rotate their
//! secret, send a test, read the delivery log, redeliver. Thin: the logic is in
//! `crate::webhooks`. A webhook belongs to an account; an account's management
//! key sees only its own (another account's id is a 404, as for keys).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::{Reach, double_option, list};
use crate::error::ApiError;
use crate::http::extract::{ApiJson, ApiQuery, PathId};
use crate::http::openapi::errors::AdminErrors;
use crate::http::openapi::webhooks as doc;
use crate::key_service::OPERATOR_ACCOUNT;
use crate::state::AppState;
use crate::store::{WebhookRecord, WebhookUpdate};
use crate::webhooks::{self, WebhookSpec};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// An `https` URL (plain `http` and internal addresses only with `[outbound]` overrides).
    url: String,
    /// Event types (`key.created`, `alert.auth_failures`, …) or `"*"`.
    events: Vec<String>,
    #[serde(default)]
    description: Option<String>,
    /// The owning account; defaults to the caller's.
    #[serde(default)]
    account_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhook {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    events: Option<Vec<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    description: Option<Option<String>>,
    /// `true`: issue a new secret; the old one keeps signing for the overlap window.
    #[serde(default)]
    rotate_secret: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// At most this many, newest first (default 100, at most 1000).
    limit: Option<u32>,
}

async fn visible(state: &AppState, reach: &Reach, id: &str) -> Result<WebhookRecord, ApiError> {
    let hook = state.webhooks().get(id).await?;
    if reach.sees(&hook.account_id) {
        Ok(hook)
    } else {
        Err(webhooks::WebhookError::NotFound(id.to_owned()).into())
    }
}

fn with_secret(hook: &WebhookRecord, secret: &crate::secret::Secret<String>) -> Value {
    let mut view = webhooks::public_view(hook);
    view["secret"] = Value::String(secret.expose().clone());
    view
}

/// Registers a webhook; the answer holds its signing `secret`, shown this once.
#[utoipa::path(post, path = "/admin/webhooks", operation_id = "create_webhook", tag = "admin",
    request_body = CreateWebhook,
    responses((status = 201, description = "The webhook with its secret", body = doc::WebhookWithSecret), AdminErrors))]
pub async fn create(
    State(state): State<AppState>,
    reach: Reach,
    ApiJson(req): ApiJson<CreateWebhook>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let account_id = match (req.account_id, reach.account()) {
        (Some(a), _) => {
            reach.may_name(&a)?;
            a
        }
        (None, Some(own)) => own.to_owned(),
        (None, None) => OPERATOR_ACCOUNT.to_owned(),
    };
    let (hook, secret) = state
        .webhooks()
        .create(WebhookSpec {
            account_id,
            url: req.url,
            events: req.events,
            description: req.description,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(with_secret(&hook, &secret))))
}

/// The caller's webhooks (every account's for a global key). Never a secret.
#[utoipa::path(get, path = "/admin/webhooks", operation_id = "list_webhooks", tag = "admin",
    responses((status = 200, description = "Webhooks", body = doc::WebhookList), AdminErrors))]
pub async fn list_webhooks(
    State(state): State<AppState>,
    reach: Reach,
) -> Result<Json<Value>, ApiError> {
    let hooks = state.webhooks().list(reach.account()).await?;
    Ok(list(hooks.iter().map(webhooks::public_view).collect()))
}

#[utoipa::path(get, path = "/admin/webhooks/{id}", operation_id = "get_webhook", tag = "admin",
    params(("id" = String, Path, description = "Webhook id")),
    responses((status = 200, description = "The webhook", body = doc::Webhook), AdminErrors))]
pub async fn get(
    State(state): State<AppState>,
    reach: Reach,
    PathId(id): PathId,
) -> Result<Json<Value>, ApiError> {
    let hook = visible(&state, &reach, &id).await?;
    Ok(Json(webhooks::public_view(&hook)))
}

/// Changes url, events or description; `rotate_secret: true` issues a new secret
/// (shown in this answer only) and sends both signatures during the overlap.
#[utoipa::path(patch, path = "/admin/webhooks/{id}", operation_id = "update_webhook", tag = "admin",
    params(("id" = String, Path, description = "Webhook id")),
    request_body = UpdateWebhook,
    responses((status = 200, description = "The webhook as changed (with `secret` after a rotation)", body = doc::Webhook), AdminErrors))]
pub async fn update(
    State(state): State<AppState>,
    reach: Reach,
    PathId(id): PathId,
    ApiJson(req): ApiJson<UpdateWebhook>,
) -> Result<Json<Value>, ApiError> {
    visible(&state, &reach, &id).await?;
    let hook = state
        .webhooks()
        .update(
            &id,
            WebhookUpdate {
                url: req.url,
                events: req.events,
                description: req.description,
            },
        )
        .await?;
    if req.rotate_secret {
        let (hook, secret) = state.webhooks().rotate_secret(&id).await?;
        return Ok(Json(with_secret(&hook, &secret)));
    }
    Ok(Json(webhooks::public_view(&hook)))
}

#[utoipa::path(delete, path = "/admin/webhooks/{id}", operation_id = "delete_webhook", tag = "admin",
    params(("id" = String, Path, description = "Webhook id")),
    responses((status = 200, description = "Deleted", body = doc::Deleted), AdminErrors))]
pub async fn delete(
    State(state): State<AppState>,
    reach: Reach,
    PathId(id): PathId,
) -> Result<Json<Value>, ApiError> {
    visible(&state, &reach, &id).await?;
    state.webhooks().delete(&id).await?;
    Ok(Json(
        serde_json::json!({"object": "webhook", "id": id, "deleted": true}),
    ))
}

/// Queues a signed `webhook.test` delivery to this webhook.
#[utoipa::path(post, path = "/admin/webhooks/{id}/test", operation_id = "test_webhook", tag = "admin",
    params(("id" = String, Path, description = "Webhook id")),
    responses((status = 202, description = "The delivery queued", body = doc::Queued), AdminErrors))]
pub async fn test(
    State(state): State<AppState>,
    reach: Reach,
    PathId(id): PathId,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let hook = visible(&state, &reach, &id).await?;
    let delivery = state.webhooks().send_test(&hook).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(
            serde_json::json!({"object": "webhook_delivery", "id": delivery, "status": "pending"}),
        ),
    ))
}

/// The delivery log: status, attempts, last error, next try.
#[utoipa::path(get, path = "/admin/webhooks/{id}/deliveries", operation_id = "webhook_deliveries", tag = "admin",
    params(("id" = String, Path, description = "Webhook id"), DeliveryQuery),
    responses((status = 200, description = "Deliveries, newest first", body = doc::DeliveryList), AdminErrors))]
pub async fn deliveries(
    State(state): State<AppState>,
    reach: Reach,
    PathId(id): PathId,
    ApiQuery(q): ApiQuery<DeliveryQuery>,
) -> Result<Json<Value>, ApiError> {
    let hook = visible(&state, &reach, &id).await?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let rows = state.webhooks().deliveries(&hook, limit).await?;
    Ok(list(rows.iter().map(webhooks::delivery_view).collect()))
}

/// Makes a delivery (any status) due again now, with the same delivery id.
#[utoipa::path(post, path = "/admin/webhooks/{id}/deliveries/{delivery_id}/redeliver", operation_id = "redeliver_webhook", tag = "admin",
    params(("id" = String, Path, description = "Webhook id"), ("delivery_id" = String, Path, description = "Delivery id")),
    responses((status = 202, description = "The delivery queued again", body = doc::Queued), AdminErrors))]
pub async fn redeliver(
    State(state): State<AppState>,
    reach: Reach,
    Path((id, delivery_id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let hook = visible(&state, &reach, &id).await?;
    state.webhooks().redeliver(&hook, &delivery_id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(
            serde_json::json!({"object": "webhook_delivery", "id": delivery_id, "status": "pending"}),
        ),
    ))
}
