//! `AppState`: the shared, read-mostly services every handler and the pipeline use
//! (config, store, auth, catalog, upstreams, limits, metering). Built once by
//! `App::build`; lives here, below `http` and `pipeline`, so they can name it
//! without reaching up to `app`.

use std::sync::Arc;

use axum::http::HeaderName;

use crate::auth::Authenticator;
use crate::config::Config;
use crate::keys::KeyHasher;
use crate::metering::service::Metering;
use crate::policy::concurrency::ConcurrencyLimiter;
use crate::policy::rate_limit::LocalRateLimiter;
use crate::providers::Upstreams;
use crate::routing::Catalog;
use crate::store::Store;
use crate::ui::Sessions;

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
    pub fn metering(&self) -> &Metering {
        &self.0.metering
    }
    pub fn auth(&self) -> &Authenticator {
        &self.0.auth
    }
    pub fn catalog(&self) -> &Catalog {
        &self.0.catalog
    }
    pub fn upstreams(&self) -> &Upstreams {
        &self.0.upstreams
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
