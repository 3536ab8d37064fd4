//! Anthropic upstream: `POST {base}/v1/messages` with `x-api-key` and
//! `anthropic-version` (the caller's, or the configured default), `anthropic-beta`
//! passed through.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue};

use super::credential::{Keyring, bad_url, sensitive};
use super::send::{Attempt, send};
use super::transport::post;
use super::{Account, UpstreamError, UpstreamResponse};
use crate::config::ProviderConfig;
use crate::domain::ProviderKind;

const DEFAULT_VERSION: &str = "2023-06-01";

pub struct Anthropic {
    keys: Keyring,
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
        clients: &super::Clients,
        cfg: &ProviderConfig,
        first_byte_timeout: Duration,
    ) -> Self {
        let version = cfg
            .api_version
            .as_deref()
            .and_then(|v| HeaderValue::try_from(v).ok())
            .unwrap_or(HeaderValue::from_static(DEFAULT_VERSION));
        Anthropic {
            keys: Keyring::new(ProviderKind::Anthropic, clients, cfg, sensitive),
            version,
            first_byte_timeout,
        }
    }

    pub fn has_credentials(&self) -> bool {
        self.keys.has_credentials()
    }

    /// Forwards a messages body (model already upstream's).
    pub async fn messages(
        &self,
        body: Bytes,
        headers: &AnthropicHeaders,
        account: Account<'_>,
    ) -> Result<UpstreamResponse, UpstreamError> {
        self.post("/v1/messages", body, headers, account).await
    }

    /// Forwards a `count_tokens` body (`/v1/messages/count_tokens`).
    pub async fn count_tokens(
        &self,
        body: Bytes,
        headers: &AnthropicHeaders,
        account: Account<'_>,
    ) -> Result<UpstreamResponse, UpstreamError> {
        self.post("/v1/messages/count_tokens", body, headers, account)
            .await
    }

    async fn post(
        &self,
        path: &str,
        body: Bytes,
        headers: &AnthropicHeaders,
        account: Account<'_>,
    ) -> Result<UpstreamResponse, UpstreamError> {
        let c = self.keys.resolve(account)?;
        // A BYOK version wins over the caller's header, which wins over ours.
        let version = c
            .api_version
            .and_then(|v| HeaderValue::try_from(v).ok())
            .or_else(|| headers.version.clone())
            .unwrap_or_else(|| self.version.clone());
        let uri = c
            .base
            .join(path)
            .map_err(|_| bad_url(ProviderKind::Anthropic))?;
        let mut req = post(uri, body);
        let h = req.headers_mut();
        h.insert(HeaderName::from_static("x-api-key"), c.auth);
        h.insert(HeaderName::from_static("anthropic-version"), version);
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(beta) = &headers.beta {
            h.insert(HeaderName::from_static("anthropic-beta"), beta.clone());
        }
        send(
            c.client,
            req,
            Attempt {
                provider: ProviderKind::Anthropic,
                credentials: c.credentials,
                secret: c.secret,
                first_byte_timeout: self.first_byte_timeout,
            },
        )
        .await
    }
}
