//! Routing: which provider serves a requested model, under which upstream name,
//! on which of the gateway's deployments, and what to do when one fails.
//!
//! - `catalog`: the models and aliases (built-in plus config); resolves the ids
//!   callers send: plain catalog ids, provider-prefixed ids (`openai/gpt-4o-mini`)
//!   and gateway aliases (`tollgate-chat-smart`), and their `fallbacks`.
//! - `deployments`: each provider's deployments and the weighted choice among the
//!   healthy ones serving a model.
//! - `cooldown`: deployment health (cooldown, half-open probe) behind a store seam.
//! - `shared_cooldown`: that store shared by every instance through Redis.
//! - `retry`: which failures are retried, backoff and `Retry-After`.
//! - `byok`: the caller's own provider credentials from headers.

mod audio_models;
pub mod byok;
pub mod catalog;
pub mod cooldown;
pub mod deployments;
pub mod retry;
pub mod shared_cooldown;

pub use catalog::{Catalog, ModelEntry, Resolved};
pub use deployments::{Deployment, Deployments};

pub use crate::domain::provider::{Dialect, ProviderKind, UnknownProvider};
