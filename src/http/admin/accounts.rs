//! `/admin/accounts`: create, list, get, disable and enable accounts (disabling
//! makes every one of its keys answer 401 `account_disabled`), billing settings,
//! audited credits.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use time::OffsetDateTime;

use super::list;
use crate::app::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::http::extract::ApiJson;
use crate::metering::money::{Currency, MicroUnits};
use crate::store::{Account, BillingMode, StoreError};

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
    view(&state, &id).await
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
    view(state, id).await
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateBilling {
    /// ISO 4217 code with an exchange rate in `[billing] exchange_rates` (or USD).
    #[serde(default)]
    currency: Option<String>,
    #[serde(default)]
    billing_mode: Option<BillingMode>,
}

/// `PATCH /admin/accounts/{id}`: currency and prepaid/postpaid.
pub async fn update_billing(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<UpdateBilling>,
) -> Result<Json<Value>, ApiError> {
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
        .ledger
        .reload(&id)
        .await
        .map_err(ApiError::internal)?;
    view(&state, &id).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credit {
    /// Decimal amount in the account currency, e.g. "25.00"; negative corrects.
    amount: String,
    #[serde(default)]
    note: String,
}

/// `POST /admin/accounts/{id}/credit`: adds funds, audited (who, when, how much).
pub async fn credit(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<Credit>,
) -> Result<Json<Value>, ApiError> {
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
        .ledger
        .reload(&id)
        .await
        .map_err(ApiError::internal)?;
    tracing::info!(account = %id, amount = %amount, by = %principal.key.kid, "account credited");
    let mut v = view(&state, &id).await?.0;
    v["balance"] = MicroUnits(new_balance).to_decimal_string().into();
    Ok(Json(v))
}

/// `GET /admin/accounts/{id}/credits`: the audit trail of balance changes.
pub async fn credits(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
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
