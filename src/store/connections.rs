//! [`ConnectionStore`]: connections (a third-party base URL and its sealed
//! credential) per account and user. The store never sees a plaintext credential:
//! `crate::connections` seals it (AAD `connection:<id>`, [`connection_aad`]) before
//! it comes here, and [`ConnectionStore::reseal_connections`] re-seals rows under
//! the current master key after a rotation without opening anything to the caller.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::seal::Sealer;
use crate::store::StoreError;

/// The associated data that binds a sealed credential to its row.
pub fn connection_aad(id: &str) -> Vec<u8> {
    format!("connection:{id}").into_bytes()
}

/// A connection as stored. `user_id` is empty for an org-wide connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionRecord {
    pub id: String,
    pub account_id: String,
    pub user_id: String,
    pub name: String,
    pub base_url: String,
    /// `bearer`, `header`, `basic` or `query`.
    pub auth_type: String,
    /// The header or query parameter name (`header`, `query`); empty otherwise.
    pub auth_name: String,
    /// The credential, sealed (`tgs1.…`); never a plaintext.
    pub sealed_auth: String,
    pub created_at: OffsetDateTime,
}

/// Connections: create, look up by id or by (account, user, name), list, delete,
/// and re-seal after a master-key rotation.
#[async_trait]
pub trait ConnectionStore: Send + Sync {
    /// Inserts a connection; [`StoreError::Conflict`] when the (account, user,
    /// name) triple exists, [`StoreError::NotFound`] when the account does not.
    async fn insert_connection(&self, c: &ConnectionRecord) -> Result<(), StoreError>;

    /// One connection of `account_id` by id.
    async fn connection(
        &self,
        account_id: &str,
        id: &str,
    ) -> Result<Option<ConnectionRecord>, StoreError>;

    /// The connection named `name` owned by exactly (`account_id`, `user_id`);
    /// `user_id` empty for the org-wide one.
    async fn connection_by_name(
        &self,
        account_id: &str,
        user_id: &str,
        name: &str,
    ) -> Result<Option<ConnectionRecord>, StoreError>;

    /// The account's org-wide connections, plus `user_id`'s when given, by name.
    async fn list_connections(
        &self,
        account_id: &str,
        user_id: Option<&str>,
    ) -> Result<Vec<ConnectionRecord>, StoreError>;

    /// Deletes the connection owned by exactly (`account_id`, `user_id`);
    /// `false` when there is none.
    async fn delete_connection(
        &self,
        account_id: &str,
        user_id: &str,
        id: &str,
    ) -> Result<bool, StoreError>;

    /// Re-seals every credential sealed under a previous master key
    /// ([`Sealer::needs_reseal`]) with the current one; returns how many rows
    /// changed. A row that does not open is a [`StoreError::Corrupt`].
    async fn reseal_connections(&self, sealer: &Sealer) -> Result<usize, StoreError>;
}
