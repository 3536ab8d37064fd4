//! The outbound address policy: where a URL chosen by a caller (a BYOK base today;
//! connections and webhooks later) may make the gateway connect.
//!
//! Such a URL is an SSRF vector: left alone it would let a caller reach our loopback,
//! the cloud metadata service or the private network behind us. [`AddressPolicy`]
//! answers with two switches, `allow_http` (plain `http://` as well as `https://`) and
//! `allow_private` (addresses in the IANA special-purpose registries, see
//! [`registry`]). It is enforced twice:
//!
//! - up front, [`AddressPolicy::check_url`] (scheme, credentials, a literal IP) and
//!   [`AddressPolicy::check_resolved`] (every address the host resolves to), so the
//!   caller gets a clear 400 before anything is sent;
//! - at connect time, [`PolicyResolver`], the DNS resolver of the HTTP client that
//!   carries such requests, drops refused addresses from every answer, so a name that
//!   resolves to something else between the check and the connection (DNS rebinding)
//!   still cannot reach an internal address. Literal IPs are not resolved by the
//!   client, which is why the up-front check must see them.
//!
//! Owners of config keys map them onto the two booleans (`[byok] allow_http_base` /
//! `allow_private_base` for BYOK). This module holds no configuration and does no I/O
//! except the DNS lookups its `async` functions name, and [`tls`]'s one read of the
//! system's CA bundle.

pub mod registry;
pub mod tls;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

pub use registry::Refusal;

/// Where caller-chosen URLs may lead.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    /// Accept `http://` besides `https://` (tests, trusted networks).
    pub allow_http: bool,
    /// Accept addresses in the special-purpose registries (loopback, private…).
    pub allow_private: bool,
}

/// Why a URL was refused; the message is meant for the caller who sent it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    #[error("must be an absolute URL such as https://api.example.com")]
    NotAUrl,
    #[error("must use https (plain http is not allowed here)")]
    HttpNotAllowed,
    #[error("must be an https URL")]
    BadScheme,
    #[error("must not contain credentials")]
    Credentials,
    #[error("has no host")]
    NoHost,
    #[error("{ip} is an internal or reserved address: {why}")]
    Refused { ip: IpAddr, why: Refusal },
    #[error("host {0} does not resolve")]
    Unresolvable(String),
    #[error("host {host} resolves to {ip}, an internal or reserved address: {why}")]
    ResolvesToRefused {
        host: String,
        ip: IpAddr,
        why: Refusal,
    },
}

impl AddressPolicy {
    /// Whether the gateway may connect to `ip`.
    pub fn check_ip(self, ip: IpAddr) -> Result<(), Refusal> {
        if self.allow_private {
            return Ok(());
        }
        registry::classify(ip)
    }

    /// The checks that need no DNS: an absolute `https` (or allowed `http`) URL,
    /// without user info, whose host, if it is a literal IP, may be reached.
    pub fn check_url(self, url: &str) -> Result<reqwest::Url, OutboundError> {
        let url = reqwest::Url::parse(url).map_err(|_| OutboundError::NotAUrl)?;
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            "http" => return Err(OutboundError::HttpNotAllowed),
            _ => return Err(OutboundError::BadScheme),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(OutboundError::Credentials);
        }
        match host(&url)? {
            Host::Ip(ip) => self.refuse_literal(ip)?,
            Host::Name(_) => {}
        }
        Ok(url)
    }

    fn refuse_literal(self, ip: IpAddr) -> Result<(), OutboundError> {
        self.check_ip(ip)
            .map_err(|why| OutboundError::Refused { ip, why })
    }

    /// Resolves `url`'s host and refuses it if any answer may not be reached (one
    /// internal answer is enough: the client could pick it).
    pub async fn check_resolved(self, url: &reqwest::Url) -> Result<(), OutboundError> {
        if self.allow_private {
            return Ok(());
        }
        let host = match host(url)? {
            Host::Ip(ip) => return self.refuse_literal(ip),
            Host::Name(name) => name.to_owned(),
        };
        let port = url.port_or_known_default().unwrap_or(443);
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|_| OutboundError::Unresolvable(host.clone()))?
            .collect();
        if addrs.is_empty() {
            return Err(OutboundError::Unresolvable(host));
        }
        for a in &addrs {
            if let Err(why) = self.check_ip(a.ip()) {
                return Err(OutboundError::ResolvesToRefused {
                    host,
                    ip: a.ip(),
                    why,
                });
            }
        }
        Ok(())
    }

    /// The DNS resolver for an HTTP client that follows this policy.
    pub fn resolver(self) -> Arc<PolicyResolver> {
        Arc::new(PolicyResolver { policy: self })
    }
}

enum Host<'a> {
    Ip(IpAddr),
    Name(&'a str),
}

/// The URL's host. The URL parser has already normalised literal addresses
/// (`2130706433` and `0x7f.1` are `127.0.0.1`; IPv6 is bracketed), so a literal is
/// exactly a host that parses as an IP once the brackets are off.
fn host(url: &reqwest::Url) -> Result<Host<'_>, OutboundError> {
    let raw = url.host_str().ok_or(OutboundError::NoHost)?;
    let bare = raw.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
    match bare.unwrap_or(raw).parse::<IpAddr>() {
        Ok(ip) => Ok(Host::Ip(ip)),
        Err(_) => Ok(Host::Name(raw)),
    }
}

/// DNS for a client whose destinations callers choose: the system resolver, minus
/// every address the policy refuses. A name left with no address fails to connect.
#[derive(Debug, Clone, Copy)]
pub struct PolicyResolver {
    policy: AddressPolicy,
}

impl PolicyResolver {
    /// The addresses `host` resolves to that the policy allows; an error when none is
    /// left. Shared by reqwest's resolver below and the upstream client's
    /// (`providers::transport`).
    pub async fn lookup(&self, host: &str) -> std::io::Result<Vec<SocketAddr>> {
        let policy = self.policy;
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, 0))
            .await?
            .filter(|a| policy.check_ip(a.ip()).is_ok())
            .collect();
        if addrs.is_empty() {
            return Err(std::io::Error::other(format!(
                "{host} has no public address"
            )));
        }
        Ok(addrs)
    }
}

impl reqwest::dns::Resolve for PolicyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let this = *self;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = this.lookup(&host).await?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests;
