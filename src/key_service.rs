//! Key lifecycle operations shared by the CLI and the management API: issue, update,
//! rotate and revoke. The plaintext of a key exists only in the return value of
//! `issue` and `rotate`; the store sees its hash.

use std::time::Duration;

use time::OffsetDateTime;

use crate::keys::policy::PolicyError;
use crate::keys::{ApiKey, KeyEnv, KeyHasher, KeyKind, KeyPolicy, Scope};
use crate::store::{KeyRecord, KeyStatus, KeyUpdate, NewEvent, NewKey, Store, StoreError};

/// How long a rotated-out secret keeps working unless the caller says otherwise.
pub const DEFAULT_ROTATION_GRACE: Duration = Duration::from_secs(24 * 3600);
/// Longest grace period a rotation may ask for.
pub const MAX_ROTATION_GRACE: Duration = Duration::from_secs(30 * 24 * 3600);

/// The operator's own account: keys made without an account land in it, and its
/// management keys administer every account (the bootstrap key is one).
pub const OPERATOR_ACCOUNT: &str = "default";

/// Longest key or account name, in characters: names show up in listings,
/// logs and dashboards, and are not a place to store documents.
pub const MAX_NAME_CHARS: usize = 256;

/// Why a key or account name is refused (the CLI and the management API share it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("`name` must not be empty")]
    Empty,
    #[error("`name` is {0} characters long; the limit is 256")]
    TooLong(usize),
    #[error("`name` must not contain control characters (newlines, tabs, escapes)")]
    ControlCharacter,
}

/// Checks a key or account name: not blank, at most [`MAX_NAME_CHARS`]
/// characters, no control characters (they would forge lines in logs and CLI tables).
pub fn check_name(name: &str) -> Result<(), NameError> {
    if name.trim().is_empty() {
        return Err(NameError::Empty);
    }
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        return Err(NameError::TooLong(chars));
    }
    if name.chars().any(char::is_control) {
        return Err(NameError::ControlCharacter);
    }
    Ok(())
}

/// Whether a key administers every account rather than only its own: a
/// management key with the `admin` scope that belongs to [`OPERATOR_ACCOUNT`]
/// or holds `admin:global`.
pub fn is_global_admin(key: &KeyRecord) -> bool {
    let scopes = key.policy.scopes;
    key.kind == KeyKind::Mk
        && scopes.contains(Scope::Admin)
        && (key.account_id == OPERATOR_ACCOUNT || scopes.contains(Scope::AdminGlobal))
}

#[derive(Debug, thiserror::Error)]
pub enum KeyServiceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error("no key with id or kid `{0}`")]
    NotFound(String),
    #[error("key `{0}` is revoked; a revoked key cannot be rotated or changed")]
    Revoked(String),
    #[error("the grace period may be at most 30 days")]
    GraceTooLong,
}

/// What the issuer asks for.
#[derive(Debug, Clone)]
pub struct KeySpec {
    pub name: String,
    pub env: KeyEnv,
    pub kind: KeyKind,
    pub account_id: String,
    pub expires_at: Option<OffsetDateTime>,
    /// `None`: the default policy for the key's kind.
    pub policy: Option<KeyPolicy>,
}

/// A freshly issued (or rotated) key: the stored record and the one-time plaintext.
pub struct IssuedKey {
    pub record: KeyRecord,
    pub key: ApiKey,
}

pub async fn issue(
    store: &Store,
    hasher: &KeyHasher,
    prefix: &str,
    spec: KeySpec,
) -> Result<IssuedKey, KeyServiceError> {
    let policy = spec
        .policy
        .unwrap_or_else(|| KeyPolicy::default_for(spec.kind));
    policy.validate(spec.kind)?;
    let key = ApiKey::generate(prefix, spec.env, spec.kind);
    let record = store
        .insert_key(&NewKey {
            id: uuid::Uuid::now_v7().to_string(),
            kid: key.kid.clone(),
            account_id: spec.account_id,
            name: spec.name,
            env: spec.env,
            kind: spec.kind,
            secret_hash: hasher.hash(&key),
            policy,
            created_at: OffsetDateTime::now_utc(),
            expires_at: spec.expires_at,
        })
        .await?;
    announce(store, "key.created", &record).await;
    Ok(IssuedKey { record, key })
}

/// Stores a key whose plaintext the operator supplied (bootstrap from the environment).
pub async fn adopt(
    store: &Store,
    hasher: &KeyHasher,
    key: ApiKey,
    name: &str,
) -> Result<KeyRecord, KeyServiceError> {
    let policy = KeyPolicy::default_for(key.kind);
    Ok(store
        .insert_key(&NewKey {
            id: uuid::Uuid::now_v7().to_string(),
            kid: key.kid.clone(),
            account_id: OPERATOR_ACCOUNT.into(),
            name: name.into(),
            env: key.env,
            kind: key.kind,
            secret_hash: hasher.hash(&key),
            policy,
            created_at: OffsetDateTime::now_utc(),
            expires_at: None,
        })
        .await?)
}

async fn existing(store: &Store, id: &str) -> Result<KeyRecord, KeyServiceError> {
    let record = store
        .find_key(id)
        .await?
        .ok_or_else(|| KeyServiceError::NotFound(id.to_owned()))?;
    if record.status(OffsetDateTime::now_utc()) == KeyStatus::Revoked {
        return Err(KeyServiceError::Revoked(id.to_owned()));
    }
    Ok(record)
}

