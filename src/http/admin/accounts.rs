//! `/admin/accounts`: create, list, get, disable and enable accounts. Disabling an
//! account makes every one of its keys answer 401 `account_disabled`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use time::OffsetDateTime;

use super::list;
use crate::app::AppState;
use crate::error::ApiError;
use crate::http::extract::ApiJson;
use crate::store::{Account, StoreError};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateAccount {
    name: String,
    /// Optional caller-chosen id (letters, digits, `-`, `_`); a UUID otherwise.
    #[serde(default)]
    id: Option<String>,
}

pub async fn create(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<CreateAccount>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if req.name.trim().is_empty() {
        return Err(ApiError::invalid_field("name", "`name` must not be empty"));
    }
    let id = match req.id {
        Some(id) if valid_id(&id) => id,
        Some(_) => {
            return Err(ApiError::invalid_field(
                "id",
                "`id` must be 1-64 letters, digits, `-` or `_`",
            ));
        }
        None => uuid::Uuid::now_v7().to_string(),
    };
    let account = Account {
        id,
        name: req.name,
        created_at: OffsetDateTime::now_utc(),
        disabled_at: None,
    };
    match state.store().create_account(&account).await {
        Ok(()) => Ok((StatusCode::CREATED, Json(account.public_view()))),
        Err(StoreError::Conflict(what)) => Err(ApiError::Conflict {
            code: "account_exists",
            message: format!("{what} already exists"),
        }),
        Err(e) => Err(ApiError::internal(e)),
    }
}

pub async fn list_accounts(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let accounts = state
        .store()
        .list_accounts()
        .await
        .map_err(ApiError::internal)?;
    Ok(list(accounts.iter().map(Account::public_view).collect()))
}

pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(find(&state, &id).await?.public_view()))
}

pub async fn disable(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_disabled(&state, &id, true).await
}

pub async fn enable(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_disabled(&state, &id, false).await
}

async fn set_disabled(state: &AppState, id: &str, disabled: bool) -> Result<Json<Value>, ApiError> {
    find(state, id).await?;
    state
        .store()
        .set_account_disabled(id, disabled, OffsetDateTime::now_utc())
        .await
        .map_err(ApiError::internal)?;
    // Every key of the account changed; drop this process's cached copies now.
    state.auth().cache().invalidate_all();
    Ok(Json(find(state, id).await?.public_view()))
}

async fn find(state: &AppState, id: &str) -> Result<Account, ApiError> {
    state
        .store()
        .account(id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::ResourceNotFound(format!("no account with id `{id}`")))
}

fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
