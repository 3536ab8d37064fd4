//! Fetching an image a caller linked to, for a provider that takes images inline
//! only (Gemini): the gateway downloads it and the pipeline inlines it as base64.
//!
//! The URL is the caller's choice, so it is an SSRF vector like any other: it goes
//! through the one outbound address policy (`[outbound] allow_http`,
//! `allow_private`; [`crate::outbound`]), checked up front and again by the
//! client's resolver at connect time, with redirects off (a redirect could lead
//! anywhere). The answer must be a 2xx with an `image/*` content type, arrive
//! within `[outbound] image_fetch_timeout_ms` (connection to last byte: this is a
//! download, not a stream) and hold at most `image_fetch_max_bytes`, counted as the
//! body arrives (a missing or lying `Content-Length` cannot get past it).

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

use crate::config::OutboundConfig;
use crate::outbound::{AddressPolicy, OutboundError};

/// An image fetched whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedImage {
    /// The response's media type, lower-cased, without parameters (`image/png`).
    pub media_type: String,
    pub bytes: Bytes,
}

/// Why an image link could not be inlined; each message is for the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageFetchError {
    #[error(
        "the image link {0}; the gateway fetches image links for Gemini models only where [outbound] allow_http / allow_private permit, so send the image as a base64 data URL instead"
    )]
    Refused(OutboundError),
    #[error(
        "the image link did not answer within {}s ([outbound] image_fetch_timeout_ms); send the image as a base64 data URL instead",
        .0.as_secs_f64()
    )]
    Timeout(Duration),
    #[error(
        "the image link points to more than {0} bytes ([outbound] image_fetch_max_bytes); send a smaller image"
    )]
    TooLarge(u64),
    #[error("the image link answered with content type `{0}`, not an image")]
    NotAnImage(String),
    #[error("the image link answered HTTP {0}")]
    Status(u16),
    #[error("the image link could not be fetched: {0}")]
    Failed(String),
}

/// The client and bounds for image links.
#[derive(Debug, Clone)]
pub struct ImageFetcher {
    client: reqwest::Client,
    policy: AddressPolicy,
    max_bytes: u64,
    timeout: Duration,
}

impl ImageFetcher {
    pub fn new(outbound: &OutboundConfig, connect_timeout: Duration) -> reqwest::Result<Self> {
        let policy = outbound.addresses();
        let client = crate::outbound::tls::with_shared_roots(reqwest::Client::builder())
            .connect_timeout(connect_timeout.min(outbound.image_fetch_timeout))
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(policy.resolver())
            .no_proxy()
            .build()?;
        Ok(ImageFetcher {
            client,
            policy,
            max_bytes: outbound.image_fetch_max_bytes,
            timeout: outbound.image_fetch_timeout,
        })
    }

    /// Whether `url` is a link this fetcher would try (http or https); anything
    /// else (a data URL, a typo) is left to the translator to judge.
    pub fn is_link(url: &str) -> bool {
        let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
        lower.starts_with("https://") || lower.starts_with("http://")
    }

    /// Fetches the image at `url` (module doc).
    pub async fn fetch(&self, url: &str) -> Result<FetchedImage, ImageFetchError> {
        let parsed = self
            .policy
            .check_url(url)
            .map_err(ImageFetchError::Refused)?;
        match tokio::time::timeout(self.timeout, self.download(parsed)).await {
            Ok(result) => result,
            Err(_) => Err(ImageFetchError::Timeout(self.timeout)),
        }
    }

    async fn download(&self, url: reqwest::Url) -> Result<FetchedImage, ImageFetchError> {
        self.policy
            .check_resolved(&url)
            .await
            .map_err(ImageFetchError::Refused)?;
        let res = self
            .client
            .get(url)
            .header(reqwest::header::ACCEPT, "image/*")
            .send()
            .await
            // Without the URL: it may carry a signed query the logs should not see.
            .map_err(|e| ImageFetchError::Failed(e.without_url().to_string()))?;
        if !res.status().is_success() {
            return Err(ImageFetchError::Status(res.status().as_u16()));
        }
        let content_type = res
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let media_type = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if !media_type.starts_with("image/") || media_type.len() == "image/".len() {
            return Err(ImageFetchError::NotAnImage(if content_type.is_empty() {
                "(none)".into()
            } else {
                content_type.chars().take(100).collect()
            }));
        }
        if res.content_length().is_some_and(|n| n > self.max_bytes) {
            return Err(ImageFetchError::TooLarge(self.max_bytes));
        }
        let mut body = BytesMut::new();
        let mut stream = res.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| ImageFetchError::Failed(e.without_url().to_string()))?;
            if (body.len() + chunk.len()) as u64 > self.max_bytes {
                return Err(ImageFetchError::TooLarge(self.max_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(FetchedImage {
            media_type,
            bytes: body.freeze(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_and_https_are_links() {
        assert!(ImageFetcher::is_link("https://x.test/a.png"));
        assert!(ImageFetcher::is_link("HTTP://x.test/a.png"));
        assert!(!ImageFetcher::is_link("data:image/png;base64,AA"));
        assert!(!ImageFetcher::is_link("ftp://x.test/a.png"));
        assert!(!ImageFetcher::is_link("http"));
    }
}
