//! How key secrets are kept at rest: HMAC-SHA-256 under a server-side pepper.
//!
//! Secrets carry ≥128 bits of randomness, so a fast keyed hash is enough (a slow
//! password hash would only slow the hot path); the pepper means a copy of the
//! database alone cannot even confirm a guessed key. Comparison is constant time.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::ApiKey;
use crate::secret::Secret;

/// The stored digest of a key (32 bytes).
#[derive(Clone, PartialEq, Eq)]
pub struct SecretHash(pub [u8; 32]);

impl std::fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretHash(..)")
    }
}

impl SecretHash {
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(SecretHash)
    }

    /// Constant-time equality: timing reveals nothing about how many bytes matched.
    pub fn matches(&self, other: &SecretHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

/// Hashes keys under the deployment's pepper. Cheap to clone.
#[derive(Clone)]
pub struct KeyHasher {
    mac: Hmac<Sha256>,
}

impl KeyHasher {
    // HMAC pads or hashes any key to its block size (RFC 2104 §2), so
    // `new_from_slice` never returns `InvalidLength` for `Hmac<Sha256>`.
    #[allow(
        clippy::expect_used,
        reason = "HMAC-SHA256 accepts keys of every length"
    )]
    pub fn new(pepper: &Secret<Vec<u8>>) -> Self {
        let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(pepper.expose())
            .expect("HMAC accepts keys of any length");
        KeyHasher { mac }
    }

    /// Digest of the whole key string, so the kid and env are bound to the secret.
    pub fn hash(&self, key: &ApiKey) -> SecretHash {
        let mut mac = self.mac.clone();
        mac.update(key.expose().as_bytes());
        SecretHash(mac.finalize().into_bytes().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{KeyEnv, KeyKind};

    #[test]
    fn hash_depends_on_pepper_and_key() {
        let a = KeyHasher::new(&Secret::new(b"pepper-a".to_vec()));
        let b = KeyHasher::new(&Secret::new(b"pepper-b".to_vec()));
        let k1 = ApiKey::generate("tg", KeyEnv::Live, KeyKind::Sk);
        let k2 = ApiKey::generate("tg", KeyEnv::Live, KeyKind::Sk);
        assert!(a.hash(&k1).matches(&a.hash(&k1)));
        assert!(!a.hash(&k1).matches(&b.hash(&k1)));
        assert!(!a.hash(&k1).matches(&a.hash(&k2)));
    }
}
