//! Anthropic upstream: `POST {base}/v1/messages` with `x-api-key` and
//! `anthropic-version` (the caller's, or the configured default), `anthropic-beta`
//! passed through.

use std::time::Duration;

use bytes::Bytes;
use http::HeaderValue;

use super::send::{Attempt, send};
use super::{Credentials, UpstreamError, UpstreamResponse};
use crate::config::ProviderConfig;
use crate::routing::ProviderKind;
use crate::secret::Secret;

const DEFAULT_VERSION: &str = "2023-06-01";

pub struct Anthropic {
    client: reqwest::Client,
    messages_url: String,
    api_key: Option<Secret<String>>,
    /// `x-api-key` value, built once and marked sensitive so it is never logged.
    auth: Option<HeaderValue>,
    version: HeaderValue,
    first_byte_timeout: Duration,
}

/// Headers from the caller that Anthropic's API understands and we pass on.
#[derive(Debug, Default, Clone)]
pub struct AnthropicHeaders {
    pub version: Option<HeaderValue>,
    pub beta: Option<HeaderValue>,
}

impl Anthropic {
    pub fn new(
        client: reqwest::Client,
        cfg: &ProviderConfig,
        first_byte_timeout: Duration,
    ) -> Self {
        let auth = cfg.api_key.as_ref().and_then(|k| {
            let mut v = HeaderValue::try_from(k.expose().as_str()).ok()?;
            v.set_sensitive(true);
            Some(v)
        });
        let version = cfg
            .api_version
            .as_deref()
            .and_then(|v| HeaderValue::try_from(v).ok())
            .unwrap_or(HeaderValue::from_static(DEFAULT_VERSION));
        Anthropic {
            client,
            messages_url: format!("{}/v1/messages", cfg.base_url),
            api_key: cfg.api_key.clone(),
            auth,
            version,
            first_byte_timeout,
        }
    }

    pub fn has_credentials(&self) -> bool {
        self.auth.is_some()
    }

    /// Forwards a messages body (model already upstream's).
    pub async fn messages(
        &self,
        body: Bytes,
        headers: &AnthropicHeaders,
    ) -> Result<UpstreamResponse, UpstreamError> {
        let auth = self
            .auth
            .clone()
            .ok_or(UpstreamError::NotConfigured(ProviderKind::Anthropic))?;
        let mut req = self
            .client
            .post(&self.messages_url)
            .header("x-api-key", auth)
            .header(
                "anthropic-version",
                headers
                    .version
                    .clone()
                    .unwrap_or_else(|| self.version.clone()),
            )
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(body);
        if let Some(beta) = &headers.beta {
            req = req.header("anthropic-beta", beta.clone());
        }
        send(
            req,
            Attempt {
                provider: ProviderKind::Anthropic,
                credentials: Credentials::Gateway,
                secret: self.api_key.as_ref(),
                first_byte_timeout: self.first_byte_timeout,
            },
        )
        .await
    }
}
