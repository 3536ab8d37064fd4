//! Bring your own key: a request may run on the caller's own provider account.
//!
//! Headers: `x-byok-provider` (openai|anthropic|gemini|deepgram), `x-byok-api-key`,
//! optional `x-byok-api-base` and `x-byok-api-version`. Which endpoints accept which
//! providers is one table, [`SUPPORT`]. A BYOK request still needs a valid gateway key
//! and passes every policy check; only the upstream credentials change.
//!
//! `x-byok-api-base` is an SSRF vector. Where it may lead is the outbound address
//! policy's call ([`crate::outbound`]): `https` only unless `[byok] allow_http_base`,
//! and no address in the IANA special-purpose registries unless
//! `[byok] allow_private_base`. This module only maps those two keys onto an
//! [`AddressPolicy`](crate::outbound::AddressPolicy), adds the BYOK-specific rules (no query or fragment in a base)
//! and turns refusals into a 400 naming the header.

use axum::http::{HeaderMap, HeaderName};

use super::ProviderKind;
pub use crate::config::ByokPolicy;
use crate::outbound::OutboundError;
use crate::secret::Secret;

/// Endpoint families, for the support matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Chat,
    Messages,
    Responses,
    Embeddings,
    Completions,
    Images,
    Audio,
    Email,
    /// Gemini native `:generateContent`, `:streamGenerateContent`, `:countTokens`.
    GeminiGenerate,
    /// Gemini native `:embedContent`, `:batchEmbedContents`.
    GeminiEmbed,
    /// Anthropic `/v1/messages/count_tokens`.
    CountTokens,
}

impl Endpoint {
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Chat => "/v1/chat/completions",
            Endpoint::Messages => "/v1/messages",
            Endpoint::Responses => "/v1/responses",
            Endpoint::Embeddings => "/v1/embeddings",
            Endpoint::Completions => "/v1/completions",
            Endpoint::Images => "/v1/images/generations",
            Endpoint::Audio => "/v1/audio",
            Endpoint::Email => "/v1/email/send",
            Endpoint::GeminiGenerate => "/v1beta/models/{model}:generateContent",
            Endpoint::GeminiEmbed => "/v1beta/models/{model}:embedContent",
            Endpoint::CountTokens => "/v1/messages/count_tokens",
        }
    }
}

/// The BYOK support matrix: the providers whose keys each endpoint accepts.
pub const SUPPORT: &[(Endpoint, &[ProviderKind])] = &[
    (
        Endpoint::Chat,
        &[
            ProviderKind::OpenAi,
            ProviderKind::Anthropic,
            ProviderKind::Gemini,
        ],
    ),
    (
        Endpoint::Messages,
        &[
            ProviderKind::OpenAi,
            ProviderKind::Anthropic,
            ProviderKind::Gemini,
        ],
    ),
    (
        Endpoint::Responses,
        &[
            ProviderKind::OpenAi,
            ProviderKind::Anthropic,
            ProviderKind::Gemini,
        ],
    ),
    (
        Endpoint::Embeddings,
        &[ProviderKind::OpenAi, ProviderKind::Gemini],
    ),
    (
        Endpoint::GeminiGenerate,
        &[
            ProviderKind::OpenAi,
            ProviderKind::Anthropic,
            ProviderKind::Gemini,
        ],
    ),
    (
        Endpoint::GeminiEmbed,
        &[ProviderKind::OpenAi, ProviderKind::Gemini],
    ),
    (
        Endpoint::CountTokens,
        &[
            ProviderKind::OpenAi,
            ProviderKind::Anthropic,
            ProviderKind::Gemini,
        ],
    ),
    (Endpoint::Audio, &[ProviderKind::Deepgram]),
    (Endpoint::Completions, &[]),
    (Endpoint::Images, &[]),
    (Endpoint::Email, &[]),
];

pub fn supported(endpoint: Endpoint, provider: ProviderKind) -> bool {
    SUPPORT
        .iter()
        .any(|(e, providers)| *e == endpoint && providers.contains(&provider))
}

