//! Connections: a named third-party base URL plus the credential the gateway
//! injects, so an app can act for a signed-in user on another service without ever
//! holding that user's credential (`/v1/connections…`, `/v1/execute/{name}/{path…}`).
//!
//! - **Ownership**: a connection belongs to the key's account, and to one end user
//!   (`X-User-Id` at creation) or to the whole account (org-wide). `name` is unique
//!   per (account, user).
//! - **Secrets**: the credential is sealed (`crate::seal`, AAD `connection:<id>`)
//!   before it reaches the store, opened only to inject it, never returned, logged
//!   or put in an error; list/get show `auth.type` (and the header/parameter name).
//! - **Who serves a call** ([`Connections::resolve`]): the execute body's `userId`
//!   wins over `X-User-Id`; a user without a connection of that name falls back to
//!   the org-wide one unless `[connections] user_fallback_to_org = false`; with no
//!   user, the org-wide one serves.
//! - **Where a call may go**: the base URL passes the `[outbound]` address policy at
//!   creation and again before each call, and the client's resolver enforces it at
//!   connect time ([`crate::outbound`]); the path cannot leave the base URL
//!   ([`path`]). Execution itself is in [`execute`].
//!
//! Must not: hand a plaintext credential to anything but the outgoing request.

pub mod execute;
pub mod path;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::config::{Config, ConnectionsConfig};
use crate::outbound::{AddressPolicy, OutboundError};
use crate::seal::Sealer;
use crate::secret::Secret;
use crate::store::connections::connection_aad;
use crate::store::{ConnectionRecord, Store, StoreError};

pub use execute::{ExecuteRequest, Executed, Executor};

/// The longest connection name, user id and base URL we accept.
const MAX_NAME: usize = 64;
pub const MAX_USER_ID: usize = 128;
const MAX_URL: usize = 2048;

/// Why a connection call was refused or failed; `crate::error` maps each to its
/// documented status.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    /// A field of the request is wrong: 400 `invalid_field`.
    #[error("`{param}`: {message}")]
    Invalid {
        param: &'static str,
        message: String,
    },
    /// A required field is missing: 400 `missing_field`.
    #[error("missing required field `{0}`")]
    Missing(&'static str),
    /// The execute path would leave the base URL: 400 `invalid_field`.
    #[error("{0}")]
    Path(#[from] path::PathError),
    /// The base URL may not be reached: 400 `invalid_field` on `base_url`.
    #[error("base_url {0}")]
    Target(OutboundError),
    #[error("{0}")]
    NotFound(String),
    #[error(
        "a connection named `{0}` already exists for this owner; delete it first or pick another name"
    )]
    NameTaken(String),
    /// The target could not be reached or broke off: 502.
    #[error("the connection's target could not be reached: {0}")]
    Unreachable(String),
    /// The target did not answer in time: 504.
    #[error("the connection's target did not answer within {0}s")]
    Timeout(u64),
    #[error(transparent)]
    Store(StoreError),
    /// A stored credential does not open (wrong master key, altered row): 500.
    #[error("connection {id}: stored credential does not open: {detail}")]
    Unseal { id: String, detail: String },
}

impl From<StoreError> for ConnectionError {
    fn from(e: StoreError) -> Self {
        ConnectionError::Store(e)
    }
}

/// How the credential is injected. Every secret part is a [`Secret`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum Auth {
    /// `Authorization: Bearer <token>`.
    Bearer { token: Secret<String> },
    /// `<name>: <value>`.
    Header { name: String, value: Secret<String> },
    /// `Authorization: Basic base64(username:password)`.
    Basic {
        username: Secret<String>,
        password: Secret<String>,
    },
    /// `?<name>=<value>` on every call.
    Query { name: String, value: Secret<String> },
}

impl Auth {
    fn kind(&self) -> &'static str {
        match self {
            Auth::Bearer { .. } => "bearer",
            Auth::Header { .. } => "header",
            Auth::Basic { .. } => "basic",
            Auth::Query { .. } => "query",
        }
    }

    /// The header or query parameter name: not secret, shown in listings.
    fn public_name(&self) -> &str {
        match self {
            Auth::Header { name, .. } | Auth::Query { name, .. } => name,
            Auth::Bearer { .. } | Auth::Basic { .. } => "",
        }
    }

    /// The secret strings, for scrubbing them out of what the target sends back.
    pub fn secrets(&self) -> Vec<&str> {
        match self {
            Auth::Bearer { token } => vec![token.expose()],
            Auth::Header { value, .. } | Auth::Query { value, .. } => vec![value.expose()],
            Auth::Basic { username, password } => vec![username.expose(), password.expose()],
        }
    }

    fn validate(&self) -> Result<(), ConnectionError> {
        let empty = |s: &Secret<String>| s.expose().is_empty();
        let bad = |message: &str| ConnectionError::Invalid {
            param: "auth",
            message: message.to_owned(),
        };
        match self {
            Auth::Bearer { token } if empty(token) => Err(bad("token must not be empty")),
            Auth::Header { name, value } => {
                let header = axum_free_header_name(name)
                    .ok_or_else(|| bad("name must be an HTTP header name such as X-Api-Key"))?;
                if FORBIDDEN_AUTH_HEADERS.contains(&header.as_str()) {
                    return Err(bad(&format!(
                        "name `{name}` is a header the gateway manages"
                    )));
                }
                if empty(value) || reqwest::header::HeaderValue::from_str(value.expose()).is_err() {
                    return Err(bad(
                        "value must be a non-empty header value (visible ASCII)",
                    ));
                }
                Ok(())
            }
            Auth::Basic { username, .. } if empty(username) || username.expose().contains(':') => {
                Err(bad("username must be non-empty and contain no `:`"))
            }
            Auth::Query { name, value } if name.is_empty() || empty(value) => {
                Err(bad("name and value must not be empty"))
            }
            _ => Ok(()),
        }
    }
}

