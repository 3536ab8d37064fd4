//! `/admin/accounts`: create, list, get, disable and enable accounts (disabling
//! makes every one of its keys answer 401 `account_disabled`), billing settings,
//! audited credits.
//!
//! An account's own management key may read its account (record, credits trail);
//! everything else here is a global act (`Reach`, in the module above).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::{Reach, list};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::http::extract::{ApiJson, PathId};
use crate::http::openapi::admin as doc;
use crate::http::openapi::errors::AdminErrors;
use crate::key_service;
use crate::metering::money::{Currency, MicroUnits};
use crate::state::AppState;
use crate::store::{Account, BillingMode, StoreError};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccount {
    /// At most 256 characters, no control characters.
    #[schema(
        max_length = 256,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    name: String,
    /// Optional caller-chosen id (letters, digits, `-`, `_`); a UUID otherwise.
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    id: Option<String>,
}

/// Creates an account (global management keys only).
#[utoipa::path(post, path = "/admin/accounts", operation_id = "create_account", tag = "admin",
    request_body = CreateAccount,
    responses((status = 201, description = "The new account", body = doc::Account), AdminErrors))]
pub async fn create(
    State(state): State<AppState>,
    reach: Reach,
    ApiJson(req): ApiJson<CreateAccount>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    reach.global_only()?;
    key_service::check_name(&req.name)
        .map_err(|e| ApiError::invalid_field("name", e.to_string()))?;
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

/// Every account for a global key; an account's key sees only its own.
#[utoipa::path(get, path = "/admin/accounts", operation_id = "list_accounts", tag = "admin",
    responses((status = 200, description = "The accounts", body = doc::AccountList), AdminErrors))]
pub async fn list_accounts(
    State(state): State<AppState>,
    reach: Reach,
) -> Result<Json<Value>, ApiError> {
    let accounts = state
        .store()
        .list_accounts()
        .await
        .map_err(ApiError::internal)?;
    Ok(list(
        accounts
            .iter()
            .filter(|a| reach.sees(&a.id))
            .map(Account::public_view)
            .collect(),
    ))
}

#[utoipa::path(get, path = "/admin/accounts/{id}", operation_id = "get_account", tag = "admin", params(("id" = String, Path, description = "Account id")),
    responses((status = 200, description = "The account with its billing", body = doc::Account), AdminErrors))]
pub async fn get(
    State(state): State<AppState>,
    reach: Reach,
    PathId(id): PathId,
) -> Result<Json<Value>, ApiError> {
    visible(&reach, &id)?;
    view(&state, &id).await
}

/// Disables an account: every key of it answers 401 `account_disabled` (global only).
#[utoipa::path(post, path = "/admin/accounts/{id}/disable", operation_id = "disable_account", tag = "admin", params(("id" = String, Path, description = "Account id")),
    responses((status = 200, description = "The account", body = doc::Account), AdminErrors))]
pub async fn disable(
    State(state): State<AppState>,
    reach: Reach,
    PathId(id): PathId,
) -> Result<Json<Value>, ApiError> {
    reach.global_only()?;
    set_disabled(&state, &id, true).await
}

/// Enables a disabled account (global only).
#[utoipa::path(post, path = "/admin/accounts/{id}/enable", operation_id = "enable_account", tag = "admin", params(("id" = String, Path, description = "Account id")),
    responses((status = 200, description = "The account", body = doc::Account), AdminErrors))]
pub async fn enable(
    State(state): State<AppState>,
    reach: Reach,
    PathId(id): PathId,
) -> Result<Json<Value>, ApiError> {
    reach.global_only()?;
    set_disabled(&state, &id, false).await
}

/// Another account than the caller's is answered as missing.
fn visible(reach: &Reach, id: &str) -> Result<(), ApiError> {
    if reach.sees(id) {
        Ok(())
    } else {
        Err(no_account(id))
    }
}

pub(super) fn no_account(id: &str) -> ApiError {
    ApiError::ResourceNotFound(format!("no account with id `{id}`"))
}

async fn set_disabled(state: &AppState, id: &str, disabled: bool) -> Result<Json<Value>, ApiError> {
    find(state, id).await?;
    state
        .store()
        .set_account_disabled(id, disabled, OffsetDateTime::now_utc())
        .await
        .map_err(ApiError::internal)?;
    // Every key of the account changed; drop the cached copies (on every instance).
    state.auth().cache().changed_all().await;
    view(state, id).await
}

pub(super) async fn find(state: &AppState, id: &str) -> Result<Account, ApiError> {
    state
        .store()
        .account(id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| no_account(id))
}

fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateBilling {
    /// ISO 4217 code with an exchange rate in `[billing] exchange_rates` (or USD).
    #[serde(default)]
    currency: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<doc::BillingMode>)]
    billing_mode: Option<BillingMode>,
}

