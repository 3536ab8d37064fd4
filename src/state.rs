//! `AppState`: the shared, read-mostly services every handler and the pipeline use
//! (config, store, auth, catalog, upstreams, limits, metering). Built once by
//! `App::build`; lives here, below `http` and `pipeline`, so they can name it
//! without reaching up to `app`.

use std::sync::Arc;

use axum::http::HeaderName;

use crate::auth::Authenticator;
use crate::config::Config;
use crate::connections::Connections;
use crate::email::Mailer;
use crate::keys::KeyHasher;
use crate::metering::service::Metering;
use crate::policy::concurrency::ConcurrencyLimiter;
use crate::policy::rate_limit::LocalRateLimiter;
use crate::providers::Upstreams;
use crate::routing::Catalog;
use crate::store::Store;
use crate::ui::Sessions;
use crate::users::Users;
use crate::vault::Vault;
use crate::webhooks::Webhooks;

/// Shared, read-mostly state. Cloning is one `Arc` bump.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

/// Everything the state holds, handed over once by [`crate::app::App::build`].
pub struct Services {
    pub config: Config,
    pub store: Store,
    pub hasher: KeyHasher,
    pub auth: Authenticator,
    pub catalog: Catalog,
    pub upstreams: Upstreams,
    pub rate_limiter: LocalRateLimiter,
    pub concurrency: ConcurrencyLimiter,
    pub metering: Metering,
    /// `[redis]`: limits and leases shared by every instance; `None`: in process.
    pub cluster: Option<crate::cluster::Cluster>,
    /// Each provider's deployments and their health (`routing::deployments`).
    pub deployments: crate::routing::Deployments,
    pub connections: Connections,
    pub mailer: Mailer,
    /// End users: registration, login, their login tokens.
    pub users: Users,
    /// End users' sealed provider keys.
    pub vault: Vault,
    pub webhooks: Webhooks,
    /// The security alert evaluators' queue (`crate::alerts`).
    pub alerts: crate::alerts::Alerts,
    /// Dashboard sessions (`/ui`).
    pub ui_sessions: Sessions,
}

impl AppState {
    pub fn new(services: Services) -> AppState {
        AppState(Arc::new(services))
    }

    pub fn config(&self) -> &Config {
        &self.0.config
    }
    pub fn store(&self) -> &Store {
        &self.0.store
    }
    pub fn hasher(&self) -> KeyHasher {
        self.0.hasher.clone()
    }
    pub fn rate_limiter(&self) -> &LocalRateLimiter {
        &self.0.rate_limiter
    }
    pub fn concurrency(&self) -> &ConcurrencyLimiter {
        &self.0.concurrency
    }
    pub fn cluster(&self) -> Option<&crate::cluster::Cluster> {
        self.0.cluster.as_ref()
    }
    /// `[redis] on_failure` (its defaults without Redis: nothing can fail then).
    pub fn on_failure(&self) -> crate::domain::OnFailurePolicy {
        self.0
            .config
            .redis
            .as_ref()
            .map(|r| r.on_failure)
            .unwrap_or_default()
    }
    pub fn metering(&self) -> &Metering {
        &self.0.metering
    }
    pub fn auth(&self) -> &Authenticator {
        &self.0.auth
    }
    pub fn catalog(&self) -> &Catalog {
        &self.0.catalog
    }
    pub fn webhooks(&self) -> &Webhooks {
        &self.0.webhooks
    }
    pub fn alerts(&self) -> &crate::alerts::Alerts {
        &self.0.alerts
    }
    pub fn upstreams(&self) -> &Upstreams {
        &self.0.upstreams
    }
    pub fn deployments(&self) -> &crate::routing::Deployments {
        &self.0.deployments
    }
    pub fn connections(&self) -> &Connections {
        &self.0.connections
    }
    pub fn mailer(&self) -> &Mailer {
        &self.0.mailer
    }
    pub fn users(&self) -> &Users {
        &self.0.users
    }
    pub fn vault(&self) -> &Vault {
        &self.0.vault
    }
    pub fn ui_sessions(&self) -> &Sessions {
        &self.0.ui_sessions
    }
    pub fn alt_header(&self) -> &HeaderName {
        &self.0.config.keys.alt_header
    }
    pub fn max_body_bytes(&self) -> usize {
        self.0.config.server.max_body_bytes
    }
}