pub use crate::providers::Byok;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ByokError {
    #[error("{header}: {problem}")]
    Header {
        header: &'static str,
        problem: String,
    },
    #[error("bring-your-own-key is not supported for {provider} on {endpoint}")]
    NotSupported {
        provider: ProviderKind,
        endpoint: &'static str,
    },
}

impl ByokError {
    pub fn header(&self) -> &'static str {
        match self {
            ByokError::Header { header, .. } => header,
            ByokError::NotSupported { .. } => "x-byok-provider",
        }
    }
}

fn bad(header: &'static str, problem: impl Into<String>) -> ByokError {
    ByokError::Header {
        header,
        problem: problem.into(),
    }
}

impl Byok {
    /// The BYOK request in `headers`, if any, checked against the matrix and the
    /// base-URL rules that need no DNS. Call [`Byok::check_resolved_base`] next.
    pub fn from_headers(
        headers: &HeaderMap,
        endpoint: Endpoint,
        policy: ByokPolicy,
    ) -> Result<Option<Byok>, ByokError> {
        // Names made at compile time: a lookup by `&str` parses the name on every
        // call, and these four run on every gateway request (0.8k instructions
        // per request together, callgrind).
        const PROVIDER: HeaderName = HeaderName::from_static("x-byok-provider");
        const KEY: HeaderName = HeaderName::from_static("x-byok-api-key");
        const BASE: HeaderName = HeaderName::from_static("x-byok-api-base");
        const VERSION: HeaderName = HeaderName::from_static("x-byok-api-version");
        let text = |name: &HeaderName, label: &'static str| -> Result<Option<&str>, ByokError> {
            match headers.get(name) {
                None => Ok(None),
                Some(v) => v
                    .to_str()
                    .map(|s| Some(s.trim()))
                    .map_err(|_| bad(label, "must be visible ASCII")),
            }
        };
        let provider = text(&PROVIDER, "x-byok-provider")?;
        let key = text(&KEY, "x-byok-api-key")?;
        let base = text(&BASE, "x-byok-api-base")?;
        let version = text(&VERSION, "x-byok-api-version")?;
        let Some(provider) = provider else {
            if key.is_some() || base.is_some() || version.is_some() {
                return Err(bad(
                    "x-byok-provider",
                    "is required with the other x-byok-* headers (openai, anthropic, gemini or deepgram)",
                ));
            }
            return Ok(None);
        };
        let provider: ProviderKind = provider
            .parse()
            .ok()
            .filter(|p| {
                matches!(
                    p,
                    ProviderKind::OpenAi
                        | ProviderKind::Anthropic
                        | ProviderKind::Gemini
                        | ProviderKind::Deepgram
                )
            })
            .ok_or_else(|| {
                bad(
                    "x-byok-provider",
                    "must be openai, anthropic, gemini or deepgram",
                )
            })?;
        if !supported(endpoint, provider) {
            return Err(ByokError::NotSupported {
                provider,
                endpoint: endpoint.as_str(),
            });
        }
        let key = key
            .filter(|k| !k.is_empty())
            .ok_or_else(|| bad("x-byok-api-key", "is required with x-byok-provider"))?;
        let api_base = base
            .filter(|b| !b.is_empty())
            .map(|b| validate_base(b, policy))
            .transpose()?;
        Ok(Some(Byok {
            provider,
            api_key: Secret::new(key.to_owned()),
            api_base,
            api_version: version.filter(|v| !v.is_empty()).map(str::to_owned),
        }))
    }

    /// Resolves the base URL's host and refuses internal addresses (unless allowed).
    pub async fn check_resolved_base(&self, policy: ByokPolicy) -> Result<(), ByokError> {
        let Some(base) = &self.api_base else {
            return Ok(());
        };
        let addresses = policy.addresses();
        let url = addresses.check_url(base).map_err(base_error)?;
        addresses.check_resolved(&url).await.map_err(base_error)
    }
}

