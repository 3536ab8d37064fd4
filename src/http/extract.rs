//! Extractors whose rejections are `ApiError`s, so every failure has the documented body.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use time::OffsetDateTime;

use crate::app::AppState;
use crate::auth::{AuthError, Principal, presented_key};
use crate::error::ApiError;

/// The authenticated caller. Runs before any body extractor, so an unauthenticated
/// request is refused without reading (up to `max_body_bytes` of) its body.
impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let presented =
            presented_key(&parts.headers, state.alt_header())?.ok_or(AuthError::Missing)?;
        let principal = state
            .auth()
            .authenticate(presented, OffsetDateTime::now_utc())
            .await?;
        tracing::Span::current().record("kid", principal.key.kid.as_str());
        Ok(principal)
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
            Err(rejection) => Err(ApiError::InvalidJson(format!(
                "the request body could not be read: {}",
                rejection.body_text()
            ))),
        }
    }
}
