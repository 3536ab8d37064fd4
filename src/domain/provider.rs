//! The upstream providers the gateway knows, and the wire format each speaks.
//! OpenAI-compatible vendors get their own variant (own base URL, key and prices)
//! but share OpenAI's dialect.

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

/// A provider name that is not one of [`ProviderKind::ALL`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownProvider(pub String);

impl fmt::Display for UnknownProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown provider `{}`; use one of ", self.0)?;
        for (i, p) in ProviderKind::ALL.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(p.as_str())?;
        }
        Ok(())
    }
}

impl std::error::Error for UnknownProvider {}

impl std::str::FromStr for ProviderKind {
    type Err = UnknownProvider;
    fn from_str(s: &str) -> Result<Self, UnknownProvider> {
        ProviderKind::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownProvider(s.to_owned()))
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_provider_names_every_provider() {
        let e = "openia".parse::<ProviderKind>().unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("`openia`"), "{msg}");
        for p in ProviderKind::ALL {
            assert!(msg.contains(p.as_str()), "{msg} lacks {p}");
            assert_eq!(p.as_str().parse::<ProviderKind>(), Ok(p));
        }
    }
}
