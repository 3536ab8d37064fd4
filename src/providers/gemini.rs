//! Gemini upstream (Generative Language API, v1beta by default): the model goes in
//! the URL, the key in `x-goog-api-key` (never in the query string, which would put
//! it in access logs).

use std::time::Duration;

use bytes::Bytes;

use super::credential::{Keyring, bad_url, sensitive};
use super::openai::urlencode;
use super::send::{Attempt, send};
use super::transport::post;
use super::{Account, UpstreamError, UpstreamResponse};
use crate::config::ProviderConfig;
use crate::domain::ProviderKind;

const DEFAULT_VERSION: &str = "v1beta";

/// The Gemini methods the gateway calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeminiMethod {
    Generate,
    StreamGenerate,
    Embed,
    BatchEmbed,
    CountTokens,
}

impl GeminiMethod {
    fn suffix(self) -> &'static str {
        match self {
            GeminiMethod::Generate => ":generateContent",
            GeminiMethod::StreamGenerate => ":streamGenerateContent?alt=sse",
            GeminiMethod::Embed => ":embedContent",
            GeminiMethod::BatchEmbed => ":batchEmbedContents",
            GeminiMethod::CountTokens => ":countTokens",
        }
    }
}

pub struct Gemini {
    keys: Keyring,
    first_byte_timeout: Duration,
}

impl Gemini {
    pub fn new(
        clients: &super::Clients,
        cfg: &ProviderConfig,
        first_byte_timeout: Duration,
    ) -> Self {
        Gemini {
            keys: Keyring::new(ProviderKind::Gemini, clients, cfg, sensitive),
            first_byte_timeout,
        }
    }

    pub fn has_credentials(&self) -> bool {
        self.keys.has_credentials()
    }

    pub async fn call(
        &self,
        method: GeminiMethod,
        model: &str,
        body: Bytes,
        account: Account<'_>,
    ) -> Result<UpstreamResponse, UpstreamError> {
        let c = self.keys.resolve(account)?;
        let path = format!(
            "/{}/models/{}{}",
            urlencode(c.api_version.unwrap_or(DEFAULT_VERSION)),
            urlencode(model),
            method.suffix()
        );
        let uri = c
            .base
            .join(&path)
            .map_err(|_| bad_url(ProviderKind::Gemini))?;
        let mut req = post(uri, body);
        let h = req.headers_mut();
        h.insert(http::HeaderName::from_static("x-goog-api-key"), c.auth);
        h.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        send(
            c.client,
            req,
            Attempt {
                provider: ProviderKind::Gemini,
                credentials: c.credentials,
                secret: c.secret,
                first_byte_timeout: self.first_byte_timeout,
            },
        )
        .await
    }
}
