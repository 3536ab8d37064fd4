//! The `echo_key` directive: an error answer quotes the credential the request
//! carried, whole or cut, the way real providers do in their 401 messages
//! (`Incorrect API key provided: sk-proj-abc…`). It exists so the gateway's secret
//! redaction is tested against what it actually sent, in every dialect.
//!
//! Applied once, after the route answered, to any 4xx/5xx whose JSON body has an
//! `error.message` (OpenAI, Azure, Anthropic and Gemini all do). The directive is
//! looked for anywhere in the request body, not only in the last user message,
//! so the one place that sees every dialect's request need not parse them.

use axum::body::{Body, Bytes};
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, CONTENT_LENGTH};
use axum::response::Response;

use super::directives::Directives;

/// The largest error body rewritten; ours are a few hundred bytes.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Whether the body holds an `echo_key` tag at all: a cheap byte search, so the
/// mock's normal path (benchmarks) copies no headers.
pub(super) fn requested(request_body: &[u8]) -> bool {
    const TAG: &[u8] = b"[[mock:echo_key=";
    request_body.windows(TAG.len()).any(|w| w == TAG)
}

/// The credential as each provider's clients send it: `Authorization: Bearer`,
/// `x-api-key` (Anthropic), `api-key` (Azure), `x-goog-api-key` or `?key=` (Gemini).
fn presented_credential(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    header(AUTHORIZATION.as_str())
        .and_then(|v| v.strip_prefix("Bearer "))
        .or_else(|| header("x-api-key"))
        .or_else(|| header("api-key"))
        .or_else(|| header("x-goog-api-key"))
        .map(str::to_owned)
        .or_else(|| {
            query?
                .split('&')
                .find_map(|pair| pair.strip_prefix("key="))
                .map(str::to_owned)
        })
        .filter(|k| !k.is_empty())
}

/// `response` with the echo added to its error message, if the request asked.
pub(super) async fn apply(
    headers: &HeaderMap,
    query: Option<&str>,
    request_body: &Bytes,
    response: Response,
) -> Response {
    if !(response.status().is_client_error() || response.status().is_server_error()) {
        return response;
    }
    let Some(echo) = Directives::parse(&String::from_utf8_lossy(request_body)).echo_key else {
        return response;
    };
    let Some(credential) = presented_credential(headers, query) else {
        return response;
    };
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_ERROR_BODY).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let Ok(mut json) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    let Some(message) = json
        .pointer_mut("/error/message")
        .and_then(|m| m.as_str().map(str::to_owned))
    else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    json["error"]["message"] =
        format!("{message}; the key you sent: {}", echo.cut(&credential)).into();
    let out = json.to_string();
    parts.headers.remove(CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(out))
}
