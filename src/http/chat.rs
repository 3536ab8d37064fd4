//! `POST /v1/chat/completions` (scope `chat`): OpenAI format in and out, served by
//! OpenAI or a compatible vendor (bytes forwarded), Anthropic or Gemini (translated
//! both ways, streams included; see `pipeline::table`).

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
    format: CallerFormat::OpenAiChat,
    endpoint: Endpoint::Chat,
    shape: Shape::Messages,
};

pub async fn completions(
    State(state): State<AppState>,
    principal: Principal,
    meter: Meter,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    pipeline::run(&state, &principal, &meter, &headers, body, ROUTE).await
}
