//! Who is calling: turns request headers into a [`Principal`], or an [`AuthError`].
//!
//! `credentials` finds the presented key in the headers; `key_cache` holds key
//! records so a hot key costs no database round trip, and keeps them fresh when
//! another process (the CLI, another instance) revokes or changes a key.

mod credentials;
mod key_cache;

pub use credentials::presented_key;
pub use key_cache::{CachedKey, KeyCache};

use std::sync::Arc;

use time::OffsetDateTime;

use crate::keys::{ApiKey, KeyHasher};
use crate::store::{KeyRecord, KeyStatus, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(
        "no API key: send it as `Authorization: Bearer <key>`, `x-api-key` or `x-goog-api-key`"
    )]
    Missing,
    #[error("the API key is not valid; check that it was copied whole")]
    Invalid,
    #[error("the API key has expired; create or rotate a key")]
    Expired,
    #[error("the API key has been revoked; use a current key")]
    Revoked,
    #[error("the account that owns this API key is disabled")]
    AccountDisabled,
    #[error("the bearer token is not valid")]
    InvalidToken,
    /// The key store could not be read: our failure, not the caller's.
    #[error("key lookup failed: {0}")]
    Store(#[from] StoreError),
}

impl AuthError {
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Missing => "missing_api_key",
            AuthError::Invalid => "invalid_api_key",
            AuthError::Expired => "expired_api_key",
            AuthError::Revoked => "revoked_api_key",
            AuthError::AccountDisabled => "account_disabled",
            AuthError::InvalidToken => "invalid_token",
            AuthError::Store(_) => "internal_error",
        }
    }
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub key: Arc<KeyRecord>,
}

/// Checks presented keys: format and checksum first (no I/O), then the cached record,
/// then the peppered hash in constant time, then the key's lifecycle.
#[derive(Clone)]
pub struct Authenticator {
    prefix: Arc<str>,
    hasher: KeyHasher,
    cache: KeyCache,
}

impl Authenticator {
    pub fn new(prefix: &str, hasher: KeyHasher, cache: KeyCache) -> Self {
        Authenticator {
            prefix: prefix.into(),
            hasher,
            cache,
        }
    }

    pub fn cache(&self) -> &KeyCache {
        &self.cache
    }

    /// Authenticates `presented` for the gateway (`sk` keys).
    pub async fn authenticate(
        &self,
        presented: &str,
        now: OffsetDateTime,
    ) -> Result<Principal, AuthError> {
        let key = ApiKey::parse(&self.prefix, presented).map_err(|_| AuthError::Invalid)?;
        let cached = self.cache.get(&key.kid).await?.ok_or(AuthError::Invalid)?;
        let record = &cached.record;
        // The stored env and kind are bound into the hash, so a match proves both.
        // Both secrets are always compared, so timing does not tell which matched.
        let presented_hash = self.hasher.hash(&key);
        let current = presented_hash.matches(&record.secret_hash);
        let previous = record
            .prev_secret_hash
            .as_ref()
            .is_some_and(|prev| prev.matches(&presented_hash));
        let previous_valid = previous && record.prev_secret_expires_at.is_some_and(|t| now < t);
        if !(current | previous_valid) {
            return Err(AuthError::Invalid);
        }
        match record.status(now) {
            KeyStatus::Revoked => return Err(AuthError::Revoked),
            KeyStatus::Expired => return Err(AuthError::Expired),
            KeyStatus::Active => {}
        }
        if record.account_disabled {
            return Err(AuthError::AccountDisabled);
        }
        self.cache.mark_used(&cached, now);
        Ok(Principal {
            key: record.clone(),
        })
    }
}
