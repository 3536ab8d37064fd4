//! Turning an upstream's 2xx answer into the caller's response: relayed as is,
//! translated event by event, or read whole and translated.

use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::table::Respond;
use crate::error::ApiError;
use crate::providers::relay;
use crate::providers::{UpstreamError, UpstreamResponse};

/// Largest non-stream upstream answer we read whole to translate it.
pub const MAX_TRANSLATED_BODY: usize = 32 * 1024 * 1024;

/// What the response needs besides the upstream answer.
pub struct Answer<'a> {
    /// The model name the caller sent (translated answers carry it).
    pub model: &'a str,
    pub request: &'a [u8],
    pub include_usage: bool,
    pub idle: Duration,
}

pub async fn respond(
    upstream: UpstreamResponse,
    how: &Respond,
    a: Answer<'_>,
) -> Result<Response, ApiError> {
    match how {
        Respond::Relay(dialect) => Ok(relayed(upstream, *dialect, a.idle)),
        Respond::Translate { stream, whole } => {
            if upstream.is_event_stream() {
                let translator = stream(a.model, a.include_usage);
                return Ok(event_stream(Body::from_stream(relay::translated(
                    upstream.body,
                    translator,
                    a.idle,
                ))));
            }
            let provider = upstream.provider;
            let protocol = |detail| UpstreamError::Protocol { provider, detail };
            let answer = upstream
                .read_whole(MAX_TRANSLATED_BODY)
                .await
                .map_err(protocol)?;
            let out = whole(&answer, a.model).map_err(|e| protocol(e.to_string()))?;
            let json = HeaderValue::from_static("application/json");
            Ok(([(header::CONTENT_TYPE, json)], out).into_response())
        }
        Respond::Rebuild(rebuild) => {
            let value = upstream.json(MAX_TRANSLATED_BODY).await?;
            Ok(Json(rebuild(&value, a.request, a.model)?).into_response())
        }
    }
}

/// A 2xx upstream answer in the caller's own dialect: streamed either way, never buffered.
fn relayed(upstream: UpstreamResponse, dialect: relay::StreamDialect, idle: Duration) -> Response {
    let status = upstream.status;
    let provider = upstream.provider;
    let content_type = upstream
        .content_type
        .clone()
        .unwrap_or(HeaderValue::from_static("application/json"));
    if upstream.is_event_stream() {
        let mut res = event_stream(Body::from_stream(relay::sse(
            upstream.body,
            provider,
            dialect,
            idle,
        )));
        *res.status_mut() = status;
        res.headers_mut().insert(header::CONTENT_TYPE, content_type);
        return res;
    }
    // The upstream's length, kept: the caller gets one sized body instead of chunks
    // and a final empty chunk in a write of its own. Hyper still cuts the connection
    // if the upstream body breaks off short.
    let length = http_body::Body::size_hint(&upstream.body).exact();
    let mut res = Response::new(Body::from_stream(relay::passthrough(upstream.body, idle)));
    *res.status_mut() = status;
    res.headers_mut().insert(header::CONTENT_TYPE, content_type);
    if let Some(length) = length {
        res.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    res
}

fn event_stream(body: Body) -> Response {
    let mut res = Response::new(body);
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Tells nginx-style proxies in front of us not to buffer the stream.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    res
}
