//! Executing a call through a connection: `base_url` + the checked path, the
//! caller's method, query, headers and body, the credential injected, and the
//! target's answer handed back without anything that could carry the credential.
//!
//! **Request.** Caller headers that frame the request (`host`, `content-length`,
//! hop-by-hop ones) are dropped, and so are `authorization`, `cookie` and the
//! connection's own header name: the injected credential always wins. A JSON body
//! is sent as JSON (`content-type: application/json` unless the caller set one); a
//! string body is sent as it is (`text/plain` unless set). Redirects are not
//! followed (a 3xx is answered as it is, so a target cannot bounce the credential
//! elsewhere).
//!
//! **Response, buffered** (the default): `{status, headers, body}` with `body` JSON
//! when the target sent JSON, else a string (non-UTF-8 bytes as base64 with
//! `"body_encoding": "base64"`). Any occurrence of the credential in the body text is
//! replaced by `[redacted]`.
//!
//! **Response, streamed**: a `text/event-stream` answer, or one past
//! [`BUFFER_LIMIT`] bytes, is streamed through as the raw body of a 200 with the
//! target's status in `x-tollgate-target-status`, its content type, and the same
//! filtered headers; streamed bytes are not scrubbed (they are the target's own
//! data).
//!
//! **Stripped response headers**: `authorization`, `proxy-authorization`,
//! `set-cookie`, `set-cookie2`, `www-authenticate`, `proxy-authenticate`, the
//! connection's header name, hop-by-hop and framing headers, and any header whose
//! value contains the credential.
//!
//! **Timeouts** (`[upstream]`): connect, first byte (`first_byte_timeout_ms`: 504)
//! and the silence between body chunks (`idle_timeout_ms`).

use std::time::Duration;

use base64::Engine;
use bytes::{Bytes, BytesMut};
use futures_util::stream::{self, BoxStream, StreamExt};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{Auth, ConnectionError};
use crate::config::UpstreamConfig;
use crate::outbound::AddressPolicy;

/// Answers up to this size are buffered into the JSON envelope; larger ones are
/// streamed through.
pub const BUFFER_LIMIT: usize = 1 << 20;

/// `POST /v1/execute/{name}/{path…}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecuteRequest {
    pub method: Option<String>,
    #[serde(default)]
    pub query: Option<Map<String, Value>>,
    #[serde(default)]
    pub headers: Option<Map<String, Value>>,
    #[serde(default)]
    pub body: Option<Value>,
    #[serde(default, rename = "userId")]
    pub user_id: Option<String>,
}

/// What the target answered.
pub enum Executed {
    /// The `{status, headers, body}` envelope.
    Buffered(Value),
    /// Too large or a stream: passed through.
    Streamed {
        status: u16,
        headers: Vec<(HeaderName, HeaderValue)>,
        body: BoxStream<'static, Result<Bytes, std::io::Error>>,
    },
}

/// The HTTP client of connections: the `[outbound]` resolver, no redirects.
pub struct Executor {
    client: reqwest::Client,
    first_byte: Duration,
}

const STRIPPED_RESPONSE: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "set-cookie",
    "set-cookie2",
    "www-authenticate",
    "proxy-authenticate",
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "content-length",
    "content-encoding",
];

const DROPPED_REQUEST: &[&str] = &[
    "host",
    "content-length",
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "authorization",
    "proxy-authorization",
    "cookie",
];

const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

fn invalid(param: &'static str, message: impl Into<String>) -> ConnectionError {
    ConnectionError::Invalid {
        param,
        message: message.into(),
    }
}

impl Executor {
    pub fn new(addresses: AddressPolicy, t: &UpstreamConfig) -> Result<Executor, reqwest::Error> {
        let client = crate::outbound::tls::with_shared_roots(reqwest::Client::builder())
            .connect_timeout(t.connect_timeout)
            .read_timeout(t.idle_timeout)
            .tcp_nodelay(true)
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(addresses.resolver())
            .build()?;
        Ok(Executor {
            client,
            first_byte: t.first_byte_timeout,
        })
    }

    pub(super) async fn run(
        &self,
        base: &reqwest::Url,
        path: &str,
        req: &ExecuteRequest,
        auth: &Auth,
    ) -> Result<Executed, ConnectionError> {
        let method = req
            .method
            .as_deref()
            .ok_or(ConnectionError::Missing("method"))?;
        let method = method.to_ascii_uppercase();
        if !METHODS.contains(&method.as_str()) {
            return Err(invalid(
                "method",
                format!("must be one of {}", METHODS.join(", ")),
            ));
        }
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|_| invalid("method", "is not an HTTP method"))?;
        let url = target_url(base, path, req.query.as_ref(), auth)?;
        let mut headers = caller_headers(req.headers.as_ref(), auth)?;
        let body = match &req.body {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => {
                default_content_type(&mut headers, "text/plain; charset=utf-8");
                Some(Bytes::from(s.clone()))
            }
            Some(v) => {
                default_content_type(&mut headers, "application/json");
                Some(Bytes::from(v.to_string()))
            }
        };
        inject(&mut headers, auth);
        let mut builder = self.client.request(method, url).headers(headers);
        if let Some(b) = body {
            builder = builder.body(b);
        }
        let response = match tokio::time::timeout(self.first_byte, builder.send()).await {
            Err(_) => return Err(ConnectionError::Timeout(self.first_byte.as_secs().max(1))),
            Ok(Err(e)) if e.is_timeout() => {
                return Err(ConnectionError::Timeout(self.first_byte.as_secs().max(1)));
            }
            Ok(Err(e)) => return Err(ConnectionError::Unreachable(describe(e))),
            Ok(Ok(r)) => r,
        };
        answer(response, auth).await
    }
}

