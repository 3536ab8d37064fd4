//! Who is calling: turns request headers into a [`Principal`], or an [`AuthError`].
//!
//! `credentials` finds the presented key in the headers; `key_cache` holds key
//! records so a hot key costs no database round trip, and keeps them fresh when
//! another process (the CLI, another instance) revokes or changes a key; `brake`
//! refuses a client network early once it has presented too many keys that failed.

mod brake;
mod credentials;
mod key_cache;

pub use brake::{Braked, ClientNet, FailureBrake, MAX_NETWORKS, Reservation};
pub use credentials::presented_key;
pub use key_cache::{Cached, CachedKey, KeyCache, NEGATIVE_CAPACITY, NEGATIVE_TTL, Refused};

use std::net::IpAddr;
use std::sync::Arc;

use time::OffsetDateTime;

use crate::keys::{ApiKey, KeyHasher, SecretHash};
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
    #[error(
        "the login token is not valid, has expired or was revoked; log in again with POST /auth/login"
    )]
    InvalidToken,
    /// Too many failed keys from this client network: refused before any lookup.
    #[error(
        "too many failed authentications from your address; retry after {}s with a valid key",
        ceil_secs(.0.retry_after)
    )]
    Braked(Braked),
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
            AuthError::Braked(_) => "rate_limit_exceeded",
            AuthError::Store(_) => "internal_error",
        }
    }
}

/// The authenticated caller: one shape for API keys and end users, so policy
/// (scopes, rate limit), metering and routing read the same fields either way.
///
/// `key` is the record policy and metering read. For an end user it is built by
/// `users` from the user and `[auth]`: kid = the user's id (the rate-limit bucket
/// and the usage rows' kid), account `user:<id>`, the end-user scopes and
/// `user_rate_limit`. `caller` says which kind it is, for the few places that
/// differ (routing picks a vault key for a user; `/keys` and `/usage` want a user).
#[derive(Debug, Clone)]
pub struct Principal {
    pub key: Arc<KeyRecord>,
    pub caller: Caller,
}

/// Who is behind a [`Principal`].
#[derive(Debug, Clone)]
pub enum Caller {
    /// An API key (management or gateway).
    Key,
    /// An end user, authenticated by a login token (JWT).
    User(Arc<EndUser>),
}

/// An end user as a verified login token names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndUser {
    pub id: String,
    pub email: String,
    /// The token's id, for logout (the denylist).
    pub jti: String,
    pub expires_at: OffsetDateTime,
}

impl Principal {
    /// The end user, when the caller presented a login token.
    pub fn user(&self) -> Option<&EndUser> {
        match &self.caller {
            Caller::User(u) => Some(u),
            Caller::Key => None,
        }
    }
}

fn ceil_secs(d: std::time::Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// Checks presented keys: format and checksum first (no I/O), then the cached record,
/// then the peppered hash in constant time, then the key's lifecycle. Anything the
/// secret has not earned (a lookup, a verdict on a cached kid) first takes a token
/// from the client network's failure brake (see `brake.rs`).
///
/// `vouched` remembers, per kid, the hash of the last secret that authenticated, for
/// a day after its last use: a key in use whose record just left the cache (TTL, a
/// change seen by the poller) is looked up again without a brake token, so a braked
/// address never locks out a valid key it is using. Only a correct secret gets in, so
/// its size is bounded by the keys that exist ([`VOUCHED_CAPACITY`] caps it anyway).
/// It only spares the token; the lookup still decides (revoked, expired, rotated).
#[derive(Clone)]
pub struct Authenticator {
    prefix: Arc<str>,
    hasher: KeyHasher,
    cache: KeyCache,
    brake: FailureBrake,
    vouched: moka::sync::Cache<crate::keys::KeyId, SecretHash>,
}

/// Kids whose last good secret is remembered (see [`Authenticator`]).
pub const VOUCHED_CAPACITY: u64 = 100_000;
const VOUCHED_IDLE: std::time::Duration = std::time::Duration::from_secs(86_400);

impl Authenticator {
    pub fn new(prefix: &str, hasher: KeyHasher, cache: KeyCache, brake: FailureBrake) -> Self {
        Authenticator {
            prefix: prefix.into(),
            hasher,
            cache,
            brake,
            vouched: moka::sync::Cache::builder()
                .max_capacity(VOUCHED_CAPACITY)
                .time_to_idle(VOUCHED_IDLE)
                .build(),
        }
    }

    pub fn cache(&self) -> &KeyCache {
        &self.cache
    }

    /// Authenticates `presented`, sent from `client`, for the gateway (`sk` keys).
    pub async fn authenticate(
        &self,
        presented: &str,
        client: IpAddr,
        now: OffsetDateTime,
    ) -> Result<Principal, AuthError> {
        let key = ApiKey::parse(&self.prefix, presented).map_err(|_| AuthError::Invalid)?;
        let presented_hash = self.hasher.hash(&key);
        let cached = match self.cache.cached(&key.kid).await {
            // The hot path: a cached key with its right secret costs no token.
            Cached::Found(c) if self.secret_matches(&c.record, &presented_hash, now) => c,
            // Everything else is an answer the secret has not earned.
            Cached::Found(_) | Cached::Absent => {
                let _counted = self.brake.reserve(client).map_err(AuthError::Braked)?;
                return Err(AuthError::Invalid);
            }
            Cached::Unknown => {
                let vouched = self
                    .vouched
                    .get(&key.kid)
                    .is_some_and(|good| good.matches(&presented_hash));
                // The brake token is taken by the store query itself, once per
                // query: a burst of first requests with one new key shares one
                // query (and one token) instead of each paying before it.
                let reservation = Arc::new(parking_lot::Mutex::new(None::<Reservation>));
                let gate = {
                    let brake = self.brake.clone();
                    let slot = Arc::clone(&reservation);
                    move || {
                        if !vouched {
                            *slot.lock() = Some(brake.reserve(client)?);
                        }
                        Ok(())
                    }
                };
                let loaded = match self.cache.load_gated(&key.kid, gate).await {
                    Ok(Some(loaded)) => loaded,
                    Ok(None) => return Err(AuthError::Invalid),
                    Err(Refused::Gate(braked)) => return Err(AuthError::Braked(braked)),
                    // Our failure, not the caller's: it does not count.
                    Err(Refused::Store(e)) => {
                        if let Some(r) = reservation.lock().take() {
                            r.refund();
                        }
                        return Err(e.into());
                    }
                };
                if !self.secret_matches(&loaded.record, &presented_hash, now) {
                    return Err(AuthError::Invalid);
                }
                if let Some(r) = reservation.lock().take() {
                    r.refund();
                }
                self.vouched.insert(key.kid.clone(), presented_hash);
                loaded
            }
        };
        let record = &cached.record;
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
            caller: Caller::Key,
        })
    }

    /// The current secret, or the previous one within its grace period. The stored
    /// env and kind are bound into the hash, so a match proves both. Both secrets are
    /// always compared, so timing does not tell which matched.
    fn secret_matches(
        &self,
        record: &KeyRecord,
        presented: &SecretHash,
        now: OffsetDateTime,
    ) -> bool {
        let current = presented.matches(&record.secret_hash);
        let previous = record
            .prev_secret_hash
            .as_ref()
            .is_some_and(|prev| prev.matches(presented));
        let previous_valid = previous && record.prev_secret_expires_at.is_some_and(|t| now < t);
        current | previous_valid
    }
}
