//! `/admin/keys`: create (the plaintext once), list with filters, get, update
//! policy, revoke, rotate. Bodies come in our spelling or the Bastio seed's
//! (`key_json`); a key of another account than the caller's reach is "not found"
//! (`Reach`, in the module above).

use std::collections::HashMap;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::key_json::{self, EnvName, RateLimitBody, either};
use super::{Reach, double_option, double_option_rfc3339, list};
use crate::error::ApiError;
use crate::http::extract::{ApiJson, ApiQuery, PathId};
use crate::http::openapi::admin as doc;
use crate::http::openapi::errors::AdminErrors;
use crate::key_service::{self, DEFAULT_ROTATION_GRACE, IssuedKey, KeySpec, OPERATOR_ACCOUNT};
use crate::keys::{KeyEnv, KeyKind, KeyPolicy, Scope, ScopeSet};
use crate::metering::pricing::KeyType;
use crate::policy::IpAllowlist;
use crate::routing::ProviderKind;
use crate::state::AppState;
use crate::store::{KeyFilter, KeyRecord, KeyUpdate};

/// A new key, in our spelling or the Bastio seed's (`permissions`,
/// `excludePermissions`, `ipWhitelist`, `rateLimit`, `environment`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// At most 256 characters, no control characters.
    #[schema(
        max_length = 256,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    name: String,
    /// `live` when neither `env` nor `environment` is given.
    #[serde(default)]
    #[schema(value_type = Option<doc::Environment>)]
    env: Option<EnvName>,
    #[serde(default)]
    #[schema(value_type = Option<doc::Environment>)]
    environment: Option<EnvName>,
    #[serde(default = "sk")]
    #[schema(value_type = doc::KeyKind)]
    kind: KeyKind,
    /// The caller's own account (the operator's `default` for a global key).
    #[serde(default)]
    account_id: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    expires_at: Option<OffsetDateTime>,
    #[serde(default)]
    expires_in_secs: Option<u64>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<doc::ScopeName>>)]
    scopes: Option<ScopeSet>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<doc::PermissionName>>)]
    permissions: Option<Vec<String>>,
    #[serde(default, rename = "excludePermissions")]
    #[schema(value_type = Option<Vec<doc::PermissionName>>)]
    exclude_permissions: Option<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Option<doc::RateLimit>)]
    rate_limit: Option<RateLimitBody>,
    #[serde(default, rename = "rateLimit")]
    #[schema(value_type = Option<doc::RateLimit>)]
    rate_limit_seed: Option<RateLimitBody>,
    #[serde(default)]
    #[schema(minimum = 1)]
    max_concurrency: Option<u32>,
    /// IPs or CIDRs; empty means any address.
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    ip_allowlist: Option<IpAllowlist>,
    #[serde(default, rename = "ipWhitelist")]
    #[schema(value_type = Option<Vec<String>>)]
    ip_whitelist: Option<IpAllowlist>,
    #[serde(default)]
    allowed_models: Option<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    allowed_providers: Option<Vec<ProviderKind>>,
    #[serde(default)]
    #[schema(value_type = Option<doc::KeyType>)]
    key_type: Option<KeyType>,
    #[serde(default)]
    #[schema(maximum = 100000)]
    markup_bps: Option<u32>,
}

fn sk() -> KeyKind {
    KeyKind::Sk
}

/// Changes to a key; absent fields stay as they are, `null` clears.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateKey {
    #[serde(default)]
    #[schema(
        max_length = 256,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    name: Option<String>,
    #[serde(default, deserialize_with = "double_option_rfc3339")]
    #[schema(value_type = Option<String>, format = DateTime, nullable)]
    expires_at: Option<Option<OffsetDateTime>>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<doc::ScopeName>>)]
    scopes: Option<ScopeSet>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<doc::PermissionName>>)]
    permissions: Option<Vec<String>>,
    #[serde(default, rename = "excludePermissions")]
    #[schema(value_type = Option<Vec<doc::PermissionName>>)]
    exclude_permissions: Option<Vec<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<doc::RateLimit>, nullable)]
    rate_limit: Option<Option<RateLimitBody>>,
    #[serde(default, rename = "rateLimit", deserialize_with = "double_option")]
    #[schema(value_type = Option<doc::RateLimit>, nullable)]
    rate_limit_seed: Option<Option<RateLimitBody>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<u32>, minimum = 1, nullable)]
    max_concurrency: Option<Option<u32>>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    ip_allowlist: Option<IpAllowlist>,
    #[serde(default, rename = "ipWhitelist")]
    #[schema(value_type = Option<Vec<String>>)]
    ip_whitelist: Option<IpAllowlist>,
    /// The key's environment is part of its text: accepted only unchanged.
    #[serde(default)]
    #[schema(value_type = Option<doc::Environment>)]
    environment: Option<EnvName>,
    #[serde(default)]
    allowed_models: Option<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    allowed_providers: Option<Vec<ProviderKind>>,
    #[serde(default)]
    #[schema(value_type = Option<doc::KeyType>)]
    key_type: Option<KeyType>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<u32>, maximum = 100000, nullable)]
    markup_bps: Option<Option<u32>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateKey {
    /// How long the old secret keeps working; default 24 h, 0 stops it at once.
    #[serde(default)]
    #[schema(maximum = 2592000)]
    grace_period_secs: Option<u64>,
}

