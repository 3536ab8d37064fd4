//! The management API (scope `admin`, i.e. management keys): keys and accounts.
//! Changes made here are visible to this process at once (its key cache entry is
//! dropped) and to other processes through their change pollers.
//!
//! A management key reaches either every account ([`Reach::Global`]: a key of the
//! operator's `default` account, or one with the `admin:global` scope) or only its
//! own ([`Reach::Account`]). Every handler asks its caller's reach before it reads
//! or changes anything:
//! - a key or account of another account, asked for by id, is a 404 `not_found`,
//!   the same answer as an id that does not exist, so ids cannot be probed;
//! - another account named in a body or a list filter is a 403
//!   `insufficient_permissions`, whether that account exists or not;
//! - creating, disabling, enabling, crediting accounts and changing their billing
//!   are global acts: a 403 for an account's key, whatever the id.

pub mod account_alerts;
pub mod accounts;
pub mod alerts;
pub mod key_json;
pub mod keys;
pub mod providers;
pub mod usage;
pub mod users;
pub mod webhooks;

use axum::Json;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde_json::{Value, json};

use crate::auth::Principal;
use crate::error::ApiError;
use crate::key_service;
use crate::keys::Scope;
use crate::state::AppState;

/// How far the calling key reaches (module doc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    Global,
    Account(String),
}

impl Reach {
    pub fn of(principal: &Principal) -> Reach {
        if key_service::is_global_admin(&principal.key) {
            Reach::Global
        } else {
            Reach::Account(principal.key.account_id.clone())
        }
    }

    /// Whether a resource of `account_id` is visible; handlers answer "not found"
    /// when it is not.
    pub fn sees(&self, account_id: &str) -> bool {
        match self {
            Reach::Global => true,
            Reach::Account(own) => own == account_id,
        }
    }

    /// Whether a key is visible. A global management key kept in an account is
    /// not that account's to see: rotating it would hand out its reach.
    pub fn sees_key(&self, key: &crate::store::KeyRecord) -> bool {
        match self {
            Reach::Global => true,
            Reach::Account(_) => self.sees(&key.account_id) && !key_service::is_global_admin(key),
        }
    }

    /// For an account named in a body or filter: another one is a 403.
    pub fn may_name(&self, account_id: &str) -> Result<(), ApiError> {
        if self.sees(account_id) {
            Ok(())
        } else {
            Err(ApiError::MissingScope(Scope::AdminGlobal))
        }
    }

    /// For acts only a global management key may do.
    pub fn global_only(&self) -> Result<(), ApiError> {
        match self {
            Reach::Global => Ok(()),
            Reach::Account(_) => Err(ApiError::MissingScope(Scope::AdminGlobal)),
        }
    }

    /// The one account this caller is confined to, if any.
    pub fn account(&self) -> Option<&str> {
        match self {
            Reach::Global => None,
            Reach::Account(own) => Some(own),
        }
    }
}

impl FromRequestParts<AppState> for Reach {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Principal::from_request_parts(parts, state)
            .await
            .map(|p| Reach::of(&p))
    }
}

fn list(data: Vec<Value>) -> Json<Value> {
    Json(json!({"object": "list", "data": data}))
}

/// `Some(None)` for an explicit `null`, `None` when the field is absent.
fn double_option<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

/// Like [`double_option`], for an RFC 3339 timestamp.
fn double_option_rfc3339<'de, D>(d: D) -> Result<Option<Option<time::OffsetDateTime>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    time::serde::rfc3339::option::deserialize(d).map(Some)
}
