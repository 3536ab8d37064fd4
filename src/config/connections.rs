//! `[outbound]`, `[connections]` and `[email]`: where connections may lead, whose
//! connection serves a call, and the SMTP relay behind `/v1/email/send`. Validated
//! here at startup, so a bad relay URL or sender stops the server instead of the
//! first send failing.

use serde::{Deserialize, Serialize};

use super::{ConfigError, Validator};
use crate::outbound::AddressPolicy;
use crate::secret::Secret;

/// `[outbound]`: the address policy of connections, webhooks and the image links
/// the gateway fetches for Gemini models, and the bounds of those fetches. BYOK
/// keeps its own `[byok]` switches.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawOutbound {
    /// Allow plain `http://` targets (tests, trusted networks only).
    pub allow_http: bool,
    /// Allow loopback, private, link-local and other special-purpose addresses.
    pub allow_private: bool,
    /// The largest image a link in a request to a Gemini model may point to.
    pub image_fetch_max_bytes: u64,
    /// How long fetching one such image may take, connection to last byte.
    pub image_fetch_timeout_ms: u64,
}

/// 10 MiB: Gemini takes at most 20 MB of inline data per request.
pub const DEFAULT_IMAGE_FETCH_MAX_BYTES: u64 = 10 << 20;
pub const DEFAULT_IMAGE_FETCH_TIMEOUT_MS: u64 = 10_000;

impl Default for RawOutbound {
    fn default() -> Self {
        RawOutbound {
            allow_http: false,
            allow_private: false,
            image_fetch_max_bytes: DEFAULT_IMAGE_FETCH_MAX_BYTES,
            image_fetch_timeout_ms: DEFAULT_IMAGE_FETCH_TIMEOUT_MS,
        }
    }
}

/// `[connections]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawConnections {
    /// A user without a connection of the asked name is served by the org-wide one.
    pub user_fallback_to_org: bool,
}

impl Default for RawConnections {
    fn default() -> Self {
        RawConnections {
            user_fallback_to_org: true,
        }
    }
}

/// `[email]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawEmail {
    /// `smtp://host:port` (plain, a local relay), `smtps://host:port` (implicit
    /// TLS), `smtp://host:port?tls=starttls`; credentials as URL userinfo. Empty:
    /// `/v1/email/send` answers 503.
    pub smtp_url: String,
    /// The sender when a request names none, e.g. `"Tollgate <noreply@example.com>"`.
    pub from: String,
}

/// `[outbound]`, validated.
#[derive(Debug, Clone, Copy)]
pub struct OutboundConfig {
    pub allow_http: bool,
    pub allow_private: bool,
    /// Image links for Gemini models: the size bound (bytes, at least 1) ...
    pub image_fetch_max_bytes: u64,
    /// ... and the time bound of one fetch.
    pub image_fetch_timeout: std::time::Duration,
}

impl OutboundConfig {
    /// The address policy for connection targets.
    pub fn addresses(self) -> AddressPolicy {
        AddressPolicy {
            allow_http: self.allow_http,
            allow_private: self.allow_private,
        }
    }
}

/// `[connections]`, validated.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionsConfig {
    pub user_fallback_to_org: bool,
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// `smtp://`: plain text (a local relay).
    Plain,
    /// `smtp://…?tls=starttls`: plain, upgraded with STARTTLS (required).
    StartTls,
    /// `smtps://`: TLS from the first byte.
    Implicit,
}

/// `[email]`, validated. The URL may hold credentials: it stays a [`Secret`].
#[derive(Debug, Clone, Default)]
pub struct EmailConfig {
    pub smtp: Option<SmtpRelay>,
    /// The default sender, checked to be a mailbox.
    pub from: Option<String>,
}

/// The parts of `smtp_url`.
#[derive(Debug, Clone)]
pub struct SmtpRelay {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<Secret<String>>,
}

