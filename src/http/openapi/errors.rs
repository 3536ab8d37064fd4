//! The documented error bodies (DESIGN §1.5) as schemas, and the error responses
//! each family of routes can answer, so every route lists its 4xx/5xx with the
//! body a client will actually get.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder, response::Response};
use utoipa::{IntoResponses, ToSchema};

/// The OpenAI-shaped error every route but `/v1/messages` answers.
#[derive(Serialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    pub error: ErrorObject,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorObject {
    /// What was wrong and what to do about it.
    pub message: String,
    /// `invalid_request_error`, `authentication_error`, `permission_error`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// The machine-readable reason: `invalid_field`, `not_found`, `rate_limit_exceeded`, …
    pub code: String,
    /// The request field at fault, for a 400.
    #[schema(required)]
    pub param: Option<String>,
    /// On a 429: `{limit, remaining, resetTime}`.
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
}

/// Anthropic's error shape, answered by `/v1/messages` with the same statuses.
#[derive(Serialize, ToSchema)]
#[schema(as = AnthropicError)]
pub struct AnthropicErrorBody {
    /// Always `error`.
    #[serde(rename = "type")]
    pub kind: String,
    pub error: AnthropicErrorObject,
}

#[derive(Serialize, ToSchema)]
pub struct AnthropicErrorObject {
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
    pub code: String,
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
}

const BAD_REQUEST: (u16, &str) = (
    400,
    "invalid_json, missing_field, invalid_field, unknown_model or byok_not_supported",
);
const UNAUTHORIZED: (u16, &str) = (
    401,
    "missing_api_key, invalid_api_key, expired_api_key, revoked_api_key or account_disabled",
);
const PAYMENT: (u16, &str) = (402, "insufficient_balance");
const FORBIDDEN: (u16, &str) = (
    403,
    "insufficient_permissions, ip_not_allowed or model_not_allowed",
);
const NOT_FOUND: (u16, &str) = (404, "not_found");
const CONFLICT: (u16, &str) = (409, "account_exists or key_revoked");
const TOO_LARGE: (u16, &str) = (413, "body_too_large");
const RATE_LIMITED: (u16, &str) = (
    429,
    "rate_limit_exceeded or concurrency_limit_exceeded; see Retry-After",
);
const INTERNAL: (u16, &str) = (500, "internal_error; quote x-request-id");
const UPSTREAM: [(u16, &str); 3] = [
    (502, "upstream_error"),
    (503, "upstream_unavailable"),
    (504, "upstream_timeout"),
];

fn responses(list: &[(u16, &str)], schema: &str) -> BTreeMap<String, RefOr<Response>> {
    list.iter()
        .map(|(status, description)| {
            let response = ResponseBuilder::new()
                .description(*description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name(schema)))
                        .build(),
                )
                .build();
            (status.to_string(), RefOr::T(response))
        })
        .collect()
}

/// What a model route can answer besides success, in either error shape.
fn model_route_statuses() -> Vec<(u16, &'static str)> {
    let mut list = vec![
        BAD_REQUEST,
        UNAUTHORIZED,
        PAYMENT,
        FORBIDDEN,
        NOT_FOUND,
        TOO_LARGE,
        RATE_LIMITED,
        INTERNAL,
    ];
    list.extend(UPSTREAM);
    list
}

/// Errors of the OpenAI-format gateway routes.
pub struct GatewayErrors;

impl IntoResponses for GatewayErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses(&model_route_statuses(), "Error")
    }
}

/// Errors of `/v1/messages`, in Anthropic's shape.
pub struct MessagesErrors;

impl IntoResponses for MessagesErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses(&model_route_statuses(), "AnthropicError")
    }
}

/// Gemini's error shape, answered by the native `/v1beta|v1/models/{m}:…` routes.
#[derive(Serialize, ToSchema)]
#[schema(as = GeminiError)]
pub struct GeminiErrorBody {
    pub error: GeminiErrorObject,
}

#[derive(Serialize, ToSchema)]
pub struct GeminiErrorObject {
    /// The HTTP status.
    pub code: u16,
    pub message: String,
    /// Google's canonical name: `INVALID_ARGUMENT`, `UNAUTHENTICATED`, `PERMISSION_DENIED`, …
    pub status: String,
    /// Our own code (`unknown_model`, `missing_api_key`, …).
    pub reason: String,
}

/// Errors of Gemini's native model routes, in Gemini's shape.
pub struct GeminiErrors;

impl IntoResponses for GeminiErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses(&model_route_statuses(), "GeminiError")
    }
}

/// Errors of Gemini's public model list and model routes.
pub struct GeminiModelErrors;

impl IntoResponses for GeminiModelErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses(&[NOT_FOUND, INTERNAL], "GeminiError")
    }
}

/// Errors of the public `GET /v1/models/{id}`.
pub struct ModelErrors;

impl IntoResponses for ModelErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses(&[NOT_FOUND, INTERNAL], "Error")
    }
}

/// Errors of the management API (`/admin/…`).
pub struct AdminErrors;

impl IntoResponses for AdminErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses(
            &[
                BAD_REQUEST,
                UNAUTHORIZED,
                FORBIDDEN,
                NOT_FOUND,
                CONFLICT,
                TOO_LARGE,
                RATE_LIMITED,
                INTERNAL,
            ],
            "Error",
        )
    }
}

/// Errors of the public `GET /v1/models`: only a presented, bad key is refused.
pub struct ModelsErrors;

impl IntoResponses for ModelsErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses(&[UNAUTHORIZED, INTERNAL], "Error")
    }
}

/// Errors of `/v1/connections…`, `/v1/execute/…` and `/v1/email/send`: the
/// caller's mistakes, the key's limits, and the third party's failures (the
/// connection's target or the SMTP relay).
pub struct ConnectionErrors;

impl IntoResponses for ConnectionErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let mut list = vec![
            BAD_REQUEST,
            UNAUTHORIZED,
            FORBIDDEN,
            NOT_FOUND,
            (409, "name_taken"),
            TOO_LARGE,
            RATE_LIMITED,
            INTERNAL,
        ];
        list.extend(UPSTREAM);
        responses(&list, "Error")
    }
}
