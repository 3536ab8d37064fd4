//! The vault: end users' own provider keys, sealed at rest (`crate::seal`,
//! XChaCha20-Poly1305 under the master key, each ciphertext bound to its row by
//! the AAD `vault:<id>`), and the choice of which one a call runs on.
//!
//! A vault key becomes a [`Byok`] credential for one call, run by the providers as
//! [`Account::Vault`](crate::providers::Account): the operator's configured base URL
//! and client, the user's key. Such calls are metered with no charge (the user pays
//! the provider), like BYOK.
//!
//! Must not: return, log or put in an error the plaintext of a stored key. It is
//! read once at `add` (to seal it and build the hint) and opened only for the call
//! that uses it, as a [`Secret`].

pub mod vendor;

use std::sync::Arc;

use time::OffsetDateTime;

use crate::domain::ProviderKind;
use crate::providers::Byok;
use crate::seal::Sealer;
use crate::secret::Secret;
use crate::store::{Store, StoreError, VaultKeyRecord};

pub use vendor::{UnknownVendor, Vendor};

/// Longest label accepted.
pub const MAX_LABEL_CHARS: usize = 100;
/// Longest provider key accepted, in bytes.
pub const MAX_KEY_BYTES: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error(transparent)]
    UnknownVendor(#[from] UnknownVendor),
    #[error("`api_key` must be 1 to {MAX_KEY_BYTES} printable characters without spaces")]
    BadKey,
    #[error("`label` must be at most {MAX_LABEL_CHARS} characters, without control characters")]
    BadLabel,
    #[error("no key with id `{0}` in your vault; GET /keys lists yours")]
    NotFound(String),
    /// Another user's key: 403 `key_not_owned`, on use and on delete.
    #[error("key `{0}` belongs to another user; use one of your own (GET /keys)")]
    NotOwned(String),
    #[error("key `{0}` is not active; add a new {1} key with POST /keys")]
    Inactive(String, &'static str),
    /// Nothing in the vault for the vendor a call needs.
    #[error(
        "your vault has no active {0} key; add one with POST /keys {{\"vendor\": \"{0}\", \"label\": \"…\", \"api_key\": \"…\"}}"
    )]
    NoKey(&'static str),
    #[error("the vault key `{0}` could not be opened: {1}")]
    Open(String, crate::seal::SealError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The vault service. Cheap to clone.
#[derive(Clone)]
pub struct Vault {
    store: Store,
    sealer: Arc<Sealer>,
}

/// A vault key chosen for one call.
#[derive(Debug, Clone)]
pub struct Chosen {
    pub key_id: String,
    pub vendor: Vendor,
    pub credential: Byok,
}

impl Vault {
    pub fn new(store: Store, sealer: Arc<Sealer>) -> Vault {
        Vault { store, sealer }
    }

    pub fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    /// `POST /keys`: seals and stores `api_key` for `user_id`.
    pub async fn add(
        &self,
        user_id: &str,
        vendor: &str,
        label: &str,
        api_key: Secret<String>,
    ) -> Result<VaultKeyRecord, VaultError> {
        let vendor: Vendor = vendor.parse()?;
        let key = api_key.expose().trim();
        if key.is_empty() || key.len() > MAX_KEY_BYTES || !key.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(VaultError::BadKey);
        }
        let label = label.trim();
        if label.chars().count() > MAX_LABEL_CHARS || label.chars().any(char::is_control) {
            return Err(VaultError::BadLabel);
        }
        let id = format!("vk_{}", uuid::Uuid::now_v7().simple());
        let record = VaultKeyRecord {
            sealed_key: self.sealer.seal(&VaultKeyRecord::aad(&id), key.as_bytes()),
            hint: hint(key),
            id,
            user_id: user_id.to_owned(),
            vendor: vendor.as_str().to_owned(),
            label: label.to_owned(),
            is_active: true,
            created_at: OffsetDateTime::now_utc(),
            last_used_at: None,
        };
        self.store.insert_vault_key(&record).await?;
        tracing::info!(user = %user_id, key = %record.id, vendor = %vendor, "vault key added");
        Ok(record)
    }

    /// `GET /keys`.
    pub async fn list(&self, user_id: &str) -> Result<Vec<VaultKeyRecord>, VaultError> {
        Ok(self.store.vault_keys(user_id).await?)
    }

    /// `DELETE /keys/{id}`: only the owner may.
    pub async fn delete(&self, user_id: &str, id: &str) -> Result<(), VaultError> {
        let key = self.owned(user_id, id).await?;
        self.store.delete_vault_key(&key.id).await?;
        tracing::info!(user = %user_id, key = %id, "vault key deleted");
        Ok(())
    }

    async fn owned(&self, user_id: &str, id: &str) -> Result<VaultKeyRecord, VaultError> {
        match self.store.vault_key(id).await? {
            None => Err(VaultError::NotFound(id.to_owned())),
            Some(k) if k.user_id != user_id => Err(VaultError::NotOwned(id.to_owned())),
            Some(k) => Ok(k),
        }
    }

    /// The key `X-Key-Id` names, if the user owns it and it is active.
    pub async fn by_id(&self, user_id: &str, id: &str) -> Result<Chosen, VaultError> {
        let key = self.owned(user_id, id).await?;
        let vendor: Vendor = key.vendor.parse()?;
        if !key.is_active {
            return Err(VaultError::Inactive(key.id, vendor.as_str()));
        }
        self.open(&key, vendor)
    }

    /// The user's newest active key for `provider`.
    pub async fn for_provider(
        &self,
        user_id: &str,
        provider: ProviderKind,
    ) -> Result<Chosen, VaultError> {
        let vendor = Vendor::of_provider(provider).ok_or(VaultError::NoKey(provider.as_str()))?;
        let keys = self.store.vault_keys(user_id).await?;
        let key = keys
            .iter()
            .rev()
            .find(|k| k.is_active && k.vendor.parse::<Vendor>().ok() == Some(vendor))
            .ok_or(VaultError::NoKey(vendor.as_str()))?;
        self.open(key, vendor)
    }

    /// The providers the user has an active key for.
    pub async fn providers(&self, user_id: &str) -> Result<Vec<ProviderKind>, VaultError> {
        Ok(self
            .store
            .vault_keys(user_id)
            .await?
            .iter()
            .filter(|k| k.is_active)
            .filter_map(|k| k.vendor.parse::<Vendor>().ok())
            .map(Vendor::provider)
            .collect())
    }

    fn open(&self, key: &VaultKeyRecord, vendor: Vendor) -> Result<Chosen, VaultError> {
        let api_key = self
            .sealer
            .open_string(&VaultKeyRecord::aad(&key.id), &key.sealed_key)
            .map_err(|e| VaultError::Open(key.id.clone(), e))?;
        // Last use is bookkeeping: it must not delay or fail the call.
        let store = self.store.clone();
        let id = key.id.clone();
        tokio::spawn(async move {
            if let Err(e) = store.touch_vault_key(&id, OffsetDateTime::now_utc()).await {
                tracing::warn!(error = %e, key = %id, "could not record vault key use");
            }
        });
        Ok(Chosen {
            key_id: key.id.clone(),
            vendor,
            credential: Byok {
                provider: vendor.provider(),
                api_key,
                api_base: None,
                api_version: None,
            },
        })
    }
}

/// The masked form of a key shown in lists: its first three and last four
/// characters (`sk-…abcd`); a short key shows only its last two.
pub fn hint(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() >= 12 {
        let head: String = chars[..3].iter().collect();
        let tail: String = chars[chars.len() - 4..].iter().collect();
        format!("{head}…{tail}")
    } else {
        let tail: String = chars[chars.len().saturating_sub(2)..].iter().collect();
        format!("…{tail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_show_little() {
        assert_eq!(hint("sk-proj-0123456789abcd"), "sk-…abcd");
        assert_eq!(hint("short-key"), "…ey");
        assert_eq!(hint("ab"), "…ab");
    }
}
