//! `ApiError`: every way a request can fail, and the one place that decides each
//! failure's HTTP status, `type` and `code` (DESIGN §1.5).
//!
//! Lower layers return their own errors (`AuthError`, `UpstreamError`, …); `From`
//! impls bring them here. Rendering is free of side effects: the response carries the
//! error in an extension, and the trace layer logs it once. 5xx details never reach
//! the caller; they get a generic message and the request id.

use std::borrow::Cow;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use crate::auth::AuthError;
use crate::key_service::KeyServiceError;
use crate::keys::Scope;
use crate::providers::UpstreamError;
use crate::translate::peek::PeekError;

/// The error dialects we speak. OpenAI's is the default; `/v1/messages` answers
/// in Anthropic's and Gemini's native routes (`/v1beta/models…`) in Gemini's, so
/// each SDK raises its own exception classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorDialect {
    OpenAi,
    Anthropic,
    /// `{"error":{"code":400,"message":…,"status":"INVALID_ARGUMENT"}}`.
    Gemini,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("request body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("missing required field `{0}`")]
    MissingField(&'static str),
    #[error("{message}")]
    InvalidField {
        param: &'static str,
        message: String,
    },
    /// A field of a management-API body failed to parse; `field` is its JSON path.
    #[error("`{field}`: {message}")]
    InvalidBodyField { field: String, message: String },
    #[error("model `{0}` is not in the catalog; GET /v1/models lists available ids")]
    UnknownModel(String),
    #[error("request body is larger than the {0}-byte limit ([server] max_body_bytes)")]
    BodyTooLarge(usize),
    #[error("the request body did not arrive within {}s ([server] body_read_timeout_ms); send it faster or in a smaller request", .0.as_secs_f64())]
    BodyTimeout(std::time::Duration),
    #[error(
        "request headers are larger than the {0}-byte limit ([server] max_header_bytes); send fewer or shorter headers"
    )]
    HeaderTooLarge(usize),
    #[error(
        "request URI is longer than the {0}-byte limit ([server] max_uri_bytes); move data into the request body"
    )]
    UriTooLong(usize),
    #[error(
        "GET /metrics needs `Authorization: Bearer <token>` with the configured [metrics] bearer_token"
    )]
    MetricsToken,
    /// Always a 401; store failures during auth become `Internal` in `From`.
    #[error(transparent)]
    Auth(AuthError),
    #[error("no such route: {0}")]
    NotFound(String),
    /// A named resource (key, account) that does not exist.
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("{0}")]
    ByokNotSupported(String),
    #[error("the account balance ({} {currency}) cannot cover this request (estimated {} {currency}); add funds or lower max_tokens", available.to_decimal_string(), needed.to_decimal_string())]
    InsufficientBalance {
        available: crate::metering::money::MicroUnits,
        needed: crate::metering::money::MicroUnits,
        currency: String,
    },
    #[error(
        "model `{0}` has no price, so a prepaid balance cannot be charged for it; add its price in a [[models]] entry, or set [billing] unpriced = \"allow\" to run unpriced models metered at an unknown cost"
    )]
    UnpricedModel(String),
    #[error("this key lacks the `{0}` scope needed here")]
    MissingScope(Scope),
    #[error("requests from {0} are not allowed for this key (IP allowlist)")]
    IpNotAllowed(IpAddr),
    #[error("this key may not use model `{0}`")]
    ModelNotAllowed(String),
    #[error("rate limit of {} requests exceeded; retry after {}s", .0.limit, .0.retry_after_secs())]
    RateLimited(RateLimitInfo),
    /// The failed-authentication brake (`auth/brake.rs`); a 429 like a rate limit.
    #[error("too many failed authentications from your address; retry after {}s with a valid key", .0.retry_after_secs())]
    AuthBraked(RateLimitInfo),
    #[error("this key already has {0} requests in flight, its limit; retry when one finishes")]
    ConcurrencyLimited(u32),
    #[error("method not allowed on this route")]
    MethodNotAllowed,
    /// Shared state (Redis) did not answer and `[redis] on_failure` says closed.
    /// `code` is `limiter_unavailable` or `balance_unavailable`.
    #[error("{message}")]
    StateUnavailable { code: &'static str, message: String },
    /// A failed login: one body for a wrong password and an unknown email.
    #[error(
        "the email or password is not correct; check both, or register with POST /auth/register"
    )]
    LoginFailed,
    /// Another end user's vault key, on use or on delete.
    #[error("{0}")]
    KeyNotOwned(String),
    /// A dashboard request without its CSRF token or from another origin (403).
    #[error("{0}")]
    CrossSite(&'static str),
    /// A dashboard request without a live session (401).
    #[error("no dashboard session, or it has expired; sign in again at /ui")]
    UiSession,
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// A connection's target or the SMTP relay failed (502/503/504); the message
    /// (the third party's reason, never a credential) is shown to the caller.
    #[error("{message}")]
    ThirdParty {
        status: StatusCode,
        code: &'static str,
        message: String,
    },
    /// Our fault. The source is logged (with its causes), never sent.
    #[error("internal error: {0}")]
    Internal(InternalError),
}

