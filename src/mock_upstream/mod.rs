//! A fake LLM provider that speaks the providers' real wire formats, so the
//! gateway can be tested, demonstrated and benchmarked without network access,
//! keys or cost. It is test and demo infrastructure: it accepts any non-empty
//! key, records credentials in memory, and must never front real traffic.
//!
//! # Routes
//!
//! - `POST /v1/chat/completions`: OpenAI Chat Completions, plain and streamed
//!   (`openai`). With a gateway `base_url` of `http://host:port/v1` this is
//!   the URL it posts to. There is deliberately no alias without `/v1`, so a
//!   gateway that builds the URL wrongly gets a 404 instead of a pass.
//! - `POST /v1/completions`, `POST /v1/embeddings`,
//!   `POST /v1/images/generations`, `POST /v1/responses`: OpenAI's legacy
//!   completions (plain and streamed), embeddings (`float` or `base64`), image
//!   generation and the Responses API (whole or typed events, function calls).
//!   All OpenAI routes require `Authorization: Bearer <non-empty key>` (401
//!   `invalid_api_key` otherwise) and answer with `x-request-id: req_mock_<n>`.
//! - `POST /openai/deployments/{deployment}/chat/completions?api-version=…`
//!   and `…/embeddings?api-version=…`: Azure OpenAI (`openai::azure`), for
//!   BYOK to an Azure base URL. Key in `api-key` (401 otherwise, `Bearer` is
//!   not accepted); no `api-version` is a 404 `Resource not found`, as Azure
//!   answers, and one not shaped `YYYY-MM-DD[-preview]` a 400. Then answered
//!   like the OpenAI routes, the deployment as the model.
//! - `POST /v1/messages`: Anthropic Messages, plain and streamed
//!   (`anthropic`). The gateway's Anthropic `base_url` is the mock's root,
//!   `http://host:port`. Requires a non-empty key in `x-api-key` or
//!   `Authorization: Bearer` (401 otherwise; the real API takes both) and
//!   one dated `anthropic-version` such as `2023-06-01` (400 otherwise);
//!   answers with a `request-id: req_mock_<n>` header.
//! - `POST /v1beta/models/{model}:generateContent`, `:streamGenerateContent`
//!   (`?alt=sse` for SSE, otherwise a JSON array), `:embedContent`,
//!   `:batchEmbedContents`: Gemini (`gemini`); its `base_url` is the mock's
//!   root too. Key in `x-goog-api-key` or `?key=`: none is 403
//!   `PERMISSION_DENIED`, the key `bad` is 400 `API_KEY_INVALID`, as Google
//!   answers.
//! - `POST /v1/audio/transcriptions` (multipart) and `POST /v1/audio/speech`
//!   (OpenAI), `POST /v1/listen` and `POST /v1/speak` (Deepgram, `Authorization:
//!   Token <key>`; its `base_url` is the mock's root): transcripts derived from
//!   the uploaded bytes, speech a small WAV in several frames (`audio`).
//!   `POST /_mock/release` lets a speech stream held by `[[mock:hold]]` finish.
//! - `GET /_mock/stats`: `{"requests", "streams_started", "streams_completed",
//!   "streams_cancelled", "streams_aborted"}` (`stats`), all routes above
//!   counted.
//! - `GET /_mock/requests`: the last 50 provider requests (every dialect) as
//!   `{"method","path","query","query_params","headers","body","body_text"}`, headers
//!   and query verbatim (`authorization`, `x-api-key`, `api-key`,
//!   `x-goog-api-key`, `?key=`, `?api-version=`…); `DELETE` clears them
//!   (`journal`).
//! - `PUT|GET|DELETE /_mock/fault`: a fault (status, `retry-after`, delay, for
//!   the next N requests) forced on every provider route of this instance
//!   (`fault`), so one of several instances can stand for a down deployment.
//! - anything else: 404 with an OpenAI-shaped error body (`error_body`).
//!
//! Errors come in each provider's shape (`error_body`): OpenAI's
//! `{"error":{"message","type","param","code"}}`, Anthropic's
//! `{"type":"error","error":{"type","message"},"request_id"}`, Gemini's
//! `{"error":{"code","message","status"}}` with Google's canonical status
//! names (400 `INVALID_ARGUMENT`, 403 `PERMISSION_DENIED`, 404 `NOT_FOUND`,
//! 429 `RESOURCE_EXHAUSTED`, 500 `INTERNAL`, 503 `UNAVAILABLE`, 504
//! `DEADLINE_EXCEEDED`…).
//!
//! # Replies
//!
//! Deterministic: `Mock reply to: <last user message, first 200 chars>`
//! (legacy completions: to the prompt), where an Anthropic message's text is
//! its string content or its text blocks joined by spaces, and a Gemini
//! content's its text parts joined by spaces. If the last user message holds
//! `tool_result` blocks (Anthropic), or an OpenAI conversation ends in `tool`
//! messages, the reply is `Mock reply to tool result: <their text>`; if it holds `functionResponse` parts (Gemini), `Mock reply
//! to function response: <JSON of the first response object>`, so a tool
//! round trip can be checked end to end.
//! Prompt tokens are the whitespace-separated words of all text contents
//! (Anthropic: the `system` prompt and `tool_result` contents too; Gemini:
//! `systemInstruction` and each `functionResponse.response` as JSON) plus 3
//! per message, the system prompt counting as one; completion tokens are
//! the number of stream pieces (one per word, plus one per tool-argument
//! fragment; a Gemini function call counts as the same 3). Streams send one
//! SSE event per word, each its own body frame. Anthropic streams are
//! `message_start`, `ping`, per content block `content_block_start` /
//! `_delta`… / `_stop`, `message_delta`, `message_stop`. Gemini chunks carry
//! running `usageMetadata` totals; the last adds `finishReason: "STOP"`.
//!
//! Embeddings (OpenAI, Azure, Gemini) are `embedding::vector` of the
//! text: deterministic, in `[-1, 1)`, 8 values unless `dimensions` /
//! `outputDimensionality` asks otherwise, equal across providers for equal
//! text.
//!
//! # Directives
//!
//! Tests steer the mock with tags in the text of the last user message
//! (Anthropic: `tool_result` contents included; Gemini: `functionResponse`
//! JSON included; legacy completions and images: the prompt; embeddings:
//! the input texts), which survive whatever translation the gateway does.
//! Unknown tags are ignored and the tags stay in the echoed text.
//!
//! | tag | effect |
//! |---|---|
//! | `[[mock:status=NNN]]` | answer NNN (400–599) with the provider's error body; on OpenAI and Anthropic routes 429 adds `retry-after: 1`, on Gemini a `RetryInfo` detail (`retryDelay: "1s"`). Anthropic's `error.type` follows the status: 400 `invalid_request_error`, 401 `authentication_error`, 403 `permission_error`, 404 `not_found_error`, 413 `request_too_large`, 429 `rate_limit_error`, 529 `overloaded_error`, other 4xx `invalid_request_error`, other 5xx `api_error`. Every route |
//! | `[[mock:delay_ms=N]]` | wait N ms before the response headers. Every route |
//! | `[[mock:chunk_delay_ms=N]]` | wait N ms between stream events (Gemini's JSON-array stream too) |
//! | `[[mock:drop_after=N]]` | send N stream events (Anthropic: `ping` included), then cut the connection (no `[DONE]` / `message_stop` / closing `]`); non-streamed, embeddings and images: headers at most, then cut |
//! | `[[mock:words=N]]` | reply `w1 w2 … wN` (N ≤ 100 000) instead of the echo |
//! | `[[mock:tool_call]]` | if the request has tools, call the first one with `{"location":"Paris"}`; Anthropic says `Let me check.` first, in its own text block; Gemini sends one `functionCall` part (whole, in one chunk when streamed) with `finishReason: "STOP"` |
//! | `[[mock:stream_error]]` | Anthropic streams only: after `message_start` and the first text delta, send `event: error` (`overloaded_error`) and end the stream; counted in `streams_aborted`. Ignored when not streaming and by the other routes |
//! | `[[mock:thoughts=N]]` | Gemini only: lead with a `{"text":"thinking…","thought":true}` part (its own chunk when streamed) and report `thoughtsTokenCount: N`, apart from `candidatesTokenCount` and inside `totalTokenCount` |
//! | `[[mock:echo_key=full\|head:N\|tail:N\|mid:N]]` | an error answer's `error.message` ends with `; the key you sent: <the credential, whole or N characters of it>` (found anywhere in the request body; see `key_echo`). Every route, with `status=NNN` or any other error |
//! | `[[mock:blocked]]` | Gemini only: a 200 with no `candidates`, only `promptFeedback: {"blockReason":"SAFETY"}` and the prompt's usage (one chunk when streamed) |