/// The error's text without its URL: with `query` auth the URL holds the credential.
fn describe(e: reqwest::Error) -> String {
    use std::error::Error;
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn default_content_type(headers: &mut HeaderMap, value: &'static str) {
    if !headers.contains_key(reqwest::header::CONTENT_TYPE) {
        headers.insert(
            reqwest::header::CONTENT_TYPE,
            HeaderValue::from_static(value),
        );
    }
}

/// `base` + `/` + `path` + the caller's query, checked once more to still be under
/// `base` after the URL parser had its say.
fn target_url(
    base: &reqwest::Url,
    path: &str,
    query: Option<&Map<String, Value>>,
    auth: &Auth,
) -> Result<reqwest::Url, ConnectionError> {
    let base_path = base.path().trim_end_matches('/');
    let mut root = base.clone();
    root.set_query(None);
    root.set_fragment(None);
    let joined = format!("{}/{}", root.as_str().trim_end_matches('/'), path);
    let mut url = reqwest::Url::parse(&joined)
        .map_err(|_| invalid("path", "does not form a URL with the base_url"))?;
    if url.origin() != base.origin() || !url.path().starts_with(base_path) {
        return Err(invalid("path", "must stay under the connection's base_url"));
    }
    let auth_param = match auth {
        Auth::Query { name, .. } => Some(name.as_str()),
        _ => None,
    };
    {
        let mut pairs = url.query_pairs_mut();
        for (k, v) in query.into_iter().flatten() {
            if Some(k.as_str()) == auth_param {
                continue;
            }
            let value = match v {
                Value::String(s) => s.clone(),
                Value::Number(_) | Value::Bool(_) => v.to_string(),
                _ => {
                    return Err(invalid(
                        "query",
                        format!("`{k}` must be a string, number or boolean"),
                    ));
                }
            };
            pairs.append_pair(k, &value);
        }
        if let Auth::Query { name, value } = auth {
            pairs.append_pair(name, value.expose());
        }
    }
    if url.query() == Some("") {
        url.set_query(None);
    }
    Ok(url)
}

fn caller_headers(
    given: Option<&Map<String, Value>>,
    auth: &Auth,
) -> Result<HeaderMap, ConnectionError> {
    let mut out = HeaderMap::new();
    let own = match auth {
        Auth::Header { name, .. } => Some(name.to_ascii_lowercase()),
        _ => None,
    };
    for (k, v) in given.into_iter().flatten() {
        let name = HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| invalid("headers", format!("`{k}` is not an HTTP header name")))?;
        if DROPPED_REQUEST.contains(&name.as_str()) || own.as_deref() == Some(name.as_str()) {
            continue;
        }
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Number(_) | Value::Bool(_) => v.to_string(),
            _ => return Err(invalid("headers", format!("`{k}` must be a string"))),
        };
        let value = HeaderValue::from_str(&text).map_err(|_| {
            invalid(
                "headers",
                format!("`{k}` has a value with forbidden characters (CR, LF, control)"),
            )
        })?;
        out.append(name, value);
    }
    Ok(out)
}

fn inject(headers: &mut HeaderMap, auth: &Auth) {
    let set = |headers: &mut HeaderMap, name: HeaderName, value: String| {
        if let Ok(mut v) = HeaderValue::from_str(&value) {
            v.set_sensitive(true);
            headers.insert(name, v);
        }
    };
    match auth {
        Auth::Bearer { token } => set(
            headers,
            reqwest::header::AUTHORIZATION,
            format!("Bearer {}", token.expose()),
        ),
        Auth::Basic { username, password } => set(
            headers,
            reqwest::header::AUTHORIZATION,
            format!("Basic {}", basic(username.expose(), password.expose())),
        ),
        Auth::Header { name, value } => {
            if let Ok(name) = HeaderName::from_bytes(name.as_bytes()) {
                set(headers, name, value.expose().clone());
            }
        }
        Auth::Query { .. } => {}
    }
}

