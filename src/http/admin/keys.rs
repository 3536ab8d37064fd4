//! `/admin/keys`: create (the plaintext once), list with filters, get, update
//! policy, revoke, rotate.

use std::collections::HashMap;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use time::OffsetDateTime;

use super::{double_option, double_option_rfc3339, list};
use crate::app::AppState;
use crate::error::ApiError;
use crate::http::extract::ApiJson;
use crate::key_service::{self, DEFAULT_ROTATION_GRACE, IssuedKey, KeySpec};
use crate::keys::{KeyEnv, KeyKind, KeyPolicy, ScopeSet};
use crate::metering::pricing::KeyType;
use crate::policy::IpAllowlist;
use crate::policy::rate_limit::Quota;
use crate::routing::ProviderKind;
use crate::store::{KeyFilter, KeyRecord, KeyUpdate};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    name: String,
    #[serde(default = "live")]
    env: KeyEnv,
    #[serde(default = "sk")]
    kind: KeyKind,
    #[serde(default = "default_account")]
    account_id: String,
    #[serde(default, with = "time::serde::rfc3339::option")]
    expires_at: Option<OffsetDateTime>,
    #[serde(default)]
    expires_in_secs: Option<u64>,
    #[serde(default)]
    scopes: Option<ScopeSet>,
    #[serde(default)]
    rate_limit: Option<Quota>,
    #[serde(default)]
    max_concurrency: Option<u32>,
    #[serde(default)]
    ip_allowlist: Option<IpAllowlist>,
    #[serde(default)]
    allowed_models: Option<Vec<String>>,
    #[serde(default)]
    allowed_providers: Option<Vec<ProviderKind>>,
    #[serde(default)]
    key_type: Option<KeyType>,
    #[serde(default)]
    markup_bps: Option<u32>,
}

fn live() -> KeyEnv {
    KeyEnv::Live
}
fn sk() -> KeyKind {
    KeyKind::Sk
}
fn default_account() -> String {
    "default".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateKey {
    #[serde(default)]
    name: Option<String>,
    #[serde(default, deserialize_with = "double_option_rfc3339")]
    expires_at: Option<Option<OffsetDateTime>>,
    #[serde(default)]
    scopes: Option<ScopeSet>,
    #[serde(default, deserialize_with = "double_option")]
    rate_limit: Option<Option<Quota>>,
    #[serde(default, deserialize_with = "double_option")]
    max_concurrency: Option<Option<u32>>,
    #[serde(default)]
    ip_allowlist: Option<IpAllowlist>,
    #[serde(default)]
    allowed_models: Option<Vec<String>>,
    #[serde(default)]
    allowed_providers: Option<Vec<ProviderKind>>,
    #[serde(default)]
    key_type: Option<KeyType>,
    #[serde(default, deserialize_with = "double_option")]
    markup_bps: Option<Option<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateKey {
    /// How long the old secret keeps working; default 24 h, 0 stops it at once.
    #[serde(default)]
    grace_period_secs: Option<u64>,
}

pub async fn create(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<CreateKey>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if req.name.trim().is_empty() {
        return Err(ApiError::invalid_field("name", "`name` must not be empty"));
    }
    let expires_at = match (req.expires_at, req.expires_in_secs) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid_field(
                "expires_in_secs",
                "give expires_at or expires_in_secs, not both",
            ));
        }
        (Some(t), None) => Some(t),
        (None, Some(secs)) => {
            Some(OffsetDateTime::now_utc() + bounded_secs("expires_in_secs", secs)?)
        }
        (None, None) => None,
    };
    let mut policy = KeyPolicy::default_for(req.kind);
    if let Some(s) = req.scopes {
        policy.scopes = s;
    }
    policy.rate_limit = req.rate_limit;
    policy.max_concurrency = req.max_concurrency;
    policy.ip_allowlist = req.ip_allowlist.unwrap_or_default();
    policy.allowed_models = req.allowed_models.unwrap_or_default();
    policy.allowed_providers = req.allowed_providers.unwrap_or_default();
    if let Some(t) = req.key_type {
        policy.key_type = t;
    }
    policy.markup_bps = req.markup_bps;
    let issued = key_service::issue(
        state.store(),
        &state.hasher(),
        &state.config().keys.prefix,
        KeySpec {
            name: req.name,
            env: req.env,
            kind: req.kind,
            account_id: req.account_id,
            expires_at,
            policy: Some(policy),
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(with_plaintext(&issued))))
}

