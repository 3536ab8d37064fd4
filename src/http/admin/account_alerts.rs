//! `GET|PUT /admin/accounts/{id}/alerts`: an account's alert thresholds. Each
//! field overrides its `[alerts]` default; `null` (or leaving it out of a PUT)
//! goes back to the default. An account's own management key may read them; only
//! a global key may change them (a leaked account key must not silence the
//! alerts about it).

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::Reach;
use crate::config::AlertThresholds;
use crate::error::ApiError;
use crate::http::extract::{ApiJson, PathId};
use crate::http::openapi::admin as doc;
use crate::http::openapi::errors::AdminErrors;
use crate::state::AppState;
use crate::store::AlertOverrides;

/// An account's alert thresholds; a missing or `null` field uses the `[alerts]` default.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertSettings {
    /// Failed authentications of one key id (or address) that raise `alert.auth_failures`.
    #[schema(minimum = 1)]
    auth_failures: Option<u32>,
    /// The window those failures are counted in, seconds.
    #[schema(minimum = 1)]
    auth_failures_window_secs: Option<u32>,
    /// `alert.new_ip`: an address not seen for the key in this many days.
    #[schema(minimum = 1)]
    new_ip_days: Option<u32>,
    /// `alert.rate_limit_near`: percent of a key's rate limit used in its period.
    #[schema(minimum = 1, maximum = 100)]
    rate_limit_near_pct: Option<u32>,
    /// `alert.balance_low`: micro-units of the account's currency.
    #[schema(minimum = 0)]
    balance_low_micro: Option<i64>,
    /// `alert.spend_daily`: micro-units of the account's currency per UTC day.
    #[schema(minimum = 0)]
    spend_daily_micro: Option<i64>,
}

impl AlertSettings {
    fn check(self) -> Result<AlertOverrides, ApiError> {
        let positive = |field: &'static str, v: Option<u32>| match v {
            Some(0) => Err(ApiError::invalid_field(
                field,
                format!("`{field}` must be at least 1, or null for the default"),
            )),
            v => Ok(v),
        };
        let money = |field: &'static str, v: Option<i64>| match v {
            Some(n) if n < 0 => Err(ApiError::invalid_field(
                field,
                format!("`{field}` must be zero or more micro-units, or null for the default"),
            )),
            v => Ok(v),
        };
        if let Some(p) = self.rate_limit_near_pct
            && !(1..=100).contains(&p)
        {
            return Err(ApiError::invalid_field(
                "rate_limit_near_pct",
                "`rate_limit_near_pct` must be from 1 to 100, or null for the default",
            ));
        }
        Ok(AlertOverrides {
            auth_failures: positive("auth_failures", self.auth_failures)?,
            auth_failures_window_secs: positive(
                "auth_failures_window_secs",
                self.auth_failures_window_secs,
            )?,
            new_ip_days: positive("new_ip_days", self.new_ip_days)?,
            rate_limit_near_pct: self.rate_limit_near_pct,
            balance_low_micro: money("balance_low_micro", self.balance_low_micro)?,
            spend_daily_micro: money("spend_daily_micro", self.spend_daily_micro)?,
        })
    }
}

#[utoipa::path(get, path = "/admin/accounts/{id}/alerts", operation_id = "get_account_alerts", tag = "admin",
    params(("id" = String, Path, description = "Account id")),
    responses((status = 200, description = "The account's overrides and the thresholds in force", body = doc::AccountAlerts), AdminErrors))]
pub async fn get(
    State(state): State<AppState>,
    reach: Reach,
    PathId(id): PathId,
) -> Result<Json<Value>, ApiError> {
    if !reach.sees(&id) {
        return Err(super::accounts::no_account(&id));
    }
    super::accounts::find(&state, &id).await?;
    let overrides = state
        .store()
        .alert_overrides(&id)
        .await
        .map_err(ApiError::internal)?
        .unwrap_or_default();
    Ok(Json(view(&state, &id, &overrides)))
}

#[utoipa::path(put, path = "/admin/accounts/{id}/alerts", operation_id = "set_account_alerts", tag = "admin",
    params(("id" = String, Path, description = "Account id")),
    request_body = AlertSettings,
    responses((status = 200, description = "The account's overrides and the thresholds in force", body = doc::AccountAlerts), AdminErrors))]
pub async fn put(
    State(state): State<AppState>,
    reach: Reach,
    PathId(id): PathId,
    ApiJson(req): ApiJson<AlertSettings>,
) -> Result<Json<Value>, ApiError> {
    reach.global_only()?;
    super::accounts::find(&state, &id).await?;
    let overrides = req.check()?;
    state
        .store()
        .set_alert_overrides(&id, &overrides, OffsetDateTime::now_utc())
        .await
        .map_err(ApiError::internal)?;
    state.alerts().overrides_changed(&id);
    Ok(Json(view(&state, &id, &overrides)))
}

fn view(state: &AppState, id: &str, o: &AlertOverrides) -> Value {
    let d = state.config().alerts.defaults;
    let effective: AlertThresholds = crate::alerts::effective_thresholds(d, Some(o));
    json!({
        "object": "account_alerts",
        "account_id": id,
        "enabled": state.config().alerts.enabled,
        "overrides": {
            "auth_failures": o.auth_failures,
            "auth_failures_window_secs": o.auth_failures_window_secs,
            "new_ip_days": o.new_ip_days,
            "rate_limit_near_pct": o.rate_limit_near_pct,
            "balance_low_micro": o.balance_low_micro,
            "spend_daily_micro": o.spend_daily_micro,
        },
        "effective": {
            "auth_failures": effective.auth_failures,
            "auth_failures_window_secs": effective.auth_failures_window.as_secs(),
            "new_ip_days": effective.new_ip_days,
            "rate_limit_near_pct": effective.rate_limit_near_pct,
            "balance_low_micro": effective.balance_low_micro,
            "spend_daily_micro": effective.spend_daily_micro,
        },
    })
}
