//! The key format: `<prefix>_<env>_<kind>_<kid>_<secret>`.
//!
//! - `env` is `live`, `stg` or `dev`; `kind` is `sk` (API key) or `mk` (management key).
//! - `kid` is a public id of [`KID_LEN`] base62 characters: safe to log, used as the lookup key.
//! - `secret` is [`SECRET_RANDOM_LEN`] random base62 characters (≈131 bits) followed by
//!   [`CHECKSUM_LEN`] base62 characters of a CRC32 over everything before it. The checksum
//!   lets us reject typos and forgeries without a database round trip, and gives secret
//!   scanners a pattern with few false positives (see README, "Secret scanning").
//!
//! The prefix is per deployment (`[keys] prefix`), lowercase alphanumeric, so `_` can
//! separate fields unambiguously (base62 never contains `_`).

use std::fmt;
use std::sync::Arc;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::secret::Secret;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Length of the public key id.
pub const KID_LEN: usize = 12;
/// Random characters in the secret: 62^22 ≈ 2^131.
pub const SECRET_RANDOM_LEN: usize = 22;
/// Base62 characters holding the CRC32 (62^6 > 2^32).
pub const CHECKSUM_LEN: usize = 6;

/// Deployment environment a key belongs to; part of the key string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyEnv {
    Live,
    Stg,
    Dev,
}

impl KeyEnv {
    pub const ALL: [KeyEnv; 3] = [KeyEnv::Live, KeyEnv::Stg, KeyEnv::Dev];

    pub fn as_str(self) -> &'static str {
        match self {
            KeyEnv::Live => "live",
            KeyEnv::Stg => "stg",
            KeyEnv::Dev => "dev",
        }
    }
}

impl std::str::FromStr for KeyEnv {
    type Err = KeyFormatError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "live" => Ok(KeyEnv::Live),
            "stg" => Ok(KeyEnv::Stg),
            "dev" => Ok(KeyEnv::Dev),
            _ => Err(KeyFormatError::Env),
        }
    }
}

impl fmt::Display for KeyEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a key may be used for: the gateway (`sk`) or the management API (`mk`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyKind {
    Sk,
    Mk,
}

impl KeyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Sk => "sk",
            KeyKind::Mk => "mk",
        }
    }
}

impl std::str::FromStr for KeyKind {
    type Err = KeyFormatError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sk" => Ok(KeyKind::Sk),
            "mk" => Ok(KeyKind::Mk),
            _ => Err(KeyFormatError::Kind),
        }
    }
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Public key id: safe to log and to show in listings.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct KeyId(Arc<str>);

impl KeyId {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Accepts only the shape a generated kid has, so a lookup never sees junk.
    pub fn parse(s: &str) -> Result<Self, KeyFormatError> {
        if s.len() == KID_LEN && s.bytes().all(is_base62) {
            Ok(KeyId(Arc::from(s)))
        } else {
            Err(KeyFormatError::Kid)
        }
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a presented string is not a well-formed key. Deliberately coarse on the wire
/// (every variant is `invalid_api_key`); the detail helps the CLI and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyFormatError {
    #[error("the key does not have the form <prefix>_<env>_<kind>_<kid>_<secret>")]
    Shape,
    #[error("the key prefix is not this gateway's")]
    Prefix,
    #[error("the key environment must be live, stg or dev")]
    Env,
    #[error("the key kind must be sk or mk")]
    Kind,
    #[error("the key id is malformed")]
    Kid,
    #[error("the key secret is malformed")]
    Secret,
    #[error("the key checksum does not match (mistyped or forged key)")]
    Checksum,
}

/// A parsed, checksum-verified key as presented by a caller (or just generated).
/// The full string is kept in a [`Secret`] so it cannot be logged by accident.
#[derive(Clone)]
pub struct ApiKey {
    pub env: KeyEnv,
    pub kind: KeyKind,
    pub kid: KeyId,
    full: Secret<String>,
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("env", &self.env)
            .field("kind", &self.kind)
            .field("kid", &self.kid)
            .field("secret", &"[redacted]")
            .finish()
    }
}

impl ApiKey {
    /// Makes a new key with a fresh random kid and secret.
    pub fn generate(prefix: &str, env: KeyEnv, kind: KeyKind) -> Self {
        let kid = KeyId(Arc::from(random_base62(KID_LEN)));
        Self::generate_for(prefix, env, kind, kid)
    }

    /// Makes a new secret for an existing kid (rotation keeps the id and its policy).
    pub fn generate_for(prefix: &str, env: KeyEnv, kind: KeyKind, kid: KeyId) -> Self {
        let mut full = format!(
            "{prefix}_{env}_{kind}_{kid}_{}",
            random_base62(SECRET_RANDOM_LEN)
        );
        let crc = crc32fast::hash(full.as_bytes());
        push_base62_fixed(&mut full, crc, CHECKSUM_LEN);
        ApiKey {
            env,
            kind,
            kid,
            full: Secret::new(full),
        }
    }

