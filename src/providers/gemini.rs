//! Gemini upstream (Generative Language API, v1beta by default): the model goes in
//! the URL, the key in `x-goog-api-key` (never in the query string, which would put
//! it in access logs).

use std::time::Duration;

use bytes::Bytes;
use http::HeaderValue;

use super::openai::urlencode;
use super::send::{Attempt, send};
use super::{Account, Credentials, UpstreamError, UpstreamResponse};
use crate::config::ProviderConfig;
use crate::routing::ProviderKind;
use crate::secret::Secret;

const DEFAULT_VERSION: &str = "v1beta";

/// The Gemini methods the gateway calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeminiMethod {
    Generate,
    StreamGenerate,
    Embed,
    BatchEmbed,
}

impl GeminiMethod {
    fn suffix(self) -> &'static str {
        match self {
            GeminiMethod::Generate => ":generateContent",
            GeminiMethod::StreamGenerate => ":streamGenerateContent?alt=sse",
            GeminiMethod::Embed => ":embedContent",
            GeminiMethod::BatchEmbed => ":batchEmbedContents",
        }
    }
}

pub struct Gemini {
    client: reqwest::Client,
    byok_client: reqwest::Client,
    base_url: String,
    api_key: Option<Secret<String>>,
    auth: Option<HeaderValue>,
    first_byte_timeout: Duration,
}

impl Gemini {
    pub fn new(
        clients: &super::Clients,
        cfg: &ProviderConfig,
        first_byte_timeout: Duration,
    ) -> Self {
        let auth = cfg.api_key.as_ref().and_then(|k| sensitive(k.expose()));
        Gemini {
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

    pub async fn call(
        &self,
        method: GeminiMethod,
        model: &str,
        body: Bytes,
        account: Account<'_>,
    ) -> Result<UpstreamResponse, UpstreamError> {
        let (client, base, version, key, credentials, secret) = match account {
            Account::Gateway => (
                &self.client,
                self.base_url.as_str(),
                DEFAULT_VERSION,
                self.auth
                    .clone()
                    .ok_or(UpstreamError::NotConfigured(ProviderKind::Gemini))?,
                Credentials::Gateway,
                self.api_key.as_ref(),
            ),
            Account::Caller(byok) => (
                &self.byok_client,
                byok.api_base.as_deref().unwrap_or(&self.base_url),
                byok.api_version.as_deref().unwrap_or(DEFAULT_VERSION),
                sensitive(byok.api_key.expose()).ok_or_else(|| UpstreamError::Protocol {
                    provider: ProviderKind::Gemini,
                    detail: "the x-byok-api-key is not a valid header value".into(),
                })?,
                Credentials::Caller,
                Some(&byok.api_key),
            ),
        };
        let url = format!(
            "{base}/{}/models/{}{}",
            urlencode(version),
            urlencode(model),
            method.suffix()
        );
        let req = client
            .post(url)
            .header("x-goog-api-key", key)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(body);
        send(
            req,
            Attempt {
                provider: ProviderKind::Gemini,
                credentials,
                secret,
                first_byte_timeout: self.first_byte_timeout,
            },
        )
        .await
    }
}

fn sensitive(key: &str) -> Option<HeaderValue> {
    let mut v = HeaderValue::try_from(key).ok()?;
    v.set_sensitive(true);
    Some(v)
}
