//! `GET /admin/providers` (global management keys): every provider's deployments
//! with their health, cooldown and recent error rate (`routing::deployments`).
//! Never a key, never a base URL's path or query: only its host.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::Reach;
use crate::error::ApiError;
use crate::state::AppState;

/// The body of `GET /admin/providers`.
#[derive(Serialize, ToSchema)]
pub struct ProviderList {
    /// Always `list`.
    pub object: String,
    pub data: Vec<ProviderDeployments>,
}

/// A provider with at least one deployment.
#[derive(Serialize, ToSchema)]
pub struct ProviderDeployments {
    pub provider: String,
    pub deployments: Vec<DeploymentStatus>,
}

/// One deployment: `default` is the provider's own `base_url`/`api_key`.
#[derive(Serialize, ToSchema)]
pub struct DeploymentStatus {
    pub name: String,
    /// `host[:port]` of its base URL.
    pub host: String,
    pub weight: u32,
    /// Upstream models it serves; `null`: all of the provider's.
    pub models: Option<Vec<String>>,
    #[schema(value_type = DeploymentHealth)]
    pub health: String,
    /// RFC 3339: when the cooldown ends (or ended, when half-open); `null` if it never cooled.
    pub cooldown_until: Option<String>,
    /// Times it entered cooldown since the gateway started.
    pub cooldowns: u64,
    /// Calls the error rate covers (the last 64 at most).
    pub recent_requests: u32,
    /// Failed share of the recent calls, 0 to 1.
    pub recent_error_rate: f64,
}

/// `healthy`; `cooling` (skipped while another deployment can serve); `half_open`
/// (the next request probes it).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentHealth {
    Healthy,
    Cooling,
    HalfOpen,
}

#[utoipa::path(get, path = "/admin/providers", operation_id = "list_providers", tag = "admin",
    responses((status = 200, description = "Deployments and their health", body = ProviderList),
        crate::http::openapi::errors::AdminErrors))]
pub async fn list(State(state): State<AppState>, reach: Reach) -> Result<Json<Value>, ApiError> {
    reach.global_only()?;
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    Ok(Json(json!({
        "object": "list",
        "data": state.deployments().view(now_ms),
    })))
}
