//! Schemas of the end-user routes (`/auth/…`, `/keys…`, `/usage`) and of
//! `/admin/users…`, and the error statuses those routes answer.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{IntoResponses, ToSchema};

/// The user as register and login show it.
#[derive(Serialize, ToSchema)]
pub struct SessionUser {
    pub id: String,
    pub email: String,
}

/// A logged-in session: the login token goes in `Authorization: Bearer`.
#[derive(Serialize, ToSchema)]
pub struct Session {
    pub user: SessionUser,
    /// JWT HS256.
    pub token: String,
    /// Seconds the token is valid (`[auth] jwt_ttl`; 604800 by default).
    pub expires_in: u64,
}

#[derive(Serialize, ToSchema)]
pub struct LoggedOut {
    /// Always `logout`.
    pub object: String,
    pub revoked: bool,
}

/// A vault key: never the key itself.
#[derive(Serialize, ToSchema)]
pub struct VaultKey {
    pub id: String,
    pub vendor: String,
    pub label: String,
    pub is_active: bool,
    pub created_at: Option<String>,
    pub last_used_at: Option<String>,
    /// Masked, like `sk-…abcd`.
    pub hint: String,
}

#[derive(Serialize, ToSchema)]
pub struct Deleted {
    pub id: String,
    pub deleted: bool,
}

/// Counts and token sums of a set of requests.
#[derive(Serialize, ToSchema)]
pub struct UsageCounts {
    /// Each request counts once, however many upstream tries it took.
    pub requests: u64,
    pub successes: u64,
    pub failures: u64,
    /// Upstream tries that failed before another try (not in `requests`).
    pub attempts_failed: u64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub total_tokens: i64,
    /// Provider cost of the requests whose cost is known, exact decimal USD.
    pub cost_usd: String,
    /// Requests whose cost is unknown (a model without a price), not in `cost_usd`.
    pub cost_unknown_requests: u64,
}

#[derive(Serialize, ToSchema)]
pub struct VendorUsage {
    pub vendor: String,
    #[serde(flatten)]
    pub counts: UsageCounts,
}

#[derive(Serialize, ToSchema)]
pub struct ModelUsage {
    pub model: String,
    /// `null` for a model the catalog does not know.
    pub vendor: Option<String>,
    #[serde(flatten)]
    pub counts: UsageCounts,
}

/// `GET /usage`.
#[derive(Serialize, ToSchema)]
pub struct UserUsage {
    /// Always `usage`.
    pub object: String,
    pub user_id: String,
    pub from: String,
    pub to: String,
    pub totals: UsageCounts,
    pub by_vendor: Vec<VendorUsage>,
    pub by_model: Vec<ModelUsage>,
}

/// An end user as the management API shows it: never the password hash.
#[derive(Serialize, ToSchema)]
pub struct User {
    /// Always `user`.
    pub object: String,
    pub id: String,
    pub email: String,
    /// `active` or `disabled`.
    pub status: String,
    pub created_at: Option<String>,
    pub disabled_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct UserList {
    /// Always `list`.
    pub object: String,
    pub data: Vec<User>,
}

fn responses(list: &[(u16, &str)]) -> BTreeMap<String, RefOr<Response>> {
    list.iter()
        .map(|(status, description)| {
            let response = ResponseBuilder::new()
                .description(*description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Error")))
                        .build(),
                )
                .build();
            (status.to_string(), RefOr::T(response))
        })
        .collect()
}

/// Errors of register and login.
pub struct AuthErrors;

impl IntoResponses for AuthErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses(&[
            (400, "invalid_json, invalid_field (email, password)"),
            (
                401,
                "invalid_credentials (one answer for a wrong password and an unknown email) or account_disabled",
            ),
            (409, "email_taken"),
            (413, "body_too_large"),
            (
                429,
                "rate_limit_exceeded: 10 failed logins per 15 minutes per email or address; see Retry-After",
            ),
            (500, "internal_error; quote x-request-id"),
        ])
    }
}

/// Errors of the routes that need a login token.
pub struct UserErrors;

impl IntoResponses for UserErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses(&[
            (400, "invalid_json or invalid_field"),
            (401, "missing_api_key, invalid_token or account_disabled"),
            (
                403,
                "key_not_owned (another user's key) or insufficient_permissions",
            ),
            (404, "not_found"),
            (413, "body_too_large"),
            (500, "internal_error; quote x-request-id"),
        ])
    }
}
