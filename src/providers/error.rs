//! `UpstreamError`: what went wrong talking to a provider, and how each failure shows
//! to the caller (status, code, whether a retry can help).

use std::borrow::Cow;

use http::StatusCode;

use crate::domain::ProviderKind;

/// Whose provider credentials a request used. A 401/403 from the provider means
/// different things: the gateway is misconfigured, or the caller's own key is bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credentials {
    Gateway,
    Caller,
}

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("provider {0} has no API key configured on this gateway; set providers.{0}.api_key")]
    NotConfigured(ProviderKind),
    #[error(
        "model `{model}` is served by {provider}, which does not offer this endpoint; pick a model of a provider that does"
    )]
    Unsupported {
        provider: ProviderKind,
        model: String,
    },
    #[error(
        "no deployment of {provider} serves model `{model}`; add it to a deployment's `models` in [[providers.{provider}.deployments]], or drop that filter"
    )]
    NoDeployment {
        provider: ProviderKind,
        model: String,
    },
    #[error("could not reach {provider}: {detail}")]
    Connect {
        provider: ProviderKind,
        detail: String,
    },
    #[error("{provider} did not answer in time")]
    Timeout { provider: ProviderKind },
    #[error("{provider} answered HTTP {status}: {message}")]
    Rejected {
        provider: ProviderKind,
        status: u16,
        message: String,
        code: Option<String>,
        retry_after: Option<u64>,
        credentials: Credentials,
    },
    #[error("{provider} sent a response the gateway could not use: {detail}")]
    Protocol {
        provider: ProviderKind,
        detail: String,
    },
}

impl UpstreamError {
    pub fn status(&self) -> StatusCode {
        match self {
            UpstreamError::NotConfigured(_) | UpstreamError::NoDeployment { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            UpstreamError::Unsupported { .. } => StatusCode::BAD_REQUEST,
            UpstreamError::Connect { .. } | UpstreamError::Protocol { .. } => {
                StatusCode::BAD_GATEWAY
            }
            UpstreamError::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            UpstreamError::Rejected {
                status,
                credentials,
                ..
            } => match (*status, credentials) {
                // The provider refused the gateway's own key: an operator problem, not
                // the caller's, so never a 401/403 that would blame the caller's key.
                (401 | 403, Credentials::Gateway) => StatusCode::BAD_GATEWAY,
                (s, _) => StatusCode::from_u16(s)
                    .ok()
                    .filter(|s| s.is_client_error() || s.is_server_error())
                    .unwrap_or(StatusCode::BAD_GATEWAY),
            },
        }
    }

    pub fn code(&self) -> Cow<'static, str> {
        match self {
            UpstreamError::NotConfigured(_)
            | UpstreamError::NoDeployment { .. }
            | UpstreamError::Connect { .. } => "upstream_unavailable".into(),
            UpstreamError::Unsupported { .. } => "unknown_model".into(),
            UpstreamError::Timeout { .. } => "upstream_timeout".into(),
            UpstreamError::Protocol { .. } => "upstream_error".into(),
            UpstreamError::Rejected { code, .. } if self.status().is_client_error() => code
                .clone()
                .map(Cow::Owned)
                .unwrap_or(Cow::Borrowed("upstream_error")),
            UpstreamError::Rejected { .. } => "upstream_error".into(),
        }
    }

    pub fn retry_may_help(&self) -> bool {
        match self {
            UpstreamError::NotConfigured(_)
            | UpstreamError::NoDeployment { .. }
            | UpstreamError::Unsupported { .. } => false,
            UpstreamError::Connect { .. }
            | UpstreamError::Timeout { .. }
            | UpstreamError::Protocol { .. } => true,
            UpstreamError::Rejected { .. } => {
                let s = self.status();
                s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS
            }
        }
    }

    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            UpstreamError::Rejected { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(status: u16, credentials: Credentials) -> UpstreamError {
        UpstreamError::Rejected {
            provider: ProviderKind::OpenAi,
            status,
            message: "m".into(),
            code: Some("context_length_exceeded".into()),
            retry_after: None,
            credentials,
        }
    }

    #[test]
    fn client_errors_pass_through_with_code() {
        let e = rejected(400, Credentials::Gateway);
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        assert_eq!(e.code(), "context_length_exceeded");
        assert!(!e.retry_may_help());
    }

    #[test]
    fn gateway_credential_refusal_is_a_bad_gateway() {
        assert_eq!(
            rejected(401, Credentials::Gateway).status(),
            StatusCode::BAD_GATEWAY
        );
        assert_eq!(rejected(401, Credentials::Gateway).code(), "upstream_error");
        assert_eq!(
            rejected(401, Credentials::Caller).status(),
            StatusCode::UNAUTHORIZED
        );
    }

    #[test]
    fn server_errors_keep_status_and_may_be_retried() {
        let e = rejected(503, Credentials::Gateway);
        assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(e.code(), "upstream_error");
        assert!(e.retry_may_help());
    }
}