/// Creates a key; the response carries its plaintext, this once.
#[utoipa::path(post, path = "/admin/keys", operation_id = "create_key", tag = "admin",
    request_body = CreateKey,
    responses((status = 201, description = "The new key", body = doc::IssuedKey), AdminErrors))]
pub async fn create(
    State(state): State<AppState>,
    reach: Reach,
    ApiJson(req): ApiJson<CreateKey>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    key_service::check_name(&req.name)
        .map_err(|e| ApiError::invalid_field("name", e.to_string()))?;
    let account_id = match req.account_id {
        Some(id) => {
            reach.may_name(&id)?;
            id
        }
        None => reach.account().unwrap_or(OPERATOR_ACCOUNT).to_owned(),
    };
    let env = either(req.env, req.environment, "environment", "env")?.map_or(KeyEnv::Live, |e| e.0);
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
    if let Some(s) = key_json::requested_scopes(
        policy.scopes,
        req.scopes,
        req.permissions.as_deref(),
        req.exclude_permissions.as_deref(),
    )? {
        policy.scopes = s;
    }
    guard_global_scope(&reach, policy.scopes)?;
    policy.rate_limit = either(
        req.rate_limit,
        req.rate_limit_seed,
        "rateLimit",
        "rate_limit",
    )?
    .map(Into::into);
    policy.max_concurrency = req.max_concurrency;
    policy.ip_allowlist = either(
        req.ip_allowlist,
        req.ip_whitelist,
        "ipWhitelist",
        "ip_allowlist",
    )?
    .unwrap_or_default();
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
            env,
            kind: req.kind,
            account_id,
            expires_at,
            policy: Some(policy),
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(with_plaintext(&issued))))
}

/// Lists keys (an account's key: its own account's only).
#[utoipa::path(get, path = "/admin/keys", operation_id = "list_keys", tag = "admin",
    params(
        ("env" = Option<String>, Query, description = "live, stg or dev"),
        ("kind" = Option<String>, Query, description = "sk or mk"),
        ("status" = Option<String>, Query, description = "active, expired or revoked"),
        ("name" = Option<String>, Query, description = "Substring of the name, case-insensitive"),
        ("account_id" = Option<String>, Query, description = "Another account than the caller's is a 403 for an account's key"),
    ),
    responses((status = 200, description = "The keys", body = doc::KeyList), AdminErrors))]
pub async fn list_keys(
    State(state): State<AppState>,
    reach: Reach,
    ApiQuery(params): ApiQuery<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let mut filter = KeyFilter::default();
    for (k, v) in &params {
        match k.as_str() {
            "env" => {
                filter.env = Some(
                    EnvName::parse(v)
                        .ok_or_else(|| {
                            ApiError::invalid_field("env", "env must be live, stg or dev")
                        })?
                        .0,
                )
            }
            "kind" => filter.kind = Some(parse_param("kind", v, "sk or mk")?),
            "status" => {
                filter.status = Some(v.parse().map_err(|_| {
                    ApiError::invalid_field("status", "status must be active, expired or revoked")
                })?)
            }
            "name" => filter.name = Some(v.clone()),
            "account_id" => {
                reach.may_name(v)?;
                filter.account_id = Some(v.clone());
            }
            _ => {
                return Err(ApiError::invalid_field(
                    "query",
                    format!("unknown filter `{k}`; use env, kind, status, name, account_id"),
                ));
            }
        }
    }
    if let Some(own) = reach.account() {
        filter.account_id = Some(own.to_owned());
    }
    let now = OffsetDateTime::now_utc();
    let keys = state
        .store()
        .list_keys(&filter, now)
        .await
        .map_err(ApiError::internal)?;
    Ok(list(
        keys.iter()
            .filter(|k| reach.sees_key(k))
            .map(|k| k.public_view(now))
            .collect(),
    ))
}

#[utoipa::path(get, path = "/admin/keys/{id}", operation_id = "get_key", tag = "admin",
    params(("id" = String, Path, description = "Key id or kid")),
    responses((status = 200, description = "The key", body = doc::Key), AdminErrors))]
pub async fn get(
    State(state): State<AppState>,
    reach: Reach,
    PathId(id): PathId,
) -> Result<Json<Value>, ApiError> {
    let key = visible_key(&state, &reach, &id).await?;
    Ok(Json(key.public_view(OffsetDateTime::now_utc())))
}

/// Changes a key's name, expiry or policy (either spelling).
#[utoipa::path(patch, path = "/admin/keys/{id}", operation_id = "update_key", tag = "admin",
    params(("id" = String, Path, description = "Key id or kid")),
    request_body = UpdateKey,
    responses((status = 200, description = "The key as changed", body = doc::Key), AdminErrors))]
