//! Cross-cutting request handling: the request id and the one log line per request,
//! the listener-level limits that answer in the API's error shape, and the
//! Anthropic re-rendering of error bodies.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::Body as _;
use tracing::Instrument;

use crate::error::{ApiError, ErrorDialect, LoggedError, RenderedError, dialect_body};
use crate::state::AppState;

/// Made at compile time: a `&str` name is parsed again on every lookup and insert.
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request id of the current request, also sent back as `x-request-id`.
#[derive(Debug, Clone)]
pub struct RequestId(pub HeaderValue);

/// The UUID behind [`RequestId`] when the gateway made it (no usable
/// `x-request-id`): the usage event reuses it instead of making another.
#[derive(Debug, Clone, Copy)]
pub struct RequestUuid(pub uuid::Uuid);

/// Accepts a caller's `x-request-id` if it is short and plain (so it can be traced
/// end to end), otherwise makes a UUIDv7; opens the request span; logs the outcome
/// once, including the detail of any error the response carries. A success is
/// logged only with `[log] access = true`: that line was the default log's whole
/// per-request cost (formatting, a queue hand-off and a write for every request).
#[allow(
    clippy::expect_used,
    reason = "a UUID is ASCII hex and dashes, always a valid header value"
)]
pub async fn trace_request(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let mut made = None;
    let id = req
        .headers()
        .get(&X_REQUEST_ID)
        .filter(|v| {
            let b = v.as_bytes();
            !b.is_empty()
                && b.len() <= 128
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || b"-_.:".contains(c))
        })
        .cloned()
        .unwrap_or_else(|| {
            let uuid = uuid::Uuid::now_v7();
            made = Some(RequestUuid(uuid));
            // Encoded on the stack: `to_string` went through the formatter.
            let mut buf = uuid::Uuid::encode_buffer();
            HeaderValue::from_str(uuid.hyphenated().encode_lower(&mut buf))
                .expect("a UUID is a valid header value")
        });
    req.extensions_mut().insert(RequestId(id.clone()));
    if let Some(uuid) = made {
        req.extensions_mut().insert(uuid);
    }
    let span = tracing::info_span!(
        "request",
        request_id = id.to_str().unwrap_or_default(),
        method = %req.method(),
        path = req.uri().path(),
        kid = tracing::field::Empty,
        model = tracing::field::Empty,
    );
    let started = Instant::now();
    let mut res = next.run(req).instrument(span.clone()).await;
    res.headers_mut().insert(X_REQUEST_ID, id);
    let _enter = span.enter();
    let status = res.status().as_u16();
    let latency_us = started.elapsed().as_micros() as u64;
    match res.extensions().get::<LoggedError>() {
        Some(e) if e.status.is_server_error() => {
            tracing::error!(status, latency_us, code = %e.code, detail = %e.detail, "request failed")
        }
        Some(e) => {
            tracing::info!(status, latency_us, code = %e.code, detail = %e.detail, "request refused")
        }
        None if state.config().log.access => tracing::info!(status, latency_us, "request done"),
        None => {}
    }
    res
}

/// Turns a handler panic into our 500 body (the detail goes to the log, not the caller).
pub fn panic_response(err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    ApiError::internal(format!("handler panicked: {detail}")).into_response()
}

/// For Anthropic-format routes: re-renders any error body in Anthropic's shape, so
/// the Anthropic SDK raises its own exception classes. Status and headers are kept.
pub async fn anthropic_errors(req: Request, next: Next) -> Response {
    rerender(ErrorDialect::Anthropic, req, next).await
}

/// For Gemini's native routes: the same, in Gemini's shape.
pub async fn gemini_errors(req: Request, next: Next) -> Response {
    rerender(ErrorDialect::Gemini, req, next).await
}

async fn rerender(dialect: ErrorDialect, req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let Some(rendered) = res.extensions().get::<RenderedError>().cloned() else {
        return res;
    };
    let (mut parts, _) = res.into_parts();
    let body = dialect_body(dialect, &rendered.parts, rendered.details.as_ref());
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// The error dialect of a path, for refusals made before routing (`/v1/messages`
/// and below answer in Anthropic's shape, like `anthropic_errors`; Gemini's native
/// routes in Gemini's, like `gemini_errors`).
fn dialect_of(path: &str) -> ErrorDialect {
    if path == "/v1/messages" || path.starts_with("/v1/messages/") {
        ErrorDialect::Anthropic
    } else if crate::http::gemini::is_gemini_path(path) {
        ErrorDialect::Gemini
    } else {
        ErrorDialect::OpenAi
    }
}

/// The listener-level rules that need the API's error body (the rest is in
/// `http::listener`): 414 `uri_too_long` and 431 `header_too_large` above the
/// documented limits (hyper itself only refuses far larger heads, with an empty
/// body); 413 `body_too_large` at once for a declared length over the limit; a deadline for the whole request body (`[server] body_read_timeout_ms`),
/// since a slow body holds a concurrency permit; and `Connection: close` on a
/// response sent before the request body was read to its end (an early 401 or
/// 413), so the client does not reuse a connection hyper will not read further.
pub async fn edge_limits(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let server = &state.config().server;
    let dialect = dialect_of(req.uri().path());
    let uri_bytes = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len())
        + req.uri().authority().map_or(0, |a| a.as_str().len());
    if uri_bytes > server.max_uri_bytes {
        return close(ApiError::UriTooLong(server.max_uri_bytes).render(dialect));
    }
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if header_bytes > server.max_header_bytes {
        return close(ApiError::HeaderTooLarge(server.max_header_bytes).render(dialect));
    }
    // A declared length over the limit is refused now, not after reading it.
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > server.max_body_bytes as u64) {
        return close(ApiError::BodyTooLarge(server.max_body_bytes).render(dialect));
    }
    let http1 = req.version() <= axum::http::Version::HTTP_11;
    let (parts, body) = req.into_parts();
    let (body, read) = DeadlineBody::new(body, server.body_read_timeout);
    let mut res = next
        .run(Request::from_parts(parts, axum::body::Body::new(body)))
        .await;
    if http1 && !read.load(Ordering::Acquire) {
        res.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    res
}

/// Ends the connection after this response: the request was refused before its
/// body (if any) was read.
fn close(mut res: Response) -> Response {
    res.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    res
}

/// The request body did not arrive within `[server] body_read_timeout_ms`; found
/// in the body error's source chain by `http::extract::RawBody`.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {0:?}")]
pub struct BodyReadTimeout(pub Duration);

/// A request body that fails once its deadline passes, and records whether it
/// was read to the end.
struct DeadlineBody {
    inner: axum::body::Body,
    deadline: Pin<Box<tokio::time::Sleep>>,
    timeout: Duration,
    read: Arc<AtomicBool>,
}

impl DeadlineBody {
    fn new(inner: axum::body::Body, timeout: Duration) -> (DeadlineBody, Arc<AtomicBool>) {
        let read = Arc::new(AtomicBool::new(inner.is_end_stream()));
        let body = DeadlineBody {
            inner,
            deadline: Box::pin(tokio::time::sleep(timeout)),
            timeout,
            read: read.clone(),
        };
        (body, read)
    }
}

impl http_body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(None) => {
                this.read.store(true, Ordering::Release);
                Poll::Ready(None)
            }
            Poll::Ready(Some(frame)) => {
                if this.inner.is_end_stream() {
                    this.read.store(true, Ordering::Release);
                }
                Poll::Ready(Some(frame))
            }
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    Poll::Ready(Some(Err(axum::Error::new(BodyReadTimeout(this.timeout)))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
