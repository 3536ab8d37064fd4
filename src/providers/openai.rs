//! OpenAI (and OpenAI-compatible) upstream: `Authorization: Bearer`, JSON bodies
//! forwarded as bytes.

use std::time::Duration;

use bytes::Bytes;
use http::HeaderValue;

use super::send::{Attempt, send};
use super::{Credentials, UpstreamError, UpstreamResponse};
use crate::config::ProviderConfig;
use crate::routing::ProviderKind;
use crate::secret::Secret;

pub struct OpenAi {
    client: reqwest::Client,
    chat_url: String,
    api_key: Option<Secret<String>>,
    /// `Bearer <key>`, built once and marked sensitive so it is never logged.
    auth: Option<HeaderValue>,
    first_byte_timeout: Duration,
}

impl OpenAi {
    pub fn new(
        client: reqwest::Client,
        cfg: &ProviderConfig,
        first_byte_timeout: Duration,
    ) -> Self {
        let auth = cfg.api_key.as_ref().and_then(|k| {
            let mut v = HeaderValue::try_from(format!("Bearer {}", k.expose())).ok()?;
            v.set_sensitive(true);
            Some(v)
        });
        OpenAi {
            client,
            chat_url: format!("{}/chat/completions", cfg.base_url),
            api_key: cfg.api_key.clone(),
            auth,
            first_byte_timeout,
        }
    }

    pub fn has_credentials(&self) -> bool {
        self.auth.is_some()
    }

    /// Forwards a chat completions body (already validated, model already upstream's).
    pub async fn chat_completions(&self, body: Bytes) -> Result<UpstreamResponse, UpstreamError> {
        let auth = self
            .auth
            .clone()
            .ok_or(UpstreamError::NotConfigured(ProviderKind::OpenAi))?;
        let req = self
            .client
            .post(&self.chat_url)
            .header(http::header::AUTHORIZATION, auth)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(body);
        send(
            req,
            Attempt {
                provider: ProviderKind::OpenAi,
                credentials: Credentials::Gateway,
                secret: self.api_key.as_ref(),
                first_byte_timeout: self.first_byte_timeout,
            },
        )
        .await
    }
}
