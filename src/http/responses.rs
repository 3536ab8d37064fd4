//! `POST /v1/responses` (scope `chat`): OpenAI's Responses API in and out. OpenAI
//! models get the caller's bytes (model renamed); Anthropic, Gemini and
//! OpenAI-compatible vendors are translated through the chat shapes, streams and
//! tool calls included (`pipeline::table`, `translate::responses`). Stateless:
//! `previous_response_id` is a 400.

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
    format: CallerFormat::OpenAiResponses,
    endpoint: Endpoint::Responses,
    shape: Shape::Input,
};

pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    meter: Meter,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    pipeline::run(&state, &principal, &meter, &headers, body, ROUTE).await
}
