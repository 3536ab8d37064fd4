//! The one sending path every provider uses: first-byte timeout, transport error
//! mapping, and turning a non-2xx answer into [`UpstreamError::Rejected`] with the
//! provider's own message (bounded, with our credentials scrubbed out).
//!
//! Secrets in upstream text: a 401/403 body is about the credentials we sent, the
//! likeliest text to echo them, so it is never passed on at all; the caller gets a
//! fixed message saying whose key was refused. Any other message (and code) passes
//! through [`redact`], which removes every piece of 8 or more characters of the key
//! this attempt sent (the gateway's provider key, or the caller's BYOK key), not just
//! exact copies.

mod redact;

use std::time::Duration;

use futures_util::StreamExt;
use http_body_util::BodyExt;

use super::transport::{HttpClient, RequestBody, ResponseBody, TransportError};
use super::{Credentials, UpstreamError, UpstreamResponse};
use crate::domain::ProviderKind;
use crate::secret::Secret;

/// The most of an upstream error body we read; error bodies are small, and a
/// misbehaving upstream must not make us buffer a stream.
const MAX_ERROR_BODY: usize = 64 * 1024;
const MAX_MESSAGE_CHARS: usize = 1_000;

pub(super) struct Attempt<'a> {
    pub provider: ProviderKind,
    pub credentials: Credentials,
    /// Scrubbed from any upstream message we pass on.
    pub secret: Option<&'a Secret<String>>,
    pub first_byte_timeout: Duration,
}

pub(super) async fn send(
    client: &HttpClient,
    req: http::Request<RequestBody>,
    attempt: Attempt<'_>,
) -> Result<UpstreamResponse, UpstreamError> {
    let provider = attempt.provider;
    let response = match tokio::time::timeout(attempt.first_byte_timeout, client.request(req)).await
    {
        Err(_) => return Err(UpstreamError::Timeout { provider }),
        Ok(Err(e)) if timed_out(&e) => return Err(UpstreamError::Timeout { provider }),
        Ok(Err(e)) => {
            return Err(UpstreamError::Connect {
                provider,
                detail: transport_detail(&e),
            });
        }
        Ok(Ok(r)) => r,
    };
    let (head, body) = response.into_parts();
    let status = head.status;
    if status.is_success() {
        let content_type = head.headers.get(http::header::CONTENT_TYPE).cloned();
        return Ok(UpstreamResponse {
            provider,
            status,
            content_type,
            body,
        });
    }
    let retry_after = head
        .headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let body = read_bounded(body).await;
    let (message, code) = error_message(&body);
    let keys: Vec<&str> = attempt.secret.iter().map(|s| s.expose().as_str()).collect();
    let message = match status.as_u16() {
        401 | 403 => auth_refusal(provider, status.as_u16(), attempt.credentials),
        _ => scrub(message, &keys),
    };
    // A code that held key material is dropped, not shown half-redacted.
    let code = code.filter(|c| redact::redact(c, &keys) == *c);
    Err(UpstreamError::Rejected {
        provider,
        status: status.as_u16(),
        message,
        code,
        retry_after,
        credentials: attempt.credentials,
    })
}

/// A connect that ran past `[upstream] connect_timeout_ms` (hyper reports it as
/// an I/O `TimedOut` inside the connect error).
fn timed_out(e: &TransportError) -> bool {
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(s) = source {
        if s.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return true;
        }
        source = s.source();
    }
    false
}

/// A short description of a transport error, from the innermost cause of its
/// source chain (never a URL: a BYOK base may carry a key).
fn transport_detail(e: &TransportError) -> String {
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    let mut last = None;
    while let Some(s) = source {
        last = Some(s.to_string());
        source = s.source();
    }
    match (e.is_connect(), last) {
        (true, Some(cause)) => format!("connection failed ({cause})"),
        (true, None) => "connection failed".into(),
        (false, Some(cause)) => {
            format!("the connection failed before a response arrived ({cause})")
        }
        (false, None) => "the connection failed before a response arrived".into(),
    }
}

