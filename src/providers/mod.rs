//! Upstream providers: how a request leaves the gateway and how the answer comes back.
//!
//! `Upstreams` holds the provider clients; they share two pooled HTTP clients (one
//! for configured upstreams, one with filtered DNS for BYOK bases) with connect and
//! first-byte timeouts, an idle timeout between body chunks, and no whole-response
//! timeout (it would cut streams). `transport` is that client (hyper-util, base URLs
//! parsed once); `send` is the shared sending and error-mapping path; each provider
//! file only knows its URLs and auth headers. `adapter` is the one trait the
//! pipeline calls, with one table entry per provider. `relay` streams bodies back.

pub mod adapter;
mod anthropic;
mod credential;
mod deepgram;
mod error;
mod gemini;
pub mod image_fetch;
mod openai;
pub mod relay;
mod send;
pub mod transport;

pub use adapter::{Adapter, Call, Operation};
pub use anthropic::{Anthropic, AnthropicHeaders};
pub use credential::Byok;
pub use deepgram::{Deepgram, Lang, Upload};
pub use error::{Credentials, UpstreamError};
pub use gemini::{Gemini, GeminiMethod};
pub use openai::{OpenAi, OpenAiEndpoint};

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::{Config, UpstreamConfig};
use crate::domain::ProviderKind;
use crate::outbound::PolicyResolver;

/// Whose provider account a call runs on: the one credential type every adapter
/// resolves once per call. Vault keys will be a new variant.
#[derive(Debug, Clone, Copy)]
pub enum Account<'a> {
    /// The gateway's first deployment (`default` when the provider has a key).
    Gateway,
    /// The gateway's deployment at this index of `ProviderConfig::deployments`.
    Deployment(usize),
    /// The caller's own key (BYOK).
    Caller(&'a Byok),
    /// An end user's key from their vault: the operator's configured base URL and
    /// client, the user's key (its `api_base` is ignored).
    Vault(&'a Byok),
}

impl<'a> Account<'a> {
    pub fn from_byok(byok: Option<&'a Byok>) -> Self {
        byok.map_or(Account::Gateway, Account::Caller)
    }
}

/// The two pooled HTTP clients: one for configured upstreams, one for caller-chosen
/// BYOK bases, whose DNS answers are filtered (no internal addresses).
#[derive(Clone)]
pub struct Clients {
    pub gateway: transport::HttpClient,
    pub byok: transport::HttpClient,
}

/// What came back from a provider that answered with a 2xx.
pub struct UpstreamResponse {
    pub provider: ProviderKind,
    pub status: http::StatusCode,
    pub content_type: Option<http::HeaderValue>,
    pub body: transport::ResponseBody,
}

impl UpstreamResponse {
    /// Reads a whole (non-stream) JSON answer, at most `limit` bytes, for translation.
    pub async fn json(self, limit: usize) -> Result<serde_json::Value, UpstreamError> {
        let provider = self.provider;
        let protocol = |detail: String| UpstreamError::Protocol { provider, detail };
        let body = self.read_whole(limit).await.map_err(protocol)?;
        serde_json::from_slice(&body)
            .map_err(|e| protocol(format!("the response is not JSON: {e}")))
    }

    /// Reads a whole answer, at most `limit` bytes; the error says why not.
    pub async fn read_whole(self, limit: usize) -> Result<Vec<u8>, String> {
        let mut body = Vec::new();
        let mut stream = http_body_util::BodyExt::into_data_stream(self.body);
        while let Some(chunk) = futures_util::StreamExt::next(&mut stream).await {
            let chunk = chunk.map_err(|_| "the response body broke off".to_owned())?;
            if body.len() + chunk.len() > limit {
                return Err(format!("the response is larger than {limit} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    pub fn is_event_stream(&self) -> bool {
        self.content_type
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"))
    }
}

/// All configured providers.
#[derive(Clone)]
pub struct Upstreams {
    /// OpenAI and the OpenAI-compatible vendors, by provider.
    openai_like: Arc<HashMap<ProviderKind, OpenAi>>,
    pub anthropic: Arc<Anthropic>,
    pub gemini: Arc<Gemini>,
    /// One adapter per provider that has a dialect implementation.
    adapters: Arc<HashMap<ProviderKind, Arc<dyn Adapter>>>,
    timeouts: UpstreamConfig,
    /// Image links in requests to providers that take images inline only.
    images: image_fetch::ImageFetcher,
}

impl Upstreams {
    pub fn new(config: &Config) -> Result<Self, UpstreamError> {
        let clients = Clients {
            gateway: build_client(&config.upstream, None)?,
            byok: build_client(&config.upstream, Some(config.byok.addresses().resolver()))?,
        };
        let first_byte = config.upstream.first_byte_timeout;
        let openai_like = ProviderKind::ALL
            .into_iter()
            .filter(|p| p.dialect() == crate::domain::Dialect::OpenAi)
            .map(|p| (p, OpenAi::new(p, &clients, config.provider(p), first_byte)))
            .collect();
        Ok(Upstreams {
            openai_like: Arc::new(openai_like),
            anthropic: Arc::new(Anthropic::new(
                &clients,
                config.provider(ProviderKind::Anthropic),
                first_byte,
            )),
            gemini: Arc::new(Gemini::new(
                &clients,
                config.provider(ProviderKind::Gemini),
                first_byte,
            )),
            adapters: Arc::new(
                ProviderKind::ALL
                    .into_iter()
                    .filter_map(|p| Some((p, adapter::build(p, &clients, config, first_byte)?)))
                    .collect(),
            ),
            timeouts: config.upstream.clone(),
            images: image_fetch::ImageFetcher::new(
                &config.outbound,
                config.upstream.connect_timeout,
            )
            .map_err(|e| UpstreamError::Protocol {
                provider: ProviderKind::Gemini,
                detail: format!("cannot build the image-link HTTP client: {e}"),
            })?,
        })
    }

    /// The fetcher of image links (`image_fetch`).
    pub fn images(&self) -> &image_fetch::ImageFetcher {
        &self.images
    }

    /// The adapter serving `provider`.
    pub fn adapter(&self, provider: ProviderKind) -> Result<&dyn Adapter, UpstreamError> {
        self.adapters
            .get(&provider)
            .map(|a| &**a)
            .ok_or(UpstreamError::NotConfigured(provider))
    }

    /// The OpenAI-dialect client for `provider` (OpenAI or a compatible vendor).
    pub fn openai(&self, provider: ProviderKind) -> Result<&OpenAi, UpstreamError> {
        self.openai_like
            .get(&provider)
            .ok_or(UpstreamError::NotConfigured(provider))
    }

    /// Whether `provider` can serve a request with the gateway's own credentials.
    pub fn has_credentials(&self, provider: ProviderKind) -> bool {
        self.adapters
            .get(&provider)
            .is_some_and(|a| a.has_credentials())
    }

    pub fn timeouts(&self) -> &UpstreamConfig {
        &self.timeouts
    }
}

fn build_client(
    t: &UpstreamConfig,
    resolver: Option<Arc<PolicyResolver>>,
) -> Result<transport::HttpClient, UpstreamError> {
    // No read or total timeout here: the first-byte wait is bounded in `send`
    // and silences mid-body in `relay`, each with its own setting.
    transport::HttpClient::new(t, resolver).map_err(|e| UpstreamError::Protocol {
        provider: ProviderKind::OpenAi,
        detail: format!("cannot build HTTP client: {e}"),
    })
}
