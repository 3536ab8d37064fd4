//! CORS for browser apps (`[server] cors_allow_origins`): answers preflights from
//! allowed origins with 204 and the methods and headers the API takes, and marks
//! every response to an allowed origin (errors included) with
//! `Access-Control-Allow-Origin` and `Vary: Origin`. A request from any other
//! origin gets no CORS headers at all (the browser then refuses it), and a
//! preflight from one goes on to the routes like any `OPTIONS` request.
//!
//! No credentials mode: callers authenticate with headers, never cookies.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::config::CorsOrigins;

const METHODS: &str = "GET, POST, PATCH, DELETE, OPTIONS";

/// Request headers the API reads (the configured alternative key header is added).
const HEADERS: &[&str] = &[
    "authorization",
    "content-type",
    "x-api-key",
    "x-goog-api-key",
    "anthropic-version",
    "anthropic-beta",
    "anthropic-dangerous-direct-browser-access",
    "x-byok-provider",
    "x-byok-api-key",
    "x-byok-api-base",
    "x-byok-api-version",
    "x-user-id",
    "x-key-id",
    "x-session-id",
    "x-app-version",
    "x-request-id",
];

/// Response headers a browser script may read.
const EXPOSE: &str =
    "x-request-id, x-ratelimit-limit, x-ratelimit-remaining, x-ratelimit-reset, retry-after";

/// Preflights are cached by the browser for this long (seconds).
const MAX_AGE: &str = "600";

/// The value of `Access-Control-Allow-Origin` for `origin`, if it is allowed.
fn allowed(cors: &CorsOrigins, origin: &HeaderValue) -> Option<HeaderValue> {
    match cors {
        CorsOrigins::None => None,
        CorsOrigins::Any => Some(HeaderValue::from_static("*")),
        CorsOrigins::List(list) => list.iter().find(|o| *o == origin).cloned(),
    }
}

/// The allowed request headers: the fixed list, the alternative key header, and
/// any `x-stainless-*` header the caller asks for (the openai and anthropic SDKs
/// send their platform headers under that prefix).
fn allow_headers(alt: &str, requested: Option<&HeaderValue>) -> String {
    let mut out: Vec<String> = HEADERS.iter().map(|h| (*h).to_owned()).collect();
    out.push(alt.to_ascii_lowercase());
    let requested = requested.and_then(|v| v.to_str().ok()).unwrap_or_default();
    for h in requested.split(',').map(|h| h.trim().to_ascii_lowercase()) {
        let plain = h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if plain && h.starts_with("x-stainless-") && !out.contains(&h) {
            out.push(h);
        }
    }
    out.join(", ")
}

fn mark(headers: &mut HeaderMap, origin: HeaderValue) {
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.append(header::VARY, HeaderValue::from_static("origin"));
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSE),
    );
}

/// What CORS does with one request, decided before the request runs
/// (`http::middleware::edge` asks, then applies it to the response).
pub enum Cors {
    /// CORS is off, or every origin is allowed and none was sent: nothing to add.
    Nothing,
    /// An origin list the request's origin is not on: only `Vary: Origin`, so
    /// caches do not serve one origin's answer to another.
    Vary,
    /// An allowed origin: the response is marked for it.
    Allowed(HeaderValue),
    /// A preflight from an allowed origin: answered at once by [`preflight`].
    Preflight(HeaderValue),
}

/// The CORS decision for `req` under `[server] cors_allow_origins`.
pub fn decide(cors: &CorsOrigins, req: &Request) -> Cors {
    if *cors == CorsOrigins::None {
        return Cors::Nothing;
    }
    let Some(origin) = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| allowed(cors, o))
    else {
        return match cors {
            CorsOrigins::List(_) => Cors::Vary,
            _ => Cors::Nothing,
        };
    };
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        Cors::Preflight(origin)
    } else {
        Cors::Allowed(origin)
    }
}

impl Cors {
    /// Adds this decision's headers to a response (a preflight's are already there).
    pub fn apply(self, headers: &mut HeaderMap) {
        match self {
            Cors::Nothing | Cors::Preflight(_) => {}
            Cors::Vary => {
                headers.append(header::VARY, HeaderValue::from_static("origin"));
            }
            Cors::Allowed(origin) => mark(headers, origin),
        }
    }
}

/// The 204 answer to a preflight from an allowed `origin`: the methods and
/// headers the API takes, cached by the browser for `MAX_AGE` (600) seconds.
pub fn preflight(alt_header: &str, req: &Request, origin: HeaderValue) -> Response {
    let headers = allow_headers(
        alt_header,
        req.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS),
    );
    let mut res = StatusCode::NO_CONTENT.into_response();
    let h = res.headers_mut();
    mark(h, origin);
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(METHODS),
    );
    if let Ok(v) = HeaderValue::from_str(&headers) {
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, v);
    }
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static(MAX_AGE),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stainless_headers_are_allowed_when_asked_for_and_nothing_else_is() {
        let asked = HeaderValue::from_static("X-Stainless-OS, x-evil, authorization");
        let h = allow_headers("X-Tollgate-API-Key", Some(&asked));
        assert!(h.contains("x-stainless-os"), "{h}");
        assert!(h.contains("x-tollgate-api-key"), "{h}");
        assert!(!h.contains("x-evil"), "{h}");
        assert_eq!(h.matches("authorization").count(), 1, "{h}");
    }

    #[test]
    fn only_listed_origins_are_allowed() {
        let list = CorsOrigins::List(vec![HeaderValue::from_static("https://app.example")]);
        let app = HeaderValue::from_static("https://app.example");
        let evil = HeaderValue::from_static("https://evil.example");
        assert_eq!(allowed(&list, &app), Some(app.clone()));
        assert_eq!(allowed(&list, &evil), None);
        assert_eq!(
            allowed(&CorsOrigins::Any, &evil),
            Some(HeaderValue::from_static("*"))
        );
        assert_eq!(allowed(&CorsOrigins::None, &app), None);
    }
}