/// The error behind a 500, kept whole: its `Display` walks the cause chain for the
/// log line, and the caller only ever sees a generic message and the request id.
#[derive(Debug, Clone)]
pub struct InternalError(std::sync::Arc<dyn std::error::Error + Send + Sync>);

impl std::fmt::Display for InternalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// What the wire sees of an error; computed by one match in [`ApiError::parts`].
#[derive(Debug, Clone)]
pub struct ErrorParts {
    pub status: StatusCode,
    pub kind: &'static str,
    pub code: Cow<'static, str>,
    pub message: String,
    pub param: Option<Cow<'static, str>>,
}

impl ApiError {
    pub fn invalid_field(param: &'static str, message: impl Into<String>) -> Self {
        ApiError::InvalidField {
            param,
            message: message.into(),
        }
    }

    pub fn key_not_found(id: &str) -> Self {
        ApiError::ResourceNotFound(format!("no key with id or kid `{id}`"))
    }

    /// A 500 for `source`, which may be any error (or a message).
    pub fn internal(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        ApiError::Internal(InternalError(std::sync::Arc::from(source.into())))
    }

    pub fn parts(&self) -> ErrorParts {
        let (status, code, param): (StatusCode, Cow<'static, str>, Option<Cow<'static, str>>) =
            match self {
                ApiError::InvalidJson(_) => (StatusCode::BAD_REQUEST, "invalid_json".into(), None),
                ApiError::MissingField(f) => (
                    StatusCode::BAD_REQUEST,
                    "missing_field".into(),
                    Some((*f).into()),
                ),
                ApiError::InvalidField { param, .. } => (
                    StatusCode::BAD_REQUEST,
                    "invalid_field".into(),
                    Some((*param).into()),
                ),
                ApiError::InvalidBodyField { field, .. } => (
                    StatusCode::BAD_REQUEST,
                    "invalid_field".into(),
                    (!field.is_empty() && field != ".").then(|| field.clone().into()),
                ),
                ApiError::UnknownModel(_) => (
                    StatusCode::BAD_REQUEST,
                    "unknown_model".into(),
                    Some("model".into()),
                ),
                ApiError::BodyTooLarge(_) => {
                    (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large".into(), None)
                }
                ApiError::BodyTimeout(_) => {
                    (StatusCode::REQUEST_TIMEOUT, "body_timeout".into(), None)
                }
                ApiError::HeaderTooLarge(_) => (
                    StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                    "header_too_large".into(),
                    None,
                ),
                ApiError::UriTooLong(_) => (StatusCode::URI_TOO_LONG, "uri_too_long".into(), None),
                ApiError::Auth(e) => (StatusCode::UNAUTHORIZED, e.code().into(), None),
                ApiError::MetricsToken | ApiError::UiSession => {
                    (StatusCode::UNAUTHORIZED, "invalid_token".into(), None)
                }
                ApiError::CrossSite(_) => (StatusCode::FORBIDDEN, "csrf_failed".into(), None),
                ApiError::NotFound(_) | ApiError::ResourceNotFound(_) => {
                    (StatusCode::NOT_FOUND, "not_found".into(), None)
                }
                ApiError::Conflict { code, .. } => (StatusCode::CONFLICT, (*code).into(), None),
                ApiError::InsufficientBalance { .. } | ApiError::UnpricedModel(_) => (
                    StatusCode::PAYMENT_REQUIRED,
                    "insufficient_balance".into(),
                    None,
                ),
                ApiError::ByokNotSupported(_) => (
                    StatusCode::BAD_REQUEST,
                    "byok_not_supported".into(),
                    Some("x-byok-provider".into()),
                ),
                ApiError::MissingScope(_) => (
                    StatusCode::FORBIDDEN,
                    "insufficient_permissions".into(),
                    None,
                ),
                ApiError::IpNotAllowed(_) => (StatusCode::FORBIDDEN, "ip_not_allowed".into(), None),
                ApiError::ModelNotAllowed(_) => (
                    StatusCode::FORBIDDEN,
                    "model_not_allowed".into(),
                    Some("model".into()),
                ),
                ApiError::RateLimited(_) | ApiError::AuthBraked(_) => (
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limit_exceeded".into(),
                    None,
                ),
                ApiError::ConcurrencyLimited(_) => (
                    StatusCode::TOO_MANY_REQUESTS,
                    "concurrency_limit_exceeded".into(),
                    None,
                ),
                ApiError::StateUnavailable { code, .. } => {
                    (StatusCode::SERVICE_UNAVAILABLE, (*code).into(), None)
                }
                ApiError::LoginFailed => {
                    (StatusCode::UNAUTHORIZED, "invalid_credentials".into(), None)
                }
                ApiError::KeyNotOwned(_) => (
                    StatusCode::FORBIDDEN,
                    "key_not_owned".into(),
                    Some("id".into()),
                ),
                ApiError::MethodNotAllowed => (
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method_not_allowed".into(),
                    None,
                ),
                ApiError::Upstream(e) => (e.status(), e.code(), None),
                ApiError::ThirdParty { status, code, .. } => (*status, (*code).into(), None),
                ApiError::Internal(_) => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error".into(),
                    None,
                ),
            };
        let message = match self {
            ApiError::Internal(_) => {
                "the gateway failed to handle this request; quote the x-request-id header when reporting it"
                    .to_owned()
            }
            other => other.to_string(),
        };
        let kind = match self {
            ApiError::Upstream(_) | ApiError::ThirdParty { .. } if status.is_server_error() => {
                "upstream_error"
            }
            _ => openai_type(status),
        };
        ErrorParts {
            status,
            kind,
            code,
            message,
            param,
        }
    }

