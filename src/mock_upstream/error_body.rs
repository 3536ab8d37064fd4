//! Error bodies in each provider's shape, so a gateway's error mapping is
//! exercised against what the real APIs send. OpenAI's only, for now:
//! `{"error":{"message","type","param","code"}}` (`wire-formats.md` §1).

use std::borrow::Cow;

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::header::RETRY_AFTER;
use http::{HeaderValue, StatusCode};
use serde_json::json;

/// An error in OpenAI's shape: `{"error":{"message","type","param","code"}}`.
pub(crate) struct OpenAiError {
    status: StatusCode,
    kind: &'static str,
    message: Cow<'static, str>,
    param: Option<&'static str>,
    code: Option<&'static str>,
}

impl OpenAiError {
    pub(crate) fn new(
        status: StatusCode,
        kind: &'static str,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            kind,
            message: message.into(),
            param: None,
            code: None,
        }
    }

    pub(crate) fn param(mut self, param: &'static str) -> Self {
        self.param = Some(param);
        self
    }

    pub(crate) fn code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    /// The error a `status=NNN` directive asks for, typed the way OpenAI
    /// types that status so SDK error classes and gateway mapping engage.
    pub(crate) fn injected(status: StatusCode) -> Self {
        let message = format!("mock upstream: injected status {}", status.as_u16());
        match status.as_u16() {
            401 => Self::new(status, "invalid_request_error", message).code("invalid_api_key"),
            429 => Self::new(status, "rate_limit_error", message).code("rate_limit_exceeded"),
            500.. => Self::new(status, "server_error", message),
            _ => Self::new(status, "invalid_request_error", message),
        }
    }
}

impl IntoResponse for OpenAiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {
            "message": self.message,
            "type": self.kind,
            "param": self.param,
            "code": self.code,
        }});
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            // SDKs and the gateway honour this; 1 s keeps retry tests fast.
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}
