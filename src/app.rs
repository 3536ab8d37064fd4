//! `AppState`, the router, and the layer stack every request passes through (read it
//! top to bottom: panics caught, secrets marked sensitive, request id and trace, body
//! limit, then the routes).

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::HeaderName;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;

use crate::auth::{Authenticator, KeyCache};
use crate::config::Config;
use crate::http::{chat, middleware, public};
use crate::keys::KeyHasher;
use crate::providers::Upstreams;
use crate::routing::Catalog;
use crate::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("cannot open storage: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("cannot set up upstream clients: {0}")]
    Upstream(#[from] crate::providers::UpstreamError),
}

/// Shared, read-mostly state. Cloning is one `Arc` bump.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    config: Config,
    store: Store,
    auth: Authenticator,
    catalog: Catalog,
    upstreams: Upstreams,
}

impl AppState {
    pub fn config(&self) -> &Config {
        &self.0.config
    }
    pub fn store(&self) -> &Store {
        &self.0.store
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
        let cache = KeyCache::new(store.clone(), config.keys.cache_ttl);
        let poller = cache.spawn_poller(config.keys.revocation_poll);
        let auth = Authenticator::new(&config.keys.prefix, hasher, cache);
        let catalog = Catalog::build(&config.models, &config.aliases);
        let upstreams = Upstreams::new(&config)?;
        Ok(App {
            state: AppState(Arc::new(Inner {
                config,
                store,
                auth,
                catalog,
                upstreams,
            })),
            background: vec![poller],
        })
    }

    pub fn state(&self) -> &AppState {
        &self.state
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
        Router::new()
            .route("/health", get(public::health))
            .route("/v1/models", get(public::models))
            .route("/v1/chat/completions", post(chat::completions))
            .fallback(public::not_found)
            .method_not_allowed_fallback(public::method_not_allowed)
            .layer(
                ServiceBuilder::new()
                    .layer(CatchPanicLayer::custom(middleware::panic_response))
                    .layer(SetSensitiveRequestHeadersLayer::new(sensitive))
                    .layer(axum::middleware::from_fn(middleware::trace_request))
                    .layer(DefaultBodyLimit::max(state.max_body_bytes())),
            )
            .with_state(state.clone())
    }

    /// Serves until `shutdown` resolves, then stops accepting and lets in-flight
    /// requests (streams included) finish for up to `[server] shutdown_grace_secs`.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        use axum::serve::ListenerExt;
        let grace = self.state.config().server.shutdown_grace;
        let router = self.router();
        let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
        let listener = listener.tap_io(|tcp| {
            // Small SSE frames must leave at once, not wait for Nagle.
            let _ = tcp.set_nodelay(true);
        });
        let server = axum::serve(listener, router).with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stopping_tx.send(());
        });
        let deadline = async move {
            if stopping_rx.await.is_ok() {
                tokio::time::sleep(grace).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            res = server => res,
            () = deadline => {
                tracing::warn!(grace_secs = grace.as_secs(), "shutdown grace period over; dropping remaining connections");
                Ok(())
            }
        }
    }
}
