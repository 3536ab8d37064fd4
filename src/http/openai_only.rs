//! OpenAI endpoints forwarded as they are to OpenAI-dialect providers:
//! `POST /v1/completions` (scope `completions`) and `POST /v1/images/generations`
//! (scope `images`). Neither has a translation to other providers, nor BYOK.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::http::extract::RawBody;
use crate::metering::meter::Meter;
use crate::pipeline::{self, CallerFormat, RouteSpec};
use crate::routing::byok::Endpoint;
use crate::state::AppState;
use crate::translate::peek::Shape;

pub const COMPLETIONS: RouteSpec = RouteSpec {
    format: CallerFormat::OpenAiCompletions,
    endpoint: Endpoint::Completions,
    shape: Shape::Prompt,
};

pub const IMAGES: RouteSpec = RouteSpec {
    format: CallerFormat::OpenAiImages,
    endpoint: Endpoint::Images,
    shape: Shape::ImagePrompt,
};

pub async fn completions(
    State(state): State<AppState>,
    principal: Principal,
    meter: Meter,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    pipeline::run(&state, &principal, &meter, &headers, body, COMPLETIONS).await
}

pub async fn images(
    State(state): State<AppState>,
    principal: Principal,
    meter: Meter,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    pipeline::run(&state, &principal, &meter, &headers, body, IMAGES).await
}
