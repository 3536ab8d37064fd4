//! Credentials resolved once per call, the same way for every provider: the
//! gateway's configured key on the gateway client and base URL, or the caller's
//! BYOK key on the filtered-DNS client and its own base. Each provider only says
//! how a key becomes its auth header (`Bearer`, `x-api-key`, `x-goog-api-key`).
//!
//! A new credential source (vault keys) is a new `Account` variant handled in
//! `Keyring::resolve`, not a new path per provider. Configured deployments
//! (`config::routing`) are `Account::Deployment(i)`: the i-th entry of
//! `ProviderConfig::deployments`, `default` first; `Account::Gateway` is the first.

use std::borrow::Cow;

use http::HeaderValue;

use super::transport::{BadBase, BaseUri, CallBase, HttpClient};
use super::{Account, Clients, Credentials, UpstreamError};
use crate::config::ProviderConfig;
use crate::domain::ProviderKind;
use crate::secret::Secret;

/// The caller's own provider credentials for one request (BYOK), as
/// `routing::byok` read them from the headers.
#[derive(Debug, Clone)]
pub struct Byok {
    pub provider: ProviderKind,
    pub api_key: Secret<String>,
    /// Validated base URL without a trailing `/`.
    pub api_base: Option<String>,
    pub api_version: Option<String>,
}

/// How a provider turns a key into its auth header value.
pub(super) type AuthHeader = fn(&str) -> Option<HeaderValue>;

/// One provider's gateway-side credentials, built once at start.
pub(super) struct Keyring {
    provider: ProviderKind,
    gateway: HttpClient,
    byok: HttpClient,
    /// The provider's own base URL (BYOK calls without `x-byok-api-base` use it),
    /// parsed once; `Err` for a base `http` cannot carry (reported per call).
    base_url: Result<BaseUri, BadBase>,
    /// The gateway's deployments, in `ProviderConfig::deployments` order.
    deployments: Vec<DeploymentKey>,
    header: AuthHeader,
}

/// One deployment's base and key, with the key's header value built once and
/// marked sensitive.
struct DeploymentKey {
    base_url: Result<BaseUri, BadBase>,
    api_key: Secret<String>,
    auth: Option<HeaderValue>,
}

/// The credentials one call runs with.
pub(super) struct Resolved<'a> {
    pub client: &'a HttpClient,
    /// Base URL; its path has no trailing `/`.
    pub base: CallBase<'a>,
    pub auth: HeaderValue,
    pub credentials: Credentials,
    /// The key itself, scrubbed from upstream messages (and Azure's `api-key`).
    pub secret: Option<&'a Secret<String>>,
    /// The caller's `x-byok-api-version`, if any.
    pub api_version: Option<&'a str>,
}

impl Keyring {
    pub fn new(
        provider: ProviderKind,
        clients: &Clients,
        cfg: &ProviderConfig,
        header: AuthHeader,
    ) -> Self {
        Keyring {
            provider,
            gateway: clients.gateway.clone(),
            byok: clients.byok.clone(),
            base_url: BaseUri::parse(&cfg.base_url),
            deployments: cfg
                .deployments()
                .into_iter()
                .map(|d| DeploymentKey {
                    auth: header(d.api_key.expose()),
                    base_url: BaseUri::parse(&d.base_url),
                    api_key: d.api_key,
                })
                .collect(),
            header,
        }
    }

    pub fn has_credentials(&self) -> bool {
        self.deployments.iter().any(|d| d.auth.is_some())
    }

    pub fn resolve<'a>(&'a self, account: Account<'a>) -> Result<Resolved<'a>, UpstreamError> {
        let deployment = |i: usize| {
            let d = self
                .deployments
                .get(i)
                .filter(|d| d.auth.is_some())
                .ok_or(UpstreamError::NotConfigured(self.provider))?;
            Ok(Resolved {
                client: &self.gateway,
                base: Cow::Borrowed(configured(self.provider, &d.base_url)?),
                auth: d
                    .auth
                    .clone()
                    .ok_or(UpstreamError::NotConfigured(self.provider))?,
                credentials: Credentials::Gateway,
                secret: Some(&d.api_key),
                api_version: None,
            })
        };
        match account {
            Account::Gateway => deployment(0),
            Account::Deployment(i) => deployment(i),
            Account::Vault(key) => Ok(Resolved {
                client: &self.gateway,
                base: Cow::Borrowed(configured(self.provider, &self.base_url)?),
                auth: (self.header)(key.api_key.expose()).ok_or_else(|| bad_key(self.provider))?,
                credentials: Credentials::Caller,
                secret: Some(&key.api_key),
                api_version: None,
            }),
            Account::Caller(byok) => Ok(Resolved {
                client: &self.byok,
                base: match byok.api_base.as_deref() {
                    Some(base) => {
                        Cow::Owned(BaseUri::parse(base).map_err(|_| UpstreamError::Protocol {
                            provider: self.provider,
                            detail: "the x-byok-api-base is not a URL the gateway can call".into(),
                        })?)
                    }
                    None => Cow::Borrowed(configured(self.provider, &self.base_url)?),
                },
                auth: (self.header)(byok.api_key.expose()).ok_or_else(|| bad_key(self.provider))?,
                credentials: Credentials::Caller,
                secret: Some(&byok.api_key),
                api_version: byok.api_version.as_deref(),
            }),
        }
    }
}

/// A configured base URL, parsed once at startup (`Keyring::new`). A bad one fails
/// each call that would use it; its text is not repeated (it could hold credentials).
fn configured(
    provider: ProviderKind,
    base: &Result<BaseUri, BadBase>,
) -> Result<&BaseUri, UpstreamError> {
    base.as_ref().map_err(|_| UpstreamError::Protocol {
        provider,
        detail: format!(
            "a configured base URL of {provider} is not one the gateway can call; fix its base_url"
        ),
    })
}

/// `value` as a header value marked sensitive (never logged).
pub(super) fn sensitive(value: &str) -> Option<HeaderValue> {
    let mut v = HeaderValue::try_from(value).ok()?;
    v.set_sensitive(true);
    Some(v)
}

pub(super) fn bad_key(provider: ProviderKind) -> UpstreamError {
    UpstreamError::Protocol {
        provider,
        detail: "the x-byok-api-key is not a valid header value".into(),
    }
}

/// A path built from caller input (a model or deployment name) that is not a URI.
pub(super) fn bad_url(provider: ProviderKind) -> UpstreamError {
    UpstreamError::Protocol {
        provider,
        detail: "the request names a model or version that cannot go in a URL".into(),
    }
}
