//! Key lifecycle operations shared by the CLI and (later) the management API:
//! issue a key (the plaintext is returned once and never stored) and revoke one.

use time::OffsetDateTime;

use crate::keys::{ApiKey, KeyEnv, KeyHasher, KeyKind};
use crate::store::{KeyRecord, NewKey, Store, StoreError};

/// What the issuer asks for.
#[derive(Debug, Clone)]
pub struct KeySpec {
    pub name: String,
    pub env: KeyEnv,
    pub kind: KeyKind,
    pub account_id: String,
    pub expires_at: Option<OffsetDateTime>,
}

/// A freshly issued key: the stored record and the one-time plaintext.
pub struct IssuedKey {
    pub record: KeyRecord,
    pub key: ApiKey,
}

pub async fn issue(
    store: &Store,
    hasher: &KeyHasher,
    prefix: &str,
    spec: KeySpec,
) -> Result<IssuedKey, StoreError> {
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
            created_at: OffsetDateTime::now_utc(),
            expires_at: spec.expires_at,
        })
        .await?;
    Ok(IssuedKey { record, key })
}
