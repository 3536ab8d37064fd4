//! Extractors whose rejections are `ApiError`s, so every failure has the documented body.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

/// The authenticated caller, as the gate (`http::gate`) admitted it. A route that
/// asks for it without a gate in front is a wiring bug, reported as a 500.
impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| ApiError::internal("route has no gate in front of it"))
    }
}

/// The request's usage meter, opened by the meter layer around gateway routes; a
/// detached one when metering is off.
impl FromRequestParts<AppState> for crate::metering::meter::Meter {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match parts.extensions.get::<Self>() {
            Some(m) => Ok(m.clone()),
            None if !state.config().usage.enabled => Ok(Self::detached()),
            None => Err(ApiError::internal("route has no meter around it")),
        }
    }
}

/// The raw request body, with size and read failures mapped to documented errors.
pub struct RawBody(pub Bytes);

impl FromRequest<AppState> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        match Bytes::from_request(req, state).await {
            Ok(b) => Ok(RawBody(b)),
            Err(rejection) if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::BodyTooLarge(state.max_body_bytes()))
            }
            Err(rejection) if body_timed_out(&rejection) => Err(ApiError::BodyTimeout(
                state.config().server.body_read_timeout,
            )),
            Err(rejection) => Err(ApiError::InvalidJson(format!(
                "the request body could not be read: {}",
                rejection.body_text()
            ))),
        }
    }
}

/// Whether reading the body failed on `[server] body_read_timeout_ms` (set by
/// `http::middleware::edge`), somewhere down the error's source chain.
fn body_timed_out(rejection: &axum::extract::rejection::BytesRejection) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(rejection);
    while let Some(e) = cause {
        if e.is::<crate::http::middleware::BodyReadTimeout>() {
            return true;
        }
        cause = e.source();
    }
    false
}

/// The longest `{id}` path segment we look up; anything longer is no id of ours.
pub const MAX_PATH_ID_BYTES: usize = 128;

/// The `{id}` segment of a management route, percent-decoded into printable
/// UTF-8 of at most [`MAX_PATH_ID_BYTES`]. Bad percent-encoding, control
/// characters (NUL included) and over-long ids are a 400 `invalid_field` with
/// `param: "id"`, in the API's error body, instead of axum's plain-text rejection.
#[derive(Debug, Clone)]
pub struct PathId(pub String);

impl FromRequestParts<AppState> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Path(id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| {
                ApiError::invalid_field(
                    "id",
                    format!(
                        "the id in the path could not be read ({}); percent-encode it as UTF-8",
                        rejection.body_text()
                    ),
                )
            })?;
        if id.is_empty() || id.len() > MAX_PATH_ID_BYTES {
            return Err(ApiError::invalid_field(
                "id",
                format!("the id in the path must be 1 to {MAX_PATH_ID_BYTES} bytes long"),
            ));
        }
        if id.chars().any(char::is_control) {
            return Err(ApiError::invalid_field(
                "id",
                "the id in the path must not contain control characters",
            ));
        }
        Ok(PathId(id))
    }
}

/// A query string whose rejections are `ApiError`s (400 `invalid_field`, `param: "query"`).
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<AppState> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(q)| ApiQuery(q))
            .map_err(|rejection| ApiError::invalid_field("query", rejection.body_text()))
    }
}

/// A JSON body for the management API: unknown fields and wrong types are 400s
/// that name the offending field (`param`).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let RawBody(bytes) = RawBody::from_request(req, state).await?;
        parse_body(&bytes).map(ApiJson)
    }
}

/// Parses a management-API body; an empty body counts as `{}` when `T` allows it
/// (so `POST …/rotate` with no body uses the defaults).
pub fn parse_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize::<_, T>(&mut de).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_data() {
            ApiError::InvalidBodyField {
                field,
                message: inner.to_string(),
            }
        } else {
            ApiError::InvalidJson(inner.to_string())
        }
    })?;
    de.end()
        .map_err(|e| ApiError::InvalidJson(format!("trailing data after the JSON body: {e}")))?;
    Ok(value)
}
