//! `GET /admin/alerts`: recent alert events (the same rows webhooks deliver), so a
//! team without a receiver still sees them. Filters: `type`, `key_id`,
//! `account_id`, `since` (RFC 3339), `limit`. An account's key sees its own.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;

use super::{Reach, list};
use crate::error::ApiError;
use crate::http::extract::ApiQuery;
use crate::http::openapi::errors::AdminErrors;
use crate::http::openapi::webhooks as doc;
use crate::state::AppState;
use crate::store::EventFilter;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertQuery {
    /// One alert type, e.g. `alert.auth_failures`.
    #[serde(rename = "type")]
    kind: Option<String>,
    /// Alerts about this key (row id).
    key_id: Option<String>,
    account_id: Option<String>,
    /// Only alerts at or after this RFC 3339 time.
    since: Option<String>,
    /// At most this many, newest first (default 100, at most 1000).
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/admin/alerts", operation_id = "list_alerts", tag = "admin",
    params(AlertQuery),
    responses((status = 200, description = "Alerts, newest first", body = doc::AlertList), AdminErrors))]
pub async fn list_alerts(
    State(state): State<AppState>,
    reach: Reach,
    ApiQuery(q): ApiQuery<AlertQuery>,
) -> Result<Json<Value>, ApiError> {
    let account_id = match (q.account_id, reach.account()) {
        (Some(a), _) => {
            reach.may_name(&a)?;
            Some(a)
        }
        (None, own) => own.map(str::to_owned),
    };
    let since =
        q.since
            .map(|s| {
                time::OffsetDateTime::parse(&s, &time::format_description::well_known::Rfc3339)
                    .map_err(|_| {
                        ApiError::invalid_field(
                            "since",
                            "`since` must be an RFC 3339 time such as 2026-01-31T00:00:00Z",
                        )
                    })
            })
            .transpose()?;
    if let Some(kind) = &q.kind
        && !kind.starts_with("alert.")
    {
        return Err(ApiError::invalid_field(
            "type",
            "`type` must be an alert type such as alert.auth_failures",
        ));
    }
    let events = state
        .store()
        .list_events(&EventFilter {
            type_prefix: Some("alert.".into()),
            kind: q.kind,
            account_id,
            key_id: q.key_id,
            since,
            limit: q.limit.unwrap_or(100).clamp(1, 1000),
        })
        .await
        .map_err(ApiError::internal)?;
    Ok(list(events.iter().map(crate::webhooks::payload).collect()))
}