impl Validator<'_> {
    pub(super) fn outbound(&self, raw: &RawOutbound) -> Result<OutboundConfig, ConfigError> {
        if raw.image_fetch_max_bytes == 0 {
            return Err(self.invalid(
                "outbound.image_fetch_max_bytes",
                raw.image_fetch_max_bytes,
                "must be at least 1 (the largest image link the gateway fetches for Gemini models)",
            ));
        }
        if raw.image_fetch_timeout_ms == 0 {
            return Err(self.invalid(
                "outbound.image_fetch_timeout_ms",
                raw.image_fetch_timeout_ms,
                "must be at least 1 (milliseconds for fetching one image link)",
            ));
        }
        Ok(OutboundConfig {
            allow_http: raw.allow_http,
            allow_private: raw.allow_private,
            image_fetch_max_bytes: raw.image_fetch_max_bytes,
            image_fetch_timeout: std::time::Duration::from_millis(raw.image_fetch_timeout_ms),
        })
    }

    pub(super) fn email(&mut self, raw: &RawEmail) -> Result<EmailConfig, ConfigError> {
        let smtp = match self.expand("email.smtp_url", &raw.smtp_url)? {
            None => None,
            Some(url) => Some(parse_smtp_url(&url).map_err(|problem| {
                self.invalid("email.smtp_url", redact_userinfo(&url), problem)
            })?),
        };
        let from = match self.expand("email.from", &raw.from)? {
            None => None,
            Some(from) => {
                if from.parse::<lettre::message::Mailbox>().is_err() {
                    return Err(self.invalid(
                        "email.from",
                        &from,
                        "must be a mailbox such as noreply@example.com or \"Name <noreply@example.com>\"",
                    ));
                }
                Some(from)
            }
        };
        Ok(EmailConfig { smtp, from })
    }
}

/// The URL with any password replaced, for error messages.
fn redact_userinfo(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("[redacted]"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "[unparsable]".to_owned(),
    }
}

fn parse_smtp_url(url: &str) -> Result<SmtpRelay, String> {
    let u = reqwest::Url::parse(url).map_err(|_| {
        "must be a URL such as smtp://127.0.0.1:25 or smtps://smtp.example.com:465".to_owned()
    })?;
    let mut security = match u.scheme() {
        "smtp" => SmtpSecurity::Plain,
        "smtps" => SmtpSecurity::Implicit,
        other => return Err(format!("scheme `{other}` is not smtp or smtps")),
    };
    for (k, v) in u.query_pairs() {
        match (k.as_ref(), v.as_ref()) {
            ("tls", "starttls") if security == SmtpSecurity::Plain => {
                security = SmtpSecurity::StartTls;
            }
            ("tls", "starttls") => {
                return Err("?tls=starttls goes with smtp://, not smtps:// (already TLS)".into());
            }
            ("tls", other) => return Err(format!("tls={other}: the only value is starttls")),
            (other, _) => {
                return Err(format!(
                    "unknown query parameter `{other}` (only tls=starttls)"
                ));
            }
        }
    }
    let host = u
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or("has no host")?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = u.port().unwrap_or(match security {
        SmtpSecurity::Implicit => 465,
        SmtpSecurity::StartTls => 587,
        SmtpSecurity::Plain => 25,
    });
    let decode = |s: &str| {
        percent_decode(s).ok_or_else(|| "userinfo is not valid percent-encoded UTF-8".to_owned())
    };
    let username = match u.username() {
        "" => None,
        name => Some(decode(name)?),
    };
    let password = u.password().map(decode).transpose()?.map(Secret::new);
    if password.is_some() && username.is_none() {
        return Err("has a password but no user name".into());
    }
    Ok(SmtpRelay {
        host,
        port,
        security,
        username,
        password,
    })
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_parse_into_their_security_and_credentials() {
        let r = parse_smtp_url("smtp://127.0.0.1:2525").unwrap();
        assert_eq!(
            (r.host.as_str(), r.port, r.security),
            ("127.0.0.1", 2525, SmtpSecurity::Plain)
        );
        assert!(r.username.is_none());
        let r = parse_smtp_url("smtps://u%40x:p%3Aw@mail.example.com").unwrap();
        assert_eq!((r.port, r.security), (465, SmtpSecurity::Implicit));
        assert_eq!(r.username.as_deref(), Some("u@x"));
        assert_eq!(r.password.unwrap().expose(), "p:w");
        let r = parse_smtp_url("smtp://mail.example.com?tls=starttls").unwrap();
        assert_eq!((r.port, r.security), (587, SmtpSecurity::StartTls));
        assert!(parse_smtp_url("http://x").is_err());
        assert!(parse_smtp_url("smtps://x?tls=starttls").is_err());
        assert!(parse_smtp_url("smtp://x?tls=none").is_err());
        assert!(parse_smtp_url("smtp://x?foo=1").is_err());
    }

    #[test]
    fn a_password_never_shows_in_the_error_value() {
        assert!(!redact_userinfo("smtp://u:hunter2@x").contains("hunter2"));
    }
}
