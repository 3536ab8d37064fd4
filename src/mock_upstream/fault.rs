//! A fault forced on every provider route of one mock instance, for tests that
//! need one deployment down while another (another instance, same prompt) is up:
//! prompt directives reach every deployment alike, this does not.
//!
//! `PUT /_mock/fault` with `{"status": 503, "retry_after": 1, "delay_ms": 0,
//! "times": 2}` (all optional): the next `times` provider requests (all of them
//! when absent) wait `delay_ms`, then, with `status`, answer it with the route's
//! own error body (`error_body::*::injected`, as `[[mock:status=NNN]]` does), and
//! `retry-after: <retry_after>` when given. Requests are still counted and
//! journaled. `DELETE /_mock/fault` clears it; `GET` shows what is left.

use std::time::Duration;

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::error_body::{AnthropicError, GeminiError, OpenAiError};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Fault {
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub retry_after: Option<u64>,
    #[serde(default)]
    pub delay_ms: u64,
    /// How many requests it still applies to; `None`: all.
    #[serde(default)]
    pub times: Option<u64>,
}

/// The instance's forced fault, if any. A blocking mutex: nothing awaits while
/// holding it.
#[derive(Debug, Default)]
pub(crate) struct Faults(Mutex<Option<Fault>>);

impl Faults {
    pub(crate) fn set(&self, fault: Option<Fault>) {
        *self.0.lock() = fault.filter(|f| f.times != Some(0));
    }

    pub(crate) fn get(&self) -> Option<Fault> {
        *self.0.lock()
    }

    /// The fault for the request arriving now, used up by one.
    pub(crate) fn take(&self) -> Option<Fault> {
        let mut slot = self.0.lock();
        let fault = (*slot)?;
        match fault.times {
            Some(n) if n <= 1 => *slot = None,
            Some(n) => {
                *slot = Some(Fault {
                    times: Some(n - 1),
                    ..fault
                })
            }
            None => {}
        }
        Some(fault)
    }
}

/// Applies `fault` to a request for `path`: waits, and answers for it when it
/// forces a status (`None`: serve the request normally).
pub(crate) async fn apply(fault: Fault, path: &str) -> Option<Response> {
    if fault.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(fault.delay_ms)).await;
    }
    let status = StatusCode::from_u16(fault.status?)
        .ok()
        .filter(|s| s.is_client_error() || s.is_server_error())?;
    let mut response = if path == "/v1/messages" {
        AnthropicError::injected(status).into_response()
    } else if path.starts_with("/v1beta/") {
        GeminiError::injected(status).into_response()
    } else {
        OpenAiError::injected(status).into_response()
    };
    if let Some(secs) = fault.retry_after {
        response
            .headers_mut()
            .insert(http::header::RETRY_AFTER, HeaderValue::from(secs));
    }
    Some(response)
}

pub(crate) fn body(fault: Option<Fault>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "fault": fault }))
}
