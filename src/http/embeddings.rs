//! `POST /v1/embeddings` (scope `embeddings`): OpenAI format, served by OpenAI
//! (bytes forwarded) or Gemini (`embedContent` / `batchEmbedContents`, see
//! `pipeline::embeddings`).

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
    format: CallerFormat::OpenAiEmbeddings,
    endpoint: Endpoint::Embeddings,
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