    /// Whether an SDK retry could help; `false` is sent as `x-should-retry`.
    fn retry_may_help(&self) -> bool {
        match self {
            ApiError::Upstream(e) => e.retry_may_help(),
            ApiError::Internal(_)
            | ApiError::RateLimited(_)
            | ApiError::AuthBraked(_)
            | ApiError::ConcurrencyLimited(_)
            | ApiError::StateUnavailable { .. }
            | ApiError::BodyTimeout(_) => true,
            _ => false,
        }
    }

    pub fn render(&self, dialect: ErrorDialect) -> Response {
        let parts = self.parts();
        let details = match self {
            ApiError::RateLimited(info) | ApiError::AuthBraked(info) => Some(info.details()),
            _ => None,
        };
        let body = dialect_body(dialect, &parts, details.as_ref());
        let mut res = (parts.status, axum::Json(body)).into_response();
        let headers = res.headers_mut();
        if let ApiError::RateLimited(info) | ApiError::AuthBraked(info) = self {
            info.write_headers(headers);
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from(info.retry_after_secs()),
            );
        }
        if let ApiError::ConcurrencyLimited(_) = self {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(1u64));
        }
        if !self.retry_may_help() {
            headers.insert("x-should-retry", HeaderValue::from_static("false"));
        }
        if let ApiError::Upstream(e) = self
            && let Some(secs) = e.retry_after_secs()
        {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let ApiError::StateUnavailable { .. } = self {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        res.extensions_mut().insert(RenderedError {
            parts: parts.clone(),
            details,
        });
        res.extensions_mut().insert(LoggedError {
            code: parts.code,
            detail: self.to_string(),
            status: parts.status,
        });
        res
    }
}

/// What a rate-limit decision tells the caller, on 429s and on successful responses.
#[derive(Debug, Clone, Copy)]
pub struct RateLimitInfo {
    pub limit: u32,
    pub remaining: u32,
    /// When the key's bucket is full again.
    pub reset_at: SystemTime,
    /// When the next request would be allowed (zero when allowed now).
    pub retry_after: Duration,
}

impl RateLimitInfo {
    pub fn retry_after_secs(&self) -> u64 {
        // Round up: retrying a fraction early would be refused again.
        self.retry_after.as_secs() + u64::from(self.retry_after.subsec_nanos() > 0)
    }

