//! Upstream providers: how a request leaves the gateway and how the answer comes back.
//!
//! `Upstreams` holds one pooled HTTP client per provider (connect and first-byte
//! timeouts, an idle timeout between body chunks, no whole-response timeout: it would
//! cut streams). `send` is the shared sending and error-mapping path; each provider
//! file only knows its URLs and auth headers. `relay` streams bodies back.

mod error;
mod openai;
pub mod relay;
mod send;

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
    timeouts: UpstreamConfig,
}

impl Upstreams {
    pub fn new(config: &Config) -> Result<Self, UpstreamError> {
        let client = build_client(&config.upstream)?;
        Ok(Upstreams {
            openai: Arc::new(OpenAi::new(
                client,
                config.provider(ProviderKind::OpenAi),
                config.upstream.first_byte_timeout,
            )),
            timeouts: config.upstream.clone(),
        })
    }

    /// Whether `provider` can serve a request with the gateway's own credentials.
    pub fn has_credentials(&self, provider: ProviderKind) -> bool {
        match provider {
            ProviderKind::OpenAi => self.openai.has_credentials(),
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