/// Changes a key's name, policy or expiry. The policy is validated against its kind.
pub async fn update(
    store: &Store,
    id: &str,
    update: KeyUpdate,
) -> Result<KeyRecord, KeyServiceError> {
    let record = existing(store, id).await?;
    if let Some(policy) = &update.policy {
        policy.validate(record.kind)?;
    }
    store
        .update_key(id, &update, OffsetDateTime::now_utc())
        .await?
        .ok_or_else(|| KeyServiceError::NotFound(id.to_owned()))
}

/// Issues a new secret for the same key id and policy; the old secret keeps working
/// for `grace` (zero: it stops at once).
pub async fn rotate(
    store: &Store,
    hasher: &KeyHasher,
    prefix: &str,
    id: &str,
    grace: Duration,
) -> Result<IssuedKey, KeyServiceError> {
    if grace > MAX_ROTATION_GRACE {
        return Err(KeyServiceError::GraceTooLong);
    }
    let record = existing(store, id).await?;
    let key = ApiKey::generate_for(prefix, record.env, record.kind, record.kid.clone());
    let now = OffsetDateTime::now_utc();
    let record = store
        .rotate_key(id, &hasher.hash(&key), now + grace, now)
        .await?
        .ok_or_else(|| KeyServiceError::NotFound(id.to_owned()))?;
    announce(store, "key.rotated", &record).await;
    Ok(IssuedKey { record, key })
}

pub async fn revoke(store: &Store, id: &str) -> Result<KeyRecord, KeyServiceError> {
    let before = store.find_key(id).await?;
    let record = store
        .revoke_key(id, OffsetDateTime::now_utc())
        .await?
        .ok_or_else(|| KeyServiceError::NotFound(id.to_owned()))?;
    // Revocation is idempotent; only the first one is news.
    if before.is_some_and(|k| k.revoked_at.is_none()) {
        announce(store, "key.revoked", &record).await;
    }
    Ok(record)
}

/// The public fields of a key that lifecycle events carry (never a secret or hash).
pub fn event_data(record: &KeyRecord) -> serde_json::Value {
    let rfc = |t: Option<OffsetDateTime>| {
        t.and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
    };
    serde_json::json!({
        "key_id": record.id,
        "kid": record.kid.as_str(),
        "name": record.name,
        "account_id": record.account_id,
        "env": record.env.as_str(),
        "kind": record.kind.as_str(),
        "expires_at": rfc(record.expires_at),
        "revoked_at": rfc(record.revoked_at),
    })
}

/// Writes a key lifecycle event to the webhook outbox, right after the change it
/// reports, whoever made it (API or CLI: both come through here). The change has
/// happened already, so a failed outbox write is logged rather than undoing it.
async fn announce(store: &Store, kind: &str, record: &KeyRecord) {
    let event = NewEvent::now(kind, &record.account_id, event_data(record));
    if let Err(e) = store.insert_event(&event).await {
        tracing::warn!(error = %e, event = kind, kid = record.kid.as_str(), "could not record key event");
    }
}

/// What [`bootstrap_admin`] did.
pub enum Bootstrap {
    /// Management keys exist already: nothing to do.
    NotNeeded,
    /// The operator's key from the environment was installed.
    Adopted,
    /// A new management key was made; show it once.
    Generated(ApiKey),
}

/// Makes sure a new install can be administered: on a database without any
/// management key, installs `from_env` (a full `mk` key) or generates one.
pub async fn bootstrap_admin(
    store: &Store,
    hasher: &KeyHasher,
    prefix: &str,
    from_env: Option<&str>,
) -> Result<Bootstrap, BootstrapError> {
    if store.count_keys(KeyKind::Mk).await? > 0 {
        return Ok(Bootstrap::NotNeeded);
    }
    if let Some(text) = from_env {
        let key = ApiKey::parse(prefix, text).map_err(BootstrapError::Format)?;
        if key.kind != KeyKind::Mk {
            return Err(BootstrapError::NotManagementKey);
        }
        adopt(store, hasher, key, "bootstrap").await?;
        return Ok(Bootstrap::Adopted);
    }
    let issued = issue(
        store,
        hasher,
        prefix,
        KeySpec {
            name: "bootstrap".into(),
            env: KeyEnv::Live,
            kind: KeyKind::Mk,
            account_id: OPERATOR_ACCOUNT.into(),
            expires_at: None,
            policy: None,
        },
    )
    .await?;
    Ok(Bootstrap::Generated(issued.key))
}

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error(transparent)]
    Service(#[from] KeyServiceError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("TOLLGATE_BOOTSTRAP_ADMIN_KEY is not a key of this gateway: {0}")]
    Format(crate::keys::KeyFormatError),
    #[error("TOLLGATE_BOOTSTRAP_ADMIN_KEY must be a management key (<prefix>_<env>_mk_…)")]
    NotManagementKey,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_bounded_and_printable() {
        assert_eq!(check_name("svc-a (prod) ünïcode ✓"), Ok(()));
        assert_eq!(check_name(&"é".repeat(256)), Ok(()));
        assert_eq!(check_name(""), Err(NameError::Empty));
        assert_eq!(check_name("   "), Err(NameError::Empty));
        assert_eq!(check_name(&"a".repeat(257)), Err(NameError::TooLong(257)));
        for bad in ["a\nb", "tab\there", "esc\u{1b}[31m", "nul\0", "del\u{7f}"] {
            assert_eq!(check_name(bad), Err(NameError::ControlCharacter), "{bad:?}");
        }
    }
}
