//! API keys: the wire format ([`format`](mod@format)), how secrets are kept at rest
//! ([`hashing`]), and what a key may do: its [`scope`]s and the rest of its
//! [`policy`] (limits, allowlists, allowed models).
//!
//! Nothing here touches the database or the network: parsing a key and checking its
//! checksum is pure, so a mistyped or forged key is rejected before any lookup.

pub mod format;
pub mod hashing;
pub mod policy;
pub mod scope;

pub use format::{ApiKey, KeyEnv, KeyFormatError, KeyId, KeyKind};
pub use hashing::{KeyHasher, SecretHash};
pub use policy::KeyPolicy;
pub use scope::{Scope, ScopeSet};
