//! `POST /v1/email/send` (scope `email`): gateway keys only, so any BYOK header is
//! a 400 `byok_not_supported` (the matrix in `routing::byok`); the rest is
//! `crate::email`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use crate::email::SendRequest;
use crate::error::ApiError;
use crate::http::connections::header_user;
use crate::http::extract::{RawBody, parse_body};
use crate::metering::meter::{Meter, RouteInfo};
use crate::metering::observe::BodyFormat;
use crate::routing::byok::{Byok, ByokError, Endpoint};
use crate::state::AppState;

pub async fn send(
    State(state): State<AppState>,
    meter: Meter,
    headers: HeaderMap,
    RawBody(raw): RawBody,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    // Any x-byok-* header, with or without a provider, is refused the same way.
    if headers.keys().any(|h| h.as_str().starts_with("x-byok-")) {
        return Err(match Byok::from_headers(&headers, Endpoint::Email, state.config().byok) {
            Err(e @ ByokError::NotSupported { .. }) => e.into(),
            _ => ApiError::ByokNotSupported(
                "bring-your-own-key is not supported on /v1/email/send; use a gateway key alone"
                    .into(),
            ),
        });
    }
    let req: SendRequest = parse_body(&raw)?;
    let user = header_user(&headers)?;
    meter.with(|d| d.user_id = user);
    meter.set_route(RouteInfo {
        provider: "email".into(),
        model_requested: String::new(),
        model_served: String::new(),
        prices: None,
        max_output_tokens: 0,
        byok: false,
        streamed: false,
        format: BodyFormat::Opaque,
        strip_usage_chunk: false,
    });
    let id = state.mailer().send(req).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"id": id}))))
}
