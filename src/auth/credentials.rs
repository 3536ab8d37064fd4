//! Where a caller may put its key: `Authorization: Bearer` (OpenAI SDK), `x-api-key`
//! (Anthropic SDK), `x-goog-api-key` (Gemini SDK) or the deployment's alt header,
//! checked in that order.

use axum::http::{HeaderMap, HeaderName, header};

use super::AuthError;

/// The presented credential, borrowed from the headers. `Ok(None)` means none was sent.
pub fn presented_key<'a>(
    headers: &'a HeaderMap,
    alt_header: &HeaderName,
) -> Result<Option<&'a str>, AuthError> {
    if let Some(v) = headers.get(header::AUTHORIZATION) {
        let v = v.to_str().map_err(|_| AuthError::Invalid)?;
        let token = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
            .ok_or(AuthError::Invalid)?
            .trim();
        if token.is_empty() {
            return Err(AuthError::Missing);
        }
        return Ok(Some(token));
    }
    for name in [
        &HeaderName::from_static("x-api-key"),
        &HeaderName::from_static("x-goog-api-key"),
        alt_header,
    ] {
        if let Some(v) = headers.get(name) {
            let v = v.to_str().map_err(|_| AuthError::Invalid)?.trim();
            if v.is_empty() {
                return Err(AuthError::Missing);
            }
            return Ok(Some(v));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn alt() -> HeaderName {
        HeaderName::from_static("x-tollgate-api-key")
    }

    fn with(name: &'static str, value: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_static(value));
        h
    }

    #[test]
    fn each_header_is_accepted() {
        for (name, value) in [
            ("authorization", "Bearer k1"),
            ("x-api-key", "k1"),
            ("x-goog-api-key", "k1"),
            ("x-tollgate-api-key", "k1"),
        ] {
            let h = with(name, value);
            assert_eq!(presented_key(&h, &alt()).unwrap(), Some("k1"), "{name}");
        }
    }

    #[test]
    fn authorization_wins_over_the_others() {
        let mut h = with("authorization", "Bearer first");
        h.insert("x-api-key", HeaderValue::from_static("second"));
        assert_eq!(presented_key(&h, &alt()).unwrap(), Some("first"));
    }

    #[test]
    fn non_bearer_schemes_and_empty_values_are_refused() {
        assert!(matches!(
            presented_key(&with("authorization", "Basic dTpw"), &alt()),
            Err(AuthError::Invalid)
        ));
        assert!(matches!(
            presented_key(&with("authorization", "Bearer "), &alt()),
            Err(AuthError::Missing)
        ));
        assert_eq!(presented_key(&HeaderMap::new(), &alt()).unwrap(), None);
    }
}
