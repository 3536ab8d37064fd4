//! The caller's vault: `POST /keys`, `GET /keys`, `DELETE /keys/{id}`. The stored
//! key is never in an answer; lists show its masked `hint`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::LoggedIn;
use crate::error::ApiError;
use crate::http::extract::{ApiJson, PathId};
use crate::http::openapi::users as doc;
use crate::secret::Secret;
use crate::state::AppState;

/// A provider key to store.
#[derive(Deserialize, ToSchema)]
pub struct NewVaultKey {
    /// openai, anthropic, google (or gemini), deepseek, qwen, moonshot or minimax.
    pub vendor: String,
    #[serde(default)]
    pub label: String,
    /// The provider key; never shown again.
    #[schema(value_type = String)]
    pub api_key: Secret<String>,
}

#[utoipa::path(post, path = "/keys", operation_id = "add_vault_key", tag = "users",
    request_body = NewVaultKey,
    responses((status = 201, description = "The stored key's metadata", body = doc::VaultKey),
        doc::UserErrors))]
pub async fn create(
    State(state): State<AppState>,
    who: LoggedIn,
    ApiJson(body): ApiJson<NewVaultKey>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let key = state
        .vault()
        .add(&who.user().id, &body.vendor, &body.label, body.api_key)
        .await?;
    Ok((StatusCode::CREATED, Json(key.public_view())))
}

#[utoipa::path(get, path = "/keys", operation_id = "list_vault_keys", tag = "users",
    responses((status = 200, description = "The caller's keys", body = [doc::VaultKey]),
        doc::UserErrors))]
pub async fn list(State(state): State<AppState>, who: LoggedIn) -> Result<Json<Value>, ApiError> {
    let keys = state.vault().list(&who.user().id).await?;
    Ok(Json(Value::Array(
        keys.iter().map(|k| k.public_view()).collect(),
    )))
}

#[utoipa::path(delete, path = "/keys/{id}", operation_id = "delete_vault_key", tag = "users",
    params(("id" = String, Path, description = "Vault key id")),
    responses((status = 200, description = "Deleted", body = doc::Deleted), doc::UserErrors))]
pub async fn delete(
    State(state): State<AppState>,
    who: LoggedIn,
    PathId(id): PathId,
) -> Result<Json<Value>, ApiError> {
    state.vault().delete(&who.user().id, &id).await?;
    Ok(Json(json!({"id": id, "deleted": true})))
}
