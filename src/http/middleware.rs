//! Cross-cutting request handling: the request id and the one log line per request.

use std::time::Instant;

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use crate::error::{ApiError, ErrorDialect, LoggedError, RenderedError, dialect_body};

/// The request id of the current request, also sent back as `x-request-id`.
#[derive(Debug, Clone)]
pub struct RequestId(pub HeaderValue);

/// Accepts a caller's `x-request-id` if it is short and plain (so it can be traced
/// end to end), otherwise makes a UUIDv7; opens the request span; logs the outcome
/// once, including the detail of any error the response carries.
pub async fn trace_request(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get("x-request-id")
        .filter(|v| {
            let b = v.as_bytes();
            !b.is_empty()
                && b.len() <= 128
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || b"-_.:".contains(c))
        })
        .cloned()
        .unwrap_or_else(|| {
            HeaderValue::try_from(uuid::Uuid::now_v7().to_string())
                .expect("a UUID is a valid header value")
        });
    req.extensions_mut().insert(RequestId(id.clone()));
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
    res.headers_mut().insert("x-request-id", id);
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
        None => tracing::info!(status, latency_us, "request done"),
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
    let res = next.run(req).await;
    let Some(rendered) = res.extensions().get::<RenderedError>().cloned() else {
        return res;
    };
    let (mut parts, _) = res.into_parts();
    let body = dialect_body(
        ErrorDialect::Anthropic,
        &rendered.parts,
        rendered.details.as_ref(),
    );
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(bytes))
}