mod anthropic;
mod audio;

mod directives;
mod embedding;
mod error_body;
mod event_stream;
mod fault;
mod gemini;
mod journal;
mod key_echo;
mod openai;
mod query;
mod reply;
mod stats;

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::{Json, Router};
use tokio::net::TcpListener;

use self::error_body::{AnthropicError, GeminiError, OpenAiError};
use self::journal::Journal;
use self::stats::Stats;

pub use self::audio::speech_wav;

/// Largest request body accepted; generous because benchmarks send long
/// prompts, bounded because every body is held in memory for the journal.
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// A fake provider server. Cloning is cheap and clones share all state.
#[derive(Debug, Clone, Default)]
pub struct MockUpstream {
    state: Arc<MockState>,
}

/// State shared by every route.
#[derive(Debug, Default)]
struct MockState {
    stats: Arc<Stats>,
    journal: Journal,
    responses: AtomicU64,
    /// `POST /_mock/release` lets a held speech stream (`[[mock:hold]]`) go on.
    release: Arc<tokio::sync::Notify>,
    faults: fault::Faults,
}

impl MockState {
    /// Numbers responses 1, 2, 3… for ids like `chatcmpl-mock-<n>`.
    fn next_response_number(&self) -> u64 {
        self.responses.fetch_add(1, Ordering::Relaxed) + 1
    }
}

