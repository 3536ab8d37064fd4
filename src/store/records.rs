//! Row types shared by every backend.

use time::OffsetDateTime;

use crate::keys::{KeyEnv, KeyId, KeyKind, SecretHash};

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
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
}

pub fn to_ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

pub fn from_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}
