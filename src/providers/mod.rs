//! Upstream providers: how a request leaves the gateway and how the answer comes back.
//!
//! `Upstreams` holds one pooled HTTP client per provider (connect and first-byte
//! timeouts, an idle timeout between body chunks, no whole-response timeout: it would
//! cut streams). `send` is the shared sending and error-mapping path; each provider
//! file only knows its URLs and auth headers. `relay` streams bodies back.

mod anthropic;
mod error;
mod openai;
pub mod relay;
mod send;

pub use anthropic::{Anthropic, AnthropicHeaders};
pub use error::{Credentials, UpstreamError};
pub use openai::OpenAi;

use std::sync::Arc;

use crate::config::{Config, UpstreamConfig};
use crate::routing::ProviderKind;

/// What came back from a provider that answered with a 2xx.
pub struct UpstreamResponse {
    pub provider: ProviderKind,
    pub status: http::StatusCode,
    pub content_type: Option<http::HeaderValue>,
    pub response: reqwest::Response,
}

impl UpstreamResponse {
    /// Reads a whole (non-stream) JSON answer, at most `limit` bytes, for translation.
    pub async fn json(self, limit: usize) -> Result<serde_json::Value, UpstreamError> {
        let provider = self.provider;
        let protocol = |detail: String| UpstreamError::Protocol { provider, detail };
        let mut body = Vec::new();
        let mut stream = self.response.bytes_stream();
        while let Some(chunk) = futures_util::StreamExt::next(&mut stream).await {
            let chunk = chunk.map_err(|_| protocol("the response body broke off".into()))?;
            if body.len() + chunk.len() > limit {
                return Err(protocol(format!(
                    "the response is larger than {limit} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body)
            .map_err(|e| protocol(format!("the response is not JSON: {e}")))
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
    pub openai: Arc<OpenAi>,
    pub anthropic: Arc<Anthropic>,
    timeouts: UpstreamConfig,
}

impl Upstreams {
    pub fn new(config: &Config) -> Result<Self, UpstreamError> {
        let client = build_client(&config.upstream)?;
        Ok(Upstreams {
            openai: Arc::new(OpenAi::new(
                client.clone(),
                config.provider(ProviderKind::OpenAi),
                config.upstream.first_byte_timeout,
            )),
            anthropic: Arc::new(Anthropic::new(
                client.clone(),
                config.provider(ProviderKind::Anthropic),
                config.upstream.first_byte_timeout,
            )),
            timeouts: config.upstream.clone(),
        })
    }

    /// Whether `provider` can serve a request with the gateway's own credentials.
    pub fn has_credentials(&self, provider: ProviderKind) -> bool {
        match provider {
            ProviderKind::OpenAi => self.openai.has_credentials(),
            ProviderKind::Anthropic => self.anthropic.has_credentials(),
            _ => false,
        }
    }

    pub fn timeouts(&self) -> &UpstreamConfig {
        &self.timeouts
    }
}

fn build_client(t: &UpstreamConfig) -> Result<reqwest::Client, UpstreamError> {
    reqwest::Client::builder()
        // No read or total timeout here: the first-byte wait is bounded in `send`
        // and silences mid-body in `relay`, each with its own setting.
        .connect_timeout(t.connect_timeout)
        .tcp_nodelay(true)
        .pool_idle_timeout(std::time::Duration::from_secs(90))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| UpstreamError::Protocol {
            provider: ProviderKind::OpenAi,
            detail: format!("cannot build HTTP client: {e}"),
        })
}
