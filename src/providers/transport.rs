//! The upstream hop: hyper-util's pooled client with rustls (aws-lc-rs, the
//! platform's roots, shared: [`crate::outbound::tls`]), and base URLs parsed once.
//!
//! Why not reqwest: per request it parsed the URL three times (`post(&str)`, its
//! redirect layer even with redirects off, the response URL) and ran redirect,
//! retry, proxy-matching and timeout layers we do not use: about 30k instructions a
//! request (issue 16). Here a configured base is an `http::Uri`'s scheme and
//! authority kept from startup; a request only appends its path (a byte scan).
//!
//! What the client keeps from before: a connect timeout, TCP_NODELAY, DNS through
//! the outbound address policy for BYOK bases ([`Dns`]), no redirects, no
//! whole-response timeout (the first-byte and idle limits live in `send` and
//! `relay`). Dropping a response body closes its connection, so a caller that
//! leaves stops the upstream.
//!
//! HTTP/1.1 is the default, over a keep-alive pool bounded by [`MAX_IDLE_PER_HOST`]
//! and [`POOL_IDLE_TIMEOUT`]. hyper's pool keeps one HTTP/2 connection per host and
//! does not open a second when the server's `MAX_CONCURRENT_STREAMS` is reached
//! (hyperium/hyper#2197, #3623): past that limit requests queue on one connection.
//! HTTP/1.1 opens a connection per concurrent request instead, which is what a
//! gateway in front of a provider wants. `[upstream] http2 = true` speaks HTTP/2
//! only (h2 by ALPN, h2c by prior knowledge), for upstreams that require it.
//! Measured against the mock (bench/RESULTS.md, "Upstream hop and metering").

use std::borrow::Cow;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::Uri;
use http::uri::{Authority, Parts, PathAndQuery, Scheme};
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::config::UpstreamConfig;
use crate::outbound::PolicyResolver;

/// Idle keep-alive connections kept per upstream host. Enough for a c=256 load
/// without reconnecting, bounded so a burst does not pin memory forever.
pub const MAX_IDLE_PER_HOST: usize = 256;
/// An idle pooled connection is closed after this long (providers close theirs
/// after about a minute; reusing one they already closed costs a failed request).
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// A request body: always whole bytes (bodies are read before they are forwarded).
pub type RequestBody = Full<Bytes>;
/// A response body as it streams in.
pub type ResponseBody = hyper::body::Incoming;
/// What the client fails with before a response head arrives.
pub type TransportError = hyper_util::client::legacy::Error;

/// One pooled upstream client; clones share the pool.
#[derive(Clone)]
pub struct HttpClient {
    inner: Client<HttpsConnector<HttpConnector<Dns>>, RequestBody>,
}

impl HttpClient {
    /// `policy`: resolve through the outbound address policy (BYOK bases).
    pub fn new(t: &UpstreamConfig, policy: Option<Arc<PolicyResolver>>) -> std::io::Result<Self> {
        let mut http = HttpConnector::new_with_resolver(Dns { policy });
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(t.connect_timeout));
        let tls = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(crate::outbound::tls::client_config().map_err(std::io::Error::other)?)
            .https_or_http();
        let connector = if t.http2 {
            tls.enable_http2().wrap_connector(http)
        } else {
            tls.enable_http1().wrap_connector(http)
        };
        let mut builder = Client::builder(TokioExecutor::new());
        builder
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .pool_max_idle_per_host(MAX_IDLE_PER_HOST)
            .http2_only(t.http2);
        Ok(HttpClient {
            inner: builder.build(connector),
        })
    }

    pub async fn request(
        &self,
        req: http::Request<RequestBody>,
    ) -> Result<http::Response<ResponseBody>, TransportError> {
        self.inner.request(req).await
    }
}

/// A POST of `body` to `uri`; the caller adds its headers.
pub fn post(uri: Uri, body: Bytes) -> http::Request<RequestBody> {
    let mut req = http::Request::new(Full::new(body));
    *req.method_mut() = http::Method::POST;
    *req.uri_mut() = uri;
    req
}

/// A base URL split once: scheme and authority kept parsed, the path prefix
/// (no trailing `/`) as text for requests to append to.
#[derive(Debug, Clone)]
pub struct BaseUri {
    scheme: Scheme,
    authority: Authority,
    path: Box<str>,
}

/// A base URL `http` cannot carry (the config check uses a more lenient parser).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadBase;

impl BaseUri {
    pub fn parse(base: &str) -> Result<Self, BadBase> {
        let uri: Uri = base.parse().map_err(|_| BadBase)?;
        let parts = uri.into_parts();
        let (Some(scheme), Some(authority)) = (parts.scheme, parts.authority) else {
            return Err(BadBase);
        };
        if authority.as_str().contains('@') {
            return Err(BadBase);
        }
        let path = parts
            .path_and_query
            .as_ref()
            .map_or("", PathAndQuery::path)
            .trim_end_matches('/');
        Ok(BaseUri {
            scheme,
            authority,
            path: path.into(),
        })
    }

    /// This base with `rest` (a path starting with `/`, maybe a query) appended.
    pub fn join(&self, rest: &str) -> Result<Uri, BadBase> {
        let mut pq = String::with_capacity(self.path.len() + rest.len());
        pq.push_str(&self.path);
        pq.push_str(rest);
        let mut parts = Parts::default();
        parts.scheme = Some(self.scheme.clone());
        parts.authority = Some(self.authority.clone());
        parts.path_and_query = Some(PathAndQuery::try_from(pq).map_err(|_| BadBase)?);
        Uri::from_parts(parts).map_err(|_| BadBase)
    }
}

/// A base URL as a call uses it: the configured one (parsed at startup) or a
/// caller's BYOK base (parsed for the call).
pub type CallBase<'a> = Cow<'a, BaseUri>;

/// DNS for the upstream clients: the system resolver (on tokio's blocking pool,
/// as hyper's own `GaiResolver`), filtered by the outbound address policy for
/// the client that carries caller-chosen bases.
#[derive(Clone)]
pub struct Dns {
    policy: Option<Arc<PolicyResolver>>,
}

type Addrs = std::vec::IntoIter<SocketAddr>;

impl tower::Service<Name> for Dns {
    type Response = Addrs;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = std::io::Result<Addrs>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let policy = self.policy.clone();
        Box::pin(async move {
            let addrs = match policy {
                Some(p) => p.lookup(name.as_str()).await?,
                None => tokio::net::lookup_host((name.as_str(), 0)).await?.collect(),
            };
            Ok(addrs.into_iter())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bases_keep_their_path_and_join_without_double_slashes() {
        let b = BaseUri::parse("http://127.0.0.1:8080/v1/").unwrap();
        assert_eq!(
            b.join("/chat/completions").unwrap().to_string(),
            "http://127.0.0.1:8080/v1/chat/completions"
        );
        let b = BaseUri::parse("https://api.anthropic.com").unwrap();
        assert_eq!(
            b.join("/v1/messages?x=1").unwrap().to_string(),
            "https://api.anthropic.com/v1/messages?x=1"
        );
    }

    #[test]
    fn bases_without_a_host_or_with_credentials_are_refused() {
        assert_eq!(BaseUri::parse("/v1").unwrap_err(), BadBase);
        assert_eq!(BaseUri::parse("not a url").unwrap_err(), BadBase);
        assert_eq!(
            BaseUri::parse("https://user:pw@example.com").unwrap_err(),
            BadBase
        );
        let b = BaseUri::parse("https://example.com/v1").unwrap();
        assert_eq!(b.join("/a b").unwrap_err(), BadBase);
    }
}
