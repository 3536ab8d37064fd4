//! OpenAI and OpenAI-compatible upstreams (DeepSeek, Qwen, Moonshot, MiniMax, Azure
//! OpenAI through BYOK): `Authorization: Bearer`, JSON bodies forwarded as bytes.

use std::time::Duration;

use bytes::Bytes;
use http::HeaderValue;

use super::send::{Attempt, send};
use super::{Account, Credentials, UpstreamError, UpstreamResponse};
use crate::config::ProviderConfig;
use crate::routing::ProviderKind;
use crate::secret::Secret;

/// The OpenAI endpoints the gateway forwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenAiEndpoint {
    ChatCompletions,
    Completions,
    Embeddings,
    ImagesGenerations,
}

impl OpenAiEndpoint {
    fn path(self) -> &'static str {
        match self {
            OpenAiEndpoint::ChatCompletions => "/chat/completions",
            OpenAiEndpoint::Completions => "/completions",
            OpenAiEndpoint::Embeddings => "/embeddings",
            OpenAiEndpoint::ImagesGenerations => "/images/generations",
        }
    }
}

pub struct OpenAi {
    kind: ProviderKind,
    client: reqwest::Client,
    byok_client: reqwest::Client,
    base_url: String,
    api_key: Option<Secret<String>>,
    /// `Bearer <key>`, built once and marked sensitive so it is never logged.
    auth: Option<HeaderValue>,
    first_byte_timeout: Duration,
}

impl OpenAi {
    pub fn new(
        kind: ProviderKind,
        clients: &super::Clients,
        cfg: &ProviderConfig,
        first_byte_timeout: Duration,
    ) -> Self {
        let auth = cfg.api_key.as_ref().and_then(|k| bearer(k.expose()));
        OpenAi {
            kind,
            client: clients.gateway.clone(),
            byok_client: clients.byok.clone(),
            base_url: cfg.base_url.clone(),
            api_key: cfg.api_key.clone(),
            auth,
            first_byte_timeout,
        }
    }

    pub fn has_credentials(&self) -> bool {
        self.auth.is_some()
    }

    /// Forwards a body (already validated, model already the upstream's) to `endpoint`.
    /// `model` names the Azure deployment when the caller's BYOK base is Azure-style
    /// (an `x-byok-api-version` was given).
    pub async fn post(
        &self,
        endpoint: OpenAiEndpoint,
        model: &str,
        body: Bytes,
        account: Account<'_>,
    ) -> Result<UpstreamResponse, UpstreamError> {
        let (req, credentials, secret) = match account {
            Account::Gateway => {
                let auth = self
                    .auth
                    .clone()
                    .ok_or(UpstreamError::NotConfigured(self.kind))?;
                let url = format!("{}{}", self.base_url, endpoint.path());
                let req = self
                    .client
                    .post(url)
                    .header(http::header::AUTHORIZATION, auth);
                (req, Credentials::Gateway, self.api_key.as_ref())
            }
            Account::Caller(byok) => {
                let base = byok.api_base.as_deref().unwrap_or(&self.base_url);
                let key = byok.api_key.expose();
                let req = match &byok.api_version {
                    // Azure OpenAI: the deployment is in the path, the key in `api-key`.
                    Some(version) => {
                        let url = format!(
                            "{base}/openai/deployments/{}{}?api-version={}",
                            urlencode(model),
                            endpoint.path(),
                            urlencode(version)
                        );
                        let mut key_header =
                            HeaderValue::try_from(key.as_str()).map_err(|_| bad_key(self.kind))?;
                        key_header.set_sensitive(true);
                        self.byok_client.post(url).header("api-key", key_header)
                    }
                    None => {
                        let url = format!("{base}{}", endpoint.path());
                        let auth = bearer(key).ok_or_else(|| bad_key(self.kind))?;
                        self.byok_client
                            .post(url)
                            .header(http::header::AUTHORIZATION, auth)
                    }
                };
                (req, Credentials::Caller, Some(&byok.api_key))
            }
        };
        let req = req
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(body);
        send(
            req,
            Attempt {
                provider: self.kind,
                credentials,
                secret,
                first_byte_timeout: self.first_byte_timeout,
            },
        )
        .await
    }
}

fn bearer(key: &str) -> Option<HeaderValue> {
    let mut v = HeaderValue::try_from(format!("Bearer {key}")).ok()?;
    v.set_sensitive(true);
    Some(v)
}

fn bad_key(provider: ProviderKind) -> UpstreamError {
    UpstreamError::Protocol {
        provider,
        detail: "the x-byok-api-key is not a valid header value".into(),
    }
}

/// Percent-encodes a path segment (deployment names are caller-supplied).
pub(super) fn urlencode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
