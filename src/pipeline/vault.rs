//! Routing for end users: every call of a JWT principal runs on one of the user's
//! own vault keys, chosen in this order:
//!
//! 1. `X-Key-Id: <id>`: that key (403 `key_not_owned` if it is someone else's);
//! 2. a `vendor` field in the body: the user's newest active key for that vendor,
//!    and that vendor's default model when the body has no `model` (the body sent
//!    upstream then carries that model, and never the `vendor` field);
//! 3. the model's provider (for an alias, the first provider the user has a key for).
//!
//! No usable key is a 400 naming the vendor key to add. The gateway's own provider
//! keys are never used for an end user.

use axum::http::HeaderMap;
use bytes::Bytes;
use serde_json::Value;

use super::Routed;
use crate::auth::{EndUser, Principal};
use crate::error::ApiError;
use crate::policy::PolicyError;
use crate::policy::admit::model_allowed;
use crate::routing::Resolved;
use crate::state::AppState;
use crate::vault::{Chosen, Vendor};

/// The header that forces one of the caller's vault keys.
pub const KEY_ID_HEADER: &str = "x-key-id";

/// For an end user's call: takes the `vendor` field out of the body and fills in
/// the vendor's default model when `model` is absent. Other callers' bodies, and
/// bodies without `vendor`, pass through untouched.
pub fn take_vendor(
    principal: &Principal,
    body: Bytes,
) -> Result<(Bytes, Option<Vendor>), ApiError> {
    if principal.user().is_none() || !mentions_vendor(&body) {
        return Ok((body, None));
    }
    let Ok(Value::Object(mut map)) = serde_json::from_slice::<Value>(&body) else {
        // Not a JSON object: the peek that follows reports it.
        return Ok((body, None));
    };
    let Some(raw) = map.remove("vendor") else {
        return Ok((body, None));
    };
    let vendor = raw
        .as_str()
        .ok_or_else(|| ApiError::invalid_field("vendor", "`vendor` must be a string"))?
        .parse::<Vendor>()
        .map_err(|e| ApiError::invalid_field("vendor", e.to_string()))?;
    if !map.contains_key("model") {
        map.insert("model".into(), vendor.default_model().into());
    }
    let rewritten = serde_json::to_vec(&map).map_err(ApiError::internal)?;
    Ok((Bytes::from(rewritten), Some(vendor)))
}

fn mentions_vendor(body: &[u8]) -> bool {
    const FIELD: &[u8] = b"\"vendor\"";
    body.windows(FIELD.len()).any(|w| w == FIELD)
}

/// Where an end user's call goes, and on which of their keys.
pub async fn route(
    state: &AppState,
    principal: &Principal,
    user: &EndUser,
    headers: &HeaderMap,
    model: &str,
    vendor: Option<Vendor>,
) -> Result<Routed, ApiError> {
    let vault = state.vault();
    let key_id = headers
        .get(KEY_ID_HEADER)
        .map(|v| {
            v.to_str()
                .map(str::trim)
                .map_err(|_| ApiError::invalid_field("x-key-id", "X-Key-Id must be text"))
        })
        .transpose()?;
    let catalog = state.catalog();
    let (resolved, chosen) = if let Some(id) = key_id {
        let chosen = vault.by_id(&user.id, id).await?;
        if let Some(v) = vendor
            && v != chosen.vendor
        {
            return Err(ApiError::invalid_field(
                "vendor",
                format!(
                    "X-Key-Id names a {} key, but `vendor` is {v}; drop one of them",
                    chosen.vendor
                ),
            ));
        }
        (pinned(state, model, &chosen)?, chosen)
    } else if let Some(v) = vendor {
        let chosen = vault.for_provider(&user.id, v.provider()).await?;
        (pinned(state, model, &chosen)?, chosen)
    } else {
        let have = vault.providers(&user.id).await?;
        let resolved = catalog
            .resolve(model, |p| have.contains(&p))
            .ok_or_else(|| ApiError::UnknownModel(model.to_owned()))?;
        let chosen = vault.for_provider(&user.id, resolved.provider).await?;
        (resolved, chosen)
    };
    tracing::Span::current().record("model", &*resolved.upstream_model);
    if !model_allowed(
        &state.config().keys.env_models,
        &principal.key,
        model,
        &resolved.upstream_model,
        resolved.provider,
    ) {
        return Err(PolicyError::ModelNotAllowed(model.to_owned()).into());
    }
    Ok(Routed {
        route: resolved,
        byok: None,
        vault: Some(chosen),
    })
}

/// `model` on the chosen key's provider: a catalog model of another provider is
/// refused; one the catalog does not know is passed to the provider as is (the
/// user's own account decides what exists there), like BYOK.
fn pinned(state: &AppState, model: &str, chosen: &Chosen) -> Result<Resolved, ApiError> {
    let provider = chosen.credential.provider;
    let resolved = state
        .catalog()
        .resolve(model, |p| p == provider)
        .unwrap_or_else(|| Resolved {
            provider,
            upstream_model: model.into(),
            entry: None,
        });
    if resolved.provider != provider {
        return Err(ApiError::invalid_field(
            "model",
            format!(
                "model `{model}` is served by {}, but the chosen vault key is a {} key; pick a {} model or another key",
                resolved.provider, chosen.vendor, chosen.vendor
            ),
        ));
    }
    Ok(resolved)
}