pub async fn list_keys(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let mut filter = KeyFilter::default();
    for (k, v) in &params {
        match k.as_str() {
            "env" => filter.env = Some(parse_param("env", v, "live, stg or dev")?),
            "kind" => filter.kind = Some(parse_param("kind", v, "sk or mk")?),
            "status" => {
                filter.status = Some(v.parse().map_err(|_| {
                    ApiError::invalid_field("status", "status must be active, expired or revoked")
                })?)
            }
            "name" => filter.name = Some(v.clone()),
            "account_id" => filter.account_id = Some(v.clone()),
            _ => {
                return Err(ApiError::invalid_field(
                    "query",
                    format!("unknown filter `{k}`; use env, kind, status, name, account_id"),
                ));
            }
        }
    }
    let now = OffsetDateTime::now_utc();
    let keys = state
        .store()
        .list_keys(&filter, now)
        .await
        .map_err(ApiError::internal)?;
    Ok(list(keys.iter().map(|k| k.public_view(now)).collect()))
}

pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let key = state
        .store()
        .find_key(&id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| not_found(&id))?;
    Ok(Json(key.public_view(OffsetDateTime::now_utc())))
}

pub async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<UpdateKey>,
) -> Result<Json<Value>, ApiError> {
    let current = state
        .store()
        .find_key(&id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| not_found(&id))?;
    let mut policy = current.policy.clone();
    // `|`, not `||`: every given field is applied.
    let policy_changed = replace(&mut policy.scopes, req.scopes)
        | replace(&mut policy.rate_limit, req.rate_limit)
        | replace(&mut policy.max_concurrency, req.max_concurrency)
        | replace(&mut policy.ip_allowlist, req.ip_allowlist)
        | replace(&mut policy.allowed_models, req.allowed_models)
        | replace(&mut policy.allowed_providers, req.allowed_providers)
        | replace(&mut policy.key_type, req.key_type)
        | replace(&mut policy.markup_bps, req.markup_bps);
    if req.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        return Err(ApiError::invalid_field("name", "`name` must not be empty"));
    }
    let record = key_service::update(
        state.store(),
        &id,
        KeyUpdate {
            name: req.name,
            policy: policy_changed.then_some(policy),
            expires_at: req.expires_at,
        },
    )
    .await?;
    changed(&state, &record).await;
    Ok(Json(record.public_view(OffsetDateTime::now_utc())))
}

pub async fn revoke(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let record = key_service::revoke(state.store(), &id).await?;
    changed(&state, &record).await;
    Ok(Json(record.public_view(OffsetDateTime::now_utc())))
}

pub async fn rotate(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<RotateKey>,
) -> Result<Json<Value>, ApiError> {
    let grace = req
        .grace_period_secs
        .map(|secs| bounded_secs("grace_period_secs", secs))
        .transpose()?
        .unwrap_or(DEFAULT_ROTATION_GRACE);
    let issued = key_service::rotate(
        state.store(),
        &state.hasher(),
        &state.config().keys.prefix,
        &id,
        grace,
    )
    .await?;
    changed(&state, &issued.record).await;
    Ok(Json(with_plaintext(&issued)))
}

/// Puts `new` into `slot` if given; true if it did.
fn replace<T>(slot: &mut T, new: Option<T>) -> bool {
    match new {
        Some(v) => {
            *slot = v;
            true
        }
        None => false,
    }
}

/// Drops this process's cached copy so the change applies to the next request.
async fn changed(state: &AppState, record: &KeyRecord) {
    state.auth().cache().invalidate(&record.kid).await;
}

fn with_plaintext(issued: &IssuedKey) -> Value {
    let mut v = issued.record.public_view(OffsetDateTime::now_utc());
    v["key"] = issued.key.expose().into();
    v
}

fn parse_param<T: std::str::FromStr>(
    name: &'static str,
    v: &str,
    allowed: &str,
) -> Result<T, ApiError> {
    v.parse()
        .map_err(|_| ApiError::invalid_field(name, format!("{name} must be {allowed}")))
}

fn not_found(id: &str) -> ApiError {
    ApiError::key_not_found(id)
}

/// A span in seconds from now, refused past 100 years: adding more to a date would
/// leave the calendar's range (a panic before this check).
fn bounded_secs(param: &'static str, secs: u64) -> Result<Duration, ApiError> {
    const MAX_SECS: u64 = 100 * 365 * 86_400;
    if secs > MAX_SECS {
        return Err(ApiError::invalid_field(
            param,
            format!("`{param}` must be at most {MAX_SECS} (100 years)"),
        ));
    }
    Ok(Duration::from_secs(secs))
}
