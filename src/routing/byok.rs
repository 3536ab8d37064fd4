//! Bring your own key: a request may run on the caller's own provider account.
//!
//! Headers: `x-byok-provider` (openai|anthropic|gemini|deepgram), `x-byok-api-key`,
//! optional `x-byok-api-base` and `x-byok-api-version`. Which endpoints accept which
//! providers is one table, [`SUPPORT`]. A BYOK request still needs a valid gateway key
//! and passes every policy check; only the upstream credentials change.
//!
//! `x-byok-api-base` is an SSRF vector: it must be `https` (unless
//! `[byok] allow_http_base`), and neither its literal address nor anything its host
//! resolves to may be loopback, private, link-local or otherwise internal (unless
//! `[byok] allow_private_base`). The check here gives a clear 400; the BYOK HTTP
//! client also resolves through [`PublicOnlyResolver`], so a DNS answer that changes
//! between the check and the connection (rebinding) is refused too.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::http::HeaderMap;

use super::ProviderKind;
use crate::secret::Secret;

/// Endpoint families, for the support matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Chat,
    Messages,
    Embeddings,
    Completions,
    Images,
    Audio,
    Email,
}

impl Endpoint {
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Chat => "/v1/chat/completions",
            Endpoint::Messages => "/v1/messages",
            Endpoint::Embeddings => "/v1/embeddings",
            Endpoint::Completions => "/v1/completions",
            Endpoint::Images => "/v1/images/generations",
            Endpoint::Audio => "/v1/audio",
            Endpoint::Email => "/v1/email/send",
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
        Endpoint::Embeddings,
        &[ProviderKind::OpenAi, ProviderKind::Gemini],
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

/// `[byok]` settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct ByokPolicy {
    pub allow_http_base: bool,
    pub allow_private_base: bool,
}

/// The caller's provider credentials for one request.
#[derive(Debug, Clone)]
pub struct Byok {
    pub provider: ProviderKind,
    pub api_key: Secret<String>,
    /// Validated base URL without a trailing `/`.
    pub api_base: Option<String>,
    pub api_version: Option<String>,
}

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
        let text = |name: &'static str| -> Result<Option<&str>, ByokError> {
            match headers.get(name) {
                None => Ok(None),
                Some(v) => v
                    .to_str()
                    .map(|s| Some(s.trim()))
                    .map_err(|_| bad(name, "must be visible ASCII")),
            }
        };
        let provider = text("x-byok-provider")?;
        let key = text("x-byok-api-key")?;
        let base = text("x-byok-api-base")?;
        let version = text("x-byok-api-version")?;
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
        if policy.allow_private_base {
            return Ok(());
        }
        let url = reqwest::Url::parse(base).map_err(|_| bad("x-byok-api-base", "not a URL"))?;
        let Some(host) = url.host_str() else {
            return Err(bad("x-byok-api-base", "has no host"));
        };
        let port = url.port_or_known_default().unwrap_or(443);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|_| bad("x-byok-api-base", format!("host {host} does not resolve")))?
            .collect();
        if addrs.is_empty() {
            return Err(bad(
                "x-byok-api-base",
                format!("host {host} does not resolve"),
            ));
        }
        if let Some(a) = addrs.iter().find(|a| is_internal(a.ip())) {
            return Err(bad(
                "x-byok-api-base",
                format!(
                    "resolves to an internal address ({}), which is not allowed",
                    a.ip()
                ),
            ));
        }
        Ok(())
    }
}

fn validate_base(base: &str, policy: ByokPolicy) -> Result<String, ByokError> {
    let url = reqwest::Url::parse(base).map_err(|_| {
        bad(
            "x-byok-api-base",
            "must be an absolute URL such as https://myres.openai.azure.com",
        )
    })?;
    match url.scheme() {
        "https" => {}
        "http" if policy.allow_http_base => {}
        "http" => {
            return Err(bad(
                "x-byok-api-base",
                "must use https ([byok] allow_http_base is off)",
            ));
        }
        _ => return Err(bad("x-byok-api-base", "must be an https URL")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("x-byok-api-base", "must not contain credentials"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("x-byok-api-base", "must not have a query or fragment"));
    }
    let literal = url
        .host_str()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>();
    if !policy.allow_private_base
        && let Ok(ip) = literal
        && is_internal(ip)
    {
        return Err(bad(
            "x-byok-api-base",
            format!("{ip} is an internal address, which is not allowed"),
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// Addresses a caller-supplied URL must never reach: loopback, private, link-local,
/// shared (CGNAT), unique-local, multicast, unspecified and broadcast.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xC0) == 64)
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
        }
    }
}

/// DNS for the BYOK client: like the system resolver, minus internal addresses
/// (unless allowed), so a rebinding answer cannot reach our network.
#[derive(Debug, Clone, Copy)]
pub struct PublicOnlyResolver {
    pub allow_private: bool,
}

impl reqwest::dns::Resolve for PublicOnlyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| allow_private || !is_internal(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(format!("{host} has no public address").into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

impl PublicOnlyResolver {
    pub fn shared(allow_private: bool) -> Arc<Self> {
        Arc::new(PublicOnlyResolver { allow_private })
    }
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

    #[test]
    fn internal_ranges() {
        for ip in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700::1111"] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip}");
        }
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
