//! The headers a `POST /v1/messages` must carry before the body is read:
//! a key, and the API version (`wire-formats.md` §2).
//!
//! Credentials: `x-api-key` or `Authorization: Bearer`, as the real API
//! takes both and the pinned official Python SDK (anthropic 2.12) sends only
//! the latter. Versions: any single dated value; the set the real API knows
//! moves (that SDK sends `2026-10-21`), so only the shape is checked, which
//! still catches a missing or duplicated header.

use std::borrow::Cow;

use http::header::AUTHORIZATION;
use http::{HeaderMap, StatusCode};

use super::super::error_body::AnthropicError;

pub(super) fn check(headers: &HeaderMap) -> Result<(), AnthropicError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    // A present but blank `x-api-key` is refused, not skipped for Bearer.
    let key = header("x-api-key")
        .or_else(|| header(AUTHORIZATION.as_str()).and_then(|v| v.strip_prefix("Bearer ")));
    if key.is_none_or(|key| key.trim().is_empty()) {
        return Err(AnthropicError::new(
            StatusCode::UNAUTHORIZED,
            "x-api-key header is required (or `Authorization: Bearer <key>`); \
             the mock accepts any non-empty key",
        ));
    }
    // All values joined, as a server folding repeated headers sees them: a
    // gateway that sends the header twice fails here as it would upstream.
    let versions: Vec<_> = headers
        .get_all("anthropic-version")
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()))
        .collect();
    if versions.is_empty() {
        return Err(bad_request("anthropic-version: header is required"));
    }
    let version = versions.join(", ");
    if !is_dated_version(&version) {
        return Err(bad_request(format!(
            "anthropic-version: \"{version}\" is not a valid version"
        )));
    }
    Ok(())
}

/// `YYYY-MM-DD`, the shape of every Anthropic API version.
fn is_dated_version(version: &str) -> bool {
    let bytes = version.as_bytes();
    bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        })
}

fn bad_request(message: impl Into<Cow<'static, str>>) -> AnthropicError {
    AnthropicError::new(StatusCode::BAD_REQUEST, message)
}

#[cfg(test)]
mod tests {
    use axum::response::IntoResponse;
    use http::HeaderValue;

    use super::*;

    fn headers() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-api-key", HeaderValue::from_static("sk-ant-test"));
        headers.insert("anthropic-version", HeaderValue::from_static("2023-06-01"));
        headers
    }

    fn rejection(headers: &HeaderMap) -> Option<StatusCode> {
        check(headers).err().map(|e| e.into_response().status())
    }

    #[test]
    fn checks_key_and_version_headers() {
        assert_eq!(rejection(&headers()), None);

        let mut blank_key = headers();
        blank_key.insert("x-api-key", HeaderValue::from_static(" "));
        assert_eq!(rejection(&blank_key), Some(StatusCode::UNAUTHORIZED));
        let mut bearer = headers();
        bearer.remove("x-api-key");
        bearer.insert("authorization", HeaderValue::from_static("Bearer k"));
        assert_eq!(rejection(&bearer), None);
        bearer.insert("authorization", HeaderValue::from_static("Basic k"));
        assert_eq!(rejection(&bearer), Some(StatusCode::UNAUTHORIZED));

        let mut version = headers();
        version.insert("anthropic-version", HeaderValue::from_static("2026-10-21"));
        assert_eq!(rejection(&version), None);
        for bad in ["", "latest", "2023-6-01", "2023-06-01x"] {
            version.insert("anthropic-version", HeaderValue::from_static(bad));
            assert_eq!(rejection(&version), Some(StatusCode::BAD_REQUEST), "{bad}");
        }
        version.remove("anthropic-version");
        assert_eq!(rejection(&version), Some(StatusCode::BAD_REQUEST));

        let mut twice = headers();
        twice.append("anthropic-version", HeaderValue::from_static("2023-06-01"));
        assert_eq!(rejection(&twice), Some(StatusCode::BAD_REQUEST));
    }
}
