//! The last [`CAPACITY`] requests received on provider routes, served at
//! `GET /_mock/requests` so tests can check what the gateway really sent
//! upstream (which credential, which model, which translated body).
//!
//! It stores headers and the query verbatim, `Authorization`, `api-key` and
//! Gemini's `?key=` included: that is the point (BYOK tests check which key
//! went upstream), and it is why this module must never be reachable outside
//! tests and demos. Each entry shows the raw `query` and, for convenience,
//! its decoded `query_params` (`{"key": "…", "api-version": "…"}`; repeated
//! names joined with `, ` like headers).
//!
//! Recording must stay cheap under benchmark load, so it only clones the
//! request head and the body's reference-counted `Bytes`; turning entries
//! into JSON waits until someone asks.

use std::collections::VecDeque;

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, Method, Uri};
use parking_lot::Mutex;
use serde_json::{Map, Value};

use super::query;

/// How many requests are kept; older ones are forgotten first.
pub(crate) const CAPACITY: usize = 50;

#[derive(Debug)]
struct Entry {
    method: Method,
    /// Path and query; cloning shares its bytes.
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

/// A bounded, oldest-first log of requests.
///
/// A blocking mutex rather than tokio's: nothing awaits while holding it
/// and each critical section is a push, a clear or a short render.
#[derive(Debug, Default)]
pub(crate) struct Journal {
    entries: Mutex<VecDeque<Entry>>,
}

impl Journal {
    pub(crate) fn record(&self, head: &Parts, body: Bytes) {
        let entry = Entry {
            method: head.method.clone(),
            uri: head.uri.clone(),
            headers: head.headers.clone(),
            body,
        };
        let mut entries = self.entries.lock();
        if entries.len() == CAPACITY {
            entries.pop_front();
        }
        entries.push_back(entry);
    }

    pub(crate) fn clear(&self) {
        self.entries.lock().clear();
    }

    /// The JSON body of `GET /_mock/requests`, oldest first.
    pub(crate) fn to_json(&self) -> Value {
        Value::Array(self.entries.lock().iter().map(Entry::to_json).collect())
    }
}

/// Adds `name: value`, joining a repeated name's values with `, ` the way
/// HTTP allows folding repeated headers.
fn insert_joined(map: &mut Map<String, Value>, name: &str, value: &str) {
    match map.get_mut(name) {
        Some(Value::String(existing)) => {
            existing.push_str(", ");
            existing.push_str(value);
        }
        _ => {
            map.insert(name.to_owned(), Value::String(value.to_owned()));
        }
    }
}

impl Entry {
    fn to_json(&self) -> Value {
        let mut headers = Map::new();
        for (name, value) in &self.headers {
            insert_joined(
                &mut headers,
                name.as_str(),
                &String::from_utf8_lossy(value.as_bytes()),
            );
        }
        let mut query_params = Map::new();
        for (name, value) in query::pairs(&self.uri) {
            insert_joined(&mut query_params, &name, &value);
        }
        let body = serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&self.body).into_owned()));
        serde_json::json!({
            "method": self.method.as_str(),
            "path": self.uri.path(),
            "query": self.uri.query(),
            "query_params": query_params,
            "headers": headers,
            "body": body,
            // The exact bytes, for tests that check a body was forwarded untouched.
            "body_text": String::from_utf8_lossy(&self.body),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(uri: &str) -> Parts {
        let (parts, ()) = http::Request::post(uri)
            .header("Authorization", "Bearer sk-up")
            .header("x-multi", "a")
            .header("x-multi", "b")
            .body(())
            .map(http::Request::into_parts)
            .unwrap_or_else(|e| panic!("test request must build: {e}"));
        parts
    }

    #[test]
    fn renders_headers_lowercase_and_body_as_json_or_text() {
        let journal = Journal::default();
        journal.record(
            &head("/v1/chat/completions?x=1&key=k%2B1&x=2"),
            Bytes::from_static(b"{\"a\":1}"),
        );
        journal.record(&head("/v1/other"), Bytes::from_static(b"not json"));
        let json = journal.to_json();
        assert_eq!(json[0]["method"], "POST");
        assert_eq!(json[0]["path"], "/v1/chat/completions");
        assert_eq!(json[0]["query"], "x=1&key=k%2B1&x=2");
        assert_eq!(
            json[0]["query_params"],
            serde_json::json!({"x": "1, 2", "key": "k+1"})
        );
        assert_eq!(json[0]["headers"]["authorization"], "Bearer sk-up");
        assert_eq!(json[0]["headers"]["x-multi"], "a, b");
        assert_eq!(json[0]["body"], serde_json::json!({"a": 1}));
        assert_eq!(json[1]["query"], Value::Null);
        assert_eq!(json[1]["query_params"], serde_json::json!({}));
        assert_eq!(json[1]["body"], "not json");
    }

    #[test]
    fn keeps_only_the_newest_entries_and_clears() {
        let journal = Journal::default();
        for i in 0..CAPACITY + 5 {
            journal.record(&head(&format!("/r/{i}")), Bytes::new());
        }
        let json = journal.to_json();
        let paths: Vec<_> = json
            .as_array()
            .map(|a| a.iter().map(|e| e["path"].clone()).collect())
            .unwrap_or_default();
        assert_eq!(paths.len(), CAPACITY);
        assert_eq!(paths[0], "/r/5");
        journal.clear();
        assert_eq!(journal.to_json(), serde_json::json!([]));
    }
}