pub async fn update(
    State(state): State<AppState>,
    reach: Reach,
    PathId(id): PathId,
    ApiJson(req): ApiJson<UpdateKey>,
) -> Result<Json<Value>, ApiError> {
    let current = visible_key(&state, &reach, &id).await?;
    if req.environment.is_some_and(|e| e.0 != current.env) {
        return Err(ApiError::invalid_field(
            "environment",
            format!(
                "this key's environment is `{}` and is part of the key itself; create a new key for another environment",
                current.env.as_str()
            ),
        ));
    }
    let scopes = key_json::requested_scopes(
        current.policy.scopes,
        req.scopes,
        req.permissions.as_deref(),
        req.exclude_permissions.as_deref(),
    )?;
    if let Some(s) = scopes {
        guard_global_scope(&reach, s)?;
    }
    let rate_limit = either(
        req.rate_limit,
        req.rate_limit_seed,
        "rateLimit",
        "rate_limit",
    )?
    .map(|r| r.map(Into::into));
    let ip_allowlist = either(
        req.ip_allowlist,
        req.ip_whitelist,
        "ipWhitelist",
        "ip_allowlist",
    )?;
    let mut policy = current.policy.clone();
    // `|`, not `||`: every given field is applied.
    let policy_changed = replace(&mut policy.scopes, scopes)
        | replace(&mut policy.rate_limit, rate_limit)
        | replace(&mut policy.max_concurrency, req.max_concurrency)
        | replace(&mut policy.ip_allowlist, ip_allowlist)
        | replace(&mut policy.allowed_models, req.allowed_models)
        | replace(&mut policy.allowed_providers, req.allowed_providers)
        | replace(&mut policy.key_type, req.key_type)
        | replace(&mut policy.markup_bps, req.markup_bps);
    if let Some(name) = &req.name {
        key_service::check_name(name)
            .map_err(|e| ApiError::invalid_field("name", e.to_string()))?;
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

/// Revokes a key; running gateways refuse it within seconds.
#[utoipa::path(delete, path = "/admin/keys/{id}", operation_id = "revoke_key", tag = "admin",
    params(("id" = String, Path, description = "Key id or kid")),
    responses((status = 200, description = "The revoked key", body = doc::Key), AdminErrors))]
pub async fn revoke(
    State(state): State<AppState>,
    reach: Reach,
    PathId(id): PathId,
) -> Result<Json<Value>, ApiError> {
    visible_key(&state, &reach, &id).await?;
    let record = key_service::revoke(state.store(), &id).await?;
    changed(&state, &record).await;
    Ok(Json(record.public_view(OffsetDateTime::now_utc())))
}

/// Issues a new secret for the key; the old one works for the grace period.
#[utoipa::path(post, path = "/admin/keys/{id}/rotate", operation_id = "rotate_key", tag = "admin",
    params(("id" = String, Path, description = "Key id or kid")),
    request_body(content = Option<RotateKey>, description = "May be empty: 24 h grace"),
    responses((status = 200, description = "The key with its new plaintext", body = doc::IssuedKey), AdminErrors))]
pub async fn rotate(
    State(state): State<AppState>,
    reach: Reach,
    PathId(id): PathId,
    ApiJson(req): ApiJson<RotateKey>,
) -> Result<Json<Value>, ApiError> {
    let grace = req
        .grace_period_secs
        .map(|secs| bounded_secs("grace_period_secs", secs))
        .transpose()?
        .unwrap_or(DEFAULT_ROTATION_GRACE);
    // The body is checked before the key is looked up, as key_service does.
    if grace > key_service::MAX_ROTATION_GRACE {
        return Err(key_service::KeyServiceError::GraceTooLong.into());
    }
    visible_key(&state, &reach, &id).await?;
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

/// Drops the cached copies (here, and with `[redis]` on every instance) so the
/// change applies to the next request.
async fn changed(state: &AppState, record: &KeyRecord) {
    state.auth().cache().changed(&record.kid).await;
}

fn with_plaintext(issued: &IssuedKey) -> Value {
    let mut v = issued.record.public_view(OffsetDateTime::now_utc());
    v["key"] = issued.key.expose().into();
    v
}

/// The key by id or kid, if the caller's reach covers it; another account's key
/// is "not found", exactly like a missing one.
pub(super) async fn visible_key(
    state: &AppState,
    reach: &Reach,
    id: &str,
) -> Result<KeyRecord, ApiError> {
    state
        .store()
        .find_key(id)
        .await
        .map_err(ApiError::internal)?
        .filter(|k| reach.sees_key(k))
        .ok_or_else(|| not_found(id))
}

/// Only a global management key may hand out reach over every account.
fn guard_global_scope(reach: &Reach, scopes: ScopeSet) -> Result<(), ApiError> {
    if scopes.contains(Scope::AdminGlobal) {
        reach.global_only()?;
    }
    Ok(())
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