    /// Parses and checks a presented key. Costs one CRC32; never touches storage.
    pub fn parse(prefix: &str, s: &str) -> Result<Self, KeyFormatError> {
        let mut parts = s.splitn(5, '_');
        let (Some(p), Some(env), Some(kind), Some(kid), Some(secret)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(KeyFormatError::Shape);
        };
        if p != prefix {
            return Err(KeyFormatError::Prefix);
        }
        let env: KeyEnv = env.parse()?;
        let kind: KeyKind = kind.parse()?;
        let kid = KeyId::parse(kid)?;
        if secret.len() != SECRET_RANDOM_LEN + CHECKSUM_LEN || !secret.bytes().all(is_base62) {
            return Err(KeyFormatError::Secret);
        }
        let (body, checksum) = s.split_at(s.len() - CHECKSUM_LEN);
        let mut expected = String::with_capacity(CHECKSUM_LEN);
        push_base62_fixed(
            &mut expected,
            crc32fast::hash(body.as_bytes()),
            CHECKSUM_LEN,
        );
        if expected != checksum {
            return Err(KeyFormatError::Checksum);
        }
        Ok(ApiKey {
            env,
            kind,
            kid,
            full: Secret::new(s.to_owned()),
        })
    }

    /// The plaintext key. Only for hashing and for the one-time display at creation.
    pub fn expose(&self) -> &str {
        self.full.expose()
    }
}

/// A regular expression matching this deployment's keys, for secret scanners.
pub fn scanner_pattern(prefix: &str) -> String {
    format!(
        "{prefix}_(live|stg|dev)_(sk|mk)_[0-9A-Za-z]{{{KID_LEN}}}_[0-9A-Za-z]{{{}}}",
        SECRET_RANDOM_LEN + CHECKSUM_LEN
    )
}

fn is_base62(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

fn random_base62(len: usize) -> String {
    // `random_range` is uniform (rejection sampling), so every character carries
    // log2(62) bits; the thread RNG is a CSPRNG reseeded from the OS.
    let mut rng = rand::rng();
    (0..len)
        .map(|_| BASE62[rng.random_range(0..BASE62.len())] as char)
        .collect()
}

fn push_base62_fixed(out: &mut String, mut n: u32, width: usize) {
    let mut buf = [b'0'; 8];
    for slot in buf[..width].iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    out.extend(buf[..width].iter().map(|&b| b as char));
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn generated_key_has_documented_shape_and_parses_back() {
        let key = ApiKey::generate("tg", KeyEnv::Live, KeyKind::Sk);
        let s = key.expose();
        assert!(s.starts_with("tg_live_sk_"), "{s}");
        let re_len = "tg_live_sk_".len() + KID_LEN + 1 + SECRET_RANDOM_LEN + CHECKSUM_LEN;
        assert_eq!(s.len(), re_len);
        let parsed = ApiKey::parse("tg", s).expect("own key parses");
        assert_eq!(parsed.kid, key.kid);
        assert_eq!(parsed.env, KeyEnv::Live);
        assert_eq!(parsed.kind, KeyKind::Sk);
    }

    #[test]
    fn one_changed_character_fails_the_checksum() {
        let key = ApiKey::generate("tg", KeyEnv::Dev, KeyKind::Mk);
        let s = key.expose();
        let mut bytes = s.as_bytes().to_vec();
        let i = s.len() - CHECKSUM_LEN - 3;
        bytes[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert_eq!(
            ApiKey::parse("tg", &tampered).unwrap_err(),
            KeyFormatError::Checksum
        );
    }

    #[test]
    fn wrong_prefix_env_kind_and_shape_are_told_apart() {
        let key = ApiKey::generate("tg", KeyEnv::Stg, KeyKind::Sk);
        let s = key.expose();
        assert_eq!(
            ApiKey::parse("acme", s).unwrap_err(),
            KeyFormatError::Prefix
        );
        assert_eq!(
            ApiKey::parse("tg", &s.replacen("_stg_", "_prod_", 1)).unwrap_err(),
            KeyFormatError::Env
        );
        assert_eq!(
            ApiKey::parse("tg", &s.replacen("_sk_", "_pk_", 1)).unwrap_err(),
            KeyFormatError::Kind
        );
        assert_eq!(
            ApiKey::parse("tg", "sk-proj-abc").unwrap_err(),
            KeyFormatError::Shape
        );
        assert_eq!(
            ApiKey::parse("tg", &format!("{s}x")).unwrap_err(),
            KeyFormatError::Secret
        );
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let key = ApiKey::generate("tg", KeyEnv::Live, KeyKind::Sk);
        let dbg = format!("{key:?}");
        assert!(!dbg.contains(key.expose()));
        assert!(dbg.contains(key.kid.as_str()));
    }

    #[test]
    fn scanner_pattern_describes_generated_keys() {
        let pat = scanner_pattern("tg");
        assert!(pat.starts_with("tg_(live|stg|dev)_(sk|mk)_"));
        assert!(pat.ends_with(&format!("{{{}}}", SECRET_RANDOM_LEN + CHECKSUM_LEN)));
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in ".{0,80}") {
            let _ = ApiKey::parse("tg", &s);
        }

        #[test]
        fn generate_then_parse_round_trips(prefix in "[a-z][a-z0-9]{0,7}", env in 0usize..3, mk in any::<bool>()) {
            let kind = if mk { KeyKind::Mk } else { KeyKind::Sk };
            let key = ApiKey::generate(&prefix, KeyEnv::ALL[env], kind);
            let parsed = ApiKey::parse(&prefix, key.expose()).unwrap();
            prop_assert_eq!(&parsed.kid, &key.kid);
            prop_assert_eq!(parsed.env, KeyEnv::ALL[env]);
            prop_assert_eq!(parsed.kind, kind);
            prop_assert_eq!(parsed.expose(), key.expose());
        }
    }
}