fn basic(user: &str, password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

/// Every form in which the credential could come back.
fn secret_forms(auth: &Auth) -> Vec<String> {
    let mut forms: Vec<String> = auth.secrets().iter().map(|s| (*s).to_owned()).collect();
    if let Auth::Basic { username, password } = auth {
        forms.push(basic(username.expose(), password.expose()));
    }
    // Very short secrets would redact ordinary text; they are still stripped
    // from headers by name.
    forms.retain(|s| s.len() >= 4);
    forms
}

fn scrub(text: &str, forms: &[String]) -> String {
    let mut out = text.to_owned();
    for f in forms {
        if out.contains(f.as_str()) {
            out = out.replace(f.as_str(), "[redacted]");
        }
    }
    out
}

fn kept_headers(
    headers: &HeaderMap,
    auth: &Auth,
    forms: &[String],
) -> Vec<(HeaderName, HeaderValue)> {
    let own = match auth {
        Auth::Header { name, .. } => Some(name.to_ascii_lowercase()),
        _ => None,
    };
    headers
        .iter()
        .filter(|(name, value)| {
            let name = name.as_str();
            if STRIPPED_RESPONSE.contains(&name) || own.as_deref() == Some(name) {
                return false;
            }
            let text = String::from_utf8_lossy(value.as_bytes());
            !forms.iter().any(|f| text.contains(f.as_str()))
        })
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect()
}

async fn answer(response: reqwest::Response, auth: &Auth) -> Result<Executed, ConnectionError> {
    let status = response.status().as_u16();
    let forms = secret_forms(auth);
    let headers = kept_headers(response.headers(), auth, &forms);
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let event_stream = content_type.starts_with("text/event-stream");
    let too_long = response
        .content_length()
        .is_some_and(|n| n > BUFFER_LIMIT as u64);
    let mut body = response.bytes_stream();
    let mut buffered = BytesMut::new();
    if !event_stream && !too_long {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| ConnectionError::Unreachable(describe(e)))?;
            buffered.extend_from_slice(&chunk);
            if buffered.len() > BUFFER_LIMIT {
                break;
            }
        }
        if buffered.len() <= BUFFER_LIMIT {
            return Ok(Executed::Buffered(envelope(
                status,
                &headers,
                &content_type,
                buffered.freeze(),
                &forms,
            )));
        }
    }
    let head = stream::iter((!buffered.is_empty()).then(|| Ok(buffered.freeze())));
    let rest = body.map(|r| r.map_err(|e| std::io::Error::other(e.without_url())));
    Ok(Executed::Streamed {
        status,
        headers,
        body: head.chain(rest).boxed(),
    })
}

fn envelope(
    status: u16,
    headers: &[(HeaderName, HeaderValue)],
    content_type: &str,
    body: Bytes,
    forms: &[String],
) -> Value {
    let mut map = Map::new();
    for (name, value) in headers {
        let text = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match map.get_mut(name.as_str()) {
            Some(Value::String(prev)) => {
                prev.push_str(", ");
                prev.push_str(&text);
            }
            _ => {
                map.insert(name.as_str().to_owned(), Value::String(text));
            }
        }
    }
    let mut out = serde_json::json!({"status": status, "headers": map});
    match std::str::from_utf8(&body) {
        Ok(text) => {
            let text = scrub(text, forms);
            let json = content_type
                .contains("json")
                .then(|| serde_json::from_str::<Value>(&text).ok())
                .flatten();
            out["body"] = json.unwrap_or(Value::String(text));
        }
        Err(_) => {
            out["body"] = Value::String(base64::engine::general_purpose::STANDARD.encode(&body));
            out["body_encoding"] = Value::String("base64".into());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    #[test]
    fn the_url_stays_under_the_base_and_carries_the_query_credential() {
        let base = reqwest::Url::parse("https://api.example.com/v2").unwrap();
        let auth = Auth::Query {
            name: "key".into(),
            value: Secret::new("s3cret".into()),
        };
        let q: Map<String, Value> =
            serde_json::from_str(r#"{"a":"1","key":"evil","n":2}"#).unwrap();
        let url = target_url(&base, "items/7", Some(&q), &auth).unwrap();
        assert_eq!(
            url.as_str(),
            "https://api.example.com/v2/items/7?a=1&n=2&key=s3cret"
        );
    }

    #[test]
    fn the_credential_is_scrubbed_from_headers_and_bodies() {
        let auth = Auth::Basic {
            username: Secret::new("alice".into()),
            password: Secret::new("pw-123456".into()),
        };
        let forms = secret_forms(&auth);
        let mut h = HeaderMap::new();
        h.insert(
            "x-echo",
            HeaderValue::from_str(&format!("Basic {}", basic("alice", "pw-123456"))).unwrap(),
        );
        h.insert("set-cookie", HeaderValue::from_static("a=b"));
        h.insert("x-fine", HeaderValue::from_static("ok"));
        let kept = kept_headers(&h, &auth, &forms);
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].0.as_str(), "x-fine");
        assert_eq!(scrub("got pw-123456!", &forms), "got [redacted]!");
    }
}
