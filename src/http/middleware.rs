//! Cross-cutting request handling, in one layer ([`edge`]): CORS, the request id
//! and the one log line per request, the listener-level limits that answer in the
//! API's error shape, and the re-rendering of error bodies in the route's
//! dialect (Anthropic's, Gemini's).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::Body as _;
use tracing::Instrument;

use crate::error::{ApiError, ErrorDialect, LoggedError, RenderedError, dialect_body};
use crate::http::cors::Cors;
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

/// State of [`edge`]: the app, and whether this listener answers CORS (the
/// `/metrics` listener does not).
#[derive(Clone)]
pub struct Edge {
    pub state: AppState,
    pub cors: bool,
}

/// Everything every request gets, in one layer: CORS, the request id and span,
/// the listener-level limits, the error body in the route's dialect, and the one
/// log line. One layer, not five: each `from_fn` layer costs a boxed future, a
/// clone of the inner service and a move of the request (bench/RESULTS.md,
/// "One edge layer").
///
/// - **Request id**: a caller's `x-request-id` if it is short and plain (so it
///   can be traced end to end), otherwise a new UUIDv7; sent back on every
///   response.
/// - **CORS** (`[server] cors_allow_origins`, `http::cors`): a preflight from an
///   allowed origin is answered here; other responses are marked.
/// - **Limits** (`limited`): 414, 431 and 413 refusals, a deadline for the
///   body, and `Connection: close` after a response sent before the body was read.
/// - **Dialect**: an error under `/v1/messages` is re-rendered in Anthropic's
///   shape and one on Gemini's native paths in Gemini's, the router's own 404
///   and 405 included, so each SDK raises its own exception classes. Status and
///   headers are kept.
/// - **Log**: the outcome once, with the detail of any error the response
///   carries. A success is logged only with `[log] access = true`: that line was
///   the default log's whole per-request cost (formatting, a queue hand-off and a
///   write for every request).
pub async fn edge(State(edge): State<Edge>, mut req: Request, next: Next) -> Response {
    let state = &edge.state;
    let (id, made) = request_id(req.headers());
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
    let cors = if edge.cors {
        crate::http::cors::decide(&state.config().server.cors, &req)
    } else {
        Cors::Nothing
    };
    let mut res = if let Cors::Preflight(origin) = &cors {
        crate::http::cors::preflight(state.alt_header().as_str(), &req, origin.clone())
    } else {
        let dialect = dialect_of(req.method(), req.uri().path());
        let res = limited(state, dialect, req, next)
            .instrument(span.clone())
            .await;
        rerender(dialect, res)
    };
    let headers = res.headers_mut();
    headers.insert(X_REQUEST_ID, id);
    cors.apply(headers);
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

/// The caller's `x-request-id` if usable, else a new UUIDv7 (returned too, for
/// [`RequestUuid`]).
#[allow(
    clippy::expect_used,
    reason = "a UUID is ASCII hex and dashes, always a valid header value"
)]
fn request_id(headers: &HeaderMap) -> (HeaderValue, Option<RequestUuid>) {
    let given = headers.get(&X_REQUEST_ID).filter(|v| {
        let b = v.as_bytes();
        !b.is_empty()
            && b.len() <= 128
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || b"-_.:".contains(c))
    });
    if let Some(id) = given {
        return (id.clone(), None);
    }
    let uuid = uuid::Uuid::now_v7();
    // Encoded on the stack: `to_string` went through the formatter.
    let mut buf = uuid::Uuid::encode_buffer();
    let id = HeaderValue::from_str(uuid.hyphenated().encode_lower(&mut buf))
        .expect("a UUID is a valid header value");
    (id, Some(RequestUuid(uuid)))
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

/// An error response re-rendered in `dialect`'s shape (the handlers and the
/// gate render OpenAI's and leave a [`RenderedError`] behind); status and headers
/// are kept.
fn rerender(dialect: ErrorDialect, res: Response) -> Response {
    if dialect == ErrorDialect::OpenAi {
        return res;
    }
    let Some(rendered) = res.extensions().get::<RenderedError>().cloned() else {
        return res;
    };
    let (mut parts, _) = res.into_parts();
    let body = dialect_body(dialect, &rendered.parts, rendered.details.as_ref());
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// The error dialect of a request: `/v1/messages` and below answer in
/// Anthropic's shape; Gemini's native paths, and every POST under
/// `/v1/models/` (a Gemini method call, well-formed or not), in Gemini's.
fn dialect_of(method: &Method, path: &str) -> ErrorDialect {
    let messages = path
        .strip_prefix("/v1/messages")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
    if messages {
        ErrorDialect::Anthropic
    } else if (method == Method::POST && path.starts_with("/v1/models/"))
        || crate::http::gemini::is_gemini_path(path)
    {
        ErrorDialect::Gemini
    } else {
        ErrorDialect::OpenAi
    }
}

/// The listener-level rules that need the API's error body (the rest is in
/// `http::listener`): 414 `uri_too_long` and 431 `header_too_large` above the
/// documented limits (hyper itself only refuses far larger heads, with an empty
/// body); 413 `body_too_large` at once for a declared length over the limit; a
/// deadline for the whole request body (`[server] body_read_timeout_ms`), since
/// a slow body holds a concurrency permit; and `Connection: close` on a response
/// sent before the request body was read to its end (an early 401 or 413), so
/// the client does not reuse a connection hyper will not read further.
async fn limited(state: &AppState, dialect: ErrorDialect, req: Request, next: Next) -> Response {
    let server = &state.config().server;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialects_follow_the_path() {
        let post = Method::POST;
        let get = Method::GET;
        assert_eq!(dialect_of(&post, "/v1/messages"), ErrorDialect::Anthropic);
        assert_eq!(
            dialect_of(&post, "/v1/messages/batches"),
            ErrorDialect::Anthropic
        );
        assert_eq!(dialect_of(&post, "/v1/messagesx"), ErrorDialect::OpenAi);
        assert_eq!(
            dialect_of(&post, "/v1/chat/completions"),
            ErrorDialect::OpenAi
        );
        assert_eq!(
            dialect_of(&post, "/v1beta/models/x:generateContent"),
            ErrorDialect::Gemini
        );
        // Any POST under /v1/models/ is a Gemini method call; a GET is OpenAI's.
        assert_eq!(dialect_of(&post, "/v1/models/x"), ErrorDialect::Gemini);
        assert_eq!(dialect_of(&get, "/v1/models/x"), ErrorDialect::OpenAi);
        assert_eq!(
            dialect_of(&get, "/v1/models/x:generateContent"),
            ErrorDialect::Gemini
        );
    }

    #[test]
    fn a_plain_request_id_is_kept_and_anything_else_replaced() {
        let mut h = HeaderMap::new();
        h.insert(X_REQUEST_ID, HeaderValue::from_static("abc-123.x:y_z"));
        let (id, made) = request_id(&h);
        assert_eq!(id, "abc-123.x:y_z");
        assert!(made.is_none());
        h.insert(X_REQUEST_ID, HeaderValue::from_static("has space"));
        let (id, made) = request_id(&h);
        let made = made.expect("a new id is made");
        assert_eq!(
            id.to_str().ok(),
            Some(made.0.hyphenated().to_string().as_str())
        );
    }
}
