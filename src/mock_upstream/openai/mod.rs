//! OpenAI's wire format (`wire-formats.md` §1), one file per endpoint, and
//! the Azure OpenAI deployment routes that answer the same way:
//!
//! - [`chat`]: `POST /v1/chat/completions`.
//! - [`completions`]: `POST /v1/completions`, legacy text completions.
//! - [`embeddings`]: `POST /v1/embeddings`, vectors from
//!   [`embedding`](super::embedding).
//! - [`images`]: `POST /v1/images/generations`.
//! - [`responses`]: `POST /v1/responses`, the Responses API, whole and streamed.
//! - [`azure`]: `POST /openai/deployments/{deployment}/…?api-version=…`,
//!   `api-key` auth in front of [`chat`] and [`embeddings`].
//!
//! Shared here: the Bearer check, the body-parse errors, `x-request-id`, the
//! fixed `created` and where the answer's model comes from. Like the other
//! dialects it reads only the fields that change the answer, ignores the
//! rest like a lenient provider, and must not grow gateway logic.

pub(super) mod azure;
mod chat;
mod completions;
mod embeddings;
mod images;
mod responses;

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::MockState;
use super::error_body::OpenAiError;

/// Fixed so responses are byte-for-byte reproducible across runs.
const CREATED: u64 = 1_700_000_000;

/// `POST /v1/chat/completions`.
pub(crate) async fn chat_completions(
    State(state): State<Arc<MockState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    answer_with_bearer(&state, &headers, &body, Endpoint::Chat).await
}

/// `POST /v1/completions`.
pub(crate) async fn completions(
    State(state): State<Arc<MockState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    answer_with_bearer(&state, &headers, &body, Endpoint::Completions).await
}

/// `POST /v1/embeddings`.
pub(crate) async fn embeddings(
    State(state): State<Arc<MockState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    answer_with_bearer(&state, &headers, &body, Endpoint::Embeddings).await
}

/// `POST /v1/responses`.
pub(crate) async fn responses(
    State(state): State<Arc<MockState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    answer_with_bearer(&state, &headers, &body, Endpoint::Responses).await
}

/// `POST /v1/images/generations`.
pub(crate) async fn image_generations(
    State(state): State<Arc<MockState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    answer_with_bearer(&state, &headers, &body, Endpoint::Images).await
}

#[derive(Debug, Clone, Copy)]
enum Endpoint {
    Chat,
    Completions,
    Embeddings,
    Images,
    Responses,
}

async fn answer_with_bearer(
    state: &MockState,
    headers: &HeaderMap,
    body: &[u8],
    endpoint: Endpoint,
) -> Response {
    let n = state.next_response_number();
    let result = match check_bearer(headers) {
        Err(error) => Err(error),
        Ok(()) => match endpoint {
            Endpoint::Chat => chat::answer(state, n, body, ModelFrom::Body).await,
            Endpoint::Completions => completions::answer(state, n, body).await,
            Endpoint::Embeddings => embeddings::answer(body, ModelFrom::Body).await,
            Endpoint::Images => images::answer(n, body).await,
            Endpoint::Responses => responses::answer(state, n, body).await,
        },
    };
    with_request_id(result, n)
}

/// Renders `result` with OpenAI's `x-request-id: req_mock_<n>` header.
fn with_request_id(result: Result<Response, OpenAiError>, n: u64) -> Response {
    let mut response = result.unwrap_or_else(IntoResponse::into_response);
    if let Ok(value) = HeaderValue::from_str(&format!("req_mock_{n}")) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

fn check_bearer(headers: &HeaderMap) -> Result<(), OpenAiError> {
    let has_key = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|key| !key.trim().is_empty());
    if has_key {
        return Ok(());
    }
    Err(OpenAiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_request_error",
        "You didn't provide an API key. Send it as `Authorization: Bearer <key>`; \
         the mock accepts any non-empty key.",
    )
    .code("invalid_api_key"))
}

/// The body as `T`, or the 400 OpenAI answers a malformed body with.
fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, OpenAiError> {
    serde_json::from_slice(body).map_err(|e| {
        let message = if e.is_data() {
            format!("Invalid request body: {e}")
        } else {
            format!("We could not parse the JSON body of your request: {e}")
        };
        OpenAiError::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    })
}

/// A 400 `invalid_request_error` about `param`.
fn invalid(param: &'static str, message: impl Into<std::borrow::Cow<'static, str>>) -> OpenAiError {
    OpenAiError::new(StatusCode::BAD_REQUEST, "invalid_request_error", message).param(param)
}

/// Where the model an answer names comes from.
#[derive(Debug, Clone, Copy)]
enum ModelFrom<'a> {
    /// The body's `model`, which OpenAI requires.
    Body,
    /// An Azure deployment: the URL names it and the body's `model`, if
    /// any, is ignored, as Azure does.
    Deployment(&'a str),
}

impl ModelFrom<'_> {
    fn resolve(self, body_model: Option<String>) -> Result<String, OpenAiError> {
        match self {
            Self::Deployment(deployment) => Ok(deployment.to_owned()),
            Self::Body => body_model
                .filter(|m| !m.is_empty())
                .ok_or_else(|| invalid("model", "you must provide a model parameter")),
        }
    }
}

#[derive(Deserialize)]
struct StreamOptions {
    include_usage: Option<bool>,
}

/// How a chat or text completion is delivered.
enum Delivery {
    Whole,
    Stream { include_usage: bool },
}

impl Delivery {
    fn of(stream: Option<bool>, options: Option<StreamOptions>) -> Self {
        if !stream.unwrap_or(false) {
            return Self::Whole;
        }
        Self::Stream {
            include_usage: options.and_then(|o| o.include_usage).unwrap_or(false),
        }
    }
}