async fn read_bounded(body: ResponseBody) -> Vec<u8> {
    let mut out = Vec::new();
    let mut stream = body.into_data_stream();
    let read = async {
        while let Some(Ok(chunk)) = stream.next().await {
            let room = MAX_ERROR_BODY - out.len();
            out.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if out.len() >= MAX_ERROR_BODY {
                break;
            }
        }
    };
    // An error body that trickles in must not hold the caller for long.
    let _ = tokio::time::timeout(Duration::from_secs(10), read).await;
    out
}

/// The message and code from any provider's error body: OpenAI and Gemini
/// (`{"error":{"message","code"|"status"}}`), Anthropic (`{"error":{"type","message"}}`),
/// Deepgram (`{"err_msg","err_code"}`), or plain text.
fn error_message(body: &[u8]) -> (String, Option<String>) {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        let text = String::from_utf8_lossy(body).trim().to_owned();
        return (
            if text.is_empty() {
                "(empty body)".into()
            } else {
                text
            },
            None,
        );
    };
    let err = v.get("error").filter(|e| e.is_object()).unwrap_or(&v);
    let message = ["message", "err_msg"]
        .iter()
        .find_map(|k| err.get(*k).and_then(|m| m.as_str()))
        .map(str::to_owned)
        .unwrap_or_else(|| v.to_string());
    let code = ["code", "err_code", "status", "type"]
        .iter()
        .find_map(|k| err.get(*k).and_then(|c| c.as_str()))
        .filter(|c| {
            !c.is_empty()
                && c.len() <= 64
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        })
        .map(str::to_owned);
    (message, code)
}

/// What the caller sees instead of a provider's 401/403 body.
fn auth_refusal(provider: ProviderKind, status: u16, credentials: Credentials) -> String {
    match credentials {
        Credentials::Caller => format!(
            "{provider} refused the key in x-byok-api-key (HTTP {status}); check the key and its permissions"
        ),
        Credentials::Gateway => format!(
            "{provider} refused the gateway's credentials (HTTP {status}); the operator should check providers.{provider}.api_key"
        ),
    }
}

/// Redacts key pieces (before cutting, so a cut cannot leave a piece behind that the
/// redaction would have seen whole) and bounds the length.
fn scrub(message: String, keys: &[&str]) -> String {
    let mut message = redact::redact(&message, keys);
    if message.chars().count() > MAX_MESSAGE_CHARS {
        message = message.chars().take(MAX_MESSAGE_CHARS).collect::<String>() + "…";
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_dialect() {
        let (m, c) = error_message(br#"{"error":{"message":"bad","type":"invalid_request_error","code":"context_length_exceeded"}}"#);
        assert_eq!(
            (m.as_str(), c.as_deref()),
            ("bad", Some("context_length_exceeded"))
        );
        let (m, c) = error_message(
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        );
        assert_eq!(
            (m.as_str(), c.as_deref()),
            ("Overloaded", Some("overloaded_error"))
        );
        let (m, c) = error_message(
            br#"{"error":{"code":400,"message":"nope","status":"INVALID_ARGUMENT"}}"#,
        );
        assert_eq!(
            (m.as_str(), c.as_deref()),
            ("nope", Some("INVALID_ARGUMENT"))
        );
        let (m, c) = error_message(b"upstream exploded");
        assert_eq!((m.as_str(), c), ("upstream exploded", None));
    }

    #[test]
    fn scrub_removes_our_key_and_bounds_length() {
        let m = scrub(
            "Incorrect API key provided: sk-gateway-secret".into(),
            &["sk-gateway-secret"],
        );
        assert!(!m.contains("sk-gateway-secret"));
        let m = scrub(
            "Incorrect API key provided: sk-gatew****".into(),
            &["sk-gateway-secret"],
        );
        assert!(!m.contains("sk-gatew"), "{m}");
        let long = scrub("x".repeat(5_000), &[]);
        assert!(long.chars().count() <= MAX_MESSAGE_CHARS + 1);
    }
}
