//! Routing: which provider serves a requested model, under which upstream name.
//!
//! `catalog` holds the models and aliases (built-in plus config) and resolves the
//! ids callers send: plain catalog ids, provider-prefixed ids (`openai/gpt-4o-mini`)
//! and gateway aliases (`tollgate-chat-smart`).

pub mod byok;
pub mod catalog;

pub use catalog::{Catalog, ModelEntry, Resolved};

use std::fmt;

/// An upstream provider. OpenAI-compatible vendors get their own variant (own base
/// URL, key and prices) but share OpenAI's wire format, see [`ProviderKind::dialect`].
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    OpenAi,
    Anthropic,
    Gemini,
    Deepgram,
    DeepSeek,
    Qwen,
    Moonshot,
    MiniMax,
}

/// The wire format a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    OpenAi,
    Anthropic,
    Gemini,
    Deepgram,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 8] = [
        ProviderKind::OpenAi,
        ProviderKind::Anthropic,
        ProviderKind::Gemini,
        ProviderKind::Deepgram,
        ProviderKind::DeepSeek,
        ProviderKind::Qwen,
        ProviderKind::Moonshot,
        ProviderKind::MiniMax,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "openai",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Gemini => "gemini",
            ProviderKind::Deepgram => "deepgram",
            ProviderKind::DeepSeek => "deepseek",
            ProviderKind::Qwen => "qwen",
            ProviderKind::Moonshot => "moonshot",
            ProviderKind::MiniMax => "minimax",
        }
    }

    pub fn dialect(self) -> Dialect {
        match self {
            ProviderKind::Anthropic => Dialect::Anthropic,
            ProviderKind::Gemini => Dialect::Gemini,
            ProviderKind::Deepgram => Dialect::Deepgram,
            ProviderKind::OpenAi
            | ProviderKind::DeepSeek
            | ProviderKind::Qwen
            | ProviderKind::Moonshot
            | ProviderKind::MiniMax => Dialect::OpenAi,
        }
    }
}

impl std::str::FromStr for ProviderKind {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        ProviderKind::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or(())
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
