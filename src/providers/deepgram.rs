//! Deepgram (`wire-formats.md` §4): `POST /v1/listen?model=…` with the raw
//! audio as the body and its own content type, `POST /v1/speak?model=…` with
//! JSON `{"text"}` and the output format in the query; the key in
//! `Authorization: Token <key>`.

use std::time::Duration;

use bytes::Bytes;

use super::credential::{Keyring, bad_url, sensitive};
use super::openai::urlencode;
use super::send::{Attempt, send};
use super::transport::post;
use super::{Account, UpstreamError, UpstreamResponse};
use crate::config::ProviderConfig;
use crate::domain::ProviderKind;
use crate::translate::deepgram::SpeechFormat;

/// A language tag as the caller sent it (`en`, `en-US`): 1–16 ASCII letters,
/// digits and dashes, kept inline so an `Operation` stays `Copy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lang {
    bytes: [u8; 16],
    len: u8,
}

impl Lang {
    pub fn new(tag: &str) -> Option<Lang> {
        let ok = (1..=16).contains(&tag.len())
            && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok {
            return None;
        }
        let mut bytes = [0u8; 16];
        bytes[..tag.len()].copy_from_slice(tag.as_bytes());
        Some(Lang {
            bytes,
            len: tag.len() as u8,
        })
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII went in.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

/// How an audio upload travels: its content type (the audio's own for
/// Deepgram, the multipart one for OpenAI) and the caller's `language`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Upload {
    pub content_type: &'static str,
    pub language: Option<Lang>,
}

pub struct Deepgram {
    keys: Keyring,
    first_byte_timeout: Duration,
}

fn token(key: &str) -> Option<http::HeaderValue> {
    sensitive(&format!("Token {key}"))
}

impl Deepgram {
    pub fn new(
        clients: &super::Clients,
        cfg: &ProviderConfig,
        first_byte_timeout: Duration,
    ) -> Self {
        Deepgram {
            keys: Keyring::new(ProviderKind::Deepgram, clients, cfg, token),
            first_byte_timeout,
        }
    }

    pub fn has_credentials(&self) -> bool {
        self.keys.has_credentials()
    }

    /// `POST /v1/listen`: `audio` is the file's bytes, `upload` says their type.
    pub async fn listen(
        &self,
        model: &str,
        upload: Upload,
        audio: Bytes,
        account: Account<'_>,
    ) -> Result<UpstreamResponse, UpstreamError> {
        let mut query = format!("model={}&smart_format=true", urlencode(model));
        if let Some(lang) = upload.language {
            query.push_str(&format!("&language={}", urlencode(lang.as_str())));
        }
        self.post("/v1/listen", &query, upload.content_type, audio, account)
            .await
    }

    /// `POST /v1/speak`: `body` is `{"text": …}`.
    pub async fn speak(
        &self,
        model: &str,
        format: SpeechFormat,
        body: Bytes,
        account: Account<'_>,
    ) -> Result<UpstreamResponse, UpstreamError> {
        let query = format!("model={}&{}", urlencode(model), format.deepgram_query());
        self.post("/v1/speak", &query, "application/json", body, account)
            .await
    }

    async fn post(
        &self,
        path: &str,
        query: &str,
        content_type: &'static str,
        body: Bytes,
        account: Account<'_>,
    ) -> Result<UpstreamResponse, UpstreamError> {
        let c = self.keys.resolve(account)?;
        let uri = c
            .base
            .join(&format!("{path}?{query}"))
            .map_err(|_| bad_url(ProviderKind::Deepgram))?;
        let mut req = post(uri, body);
        let h = req.headers_mut();
        h.insert(http::header::AUTHORIZATION, c.auth);
        h.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static(content_type),
        );
        send(
            c.client,
            req,
            Attempt {
                provider: ProviderKind::Deepgram,
                credentials: c.credentials,
                secret: c.secret,
                first_byte_timeout: self.first_byte_timeout,
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_tags_are_short_and_plain() {
        assert_eq!(Lang::new("en-US").unwrap().as_str(), "en-US");
        assert!(Lang::new("").is_none());
        assert!(Lang::new("en&model=x").is_none());
        assert!(Lang::new(&"a".repeat(17)).is_none());
    }
}
