//! Error bodies in each provider's shape, so a gateway's error mapping is
//! exercised against what the real APIs send: OpenAI's
//! `{"error":{"message","type","param","code"}}` (`wire-formats.md` §1),
//! Anthropic's `{"type":"error","error":{"type","message"},"request_id"}`
//! (§2), Gemini's `{"error":{"code","message","status","details"?}}` (§3) and
//! the Azure OpenAI front door's `{"error":{"code","message"}}`. OpenAI and
//! Anthropic add `retry-after: 1` to a 429, as the real APIs do; Gemini says
//! the same with a `RetryInfo` detail instead, as Google does.

use std::borrow::Cow;

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::header::RETRY_AFTER;
use http::{HeaderName, HeaderValue, StatusCode};
use serde_json::{Value, json};

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
        with_retry_after((self.status, Json(body)).into_response())
    }
}

/// Anthropic's `error.type` values. Anthropic types an error by its status,
/// so [`for_status`](Self::for_status) is the one place that mapping lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AnthropicErrorType {
    InvalidRequest,
    Authentication,
    Permission,
    NotFound,
    RequestTooLarge,
    RateLimit,
    Api,
    Overloaded,
}

impl AnthropicErrorType {
    /// The type Anthropic sends with `status` (`wire-formats.md` §2): other
    /// 4xx are `invalid_request_error`, other 5xx `api_error`.
    pub(crate) fn for_status(status: StatusCode) -> Self {
        match status.as_u16() {
            401 => Self::Authentication,
            403 => Self::Permission,
            404 => Self::NotFound,
            413 => Self::RequestTooLarge,
            429 => Self::RateLimit,
            529 => Self::Overloaded,
            500.. => Self::Api,
            _ => Self::InvalidRequest,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request_error",
            Self::Authentication => "authentication_error",
            Self::Permission => "permission_error",
            Self::NotFound => "not_found_error",
            Self::RequestTooLarge => "request_too_large",
            Self::RateLimit => "rate_limit_error",
            Self::Api => "api_error",
            Self::Overloaded => "overloaded_error",
        }
    }

    /// The `{"type":"error","error":{…}}` object, without `request_id`;
    /// also the payload of an in-stream `event: error`.
    pub(crate) fn body(self, message: &str) -> Value {
        json!({"type": "error", "error": {"type": self.as_str(), "message": message}})
    }
}

/// An error in Anthropic's shape:
/// `{"type":"error","error":{"type","message"},"request_id"}`, typed by its
/// status. With a request id it also sets the `request-id` header.
pub(crate) struct AnthropicError {
    status: StatusCode,
    message: Cow<'static, str>,
    request_id: Option<String>,
}

impl AnthropicError {
    pub(crate) fn new(status: StatusCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            message: message.into(),
            request_id: None,
        }
    }

    /// The error a `status=NNN` directive asks for.
    pub(crate) fn injected(status: StatusCode) -> Self {
        let message = format!("mock upstream: injected status {}", status.as_u16());
        Self::new(status, message)
    }

    pub(crate) fn request_id(mut self, request_id: String) -> Self {
        self.request_id = Some(request_id);
        self
    }
}

impl IntoResponse for AnthropicError {
    fn into_response(self) -> Response {
        let mut body = AnthropicErrorType::for_status(self.status).body(&self.message);
        body["request_id"] = json!(self.request_id);
        let mut response = with_retry_after((self.status, Json(body)).into_response());
        if let Some(value) = self
            .request_id
            .and_then(|id| HeaderValue::from_str(&id).ok())
        {
            response.headers_mut().insert(REQUEST_ID, value);
        }
        response
    }
}

/// An error in Gemini's shape (Google's `google.rpc.Status` as JSON):
/// `{"error":{"code":<HTTP status>,"message","status":<canonical code>}}`,
/// plus `details` when there are any.
pub(crate) struct GeminiError {
    status: StatusCode,
    message: Cow<'static, str>,
    details: Vec<Value>,
}

