//! `POST /v1/messages` (scope `chat`): Anthropic format in and out, served by
//! Anthropic (bytes forwarded, events untouched), OpenAI-dialect providers
//! (translated both ways) or Gemini (through the OpenAI shapes); see
//! `pipeline::table`. Errors on this route, the router's own 404/405 for
//! `/v1/messages…` included, are rendered in Anthropic's shape by
//! `http::middleware::edge`.

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

pub const ROUTE: RouteSpec = RouteSpec {
    format: CallerFormat::AnthropicMessages,
    endpoint: Endpoint::Messages,
    shape: Shape::Messages,
};

/// `POST /v1/messages/count_tokens` (scope `chat`): `{"input_tokens": N}`, from
/// Anthropic for Claude models, counted here (the metering tokenizer) for others.
pub const COUNT_TOKENS: RouteSpec = RouteSpec {
    format: CallerFormat::AnthropicCountTokens,
    endpoint: Endpoint::CountTokens,
    shape: Shape::Messages,
};

pub async fn count_tokens(
    State(state): State<AppState>,
    principal: Principal,
    meter: Meter,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    pipeline::run(&state, &principal, &meter, &headers, body, COUNT_TOKENS).await
}

pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    meter: Meter,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    pipeline::run(&state, &principal, &meter, &headers, body, ROUTE).await
}
