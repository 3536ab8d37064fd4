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

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;

    use super::{UserRecord, VaultKeyRecord};
    use crate::seal::{MasterKeySource, Sealer};
    use crate::secret::Secret;
    use crate::store::StoreError;
    use crate::store::testing::fresh_stores;

    const K1: &str = "1111111111111111111111111111111111111111111111111111111111111111";
    const K2: &str = "2222222222222222222222222222222222222222222222222222222222222222";

    fn sealer(current: &str, previous: &[&str]) -> Sealer {
        Sealer::load(&MasterKeySource::Configured {
            current: Secret::new(current.to_owned()),
            previous: previous
                .iter()
                .map(|k| Secret::new((*k).to_owned()))
                .collect(),
        })
        .unwrap()
    }

    fn at(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(secs).unwrap()
    }

    fn user(id: &str, email: &str, secs: i64) -> UserRecord {
        UserRecord {
            id: id.into(),
            email: email.into(),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            created_at: at(secs),
            updated_at: at(secs),
            disabled_at: None,
            deleted_at: None,
        }
    }

    fn vault_key(id: &str, user_id: &str, secs: i64, sealer: &Sealer) -> VaultKeyRecord {
        VaultKeyRecord {
            id: id.into(),
            user_id: user_id.into(),
            vendor: "openai".into(),
            label: "main".into(),
            sealed_key: sealer.seal(&VaultKeyRecord::aad(id), b"sk-test-1234"),
            hint: "sk-…1234".into(),
            is_active: true,
            created_at: at(secs),
            last_used_at: None,
        }
    }

    #[tokio::test]
    async fn emails_are_unique_until_a_deletion_releases_them_with_the_vault() {
        for fresh in fresh_stores().await {
            let s = &fresh.store;
            let b = fresh.backend;
            let k = sealer(K1, &[]);
            s.create_user(&user("u1", "a@example.com", 100))
                .await
                .unwrap();
            let dup = s.create_user(&user("u2", "a@example.com", 101)).await;
            assert!(matches!(dup, Err(StoreError::Conflict(_))), "{b}: {dup:?}");
            s.insert_vault_key(&vault_key("v1", "u1", 100, &k))
                .await
                .unwrap();
            s.insert_vault_key(&vault_key("v2", "u1", 101, &k))
                .await
                .unwrap();
            let orphan = s
                .insert_vault_key(&vault_key("v3", "nobody", 102, &k))
                .await;
            assert!(
                matches!(orphan, Err(StoreError::NotFound(_))),
                "{b}: {orphan:?}"
            );
            let ids = |v: Vec<VaultKeyRecord>| v.into_iter().map(|k| k.id).collect::<Vec<_>>();
            assert_eq!(ids(s.vault_keys("u1").await.unwrap()), ["v1", "v2"], "{b}");

            s.touch_vault_key("v1", at(200)).await.unwrap();
            let v1 = s.vault_key("v1").await.unwrap().unwrap();
            assert_eq!(v1.last_used_at, Some(at(200)), "{b}");
            assert!(v1.is_active, "{b}");

            assert!(s.set_user_disabled("u1", true, at(300)).await.unwrap());
            let u1 = s.user_by_email("a@example.com").await.unwrap().unwrap();
            assert_eq!(u1.disabled_at, Some(at(300)), "{b}");
            assert_eq!(s.users_changed_since(300_000).await.unwrap(), ["u1"], "{b}");

            assert!(s.delete_user("u1", at(400)).await.unwrap());
            assert!(!s.delete_user("u1", at(401)).await.unwrap(), "{b}");
            assert!(s.vault_keys("u1").await.unwrap().is_empty(), "{b}");
            assert!(s.user_by_email("a@example.com").await.unwrap().is_none());
            let tomb = s.user("u1").await.unwrap().unwrap();
            assert_eq!(tomb.deleted_at, Some(at(400)), "{b}");
            assert!(tomb.password_hash.is_empty(), "{b}");
            assert!(!s.set_user_disabled("u1", false, at(402)).await.unwrap());
            assert!(s.list_users().await.unwrap().is_empty(), "{b}");
            // The email is free again.
            s.create_user(&user("u2", "a@example.com", 500))
                .await
                .unwrap();
            let live: Vec<String> = s
                .list_users()
                .await
                .unwrap()
                .into_iter()
                .map(|u| u.id)
                .collect();
            assert_eq!(live, ["u2"], "{b}");
        }
    }

    #[tokio::test]
    async fn revoked_tokens_are_listed_until_they_expire() {
        for fresh in fresh_stores().await {
            let s = &fresh.store;
            let b = fresh.backend;
            s.revoke_token("j1", at(1_000), at(100)).await.unwrap();
            s.revoke_token("j1", at(1_000), at(150)).await.unwrap();
            s.revoke_token("j2", at(200), at(110)).await.unwrap();
            let mut got = s.revoked_tokens_since(0, at(120)).await.unwrap();
            got.sort();
            assert_eq!(
                got,
                [("j1".to_owned(), 1_000_000), ("j2".to_owned(), 200_000)],
                "{b}"
            );
            // j2 has expired by 300: not listed, and forgotten on the next revoke.
            let got = s.revoked_tokens_since(0, at(300)).await.unwrap();
            assert_eq!(got, [("j1".to_owned(), 1_000_000)], "{b}");
            s.revoke_token("j3", at(2_000), at(300)).await.unwrap();
            let got = s.revoked_tokens_since(0, at(0)).await.unwrap();
            assert!(!got.iter().any(|(j, _)| j == "j2"), "{b}: {got:?}");
        }
    }

    #[tokio::test]
    async fn vault_reseal_moves_keys_to_the_current_master_key() {
        for fresh in fresh_stores().await {
            let s = &fresh.store;
            let b = fresh.backend;
            let old = sealer(K1, &[]);
            s.create_user(&user("u1", "a@example.com", 100))
                .await
                .unwrap();
            s.insert_vault_key(&vault_key("v1", "u1", 100, &old))
                .await
                .unwrap();
            s.insert_vault_key(&vault_key("v2", "u1", 101, &old))
                .await
                .unwrap();
            let rotated = sealer(K2, &[K1]);
            assert_eq!(s.reseal_all(&rotated).await.unwrap(), 2, "{b}");
            assert_eq!(s.reseal_all(&rotated).await.unwrap(), 0, "{b}");
            let only_new = sealer(K2, &[]);
            for id in ["v1", "v2"] {
                let row = s.vault_key(id).await.unwrap().unwrap();
                let opened = only_new
                    .open(&VaultKeyRecord::aad(id), &row.sealed_key)
                    .unwrap();
                assert_eq!(opened.expose().as_slice(), b"sk-test-1234", "{b}");
            }
            // A row that does not open (its master key is unknown) stops the run.
            let err = s.reseal_all(&sealer(K1, &[])).await;
            assert!(
                matches!(err, Err(StoreError::Corrupt { .. })),
                "{b}: {err:?}"
            );
        }
    }
}