impl MockUpstream {
    /// A fresh mock with zeroed stats and an empty request journal.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// All routes with state attached; mount it or serve it as is.
    pub fn router(&self) -> Router {
        let providers = Router::new()
            .route("/v1/chat/completions", post(openai::chat_completions))
            .route("/v1/completions", post(openai::completions))
            .route("/v1/responses", post(openai::responses))
            .route("/v1/embeddings", post(openai::embeddings))
            .route("/v1/images/generations", post(openai::image_generations))
            .route(
                "/openai/deployments/{deployment}/chat/completions",
                post(openai::azure::chat_completions),
            )
            .route(
                "/openai/deployments/{deployment}/embeddings",
                post(openai::azure::embeddings),
            )
            .route(
                "/v1/audio/transcriptions",
                post(audio::openai_transcriptions),
            )
            .route("/v1/audio/speech", post(audio::openai_speech))
            .route("/v1/listen", post(audio::deepgram_listen))
            .route("/v1/speak", post(audio::deepgram_speak))
            .route("/v1/messages", post(anthropic::messages))
            .route("/v1/messages/count_tokens", post(anthropic::count_tokens))
            .route("/v1beta/models/{target}", post(gemini::models))
            // `route_layer`, so only matched provider routes are recorded.
            .route_layer(middleware::from_fn_with_state(
                Arc::clone(&self.state),
                record_provider_request,
            ));
        let control = Router::new()
            .route("/_mock/stats", get(stats))
            .route("/_mock/requests", get(list_requests).delete(clear_requests))
            .route("/_mock/release", post(release))
            .route(
                "/_mock/fault",
                get(get_fault).put(put_fault).delete(clear_fault),
            );
        providers
            .merge(control)
            .fallback(not_found)
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(Arc::clone(&self.state))
    }

