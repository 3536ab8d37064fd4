//! The path of an execute call, checked so it cannot leave the connection's
//! `base_url`. Checked on the raw, still percent-encoded path (never on a decoded
//! one: `%2F` decoded is a separator the caller did not write). Refused:
//!
//! - a dot segment, `.` or `..`, also written `%2e` / `%2E` (URL parsers resolve
//!   those as dots, per the WHATWG URL standard);
//! - an encoded separator, `%2F` or `%5C`, and a raw backslash (parsers of http
//!   URLs read `\` as `/`);
//! - an absolute URL (`https://…`, `//host/…`, any first segment with a `:`), and
//!   empty segments (`a//b`);
//! - control characters, `?` or `#` in the path (the query goes in the body).

/// Why a path was refused; the message is for the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("the path must not contain `.` or `..` segments (encoded or not)")]
    DotSegment,
    #[error("the path must not contain an encoded `/` or `\\` (%2F, %5C)")]
    EncodedSeparator,
    #[error("the path must not contain a backslash")]
    Backslash,
    #[error("the path must be relative to the connection's base_url, not an absolute URL")]
    Absolute,
    #[error("the path must not contain empty segments (`//`)")]
    EmptySegment,
    #[error(
        "the path must not contain control characters, `?` or `#`; send the query as `query` in the body"
    )]
    BadCharacter,
}

/// Checks `raw` (the part after `/v1/execute/{name}/`, still encoded) and gives
/// it back when it stays under the base URL.
pub fn check(raw: &str) -> Result<&str, PathError> {
    if raw.contains('\\') {
        return Err(PathError::Backslash);
    }
    if raw
        .bytes()
        .any(|b| b.is_ascii_control() || b == b'?' || b == b'#' || b == b' ')
    {
        return Err(PathError::BadCharacter);
    }
    let lower = raw.to_ascii_lowercase();
    if lower.contains("%2f") || lower.contains("%5c") {
        return Err(PathError::EncodedSeparator);
    }
    if raw.starts_with('/') {
        return Err(PathError::Absolute);
    }
    let segments: Vec<&str> = lower.split('/').collect();
    if let Some(first) = segments.first()
        && (first.contains(':') || first.contains("%3a"))
    {
        return Err(PathError::Absolute);
    }
    let last = segments.len().saturating_sub(1);
    for (i, seg) in segments.iter().enumerate() {
        let dots = seg.replace("%2e", ".");
        if dots == "." || dots == ".." {
            return Err(PathError::DotSegment);
        }
        if seg.is_empty() && i != last && !raw.is_empty() {
            return Err(PathError::EmptySegment);
        }
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paths_pass() {
        for ok in [
            "",
            "repos/a/b",
            "v1/items/",
            "a%20b/c",
            "x.json",
            "a..b",
            ".well-known/x",
        ] {
            assert_eq!(check(ok), Ok(ok), "{ok}");
        }
    }

    #[test]
    fn every_escape_is_refused() {
        let cases = [
            ("..", PathError::DotSegment),
            ("a/../b", PathError::DotSegment),
            ("a/./b", PathError::DotSegment),
            ("%2e%2e/x", PathError::DotSegment),
            ("a/%2E%2e", PathError::DotSegment),
            (".%2e/x", PathError::DotSegment),
            ("a%2Fb", PathError::EncodedSeparator),
            ("a%2f..%2fb", PathError::EncodedSeparator),
            ("a%5cb", PathError::EncodedSeparator),
            ("a\\..\\b", PathError::Backslash),
            ("https://evil.example/x", PathError::Absolute),
            ("http:evil", PathError::Absolute),
            ("/evil.example/x", PathError::Absolute),
            ("a//b", PathError::EmptySegment),
            ("a?b=1", PathError::BadCharacter),
            ("a#b", PathError::BadCharacter),
            ("a\r\nb", PathError::BadCharacter),
        ];
        for (raw, want) in cases {
            assert_eq!(check(raw), Err(want), "{raw}");
        }
    }
}
