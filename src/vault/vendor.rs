//! The vendors whose keys a vault holds, by the names users write (`google` is the
//! Gemini API), the provider each one is, and the model a call uses when it names
//! a vendor but no model.

use std::fmt;

use crate::domain::ProviderKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Vendor {
    OpenAi,
    Anthropic,
    Google,
    DeepSeek,
    Qwen,
    Moonshot,
    MiniMax,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown vendor `{0}`; use one of openai, anthropic, google (or gemini), deepseek, qwen, moonshot, minimax"
)]
pub struct UnknownVendor(pub String);

impl Vendor {
    pub const ALL: [Vendor; 7] = [
        Vendor::OpenAi,
        Vendor::Anthropic,
        Vendor::Google,
        Vendor::DeepSeek,
        Vendor::Qwen,
        Vendor::Moonshot,
        Vendor::MiniMax,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Vendor::OpenAi => "openai",
            Vendor::Anthropic => "anthropic",
            Vendor::Google => "google",
            Vendor::DeepSeek => "deepseek",
            Vendor::Qwen => "qwen",
            Vendor::Moonshot => "moonshot",
            Vendor::MiniMax => "minimax",
        }
    }

    pub fn provider(self) -> ProviderKind {
        match self {
            Vendor::OpenAi => ProviderKind::OpenAi,
            Vendor::Anthropic => ProviderKind::Anthropic,
            Vendor::Google => ProviderKind::Gemini,
            Vendor::DeepSeek => ProviderKind::DeepSeek,
            Vendor::Qwen => ProviderKind::Qwen,
            Vendor::Moonshot => ProviderKind::Moonshot,
            Vendor::MiniMax => ProviderKind::MiniMax,
        }
    }

    /// The vendor of `provider`; Deepgram keys are not vault keys.
    pub fn of_provider(provider: ProviderKind) -> Option<Vendor> {
        Vendor::ALL.into_iter().find(|v| v.provider() == provider)
    }

    /// The model a call with `vendor` and no `model` runs on: a current, inexpensive
    /// chat model of the built-in catalog.
    pub fn default_model(self) -> &'static str {
        match self {
            Vendor::OpenAi => "gpt-4o-mini",
            Vendor::Anthropic => "claude-haiku-4-5",
            Vendor::Google => "gemini-2.5-flash",
            Vendor::DeepSeek => "deepseek-chat",
            Vendor::Qwen => "qwen-plus",
            Vendor::Moonshot => "kimi-k2-0905-preview",
            Vendor::MiniMax => "MiniMax-M2",
        }
    }
}

impl std::str::FromStr for Vendor {
    type Err = UnknownVendor;
    fn from_str(s: &str) -> Result<Self, UnknownVendor> {
        let lower = s.trim().to_ascii_lowercase();
        if lower == "gemini" {
            return Ok(Vendor::Google);
        }
        Vendor::ALL
            .into_iter()
            .find(|v| v.as_str() == lower)
            .ok_or_else(|| UnknownVendor(s.chars().take(64).collect()))
    }
}

impl fmt::Display for Vendor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_google_is_gemini() {
        for v in Vendor::ALL {
            assert_eq!(v.as_str().parse::<Vendor>(), Ok(v));
            assert_eq!(Vendor::of_provider(v.provider()), Some(v));
        }
        assert_eq!("gemini".parse::<Vendor>(), Ok(Vendor::Google));
        assert_eq!(Vendor::Google.provider(), ProviderKind::Gemini);
        assert!("deepgram".parse::<Vendor>().is_err());
    }
}
