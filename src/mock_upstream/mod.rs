//! A fake LLM provider that speaks the providers' real wire formats, so the
//! gateway can be tested, demonstrated and benchmarked without network access,
//! keys or cost. It is test and demo infrastructure: it accepts any non-empty
//! key, records credentials in memory, and must never front real traffic.
//!
//! # Routes
//!
//! - `POST /v1/chat/completions`: OpenAI Chat Completions, plain and streamed
//!   ([`openai`]). With a gateway `base_url` of `http://host:port/v1` this is
//!   the URL it posts to. There is deliberately no alias without `/v1`, so a
//!   gateway that builds the URL wrongly gets a 404 instead of a pass.
//! - `GET /_mock/stats`: `{"requests", "streams_started", "streams_completed",
//!   "streams_cancelled", "streams_aborted"}` ([`stats`]).
//! - `GET /_mock/requests`: the last 50 provider requests as
//!   `{"method","path","query","headers","body"}`; `DELETE` clears them
//!   ([`journal`]).
//! - anything else: 404 with an OpenAI-shaped error body ([`error_body`]).
//!
//! # Replies
//!
//! Deterministic: `Mock reply to: <last user message, first 200 chars>`.
//! Prompt tokens are the whitespace-separated words of all text contents plus
//! 3 per message; completion tokens are the number of stream pieces (one per
//! word). Streams send one SSE event per word, each its own body frame.
//!
//! # Directives
//!
//! Tests steer the mock with tags in the text of the last user message, which
//! survive whatever translation the gateway does. Unknown tags are ignored and
//! the tags stay in the echoed text.
//!
//! | tag | effect |
//! |---|---|
//! | `[[mock:status=NNN]]` | answer NNN (400–599) with the provider's error body; 429 adds `retry-after: 1` |
//! | `[[mock:delay_ms=N]]` | wait N ms before the response headers |
//! | `[[mock:chunk_delay_ms=N]]` | wait N ms between stream events |
//! | `[[mock:drop_after=N]]` | send N stream events, then cut the connection (no `[DONE]`); non-streamed: headers at most, then cut |
//! | `[[mock:words=N]]` | reply `w1 w2 … wN` (N ≤ 100 000) instead of the echo |
//! | `[[mock:tool_call]]` | if the request has tools, call the first one with `{"location":"Paris"}` |

mod directives;
mod error_body;
mod event_stream;
mod journal;
mod openai;
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

use self::error_body::OpenAiError;
use self::journal::Journal;
use self::stats::Stats;

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
            // `route_layer`, so only matched provider routes are recorded.
            .route_layer(middleware::from_fn_with_state(
                Arc::clone(&self.state),
                record_provider_request,
            ));
        let control = Router::new()
            .route("/_mock/stats", get(stats))
            .route("/_mock/requests", get(list_requests).delete(clear_requests));
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
        Err(_) => {
            // Only OpenAI routes exist so far; once other dialects arrive,
            // this error should take the route's shape.
            let message = format!("request body is over the mock's {MAX_BODY_BYTES} byte limit");
            return OpenAiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request_error",
                message,
            )
            .into_response();
        }
    };
    state.journal.record(&head, Bytes::clone(&body));
    next.run(Request::from_parts(head, Body::from(body))).await
}

async fn stats(State(state): State<Arc<MockState>>) -> Json<stats::StatsSnapshot> {
    Json(state.stats.snapshot())
}

async fn list_requests(State(state): State<Arc<MockState>>) -> Json<serde_json::Value> {
    Json(state.journal.to_json())
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
