//! Login tokens: JWT HS256 (`jsonwebtoken` on aws-lc-rs) signed with the
//! `[auth] jwt_secret` (or its generated file), valid `[auth] jwt_ttl`.
//!
//! Claims: `sub` (user id), `jti` (token id: logout denies it), `iat`, `exp`, and
//! `iss = "tollgate"`. Verification pins the algorithm (no `alg: none`, no RS/HS
//! confusion), the issuer, and allows no clock leeway: a token is refused the
//! second it expires. A token proves who the user *was*; whether they still may
//! call is the user-state cache's answer (`users::Users::authenticate`).

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::secret::Secret;

const ISSUER: &str = "tollgate";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
}

/// Signs and verifies login tokens.
#[derive(Clone)]
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the token could not be signed: {0}")]
    Sign(String),
}

impl Tokens {
    pub fn new(secret: &Secret<Vec<u8>>, ttl: Duration) -> Tokens {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        Tokens {
            encoding: EncodingKey::from_secret(secret.expose()),
            decoding: DecodingKey::from_secret(secret.expose()),
            validation,
            ttl,
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A new token for `user_id`, issued at `now`: the token and its claims.
    pub fn issue(
        &self,
        user_id: &str,
        now: OffsetDateTime,
    ) -> Result<(String, Claims), TokenError> {
        let iat = now.unix_timestamp();
        let claims = Claims {
            sub: user_id.to_owned(),
            jti: uuid::Uuid::new_v4().simple().to_string(),
            iat,
            exp: iat.saturating_add(i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX)),
            iss: ISSUER.to_owned(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| TokenError::Sign(e.to_string()))?;
        Ok((token, claims))
    }

    /// The claims of a token we signed that has not expired; `None` otherwise
    /// (forged, altered, expired, another algorithm, another issuer).
    pub fn verify(&self, token: &str) -> Option<Claims> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok()?;
        (!data.claims.jti.is_empty()).then_some(data.claims)
    }
}

/// Whether a presented bearer credential has a JWT's shape (three base64url
/// segments, a JSON header): such a value is never one of our API keys, whose
/// fields are joined by `_`.
pub fn looks_like_jwt(presented: &str) -> bool {
    let mut parts = presented.split('.');
    let shaped = |p: Option<&str>| {
        p.is_some_and(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
    };
    presented.starts_with("eyJ")
        && shaped(parts.next())
        && shaped(parts.next())
        && shaped(parts.next())
        && parts.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(secret: &str, ttl: u64) -> Tokens {
        Tokens::new(
            &Secret::new(secret.as_bytes().to_vec()),
            Duration::from_secs(ttl),
        )
    }

    #[test]
    fn issued_tokens_verify_and_expire() {
        let t = tokens("0123456789abcdef0123456789abcdef", 60);
        let now = OffsetDateTime::now_utc();
        let (token, claims) = t.issue("u1", now).unwrap();
        assert!(looks_like_jwt(&token));
        assert_eq!(t.verify(&token), Some(claims.clone()));
        assert_eq!(claims.exp - claims.iat, 60);
        // Issued long ago: expired, refused.
        let (old, _) = t.issue("u1", now - time::Duration::hours(1)).unwrap();
        assert_eq!(t.verify(&old), None);
    }

    #[test]
    fn another_secret_or_a_changed_token_is_refused() {
        let a = tokens("0123456789abcdef0123456789abcdef", 60);
        let b = tokens("fedcba9876543210fedcba9876543210", 60);
        let (token, _) = a.issue("u1", OffsetDateTime::now_utc()).unwrap();
        assert_eq!(b.verify(&token), None);
        let mut altered = token.clone();
        altered.pop();
        altered.push(if token.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(a.verify(&altered), None);
        // `alg: none` with the same claims.
        let payload = token.split('.').nth(1).unwrap();
        let none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");
        assert_eq!(a.verify(&none), None);
    }

    #[test]
    fn api_keys_do_not_look_like_jwts() {
        assert!(!looks_like_jwt("tg_live_sk_abcdefABCDEF_0123456789"));
        assert!(!looks_like_jwt("eyJ.a"));
        assert!(!looks_like_jwt("eyJa.b.c.d"));
    }
}
