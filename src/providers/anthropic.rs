//! Anthropic upstream: `POST {base}/v1/messages` with `x-api-key` and
//! `anthropic-version` (the caller's, or the configured default), `anthropic-beta`
//! passed through.

use std::time::Duration;

use bytes::Bytes;
use http::HeaderValue;

use super::send::{Attempt, send};
use super::{Account, Credentials, UpstreamError, UpstreamResponse};
use crate::config::ProviderConfig;
use crate::routing::ProviderKind;
use crate::secret::Secret;

const DEFAULT_VERSION: &str = "2023-06-01";

pub struct Anthropic {
    client: reqwest::Client,
    byok_client: reqwest::Client,
    base_url: String,
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
        clients: &super::Clients,
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
            client: clients.gateway.clone(),
            byok_client: clients.byok.clone(),
            base_url: cfg.base_url.clone(),
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
        account: Account<'_>,
    ) -> Result<UpstreamResponse, UpstreamError> {
        let caller_version = headers.version.clone();
        let (client, base, key, credentials, secret, version) = match account {
            Account::Gateway => (
                &self.client,
                self.base_url.as_str(),
                self.auth
                    .clone()
                    .ok_or(UpstreamError::NotConfigured(ProviderKind::Anthropic))?,
                Credentials::Gateway,
                self.api_key.as_ref(),
                caller_version,
            ),
            Account::Caller(byok) => {
                let mut key =
                    HeaderValue::try_from(byok.api_key.expose().as_str()).map_err(|_| {
                        UpstreamError::Protocol {
                            provider: ProviderKind::Anthropic,
                            detail: "the x-byok-api-key is not a valid header value".into(),
                        }
                    })?;
                key.set_sensitive(true);
                let version = byok
                    .api_version
                    .as_deref()
                    .and_then(|v| HeaderValue::try_from(v).ok())
                    .or(caller_version);
                (
                    &self.byok_client,
                    byok.api_base.as_deref().unwrap_or(&self.base_url),
                    key,
                    Credentials::Caller,
                    Some(&byok.api_key),
                    version,
                )
            }
        };
        let mut req = client
            .post(format!("{base}/v1/messages"))
            .header("x-api-key", key)
            .header(
                "anthropic-version",
                version.unwrap_or_else(|| self.version.clone()),
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
                credentials,
                secret,
                first_byte_timeout: self.first_byte_timeout,
            },
        )
        .await
    }
}
