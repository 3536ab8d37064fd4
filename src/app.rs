//! `AppState`, the router, and the layer stack every request passes through (read it
//! top to bottom: panics caught, secrets marked sensitive, request id and trace, body
//! limit, then the routes).

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::HeaderName;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;

use std::time::Duration;

use crate::auth::{Authenticator, KeyCache};
use crate::config::Config;
use crate::http::gate::{self, Gate};
use crate::http::{admin, chat, embeddings, messages, metering, middleware, openai_only, public};
use crate::key_service::{self, Bootstrap};
use crate::keys::{ApiKey, KeyHasher, Scope};
use crate::metering::ledger::Ledger;
use crate::metering::service::Metering;
use crate::metering::sink;
use crate::policy::concurrency::ConcurrencyLimiter;
use crate::policy::rate_limit::LocalRateLimiter;
use crate::providers::Upstreams;
use crate::routing::Catalog;
use crate::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("cannot open storage: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("cannot install the bootstrap management key: {0}")]
    Bootstrap(#[from] crate::key_service::BootstrapError),
    #[error("cannot set up upstream clients: {0}")]
    Upstream(#[from] crate::providers::UpstreamError),
}

/// Shared, read-mostly state. Cloning is one `Arc` bump.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    config: Config,
    store: Store,
    hasher: KeyHasher,
    auth: Authenticator,
    catalog: Catalog,
    upstreams: Upstreams,
    rate_limiter: LocalRateLimiter,
    concurrency: ConcurrencyLimiter,
    metering: Metering,
}

impl AppState {
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
    pub fn alt_header(&self) -> &HeaderName {
        &self.0.config.keys.alt_header
    }
    pub fn max_body_bytes(&self) -> usize {
        self.0.config.server.max_body_bytes
    }
}

/// A built gateway: state plus its background tasks (stopped when dropped).
pub struct App {
    state: AppState,
    background: Vec<tokio::task::JoinHandle<()>>,
    bootstrap_key: Option<ApiKey>,
    writer: Option<sink::Writer>,
}

impl Drop for App {
    fn drop(&mut self) {
        for task in &self.background {
            task.abort();
        }
    }
}

impl App {
    /// Opens storage (applying migrations), loads the pepper, builds clients and caches.
    pub async fn build(config: Config) -> Result<App, StartError> {
        crate::install_crypto_provider();
        let store = Store::open(&config.storage.url).await?;
        let hasher = KeyHasher::new(&config.keys.load_pepper()?);
        let bootstrap = key_service::bootstrap_admin(
            &store,
            &hasher,
            &config.keys.prefix,
            config
                .bootstrap_admin_key
                .as_ref()
                .map(|k| k.expose().as_str()),
        )
        .await?;
        let cache = KeyCache::new(store.clone(), config.keys.cache_ttl);
        let background = cache.spawn_background(config.keys.revocation_poll);
        let brake = crate::auth::FailureBrake::new(config.keys.auth_failures);
        let auth = Authenticator::new(&config.keys.prefix, hasher.clone(), cache, brake);
        let catalog = Catalog::build(&config.models, &config.aliases);
        let upstreams = Upstreams::new(&config)?;
        let ledger = Arc::new(Ledger::new(store.clone()));
        let (usage_sink, writer) = sink::spawn(
            store.clone(),
            ledger.clone(),
            config.usage.queue_capacity,
            sink::SpillConfig {
                path: config.usage.spill_path.clone(),
                max_bytes: config.usage.spill_max_bytes,
            },
        );
        let mut background = background;
        background.push(spawn_retention(store.clone(), config.usage.retain));
        // The tokenizer for usage estimates takes a moment to load: do it now, off
        // the runtime's worker threads, rather than in the first cut-short stream.
        tokio::task::spawn_blocking(crate::metering::tokens::warm);
        crate::telemetry::install_metrics();
        let metering = Metering {
            sink: usage_sink,
            ledger,
            rates: config.exchange_rates.clone(),
        };
        Ok(App {
            state: AppState(Arc::new(Inner {
                config,
                store,
                hasher,
                auth,
                catalog,
                upstreams,
                rate_limiter: LocalRateLimiter::new(),
                concurrency: ConcurrencyLimiter::new(),
                metering,
            })),
            background,
            writer: Some(writer),
            bootstrap_key: match bootstrap {
                Bootstrap::Generated(key) => Some(key),
                Bootstrap::Adopted | Bootstrap::NotNeeded => None,
            },
        })
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The management key generated for an empty database, to be shown once.
    pub fn bootstrap_key(&self) -> Option<&ApiKey> {
        self.bootstrap_key.as_ref()
    }

    pub fn router(&self) -> Router {
        let state = &self.state;
        let sensitive: Vec<HeaderName> = vec![
            axum::http::header::AUTHORIZATION,
            HeaderName::from_static("x-api-key"),
            HeaderName::from_static("x-goog-api-key"),
            HeaderName::from_static("x-byok-api-key"),
            state.alt_header().clone(),
        ];
        let gated = |scope: Scope| {
            from_fn_with_state(
                Gate {
                    state: state.clone(),
                    scope,
                },
                gate::guard,
            )
        };
        // Gateway routes: the meter (outside) sees every request, refused or not;
        // the gate (inside) decides who may do what.
        let metered = state.config().usage.enabled;
        let gateway = |path: &str, route: axum::routing::MethodRouter<AppState>, scope| {
            let router = Router::new().route(path, route).route_layer(gated(scope));
            if metered {
                router.layer(from_fn_with_state(state.clone(), metering::meter))
            } else {
                router
            }
        };
        let messages_routes = gateway("/v1/messages", post(messages::create), Scope::Chat);
        let admin_routes = Router::new()
            .route(
                "/admin/keys",
                post(admin::keys::create).get(admin::keys::list_keys),
            )
            .route(
                "/admin/keys/{id}",
                get(admin::keys::get)
                    .patch(admin::keys::update)
                    .delete(admin::keys::revoke),
            )
            .route("/admin/keys/{id}/revoke", post(admin::keys::revoke))
            .route("/admin/keys/{id}/rotate", post(admin::keys::rotate))
            .route(
                "/admin/accounts",
                post(admin::accounts::create).get(admin::accounts::list_accounts),
            )
            .route(
                "/admin/accounts/{id}",
                get(admin::accounts::get).patch(admin::accounts::update_billing),
            )
            .route(
                "/admin/accounts/{id}/disable",
                post(admin::accounts::disable),
            )
            .route("/admin/accounts/{id}/enable", post(admin::accounts::enable))
            .route("/admin/accounts/{id}/credit", post(admin::accounts::credit))
            .route(
                "/admin/accounts/{id}/credits",
                get(admin::accounts::credits),
            )
            .route_layer(gated(Scope::Admin));
        // Analytics: management keys across accounts, `analytics` keys for their own.
        let analytics_routes = Router::new()
            .route("/admin/usage", get(admin::usage::report))
            .route("/admin/keys/{id}/usage", get(admin::usage::key_report))
            .route_layer(gated(Scope::Analytics));
        // With `[metrics] listen`, /metrics lives on its own listener only.
        let metrics_here = state.config().metrics.listen.is_none();
        let public_routes = Router::new()
            .route("/health", get(public::health))
            .route("/v1/models", get(public::models))
            .route("/openapi.json", get(crate::openapi::serve));
        let public_routes = if metrics_here {
            public_routes.route("/metrics", get(public::metrics))
        } else {
            public_routes
        };
        public_routes
            .merge(gateway(
                "/v1/chat/completions",
                post(chat::completions),
                Scope::Chat,
            ))
            .merge(messages_routes)
            .merge(gateway(
                "/v1/embeddings",
                post(embeddings::create),
                Scope::Embeddings,
            ))
            .merge(gateway(
                "/v1/completions",
                post(openai_only::completions),
                Scope::Completions,
            ))
            .merge(gateway(
                "/v1/images/generations",
                post(openai_only::images),
                Scope::Images,
            ))
            .merge(admin_routes)
            .merge(analytics_routes)
            .fallback(public::not_found)
            .method_not_allowed_fallback(public::method_not_allowed)
            // Outside the routes and fallbacks, so every refusal under /v1/messages
            // (404 and 405 included) takes Anthropic's shape.
            .layer(axum::middleware::from_fn(messages::anthropic_errors))
            .layer(
                ServiceBuilder::new()
                    .layer(CatchPanicLayer::custom(middleware::panic_response))
                    .layer(SetSensitiveRequestHeadersLayer::new(sensitive))
                    .layer(axum::middleware::from_fn(middleware::trace_request))
                    .layer(from_fn_with_state(state.clone(), middleware::edge_limits))
                    .layer(DefaultBodyLimit::max(state.max_body_bytes())),
            )
            .with_state(state.clone())
    }

    /// Serves until `shutdown` resolves, then stops accepting and lets in-flight
    /// requests (streams included) finish for up to `[server] shutdown_grace_secs`.
    /// With `[metrics] listen`, `/metrics` is served on that address.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        self.serve_with(listener, None, shutdown).await
    }

    /// Like [`App::serve`], with `/metrics` on `metrics` (already bound, e.g. on
    /// port 0 in tests) when `[metrics] listen` is set; `None` binds that address.
    pub async fn serve_with(
        mut self,
        listener: TcpListener,
        metrics: Option<TcpListener>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let config = self.state.config();
        let grace = config.server.shutdown_grace;
        let limits = crate::http::listener::Limits::from_config(&config.server);
        let mut listeners = vec![(listener, self.router())];
        if let Some(addr) = config.metrics.listen {
            let metrics = match metrics {
                Some(l) => l,
                None => TcpListener::bind(addr).await?,
            };
            tracing::info!(local = %metrics.local_addr()?, "/metrics listening");
            listeners.push((metrics, self.metrics_router()));
        }
        crate::http::listener::serve(listeners, limits, shutdown, grace).await;
        // Every request has finished (or was cut at the deadline, and metered as
        // such): write what is queued before exiting.
        let unwritten = match self.writer.take() {
            Some(writer) => writer.finish(Duration::from_secs(30)).await.err(),
            None => None,
        };
        if let Err(e) = self.state.auth().cache().flush_used().await {
            tracing::warn!(error = %e, "could not write last_used_at at shutdown");
        }
        // Usage not in the database makes the exit a failure, saying where it is.
        if let Some(e) = unwritten {
            tracing::error!(error = %e, "usage not written at shutdown");
            return Err(std::io::Error::other(e.to_string()));
        }
        Ok(())
    }

    /// `/metrics` alone, for its own listener (`[metrics] listen`).
    fn metrics_router(&self) -> Router {
        Router::new()
            .route("/metrics", get(public::metrics))
            .fallback(public::not_found)
            .method_not_allowed_fallback(public::method_not_allowed)
            .layer(
                ServiceBuilder::new()
                    .layer(CatchPanicLayer::custom(middleware::panic_response))
                    .layer(axum::middleware::from_fn(middleware::trace_request))
                    .layer(from_fn_with_state(
                        self.state.clone(),
                        middleware::edge_limits,
                    )),
            )
            .with_state(self.state.clone())
    }
}

/// Deletes raw usage events past `[usage] retain_days`, hourly (rollups stay).
fn spawn_retention(store: Store, retain: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            let cutoff = time::OffsetDateTime::now_utc() - retain;
            match store
                .purge_usage_before(crate::store::records_ms(cutoff))
                .await
            {
                Ok(0) => {}
                Ok(n) => tracing::info!(rows = n, "purged usage events past retention"),
                Err(e) => tracing::warn!(error = %e, "usage retention purge failed"),
            }
        }
    })
}