impl GeminiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// A 400 `INVALID_ARGUMENT`, Google's answer to any malformed request.
    pub(crate) fn invalid(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// The error a `status=NNN` directive asks for. A 429 carries the
    /// `RetryInfo` detail Google sends instead of a `retry-after` header.
    pub(crate) fn injected(status: StatusCode) -> Self {
        let message = format!("mock upstream: injected status {}", status.as_u16());
        let mut error = Self::new(status, message);
        if status == StatusCode::TOO_MANY_REQUESTS {
            error.details.push(json!({
                "@type": "type.googleapis.com/google.rpc.RetryInfo",
                "retryDelay": "1s",
            }));
        }
        error
    }

    /// What Google answers for a key it does not know: a 400, not a 401,
    /// recognisable only by the `API_KEY_INVALID` reason in its details.
    pub(crate) fn api_key_invalid() -> Self {
        let message = "API key not valid. Please pass a valid API key.";
        let mut error = Self::invalid(message);
        error.details.push(json!({
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "API_KEY_INVALID",
            "domain": "googleapis.com",
            "metadata": {"service": "generativelanguage.googleapis.com"},
        }));
        error
    }

    /// Google's canonical code for an HTTP status, the one place that
    /// mapping lives: other 4xx are `FAILED_PRECONDITION`, other 5xx
    /// `INTERNAL`.
    pub(crate) fn status_name(status: StatusCode) -> &'static str {
        match status.as_u16() {
            400 => "INVALID_ARGUMENT",
            401 => "UNAUTHENTICATED",
            403 => "PERMISSION_DENIED",
            404 => "NOT_FOUND",
            409 => "ABORTED",
            429 => "RESOURCE_EXHAUSTED",
            499 => "CANCELLED",
            501 => "UNIMPLEMENTED",
            503 => "UNAVAILABLE",
            504 => "DEADLINE_EXCEEDED",
            500.. => "INTERNAL",
            _ => "FAILED_PRECONDITION",
        }
    }
}

impl IntoResponse for GeminiError {
    fn into_response(self) -> Response {
        let mut error = json!({
            "code": self.status.as_u16(),
            "message": self.message,
            "status": Self::status_name(self.status),
        });
        if !self.details.is_empty() {
            error["details"] = Value::Array(self.details);
        }
        (self.status, Json(json!({"error": error}))).into_response()
    }
}

/// An error from the Azure OpenAI front door (key and URL checks), before
/// the request reaches the model: `{"error":{"code":"401","message"}}`, the
/// code a string. Errors from the model itself are OpenAI-shaped.
pub(crate) struct AzureError {
    status: StatusCode,
    code: &'static str,
    message: &'static str,
}

impl AzureError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: &'static str) -> Self {
        Self {
            status,
            code,
            message,
        }
    }
}

impl IntoResponse for AzureError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        (self.status, Json(body)).into_response()
    }
}

/// Anthropic's response header naming the request (SDKs expose it as
/// `request_id`); OpenAI's equivalent is `x-request-id`.
pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("request-id");

/// Adds `retry-after: 1` to a 429. SDKs and the gateway honour it; 1 s keeps
/// retry tests fast.
fn with_retry_after(mut response: Response) -> Response {
    if response.status() == StatusCode::TOO_MANY_REQUESTS {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anthropic_types_follow_the_status() {
        let cases = [
            (400, "invalid_request_error"),
            (401, "authentication_error"),
            (403, "permission_error"),
            (404, "not_found_error"),
            (409, "invalid_request_error"),
            (413, "request_too_large"),
            (429, "rate_limit_error"),
            (500, "api_error"),
            (503, "api_error"),
            (529, "overloaded_error"),
        ];
        for (code, kind) in cases {
            let status = StatusCode::from_u16(code).unwrap_or_else(|e| panic!("{code}: {e}"));
            assert_eq!(AnthropicErrorType::for_status(status).as_str(), kind);
        }
    }

    #[test]
    fn gemini_status_names_follow_the_status() {
        let cases = [
            (400, "INVALID_ARGUMENT"),
            (401, "UNAUTHENTICATED"),
            (403, "PERMISSION_DENIED"),
            (404, "NOT_FOUND"),
            (422, "FAILED_PRECONDITION"),
            (429, "RESOURCE_EXHAUSTED"),
            (500, "INTERNAL"),
            (502, "INTERNAL"),
            (503, "UNAVAILABLE"),
            (504, "DEADLINE_EXCEEDED"),
        ];
        for (code, name) in cases {
            let status = StatusCode::from_u16(code).unwrap_or_else(|e| panic!("{code}: {e}"));
            assert_eq!(GeminiError::status_name(status), name);
        }
    }
}
