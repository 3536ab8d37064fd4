//! Email: `POST /v1/email/send` over SMTP with lettre, to the relay of
//! `[email] smtp_url` (`smtp://` plain, `smtps://` implicit TLS, `?tls=starttls`,
//! credentials as URL userinfo; TLS is rustls on aws-lc-rs).
//!
//! Every address is parsed as a mailbox (lettre's `Mailbox`), and CR or LF in a
//! subject or address is refused before parsing, so a caller can never add a
//! header. The answer's `id` is the message's `Message-ID` (`<id@tollgate>`).
//! An SMTP failure carries the server's reason (lettre's error text: the code and
//! the server's lines, never our credentials).
//!
//! Must not: log or return the relay's credentials.

use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Deserialize;

use crate::config::{EmailConfig, SmtpSecurity};

/// Most recipients (to + cc + bcc) of one message.
pub const MAX_RECIPIENTS: usize = 100;
const MAX_SUBJECT: usize = 998;

#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    #[error("`{param}`: {message}")]
    Invalid {
        param: &'static str,
        message: String,
    },
    #[error("missing required field `{0}`")]
    Missing(&'static str),
    #[error("email is not configured on this gateway; set [email] smtp_url")]
    NotConfigured,
    #[error("the SMTP server refused the message: {0}")]
    Smtp(String),
    #[error("the SMTP server could not be reached: {0}")]
    Unreachable(String),
}

/// `POST /v1/email/send`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    pub from: Option<String>,
    pub to: Option<Vec<String>>,
    #[serde(default)]
    pub cc: Vec<String>,
    #[serde(default)]
    pub bcc: Vec<String>,
    pub subject: Option<String>,
    pub text: Option<String>,
    pub html: Option<String>,
    pub reply_to: Option<String>,
}

/// The SMTP sender, built once from `[email]`.
pub struct Mailer {
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Option<Mailbox>,
}

impl Mailer {
    pub fn new(config: &EmailConfig) -> Result<Mailer, lettre::transport::smtp::Error> {
        let transport = match &config.smtp {
            None => None,
            Some(relay) => {
                let mut b = match relay.security {
                    SmtpSecurity::Plain => {
                        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&relay.host)
                    }
                    SmtpSecurity::StartTls => {
                        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&relay.host)?
                    }
                    SmtpSecurity::Implicit => {
                        AsyncSmtpTransport::<Tokio1Executor>::relay(&relay.host)?
                    }
                }
                .port(relay.port)
                .timeout(Some(std::time::Duration::from_secs(30)));
                if let Some(user) = &relay.username {
                    let password = relay
                        .password
                        .as_ref()
                        .map(|p| p.expose().clone())
                        .unwrap_or_default();
                    b = b.credentials(Credentials::new(user.clone(), password));
                }
                Some(b.build())
            }
        };
        Ok(Mailer {
            transport,
            from: config.from.as_deref().and_then(|f| f.parse().ok()),
        })
    }

    /// Validates, builds and sends one message; answers its id.
    pub async fn send(&self, req: SendRequest) -> Result<String, EmailError> {
        let message = self.build(req)?;
        let transport = self.transport.as_ref().ok_or(EmailError::NotConfigured)?;
        let (message, id) = message;
        match transport.send(message).await {
            Ok(_) => Ok(id),
            Err(e) if e.is_permanent() || e.is_transient() => Err(EmailError::Smtp(e.to_string())),
            Err(e) => Err(EmailError::Unreachable(e.to_string())),
        }
    }

    fn build(&self, req: SendRequest) -> Result<(Message, String), EmailError> {
        let from = match req.from.as_deref() {
            Some(f) => mailbox("from", f)?,
            None => self.from.clone().ok_or(EmailError::Invalid {
                param: "from",
                message: "is required: this gateway has no [email] from default".into(),
            })?,
        };
        let to = req.to.ok_or(EmailError::Missing("to"))?;
        if to.is_empty() {
            return Err(EmailError::Invalid {
                param: "to",
                message: "must name at least one recipient".into(),
            });
        }
        if to.len() + req.cc.len() + req.bcc.len() > MAX_RECIPIENTS {
            return Err(EmailError::Invalid {
                param: "to",
                message: format!("at most {MAX_RECIPIENTS} recipients (to, cc and bcc together)"),
            });
        }
        let subject = req.subject.ok_or(EmailError::Missing("subject"))?;
        if subject.contains(['\r', '\n']) {
            return Err(EmailError::Invalid {
                param: "subject",
                message: "must not contain CR or LF".into(),
            });
        }
        if subject.len() > MAX_SUBJECT {
            return Err(EmailError::Invalid {
                param: "subject",
                message: format!("must be at most {MAX_SUBJECT} bytes"),
            });
        }
        let id = uuid::Uuid::now_v7().simple().to_string();
        let mut b = Message::builder()
            .from(from)
            .subject(subject)
            .message_id(Some(format!("<{id}@tollgate>")));
        for a in &to {
            b = b.to(mailbox("to", a)?);
        }
        for a in &req.cc {
            b = b.cc(mailbox("cc", a)?);
        }
        for a in &req.bcc {
            b = b.bcc(mailbox("bcc", a)?);
        }
        if let Some(r) = req.reply_to.as_deref() {
            b = b.reply_to(mailbox("reply_to", r)?);
        }
        let built = match (req.text, req.html) {
            (None, None) => return Err(EmailError::Missing("text")),
            (Some(t), None) => b.singlepart(SinglePart::plain(t)),
            (None, Some(h)) => b.singlepart(SinglePart::html(h)),
            (Some(t), Some(h)) => b.multipart(MultiPart::alternative_plain_html(t, h)),
        };
        built.map(|m| (m, id)).map_err(|e| EmailError::Invalid {
            param: "to",
            message: e.to_string(),
        })
    }
}

fn mailbox(param: &'static str, text: &str) -> Result<Mailbox, EmailError> {
    if text.contains(['\r', '\n']) {
        return Err(EmailError::Invalid {
            param,
            message: "must not contain CR or LF".into(),
        });
    }
    text.parse::<Mailbox>().map_err(|e| EmailError::Invalid {
        param,
        message: format!("`{text}` is not an email address ({e})"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(subject: &str, to: &str) -> SendRequest {
        SendRequest {
            from: Some("a@example.com".into()),
            to: Some(vec![to.into()]),
            cc: vec![],
            bcc: vec![],
            subject: Some(subject.into()),
            text: Some("hi".into()),
            html: None,
            reply_to: None,
        }
    }

    #[test]
    fn injection_and_bad_addresses_are_refused() {
        let m = Mailer::new(&EmailConfig::default()).unwrap();
        let param = |r| match m.build(r) {
            Err(EmailError::Invalid { param, .. }) => param,
            other => panic!("{:?}", other.map(|_| ())),
        };
        assert_eq!(
            param(req("x\r\nBcc: evil@x.com", "b@example.com")),
            "subject"
        );
        assert_eq!(param(req("x", "b@example.com\nBcc: evil@x.com")), "to");
        assert_eq!(param(req("x", "not an address")), "to");
        assert!(m.build(req("fine", "Bob <b@example.com>")).is_ok());
    }
}