fn base_error(e: OutboundError) -> ByokError {
    let problem = match &e {
        OutboundError::HttpNotAllowed => "must use https ([byok] allow_http_base is off)".into(),
        OutboundError::NotAUrl => {
            "must be an absolute URL such as https://myres.openai.azure.com".into()
        }
        OutboundError::Refused { .. } | OutboundError::ResolvesToRefused { .. } => {
            format!("{e} ([byok] allow_private_base is off)")
        }
        _ => e.to_string(),
    };
    bad("x-byok-api-base", problem)
}

fn validate_base(base: &str, policy: ByokPolicy) -> Result<String, ByokError> {
    let url = policy.addresses().check_url(base).map_err(base_error)?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("x-byok-api-base", "must not have a query or fragment"));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn matrix_matches_the_contract() {
        use Endpoint::*;
        use ProviderKind::*;
        for p in [OpenAi, Anthropic, Gemini] {
            assert!(supported(Chat, p) && supported(Messages, p));
        }
        assert!(!supported(Chat, Deepgram));
        assert!(supported(Embeddings, OpenAi) && supported(Embeddings, Gemini));
        assert!(!supported(Embeddings, Anthropic));
        for p in [OpenAi, Anthropic, Gemini] {
            assert!(supported(GeminiGenerate, p) && supported(CountTokens, p));
        }
        assert!(supported(GeminiEmbed, Gemini) && !supported(GeminiEmbed, Anthropic));
        assert!(supported(Audio, Deepgram) && !supported(Audio, OpenAi));
        for p in ProviderKind::ALL {
            assert!(!supported(Email, p) && !supported(Completions, p) && !supported(Images, p));
        }
    }

    #[test]
    fn no_headers_means_no_byok_and_partial_headers_are_an_error() {
        let p = ByokPolicy::default();
        assert!(
            Byok::from_headers(&HeaderMap::new(), Endpoint::Chat, p)
                .unwrap()
                .is_none()
        );
        let err = Byok::from_headers(&headers(&[("x-byok-api-key", "k")]), Endpoint::Chat, p)
            .unwrap_err();
        assert_eq!(err.header(), "x-byok-provider");
        let err = Byok::from_headers(
            &headers(&[("x-byok-provider", "openai")]),
            Endpoint::Chat,
            p,
        )
        .unwrap_err();
        assert_eq!(err.header(), "x-byok-api-key");
        let err = Byok::from_headers(
            &headers(&[("x-byok-provider", "anthropic"), ("x-byok-api-key", "k")]),
            Endpoint::Embeddings,
            p,
        )
        .unwrap_err();
        assert!(matches!(err, ByokError::NotSupported { .. }));
    }

    #[test]
    fn base_must_be_https_and_public() {
        let strict = ByokPolicy::default();
        assert!(validate_base("https://myres.openai.azure.com/", strict).is_ok());
        assert!(validate_base("http://example.com", strict).is_err());
        assert!(validate_base("https://127.0.0.1:8443", strict).is_err());
        assert!(validate_base("https://[::1]/", strict).is_err());
        assert!(validate_base("https://169.254.169.254/latest", strict).is_err());
        assert!(validate_base("https://10.1.2.3", strict).is_err());
        assert!(validate_base("https://user:pw@example.com", strict).is_err());
        assert!(validate_base("ftp://example.com", strict).is_err());
        let lax = ByokPolicy {
            allow_http_base: true,
            allow_private_base: true,
        };
        assert_eq!(
            validate_base("http://127.0.0.1:9/", lax).unwrap(),
            "http://127.0.0.1:9"
        );
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused() {
        let byok = Byok {
            provider: ProviderKind::OpenAi,
            api_key: Secret::new("k".into()),
            api_base: Some("https://localhost:8443".into()),
            api_version: None,
        };
        assert!(
            byok.check_resolved_base(ByokPolicy::default())
                .await
                .is_err()
        );
        let lax = ByokPolicy {
            allow_http_base: false,
            allow_private_base: true,
        };
        assert!(byok.check_resolved_base(lax).await.is_ok());
    }
}