    /// Serves [`router`](Self::router) on `listener` forever. `TCP_NODELAY`
    /// is set on every connection so small stream events are not held back
    /// by Nagle's algorithm, which would distort streaming latency numbers.
    ///
    /// # Errors
    ///
    /// Whatever `axum::serve` reports; it retries failed `accept`s itself,
    /// so in practice this only returns if the server is torn down.
    pub async fn serve(self, listener: TcpListener) -> io::Result<()> {
        let listener = listener.tap_io(|tcp| {
            if let Err(error) = tcp.set_nodelay(true) {
                tracing::debug!(%error, "mock upstream: could not set TCP_NODELAY");
            }
        });
        axum::serve(listener, self.router()).await
    }
}

/// Counts and journals a provider request, then hands it on with its body.
async fn record_provider_request(
    State(state): State<Arc<MockState>>,
    request: Request,
    next: Next,
) -> Response {
    state.stats.count_request();
    let (head, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(_) => return body_too_large(&state, head.uri.path()),
    };
    state.journal.record(&head, Bytes::clone(&body));
    if let Some(f) = state.faults.take()
        && let Some(response) = fault::apply(f, head.uri.path()).await
    {
        return response;
    }
    if !key_echo::requested(&body) {
        return next.run(Request::from_parts(head, Body::from(body))).await;
    }
    let (headers, uri) = (head.headers.clone(), head.uri.clone());
    let response = next
        .run(Request::from_parts(head, Body::from(Bytes::clone(&body))))
        .await;
    key_echo::apply(&headers, uri.query(), &body, response).await
}

/// A 413 in the shape of the route's dialect.
fn body_too_large(state: &MockState, path: &str) -> Response {
    let message = format!("request body is over the mock's {MAX_BODY_BYTES} byte limit");
    let status = StatusCode::PAYLOAD_TOO_LARGE;
    if path == "/v1/messages" {
        let request_id = format!("req_mock_{}", state.next_response_number());
        AnthropicError::new(status, message)
            .request_id(request_id)
            .into_response()
    } else if path.starts_with("/v1beta/") {
        GeminiError::new(status, message).into_response()
    } else {
        OpenAiError::new(status, "invalid_request_error", message).into_response()
    }
}

async fn stats(State(state): State<Arc<MockState>>) -> Json<stats::StatsSnapshot> {
    Json(state.stats.snapshot())
}

async fn list_requests(State(state): State<Arc<MockState>>) -> Json<serde_json::Value> {
    Json(state.journal.to_json())
}

async fn release(State(state): State<Arc<MockState>>) -> StatusCode {
    state.release.notify_one();
    StatusCode::NO_CONTENT
}

async fn get_fault(State(state): State<Arc<MockState>>) -> Json<serde_json::Value> {
    fault::body(state.faults.get())
}

async fn put_fault(
    State(state): State<Arc<MockState>>,
    Json(f): Json<fault::Fault>,
) -> Json<serde_json::Value> {
    state.faults.set(Some(f));
    fault::body(state.faults.get())
}

async fn clear_fault(State(state): State<Arc<MockState>>) -> StatusCode {
    state.faults.set(None);
    StatusCode::NO_CONTENT
}

async fn clear_requests(State(state): State<Arc<MockState>>) -> StatusCode {
    state.journal.clear();
    StatusCode::NO_CONTENT
}

/// OpenAI's wording for unknown URLs, so a misrouted gateway call fails the
/// way it would against the real API.
async fn not_found(method: Method, uri: Uri) -> OpenAiError {
    OpenAiError::new(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        format!("Invalid URL ({method} {})", uri.path()),
    )
}

#[cfg(test)]
mod tests;