    fn reset_unix(&self) -> u64 {
        let d = self
            .reset_at
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        d.as_secs() + u64::from(d.subsec_nanos() > 0)
    }

    /// `X-RateLimit-Limit`, `-Remaining` and `-Reset` (unix seconds).
    pub fn write_headers(&self, headers: &mut axum::http::HeaderMap) {
        headers.insert("x-ratelimit-limit", HeaderValue::from(self.limit));
        headers.insert("x-ratelimit-remaining", HeaderValue::from(self.remaining));
        headers.insert("x-ratelimit-reset", HeaderValue::from(self.reset_unix()));
    }

    fn details(&self) -> serde_json::Value {
        let reset = time::OffsetDateTime::from(self.reset_at)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        json!({"limit": self.limit, "remaining": self.remaining, "resetTime": reset})
    }
}

/// Left on error responses so a route in another dialect can re-render the body
/// (`http::middleware::edge`); headers stay as they are.
#[derive(Debug, Clone)]
pub struct RenderedError {
    pub parts: ErrorParts,
    pub details: Option<serde_json::Value>,
}

/// The error body in `dialect`'s shape.
pub fn dialect_body(
    dialect: ErrorDialect,
    parts: &ErrorParts,
    details: Option<&serde_json::Value>,
) -> serde_json::Value {
    let mut body = match dialect {
        ErrorDialect::OpenAi => json!({
            "error": {
                "message": parts.message,
                "type": parts.kind,
                "code": parts.code,
                "param": parts.param,
            }
        }),
        ErrorDialect::Anthropic => json!({
            "type": "error",
            "error": {
                "type": anthropic_type(parts.status),
                "message": parts.message,
                "code": parts.code,
            }
        }),
        ErrorDialect::Gemini => json!({
            "error": {
                "code": parts.status.as_u16(),
                "message": parts.message,
                "status": gemini_status(parts.status),
                // Not in Google's shape; kept so our own code names are visible.
                "reason": parts.code,
            }
        }),
    };
    if let Some(details) = details {
        body["error"]["details"] = details.clone();
    }
    body
}

/// Left on error responses for the trace layer, which logs it once.
#[derive(Debug, Clone)]
pub struct LoggedError {
    pub status: StatusCode,
    pub code: Cow<'static, str>,
    pub detail: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.render(ErrorDialect::OpenAi)
    }
}

impl From<crate::translate::anthropic::TranslateError> for ApiError {
    fn from(e: crate::translate::anthropic::TranslateError) -> Self {
        ApiError::InvalidBodyField {
            field: e.field,
            message: e.message,
        }
    }
}

impl From<crate::routing::byok::ByokError> for ApiError {
    fn from(e: crate::routing::byok::ByokError) -> Self {
        match e {
            crate::routing::byok::ByokError::NotSupported { .. } => {
                ApiError::ByokNotSupported(e.to_string())
            }
            crate::routing::byok::ByokError::Header { header, .. } => {
                ApiError::invalid_field(header, e.to_string())
            }
        }
    }
}

impl From<crate::connections::ConnectionError> for ApiError {
    fn from(e: crate::connections::ConnectionError) -> Self {
        use crate::connections::ConnectionError as C;
        match e {
            C::Invalid { param, message } => ApiError::InvalidField { param, message },
            C::Missing(field) => ApiError::MissingField(field),
            C::Path(p) => ApiError::invalid_field("path", p.to_string()),
            e @ C::Target(_) => ApiError::invalid_field("base_url", e.to_string()),
            C::NotFound(m) => ApiError::ResourceNotFound(m),
            e @ C::NameTaken(_) => ApiError::Conflict {
                code: "name_taken",
                message: e.to_string(),
            },
            e @ C::Unreachable(_) => ApiError::ThirdParty {
                status: StatusCode::BAD_GATEWAY,
                code: "upstream_error",
                message: e.to_string(),
            },
            e @ C::Timeout(_) => ApiError::ThirdParty {
                status: StatusCode::GATEWAY_TIMEOUT,
                code: "upstream_timeout",
                message: e.to_string(),
            },
            e @ (C::Store(_) | C::Unseal { .. }) => ApiError::internal(e),
        }
    }
}

