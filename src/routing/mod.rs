//! Routing: which provider serves a requested model, under which upstream name.
//!
//! `catalog` holds the models and aliases (built-in plus config) and resolves the
//! ids callers send: plain catalog ids, provider-prefixed ids (`openai/gpt-4o-mini`)
//! and gateway aliases (`tollgate-chat-smart`).

mod audio_models;
pub mod byok;
pub mod catalog;

pub use catalog::{Catalog, ModelEntry, Resolved};

pub use crate::domain::provider::{Dialect, ProviderKind, UnknownProvider};
