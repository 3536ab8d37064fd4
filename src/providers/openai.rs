//! OpenAI and OpenAI-compatible upstreams (DeepSeek, Qwen, Moonshot, MiniMax, Azure
//! OpenAI through BYOK): `Authorization: Bearer`, JSON bodies forwarded as bytes.

use std::time::Duration;

use bytes::Bytes;

use super::credential::{Keyring, bad_key, bad_url, sensitive};
use super::send::{Attempt, send};
use super::transport::post;
use super::{Account, UpstreamError, UpstreamResponse};
use crate::config::ProviderConfig;
use crate::domain::ProviderKind;

/// The OpenAI endpoints the gateway forwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenAiEndpoint {
    ChatCompletions,
    Completions,
    Embeddings,
    ImagesGenerations,
    Responses,
    AudioTranscriptions,
    AudioSpeech,
}

impl OpenAiEndpoint {
    fn path(self) -> &'static str {
        match self {
            OpenAiEndpoint::ChatCompletions => "/chat/completions",
            OpenAiEndpoint::Completions => "/completions",
            OpenAiEndpoint::Embeddings => "/embeddings",
            OpenAiEndpoint::ImagesGenerations => "/images/generations",
            OpenAiEndpoint::Responses => "/responses",
            OpenAiEndpoint::AudioTranscriptions => "/audio/transcriptions",
            OpenAiEndpoint::AudioSpeech => "/audio/speech",
        }
    }
}

pub struct OpenAi {
    kind: ProviderKind,
    keys: Keyring,
    first_byte_timeout: Duration,
}

fn bearer(key: &str) -> Option<http::HeaderValue> {
    sensitive(&format!("Bearer {key}"))
}

impl OpenAi {
    pub fn new(
        kind: ProviderKind,
        clients: &super::Clients,
        cfg: &ProviderConfig,
        first_byte_timeout: Duration,
    ) -> Self {
        OpenAi {
            kind,
            keys: Keyring::new(kind, clients, cfg, bearer),
            first_byte_timeout,
        }
    }

    pub fn has_credentials(&self) -> bool {
        self.keys.has_credentials()
    }

    /// Which OpenAI-dialect vendor this is.
    pub fn kind(&self) -> ProviderKind {
        self.kind
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
        self.post_as(endpoint, model, body, "application/json", account)
            .await
    }

    /// Like `post`, with the body's own content type (multipart uploads).
    pub async fn post_as(
        &self,
        endpoint: OpenAiEndpoint,
        model: &str,
        body: Bytes,
        content_type: &'static str,
        account: Account<'_>,
    ) -> Result<UpstreamResponse, UpstreamError> {
        let c = self.keys.resolve(account)?;
        let mut req = match (c.api_version, c.secret) {
            // Azure OpenAI: the deployment is in the path, the key in `api-key`.
            (Some(version), Some(key)) => {
                let path = format!(
                    "/openai/deployments/{}{}?api-version={}",
                    urlencode(model),
                    endpoint.path(),
                    urlencode(version)
                );
                let key = sensitive(key.expose()).ok_or_else(|| bad_key(self.kind))?;
                let mut req = post(c.base.join(&path).map_err(|_| bad_url(self.kind))?, body);
                req.headers_mut()
                    .insert(http::HeaderName::from_static("api-key"), key);
                req
            }
            _ => {
                let uri = c
                    .base
                    .join(endpoint.path())
                    .map_err(|_| bad_url(self.kind))?;
                let mut req = post(uri, body);
                req.headers_mut()
                    .insert(http::header::AUTHORIZATION, c.auth);
                req
            }
        };
        req.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static(content_type),
        );
        send(
            c.client,
            req,
            Attempt {
                provider: self.kind,
                credentials: c.credentials,
                secret: c.secret,
                first_byte_timeout: self.first_byte_timeout,
            },
        )
        .await
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