impl From<crate::email::EmailError> for ApiError {
    fn from(e: crate::email::EmailError) -> Self {
        use crate::email::EmailError as E;
        match e {
            E::Invalid { param, message } => ApiError::InvalidField { param, message },
            E::Missing(field) => ApiError::MissingField(field),
            e @ E::NotConfigured => ApiError::ThirdParty {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: "upstream_unavailable",
                message: e.to_string(),
            },
            e @ (E::Smtp(_) | E::Unreachable(_)) => ApiError::ThirdParty {
                status: StatusCode::BAD_GATEWAY,
                code: "upstream_error",
                message: e.to_string(),
            },
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Store(e) => ApiError::internal(e),
            AuthError::Braked(b) => ApiError::AuthBraked(RateLimitInfo {
                limit: b.limit,
                remaining: 0,
                reset_at: SystemTime::now() + b.retry_after,
                retry_after: b.retry_after,
            }),
            other => ApiError::Auth(other),
        }
    }
}

impl From<crate::users::UserError> for ApiError {
    fn from(e: crate::users::UserError) -> Self {
        use crate::users::UserError as E;
        match e {
            E::InvalidEmail(e) => ApiError::invalid_field("email", e.to_string()),
            e @ E::BadPassword => ApiError::invalid_field("password", e.to_string()),
            e @ E::EmailTaken => ApiError::Conflict {
                code: "email_taken",
                message: e.to_string(),
            },
            E::BadCredentials => ApiError::LoginFailed,
            E::Disabled => ApiError::Auth(AuthError::AccountDisabled),
            E::Braked(b) => AuthError::Braked(b).into(),
            e @ E::NotFound(_) => ApiError::ResourceNotFound(e.to_string()),
            e @ (E::Store(_) | E::Password(_) | E::Token(_)) => ApiError::internal(e),
        }
    }
}

impl From<crate::vault::VaultError> for ApiError {
    fn from(e: crate::vault::VaultError) -> Self {
        use crate::vault::VaultError as E;
        match e {
            e @ E::UnknownVendor(_) => ApiError::invalid_field("vendor", e.to_string()),
            e @ E::BadKey => ApiError::invalid_field("api_key", e.to_string()),
            e @ E::BadLabel => ApiError::invalid_field("label", e.to_string()),
            e @ E::NotFound(_) => ApiError::ResourceNotFound(e.to_string()),
            e @ E::NotOwned(_) => ApiError::KeyNotOwned(e.to_string()),
            e @ E::Inactive(..) => ApiError::invalid_field("x-key-id", e.to_string()),
            e @ E::NoKey(_) => ApiError::invalid_field("vendor", e.to_string()),
            e @ (E::Open(..) | E::Store(_)) => ApiError::internal(e),
        }
    }
}

impl From<crate::policy::PolicyError> for ApiError {
    fn from(e: crate::policy::PolicyError) -> Self {
        use crate::policy::PolicyError as P;
        match e {
            P::IpNotAllowed(ip) => ApiError::IpNotAllowed(ip),
            P::MissingScope(scope) => ApiError::MissingScope(scope),
            P::RateLimited(s) => ApiError::RateLimited(s.into()),
            P::ConcurrencyLimited(max) => ApiError::ConcurrencyLimited(max),
            P::ModelNotAllowed(model) => ApiError::ModelNotAllowed(model),
            P::LimitsUnavailable(limit, _) => ApiError::StateUnavailable {
                code: "limiter_unavailable",
                message: format!(
                    "the shared {} store (Redis) is not answering and [redis] on_failure is closed; retry shortly",
                    limit.as_str()
                ),
            },
        }
    }
}

impl From<crate::policy::admit::RateState> for RateLimitInfo {
    fn from(s: crate::policy::admit::RateState) -> Self {
        RateLimitInfo {
            limit: s.limit,
            remaining: s.remaining,
            reset_at: s.reset_at,
            retry_after: s.retry_after,
        }
    }
}

impl From<crate::metering::billing::BillingError> for ApiError {
    fn from(e: crate::metering::billing::BillingError) -> Self {
        use crate::metering::billing::BillingError as B;
        match e {
            B::Insufficient {
                available,
                needed,
                currency,
            } => ApiError::InsufficientBalance {
                available,
                needed,
                currency,
            },
            B::Unpriced { model } => ApiError::UnpricedModel(model),
            B::Ledger(crate::metering::ledger::LedgerError::Shared(_)) => {
                ApiError::StateUnavailable {
                    code: "balance_unavailable",
                    message: "the shared balance store (Redis) is not answering and [redis] on_failure is closed for balances; retry shortly".into(),
                }
            }
            other => ApiError::internal(other),
        }
    }
}