/// `PATCH /admin/accounts/{id}`: currency and prepaid/postpaid (global only).
#[utoipa::path(patch, path = "/admin/accounts/{id}", operation_id = "update_account_billing", tag = "admin", params(("id" = String, Path, description = "Account id")),
    request_body = UpdateBilling,
    responses((status = 200, description = "The account with its billing", body = doc::Account), AdminErrors))]
pub async fn update_billing(
    State(state): State<AppState>,
    reach: Reach,
    PathId(id): PathId,
    ApiJson(req): ApiJson<UpdateBilling>,
) -> Result<Json<Value>, ApiError> {
    // Postpaid would lift the balance check: a global act, like crediting.
    reach.global_only()?;
    find(&state, &id).await?;
    if let Some(code) = &req.currency {
        let currency = Currency::parse(code)
            .map_err(|e| ApiError::invalid_field("currency", e.to_string()))?;
        state
            .metering()
            .rates
            .rate(&currency)
            .map_err(|e| ApiError::invalid_field("currency", e.to_string()))?;
    }
    state
        .store()
        .set_account_billing(&id, req.currency.as_deref(), req.billing_mode)
        .await
        .map_err(ApiError::internal)?;
    state
        .metering()
        .balances
        .reload(&id)
        .await
        .map_err(ApiError::internal)?;
    view(&state, &id).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credit {
    /// Decimal amount in the account currency, e.g. "25.00"; negative corrects.
    #[schema(pattern = r"^-?[0-9]{1,12}(\.[0-9]{1,6})?$", example = "25.00")]
    amount: String,
    #[serde(default)]
    note: String,
}

/// `POST /admin/accounts/{id}/credit`: adds funds, audited (who, when, how much);
/// global management keys only.
#[utoipa::path(post, path = "/admin/accounts/{id}/credit", operation_id = "credit_account", tag = "admin", params(("id" = String, Path, description = "Account id")),
    request_body = Credit,
    responses((status = 200, description = "The account with its new balance", body = doc::Account), AdminErrors))]
pub async fn credit(
    State(state): State<AppState>,
    principal: Principal,
    PathId(id): PathId,
    ApiJson(req): ApiJson<Credit>,
) -> Result<Json<Value>, ApiError> {
    Reach::of(&principal).global_only()?;
    let amount = MicroUnits::parse_decimal(&req.amount)
        .map_err(|e| ApiError::invalid_field("amount", e.to_string()))?;
    if amount.0 == 0 {
        return Err(ApiError::invalid_field(
            "amount",
            "`amount` must not be zero",
        ));
    }
    let new_balance = state
        .store()
        .credit_account(
            &id,
            amount.0,
            principal.key.kid.as_str(),
            &req.note,
            OffsetDateTime::now_utc(),
        )
        .await
        .map_err(|e| match e {
            StoreError::OutOfRange(why) => ApiError::invalid_field("amount", why),
            e => ApiError::internal(e),
        })?
        .ok_or_else(|| ApiError::ResourceNotFound(format!("no account with id `{id}`")))?;
    state
        .metering()
        .balances
        .reload(&id)
        .await
        .map_err(ApiError::internal)?;
    tracing::info!(account = %id, amount = %amount, by = %principal.key.kid, "account credited");
    let mut v = view(&state, &id).await?.0;
    v["balance"] = MicroUnits(new_balance).to_decimal_string().into();
    Ok(Json(v))
}

/// `GET /admin/accounts/{id}/credits`: the audit trail of balance changes.
#[utoipa::path(get, path = "/admin/accounts/{id}/credits", operation_id = "list_account_credits", tag = "admin", params(("id" = String, Path, description = "Account id")),
    responses((status = 200, description = "The balance changes", body = doc::AccountCreditList), AdminErrors))]
pub async fn credits(
    State(state): State<AppState>,
    reach: Reach,
    PathId(id): PathId,
) -> Result<Json<Value>, ApiError> {
    visible(&reach, &id)?;
    find(&state, &id).await?;
    let rows = state
        .store()
        .account_credits(&id)
        .await
        .map_err(ApiError::internal)?;
    Ok(list(
        rows.iter()
            .map(|c| {
                serde_json::json!({
                    "object": "account_credit",
                    "id": c.id,
                    "amount": MicroUnits(c.amount_micro).to_decimal_string(),
                    "balance_after": MicroUnits(c.balance_after_micro).to_decimal_string(),
                    "actor": c.actor,
                    "note": c.note,
                    "created_at": c.created_at.format(&time::format_description::well_known::Rfc3339).ok(),
                })
            })
            .collect(),
    ))
}

/// The account with its billing: currency, mode and balance.
async fn view(state: &AppState, id: &str) -> Result<Json<Value>, ApiError> {
    let account = find(state, id).await?;
    let mut v = account.public_view();
    if let Some(b) = state
        .store()
        .account_billing(id)
        .await
        .map_err(ApiError::internal)?
    {
        v["currency"] = b.currency.into();
        v["billing_mode"] = b.billing_mode.as_str().into();
        v["balance"] = MicroUnits(b.balance_micro).to_decimal_string().into();
    }
    Ok(Json(v))
}
