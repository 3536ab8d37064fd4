//! Passwords: argon2id (the crate's defaults: 19 MiB, 2 passes, 1 lane; ≈ 30 ms
//! optimised), always on a blocking thread inside the caller's span, so no request
//! waits behind a hash on the runtime's workers.
//!
//! Unknown emails are verified against [`dummy_hash`], a real hash of a random
//! password, so a login with an unknown email costs the same as a wrong password.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use crate::secret::Secret;

/// Shortest password accepted at registration, in characters.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password accepted, in bytes: bounds the work one request can ask for.
pub const MAX_PASSWORD_BYTES: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("the password hashing task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// The argon2id PHC string of `password`, with a random salt.
pub async fn hash(password: Secret<String>) -> Result<String, PasswordError> {
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        span.in_scope(|| {
            Argon2::default()
                .hash_password(password.expose().as_bytes())
                .map(|h| h.to_string())
                .map_err(|e| PasswordError::Hash(e.to_string()))
        })
    })
    .await?
}

/// Whether `password` matches the PHC string `hash`. A malformed hash never
/// matches (and costs no less than a real check would, see [`dummy_hash`]).
pub async fn verify(password: Secret<String>, hash: String) -> Result<bool, PasswordError> {
    let span = tracing::Span::current();
    Ok(tokio::task::spawn_blocking(move || {
        span.in_scope(|| {
            Argon2::default()
                .verify_password(password.expose().as_bytes(), hash.as_str())
                .is_ok()
        })
    })
    .await?)
}

/// A hash of a random password nobody knows: what an unknown email is checked
/// against, computed once.
pub async fn dummy_hash() -> Result<String, PasswordError> {
    let random: [u8; 24] = rand::random();
    let text: String = random.iter().map(|b| format!("{b:02x}")).collect();
    hash(Secret::new(text)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let h = hash(Secret::new("correct horse battery".into()))
            .await
            .unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(
            verify(Secret::new("correct horse battery".into()), h.clone())
                .await
                .unwrap()
        );
        assert!(
            !verify(Secret::new("correct horse battery!".into()), h)
                .await
                .unwrap()
        );
        assert!(
            !verify(Secret::new("x".into()), "not a hash".into())
                .await
                .unwrap()
        );
    }
}
