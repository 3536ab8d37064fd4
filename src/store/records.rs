//! Row types shared by every backend.

use time::OffsetDateTime;

use crate::keys::{KeyEnv, KeyId, KeyKind, KeyPolicy, SecretHash};

pub type AccountId = String;

/// A key as stored. Holds the hash, never the plaintext.
#[derive(Debug, Clone)]
pub struct KeyRecord {
    pub id: String,
    pub kid: KeyId,
    pub account_id: AccountId,
    pub account_disabled: bool,
    pub name: String,
    pub env: KeyEnv,
    pub kind: KeyKind,
    pub secret_hash: SecretHash,
    /// The secret replaced by the last rotation, valid until `prev_secret_expires_at`.
    pub prev_secret_hash: Option<SecretHash>,
    pub prev_secret_expires_at: Option<OffsetDateTime>,
    pub policy: KeyPolicy,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
    pub last_used_at: Option<OffsetDateTime>,
}

/// Lifecycle state of a key at a moment; the wire strings come from `as_str`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    Active,
    Expired,
    Revoked,
}

impl std::str::FromStr for KeyStatus {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "active" => Ok(KeyStatus::Active),
            "expired" => Ok(KeyStatus::Expired),
            "revoked" => Ok(KeyStatus::Revoked),
            _ => Err(()),
        }
    }
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::Expired => "expired",
            KeyStatus::Revoked => "revoked",
        }
    }
}

impl KeyRecord {
    /// The key as operators see it (CLI and management API): never the secret or
    /// its hash.
    pub fn public_view(&self, now: OffsetDateTime) -> serde_json::Value {
        let p = &self.policy;
        serde_json::json!({
            "object": "api_key",
            "id": self.id,
            "kid": self.kid.as_str(),
            "name": self.name,
            "env": self.env.as_str(),
            "kind": self.kind.as_str(),
            "account_id": self.account_id,
            "status": self.status(now).as_str(),
            "scopes": p.scopes,
            "rate_limit": p.rate_limit,
            "max_concurrency": p.max_concurrency,
            "ip_allowlist": p.ip_allowlist,
            "allowed_models": p.allowed_models,
            "allowed_providers": p.allowed_providers,
            "created_at": rfc3339(Some(self.created_at)),
            "expires_at": rfc3339(self.expires_at),
            "revoked_at": rfc3339(self.revoked_at),
            "last_used_at": rfc3339(self.last_used_at),
            "previous_secret_valid_until": rfc3339(
                self.prev_secret_expires_at.filter(|t| *t > now)
            ),
        })
    }

    pub fn status(&self, now: OffsetDateTime) -> KeyStatus {
        if self.revoked_at.is_some() {
            KeyStatus::Revoked
        } else if self.expires_at.is_some_and(|t| t <= now) {
            KeyStatus::Expired
        } else {
            KeyStatus::Active
        }
    }
}

/// What `insert_key` needs.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub id: String,
    pub kid: KeyId,
    pub account_id: AccountId,
    pub name: String,
    pub env: KeyEnv,
    pub kind: KeyKind,
    pub secret_hash: SecretHash,
    pub policy: KeyPolicy,
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
}

/// A partial update of a key's settings; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct KeyUpdate {
    pub name: Option<String>,
    pub policy: Option<KeyPolicy>,
    /// `Some(None)` removes the expiry.
    pub expires_at: Option<Option<OffsetDateTime>>,
}

/// Filters for listing keys; `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct KeyFilter {
    pub env: Option<KeyEnv>,
    pub kind: Option<KeyKind>,
    pub status: Option<KeyStatus>,
    /// Case-insensitive substring of the name.
    pub name: Option<String>,
    pub account_id: Option<String>,
}

/// An account: owns keys (and, later, a balance).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub name: String,
    pub created_at: OffsetDateTime,
    pub disabled_at: Option<OffsetDateTime>,
}

pub fn to_ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

pub fn from_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

impl Account {
    pub fn public_view(&self) -> serde_json::Value {
        serde_json::json!({
            "object": "account",
            "id": self.id,
            "name": self.name,
            "status": if self.disabled_at.is_some() { "disabled" } else { "active" },
            "created_at": rfc3339(Some(self.created_at)),
            "disabled_at": rfc3339(self.disabled_at),
        })
    }
}

fn rfc3339(t: Option<OffsetDateTime>) -> Option<String> {
    t.and_then(|t| {
        t.format(&time::format_description::well_known::Rfc3339)
            .ok()
    })
}