impl From<PeekError> for ApiError {
    fn from(e: PeekError) -> Self {
        match e {
            PeekError::Json(msg) => ApiError::InvalidJson(msg),
            PeekError::Missing(field) => ApiError::MissingField(field),
            PeekError::Invalid { field, message } => ApiError::invalid_field(field, message),
            PeekError::Limit(e) => e.into(),
        }
    }
}

impl From<KeyServiceError> for ApiError {
    fn from(e: KeyServiceError) -> Self {
        match e {
            KeyServiceError::NotFound(id) => ApiError::key_not_found(&id),
            KeyServiceError::Revoked(_) => ApiError::Conflict {
                code: "key_revoked",
                message: e.to_string(),
            },
            KeyServiceError::Policy(p) => ApiError::invalid_field("policy", p.to_string()),
            KeyServiceError::GraceTooLong => {
                ApiError::invalid_field("grace_period_secs", e.to_string())
            }
            KeyServiceError::Store(crate::store::StoreError::NotFound(what)) => {
                ApiError::invalid_field("account_id", format!("{what} does not exist"))
            }
            KeyServiceError::Store(s) => ApiError::internal(s),
        }
    }
}

impl From<crate::webhooks::WebhookError> for ApiError {
    fn from(e: crate::webhooks::WebhookError) -> Self {
        use crate::webhooks::WebhookError as W;
        match e {
            W::Url(_) => ApiError::invalid_field("url", e.to_string()),
            W::Events(m) => ApiError::invalid_field("events", m),
            W::Description => ApiError::invalid_field("description", e.to_string()),
            W::NotFound(_) | W::DeliveryNotFound(_) => ApiError::ResourceNotFound(e.to_string()),
            W::Store(s) => ApiError::internal(s),
            W::Seal(s) => ApiError::internal(s),
        }
    }
}

fn openai_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "authentication_error",
        402 => "insufficient_quota",
        403 => "permission_error",
        404 => "not_found_error",
        409 => "conflict_error",
        429 => "rate_limit_error",
        400..=499 => "invalid_request_error",
        _ => "api_error",
    }
}

/// Google's canonical status names (google.rpc.Code), which the google-genai SDK
/// reads from `error.status`.
fn gemini_status(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 413 | 414 | 431 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        402 => "RESOURCE_EXHAUSTED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        405 => "UNIMPLEMENTED",
        408 | 504 => "DEADLINE_EXCEEDED",
        409 => "ALREADY_EXISTS",
        429 => "RESOURCE_EXHAUSTED",
        503 => "UNAVAILABLE",
        400..=499 => "FAILED_PRECONDITION",
        _ => "INTERNAL",
    }
}

fn anthropic_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        504 => "timeout_error",
        400..=499 => "invalid_request_error",
        _ => "api_error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn body_of(res: Response) -> serde_json::Value {
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn openai_shape_has_type_code_param() {
        let res = ApiError::MissingField("messages").into_response();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert_eq!(res.headers()["x-should-retry"], "false");
        let body = body_of(res).await;
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert_eq!(body["error"]["code"], "missing_field");
        assert_eq!(body["error"]["param"], "messages");
    }

    #[tokio::test]
    async fn anthropic_shape_uses_its_type_names() {
        let res = ApiError::Auth(AuthError::Revoked).render(ErrorDialect::Anthropic);
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        let body = body_of(res).await;
        assert_eq!(body["type"], "error");
        assert_eq!(body["error"]["type"], "authentication_error");
        assert_eq!(body["error"]["code"], "revoked_api_key");
    }

    #[tokio::test]
    async fn gemini_shape_has_numeric_code_and_status() {
        let res = ApiError::UnknownModel("nope".into()).render(ErrorDialect::Gemini);
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        let body = body_of(res).await;
        assert_eq!(body["error"]["code"], 400);
        assert_eq!(body["error"]["status"], "INVALID_ARGUMENT");
        assert!(body["error"]["message"].as_str().unwrap().contains("nope"));
    }

    #[tokio::test]
    async fn internal_detail_stays_out_of_the_body() {
        let res = ApiError::internal("db password is hunter2").into_response();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let logged = res.extensions().get::<LoggedError>().unwrap().clone();
        assert!(logged.detail.contains("hunter2"));
        let body = body_of(res).await;
        assert!(!body.to_string().contains("hunter2"));
    }
}
