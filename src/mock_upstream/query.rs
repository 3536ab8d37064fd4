//! Decoded query-string parameters, for the providers that put a credential
//! or a version in the URL (Gemini's `?key=`, Azure's `?api-version=`) and
//! for the journal, which shows them decoded next to the raw query.
//!
//! Lenient like the rest of the mock: a query that does not decode reads as
//! having no parameters, so the route answers as if they were missing.

use axum::extract::Query;
use http::Uri;

/// Every `name=value` pair, percent- and `+`-decoded, in order.
pub(crate) fn pairs(uri: &Uri) -> Vec<(String, String)> {
    Query::<Vec<(String, String)>>::try_from_uri(uri)
        .map(|Query(pairs)| pairs)
        .unwrap_or_default()
}

/// The first value of `name`, if the query has it.
pub(crate) fn param(uri: &Uri, name: &str) -> Option<String> {
    pairs(uri)
        .into_iter()
        .find_map(|(key, value)| (key == name).then_some(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_pairs_and_finds_the_first() {
        let uri: Uri = "/x?key=a%2Fb&alt=sse&key=second&q=two+words"
            .parse()
            .unwrap_or_else(|e| panic!("test uri must parse: {e}"));
        assert_eq!(param(&uri, "key").as_deref(), Some("a/b"));
        assert_eq!(param(&uri, "q").as_deref(), Some("two words"));
        assert_eq!(param(&uri, "missing"), None);
        assert_eq!(pairs(&uri).len(), 4);
        let bare: Uri = "/x".parse().unwrap_or_else(|e| panic!("{e}"));
        assert!(pairs(&bare).is_empty());
    }
}
