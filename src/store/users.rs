//! End users and their vault, as every backend stores them: [`UserStore`] (users,
//! revoked login tokens) and [`VaultStore`] (users' sealed provider keys).
//!
//! Rows hold a password hash (argon2id PHC string) and sealed provider keys, never
//! a password or a provider key in plaintext.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::StoreError;
use crate::seal::Sealer;

/// A user as stored. `password_hash` is an argon2id PHC string.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub id: String,
    /// Lower-cased.
    pub email: String,
    pub password_hash: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub disabled_at: Option<OffsetDateTime>,
    pub deleted_at: Option<OffsetDateTime>,
}

impl UserRecord {
    /// The user as operators see it (CLI, `/admin/users`): never the hash.
    pub fn public_view(&self) -> serde_json::Value {
        serde_json::json!({
            "object": "user",
            "id": self.id,
            "email": self.email,
            "status": if self.disabled_at.is_some() { "disabled" } else { "active" },
            "created_at": rfc3339(Some(self.created_at)),
            "disabled_at": rfc3339(self.disabled_at),
        })
    }
}

/// One provider key in a user's vault. `sealed_key` opens only with the AAD
/// [`VaultKeyRecord::aad`] of its own row.
#[derive(Debug, Clone)]
pub struct VaultKeyRecord {
    pub id: String,
    pub user_id: String,
    /// The vendor's wire name (`openai`, `anthropic`, `google`, …).
    pub vendor: String,
    pub label: String,
    pub sealed_key: String,
    pub hint: String,
    pub is_active: bool,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
}

impl VaultKeyRecord {
    /// The associated data that binds a sealed key to its row.
    pub fn aad(id: &str) -> Vec<u8> {
        format!("vault:{id}").into_bytes()
    }

    /// The key as its owner sees it: metadata and the masked hint, never the key.
    pub fn public_view(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "vendor": self.vendor,
            "label": self.label,
            "is_active": self.is_active,
            "created_at": rfc3339(Some(self.created_at)),
            "last_used_at": rfc3339(self.last_used_at),
            "hint": self.hint,
        })
    }
}

pub(super) fn rfc3339(t: Option<OffsetDateTime>) -> Option<String> {
    t.and_then(|t| {
        t.format(&time::format_description::well_known::Rfc3339)
            .ok()
    })
}

/// End users and the login tokens they revoked.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Inserts a user; `Conflict` when the (lower-cased) email is taken.
    async fn create_user(&self, user: &UserRecord) -> Result<(), StoreError>;

    /// A live (not deleted) user by lower-cased email.
    async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StoreError>;

    /// A user by id, deleted ones included (`deleted_at` says so).
    async fn user(&self, id: &str) -> Result<Option<UserRecord>, StoreError>;

    /// Live users, oldest first.
    async fn list_users(&self) -> Result<Vec<UserRecord>, StoreError>;

    /// Disables or re-enables a live user; `false` when there is none.
    async fn set_user_disabled(
        &self,
        id: &str,
        disabled: bool,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Deletes a user and every key in their vault, in one transaction: the email
    /// is released, the hash wiped, the row kept as a tombstone. `false` when
    /// there is no live user `id`.
    async fn delete_user(&self, id: &str, now: OffsetDateTime) -> Result<bool, StoreError>;

    /// Ids of users changed (disabled, enabled, deleted) at or after `since_ms`,
    /// for caches in other processes.
    async fn users_changed_since(&self, since_ms: i64) -> Result<Vec<String>, StoreError>;

    /// Denies a token id until `expires_at` (idempotent); forgets expired ones.
    async fn revoke_token(
        &self,
        jti: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Token ids revoked at or after `since_ms` and not yet expired at `now`, with
    /// their expiry (unix ms).
    async fn revoked_tokens_since(
        &self,
        since_ms: i64,
        now: OffsetDateTime,
    ) -> Result<Vec<(String, i64)>, StoreError>;
}

/// Users' provider keys, sealed.
#[async_trait]
pub trait VaultStore: Send + Sync {
    async fn insert_vault_key(&self, key: &VaultKeyRecord) -> Result<(), StoreError>;

    async fn vault_key(&self, id: &str) -> Result<Option<VaultKeyRecord>, StoreError>;

    /// A user's keys, oldest first.
    async fn vault_keys(&self, user_id: &str) -> Result<Vec<VaultKeyRecord>, StoreError>;

    /// `false` when there was no such key.
    async fn delete_vault_key(&self, id: &str) -> Result<bool, StoreError>;

    async fn touch_vault_key(&self, id: &str, now: OffsetDateTime) -> Result<(), StoreError>;

    /// Re-seals, under the sealer's current master key, every vault row sealed under
    /// another one; returns how many rows changed. A row that does not open stops
    /// the run with its error (nothing is half-done: one transaction).
    async fn reseal_all(&self, sealer: &Sealer) -> Result<usize, StoreError>;
}
