//! `/v1/connections…`, `/v1/execute/{name}/{path…}` and `/v1/email/send`, for
//! the OpenAPI document. The request types live in `crate::connections` and
//! `crate::email` (they hold secrets and are deserialized only); these are their
//! documented shapes.

use serde::Serialize;
use utoipa::ToSchema;

use super::errors::ConnectionErrors;

/// How the gateway injects the credential. Secrets are write-only.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"type": "bearer", "token": "ghp_..."}))]
pub struct ConnectionAuth {
    /// `bearer` (`token`), `header` (`name`, `value`), `basic` (`username`,
    /// `password`) or `query` (`name`, `value`).
    #[serde(rename = "type")]
    pub kind: String,
    pub token: Option<String>,
    pub name: Option<String>,
    pub value: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
}

/// `POST /v1/connections`. With `X-User-Id` the connection is that user's, else
/// org-wide; `name` is unique per (account, user).
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"name": "github", "base_url": "https://api.github.com", "auth": {"type": "bearer", "token": "ghp_..."}}))]
pub struct NewConnection {
    /// Letters, digits, `-`, `_`, `.`; at most 64.
    pub name: String,
    /// An https URL (http only with `[outbound] allow_http`), no query.
    pub base_url: String,
    pub auth: ConnectionAuth,
}

/// What is shown of the credential: its type and, for `header`/`query`, the name.
#[derive(Serialize, ToSchema)]
pub struct ConnectionAuthView {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: Option<String>,
}

/// A connection, never with its credential.
#[derive(Serialize, ToSchema)]
pub struct Connection {
    pub id: String,
    /// Always `connection`.
    pub object: String,
    pub name: String,
    pub base_url: String,
    pub auth: ConnectionAuthView,
    /// `user` or `org`.
    pub scope: String,
    pub user_id: Option<String>,
    pub created_at: i64,
}

#[derive(Serialize, ToSchema)]
pub struct ConnectionList {
    /// Always `list`.
    pub object: String,
    pub data: Vec<Connection>,
}

#[derive(Serialize, ToSchema)]
pub struct ConnectionDeleted {
    pub id: String,
    pub object: String,
    pub deleted: bool,
}

/// `POST /v1/execute/{name}/{path…}`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"method": "GET", "query": {"per_page": 5}, "userId": "user_42"}))]
pub struct ExecuteRequest {
    /// GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS.
    pub method: String,
    #[schema(value_type = Option<Object>)]
    pub query: Option<serde_json::Value>,
    /// Extra request headers (framing headers and `authorization` are dropped).
    #[schema(value_type = Option<Object>)]
    pub headers: Option<serde_json::Value>,
    /// JSON (sent as JSON) or a string (sent as it is).
    #[schema(value_type = Option<Value>)]
    pub body: Option<serde_json::Value>,
    /// Whose connection; wins over `X-User-Id`.
    #[serde(rename = "userId")]
    pub user_id: Option<String>,
}

/// The target's answer, credential-bearing headers stripped.
#[derive(Serialize, ToSchema)]
pub struct ExecuteResponse {
    pub status: u16,
    #[schema(value_type = Object)]
    pub headers: serde_json::Value,
    /// JSON when the target sent JSON, else a string.
    #[schema(value_type = Value)]
    pub body: serde_json::Value,
    /// `base64` when the body was not UTF-8.
    pub body_encoding: Option<String>,
}

/// `POST /v1/email/send`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"to": ["ada@example.com"], "subject": "Hello", "text": "Hi Ada"}))]
pub struct EmailRequest {
    /// Defaults to `[email] from`.
    pub from: Option<String>,
    pub to: Vec<String>,
    pub cc: Option<Vec<String>>,
    pub bcc: Option<Vec<String>>,
    pub subject: String,
    pub text: Option<String>,
    pub html: Option<String>,
    pub reply_to: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct EmailAccepted {
    /// The message's id (its `Message-ID` is `<id@tollgate>`).
    pub id: String,
}

#[utoipa::path(post, path = "/v1/connections", tag = "connections",
    request_body = NewConnection,
    params(("X-User-Id" = Option<String>, Header, description = "The end user who owns it; org-wide without")),
    responses((status = 201, description = "Created", body = Connection), ConnectionErrors))]
pub fn create_connection() {}

#[utoipa::path(get, path = "/v1/connections", tag = "connections",
    params(("X-User-Id" = Option<String>, Header, description = "Also list this user's connections")),
    responses((status = 200, description = "The org-wide connections and the user's", body = ConnectionList), ConnectionErrors))]
pub fn list_connections() {}

#[utoipa::path(get, path = "/v1/connections/{id}", tag = "connections",
    params(("id" = String, Path), ("X-User-Id" = Option<String>, Header)),
    responses((status = 200, description = "The connection", body = Connection), ConnectionErrors))]
pub fn get_connection() {}

#[utoipa::path(delete, path = "/v1/connections/{id}", tag = "connections",
    params(("id" = String, Path), ("X-User-Id" = Option<String>, Header, description = "Owner of the connection; omit for an org-wide one")),
    responses((status = 200, description = "Deleted", body = ConnectionDeleted), ConnectionErrors))]
pub fn delete_connection() {}

#[utoipa::path(post, path = "/v1/execute/{name}/{path}", tag = "connections",
    request_body = ExecuteRequest,
    params(("name" = String, Path), ("path" = String, Path, description = "Under base_url; `..`, `%2e%2e`, `%2F`, `\\` and absolute URLs are refused"),
        ("X-User-Id" = Option<String>, Header, description = "Whose connection, unless the body's userId says")),
    responses(
        (status = 200, description = "The envelope; or, for streams and bodies over 1 MiB, the raw body with x-tollgate-target-status", content(
            (ExecuteResponse = "application/json"),
            (String = "application/octet-stream"),
        )),
        ConnectionErrors))]
pub fn execute() {}

#[utoipa::path(post, path = "/v1/execute/{name}", tag = "connections",
    request_body = ExecuteRequest,
    params(("name" = String, Path), ("X-User-Id" = Option<String>, Header)),
    responses((status = 200, description = "The envelope for base_url itself", body = ExecuteResponse), ConnectionErrors))]
pub fn execute_base() {}

#[utoipa::path(post, path = "/v1/email/send", tag = "email",
    request_body = EmailRequest,
    responses((status = 202, description = "Accepted by the SMTP relay", body = EmailAccepted), ConnectionErrors))]
pub fn send_email() {}