/// Headers a `header` credential may not be: they frame the request.
const FORBIDDEN_AUTH_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "te",
    "upgrade",
    "cookie",
];

fn axum_free_header_name(name: &str) -> Option<reqwest::header::HeaderName> {
    reqwest::header::HeaderName::from_bytes(name.as_bytes()).ok()
}

/// `POST /v1/connections`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewConnection {
    pub name: Option<String>,
    pub base_url: Option<String>,
    pub auth: Option<Auth>,
}

/// Whose connection: an end user's, or the account's (org-wide).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub account_id: String,
    /// Empty for org-wide.
    pub user_id: String,
}

/// The connections service: the store, the sealer, the policy and the client.
pub struct Connections {
    store: Store,
    sealer: std::sync::Arc<Sealer>,
    addresses: AddressPolicy,
    settings: ConnectionsConfig,
    executor: Executor,
}

impl Connections {
    pub fn new(
        config: &Config,
        store: Store,
        sealer: std::sync::Arc<Sealer>,
    ) -> Result<Connections, reqwest::Error> {
        let addresses = config.outbound.addresses();
        Ok(Connections {
            store,
            sealer,
            addresses,
            settings: config.connections,
            executor: Executor::new(addresses, &config.upstream)?,
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Creates a connection for `owner`; answers its public view.
    pub async fn create(
        &self,
        owner: &Owner,
        body: NewConnection,
    ) -> Result<Value, ConnectionError> {
        let name = body.name.ok_or(ConnectionError::Missing("name"))?;
        check_name(&name)?;
        let base_url = body.base_url.ok_or(ConnectionError::Missing("base_url"))?;
        let auth = body.auth.ok_or(ConnectionError::Missing("auth"))?;
        auth.validate()?;
        if base_url.len() > MAX_URL {
            return Err(ConnectionError::Invalid {
                param: "base_url",
                message: format!("must be at most {MAX_URL} bytes"),
            });
        }
        let url = self.check_target(&base_url).await?;
        if url.query().is_some() || url.fragment().is_some() {
            return Err(ConnectionError::Invalid {
                param: "base_url",
                message: "must not have a query or fragment; pass `query` to execute".into(),
            });
        }
        let id = format!("conn_{}", uuid::Uuid::now_v7().simple());
        let plaintext =
            serde_json::to_vec(&SealedAuth::from(&auth)).map_err(|e| ConnectionError::Unseal {
                id: id.clone(),
                detail: e.to_string(),
            })?;
        let record = ConnectionRecord {
            id: id.clone(),
            account_id: owner.account_id.clone(),
            user_id: owner.user_id.clone(),
            name: name.clone(),
            base_url: url.as_str().trim_end_matches('/').to_owned(),
            auth_type: auth.kind().to_owned(),
            auth_name: auth.public_name().to_owned(),
            sealed_auth: self.sealer.seal(&connection_aad(&id), &plaintext),
            created_at: OffsetDateTime::now_utc(),
        };
        match self.store.insert_connection(&record).await {
            Ok(()) => Ok(public_view(&record)),
            Err(StoreError::Conflict(_)) => Err(ConnectionError::NameTaken(name)),
            Err(e) => Err(e.into()),
        }
    }

    /// The connections `owner` sees: the org-wide ones, plus the user's own.
    pub async fn list(&self, owner: &Owner) -> Result<Vec<Value>, ConnectionError> {
        let user = (!owner.user_id.is_empty()).then_some(owner.user_id.as_str());
        let rows = self.store.list_connections(&owner.account_id, user).await?;
        Ok(rows.iter().map(public_view).collect())
    }

    /// One connection `owner` sees (its own or an org-wide one).
    pub async fn get(&self, owner: &Owner, id: &str) -> Result<Value, ConnectionError> {
        match self.store.connection(&owner.account_id, id).await? {
            Some(c) if c.user_id.is_empty() || c.user_id == owner.user_id => Ok(public_view(&c)),
            _ => Err(not_found_id(id)),
        }
    }

    /// Deletes a connection owned by exactly `owner` (a user cannot delete the
    /// org-wide ones; call without `X-User-Id` for those).
    pub async fn delete(&self, owner: &Owner, id: &str) -> Result<(), ConnectionError> {
        if self
            .store
            .delete_connection(&owner.account_id, &owner.user_id, id)
            .await?
        {
            Ok(())
        } else {
            Err(not_found_id(id))
        }
    }

    /// The connection that serves `name` for `account_id` and the resolved user
    /// (module doc); the user is empty for org-wide calls.
    pub async fn resolve(
        &self,
        account_id: &str,
        user_id: &str,
        name: &str,
    ) -> Result<ConnectionRecord, ConnectionError> {
        if !user_id.is_empty() {
            if let Some(c) = self
                .store
                .connection_by_name(account_id, user_id, name)
                .await?
            {
                return Ok(c);
            }
            if !self.settings.user_fallback_to_org {
                return Err(ConnectionError::NotFound(format!(
                    "user `{user_id}` has no connection named `{name}` ([connections] user_fallback_to_org is off); create one with X-User-Id"
                )));
            }
        }
        self.store
            .connection_by_name(account_id, "", name)
            .await?
            .ok_or_else(|| {
                ConnectionError::NotFound(format!(
                    "no connection named `{name}`; POST /v1/connections creates one"
                ))
            })
    }

    /// Runs one execute call against `connection` (see [`execute`]).
    pub async fn execute(
        &self,
        connection: &ConnectionRecord,
        raw_path: &str,
        request: &ExecuteRequest,
    ) -> Result<Executed, ConnectionError> {
        let path = path::check(raw_path)?;
        // The policy may have changed since creation, and DNS too: check again,
        // before the credential is even opened.
        let base = self.check_target(&connection.base_url).await?;
        let auth = self.open(connection)?;
        self.executor.run(&base, path, request, &auth).await
    }

    fn open(&self, c: &ConnectionRecord) -> Result<Auth, ConnectionError> {
        let unseal = |detail: String| ConnectionError::Unseal {
            id: c.id.clone(),
            detail,
        };
        let plain = self
            .sealer
            .open(&connection_aad(&c.id), &c.sealed_auth)
            .map_err(|e| unseal(e.to_string()))?;
        let sealed: SealedAuth = serde_json::from_slice(plain.expose())
            .map_err(|_| unseal("not an auth object".into()))?;
        Ok(sealed.into())
    }

    async fn check_target(&self, url: &str) -> Result<reqwest::Url, ConnectionError> {
        let url = self
            .addresses
            .check_url(url)
            .map_err(ConnectionError::Target)?;
        self.addresses
            .check_resolved(&url)
            .await
            .map_err(ConnectionError::Target)?;
        Ok(url)
    }
}

/// The sealed form of [`Auth`]: plain strings, since it is only ever serialized
/// to be sealed and deserialized right after opening.
#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum SealedAuth {
    Bearer { token: String },
    Header { name: String, value: String },
    Basic { username: String, password: String },
    Query { name: String, value: String },
}

impl From<&Auth> for SealedAuth {
    fn from(a: &Auth) -> Self {
        let s = |x: &Secret<String>| x.expose().clone();
        match a {
            Auth::Bearer { token } => SealedAuth::Bearer { token: s(token) },
            Auth::Header { name, value } => SealedAuth::Header {
                name: name.clone(),
                value: s(value),
            },
            Auth::Basic { username, password } => SealedAuth::Basic {
                username: s(username),
                password: s(password),
            },
            Auth::Query { name, value } => SealedAuth::Query {
                name: name.clone(),
                value: s(value),
            },
        }
    }
}

impl From<SealedAuth> for Auth {
    fn from(a: SealedAuth) -> Self {
        match a {
            SealedAuth::Bearer { token } => Auth::Bearer {
                token: Secret::new(token),
            },
            SealedAuth::Header { name, value } => Auth::Header {
                name,
                value: Secret::new(value),
            },
            SealedAuth::Basic { username, password } => Auth::Basic {
                username: Secret::new(username),
                password: Secret::new(password),
            },
            SealedAuth::Query { name, value } => Auth::Query {
                name,
                value: Secret::new(value),
            },
        }
    }
}

fn not_found_id(id: &str) -> ConnectionError {
    ConnectionError::NotFound(format!("no connection with id `{id}`"))
}

/// Names are path segments of `/v1/execute/{name}/…`: letters, digits, `-`, `_`, `.`.
fn check_name(name: &str) -> Result<(), ConnectionError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(ConnectionError::Invalid {
            param: "name",
            message: format!(
                "must be 1 to {MAX_NAME} letters, digits, `-`, `_` or `.` (it is a path segment of /v1/execute/{{name}}/…)"
            ),
        })
    }
}

/// What list and get show: never a credential.
fn public_view(c: &ConnectionRecord) -> Value {
    let mut auth = json!({"type": c.auth_type});
    if !c.auth_name.is_empty() {
        auth["name"] = json!(c.auth_name);
    }
    json!({
        "id": c.id,
        "object": "connection",
        "name": c.name,
        "base_url": c.base_url,
        "auth": auth,
        "scope": if c.user_id.is_empty() { "org" } else { "user" },
        "user_id": (!c.user_id.is_empty()).then_some(&c.user_id),
        "created_at": c.created_at.unix_timestamp(),
    })
}
