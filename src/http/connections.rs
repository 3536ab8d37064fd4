//! `/v1/connections…` and `/v1/execute/{name}/{path…}` (scope `connections`): thin
//! handlers over `crate::connections`. The execute path is read from the raw URI,
//! still percent-encoded, because the router's decoded capture would hide `%2F`.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::auth::Principal;
use crate::connections::{ExecuteRequest, Executed, MAX_USER_ID, NewConnection, Owner};
use crate::error::ApiError;
use crate::http::extract::{ApiJson, PathId, RawBody, parse_body};
use crate::metering::meter::{Meter, RouteInfo};
use crate::metering::observe::BodyFormat;
use crate::state::AppState;

/// `X-User-Id`, checked: printable, at most [`MAX_USER_ID`] bytes. Empty: org-wide.
pub(crate) fn header_user(headers: &HeaderMap) -> Result<String, ApiError> {
    match headers.get("x-user-id") {
        None => Ok(String::new()),
        Some(v) => {
            let text = v
                .to_str()
                .map_err(|_| ApiError::invalid_field("x-user-id", "must be visible ASCII"))?
                .trim();
            check_user(text, "x-user-id")?;
            Ok(text.to_owned())
        }
    }
}

fn check_user(user: &str, param: &'static str) -> Result<(), ApiError> {
    if user.len() > MAX_USER_ID || user.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(
            param,
            format!("must be at most {MAX_USER_ID} bytes without control characters"),
        ));
    }
    Ok(())
}

fn owner(principal: &Principal, headers: &HeaderMap) -> Result<Owner, ApiError> {
    Ok(Owner {
        account_id: principal.key.account_id.clone(),
        user_id: header_user(headers)?,
    })
}

/// Records the connection and user on this request's usage event.
fn meter_action(meter: &Meter, kind: &str, name: &str, user: &str) {
    meter.with(|d| d.user_id = user.to_owned());
    meter.set_route(RouteInfo {
        provider: kind.to_owned(),
        model_requested: name.to_owned(),
        model_served: name.to_owned(),
        prices: None,
        max_output_tokens: 0,
        byok: false,
        streamed: false,
        format: BodyFormat::Opaque,
        strip_usage_chunk: false,
    });
}

pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    meter: Meter,
    headers: HeaderMap,
    ApiJson(body): ApiJson<NewConnection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let owner = owner(&principal, &headers)?;
    if let Some(name) = &body.name {
        meter_action(&meter, "connection", name, &owner.user_id);
    }
    let view = state.connections().create(&owner, body).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let owner = owner(&principal, &headers)?;
    let data = state.connections().list(&owner).await?;
    Ok(Json(json!({"object": "list", "data": data})))
}

pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    PathId(id): PathId,
) -> Result<Json<Value>, ApiError> {
    let owner = owner(&principal, &headers)?;
    Ok(Json(state.connections().get(&owner, &id).await?))
}

pub async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    PathId(id): PathId,
) -> Result<Json<Value>, ApiError> {
    let owner = owner(&principal, &headers)?;
    state.connections().delete(&owner, &id).await?;
    Ok(Json(
        json!({"id": id, "object": "connection", "deleted": true}),
    ))
}

/// `POST /v1/execute/{name}/{path…}`.
pub async fn execute(
    State(state): State<AppState>,
    principal: Principal,
    meter: Meter,
    headers: HeaderMap,
    uri: Uri,
    RawBody(raw): RawBody,
) -> Result<Response, ApiError> {
    let rest = uri
        .path()
        .strip_prefix("/v1/execute/")
        .ok_or_else(|| ApiError::NotFound(uri.path().to_owned()))?;
    let (name, path) = rest.split_once('/').unwrap_or((rest, ""));
    let req: ExecuteRequest = parse_body(&raw)?;
    // The body's userId wins over X-User-Id; with neither, org-wide.
    let user = match req.user_id.as_deref().map(str::trim) {
        Some(u) if !u.is_empty() => {
            check_user(u, "userId")?;
            u.to_owned()
        }
        _ => header_user(&headers)?,
    };
    meter_action(&meter, "connection", name, &user);
    let connections = state.connections();
    let connection = connections
        .resolve(&principal.key.account_id, &user, name)
        .await?;
    match connections.execute(&connection, path, &req).await? {
        Executed::Buffered(envelope) => Ok(Json(envelope).into_response()),
        Executed::Streamed {
            status,
            headers,
            body,
        } => {
            let mut res = Response::new(Body::from_stream(body));
            let h = res.headers_mut();
            for (name, value) in headers {
                h.append(name, value);
            }
            h.insert("x-tollgate-target-status", status.into());
            Ok(res)
        }
    }
}
