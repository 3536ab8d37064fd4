//! `App`: the composition root. `App::build(Config)` opens storage, builds every
//! service into an [`AppState`], and starts the background tasks; `App::serve` runs
//! the listener ([`crate::http::listener`]) over [`crate::http::router`] and, at
//! shutdown, drains the usage writer.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;

use crate::auth::{Authenticator, KeyCache};
use crate::config::Config;
use crate::key_service::{self, Bootstrap};
use crate::keys::{ApiKey, KeyHasher};
use crate::metering::ledger::Ledger;
use crate::metering::service::Metering;
use crate::metering::sink;
use crate::policy::concurrency::ConcurrencyLimiter;
use crate::policy::rate_limit::LocalRateLimiter;
use crate::providers::Upstreams;
use crate::routing::Catalog;
use crate::state::{AppState, Services};
use crate::store::Store;
use crate::webhooks::Webhooks;

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
    #[error("[redis] url: {0}")]
    Redis(#[from] crate::cluster::ClusterError),
    #[error("cannot load the master keys ([secrets]): {0}")]
    Seal(#[from] crate::seal::SealError),
    /// The connections' or the webhooks' HTTP client.
    #[error("cannot set up an outbound HTTP client (connections, webhooks): {0}")]
    OutboundClient(#[from] reqwest::Error),
    #[error("cannot set up the SMTP transport ([email] smtp_url): {0}")]
    Email(#[from] lettre::transport::smtp::Error),
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
        let store = Store::open_with(
            &config.storage.url,
            &crate::store::StoreOptions {
                max_connections: config.storage.max_connections,
                connect_timeout: config.storage.connect_timeout,
            },
        )
        .await?;
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
        let cluster = match &config.redis {
            Some(redis) => Some(crate::cluster::Cluster::open(
                redis.url.expose(),
                crate::cluster::KEY_PREFIX,
            )?),
            None => None,
        };
        let mut cache = KeyCache::new(store.clone(), config.keys.cache_ttl);
        if let Some(cluster) = &cluster {
            cache = cache.with_broadcast(cluster.clone());
        }
        let mut background = cache.spawn_background(config.keys.revocation_poll);
        let brake = crate::auth::FailureBrake::new(config.keys.auth_failures);
        let auth = Authenticator::new(&config.keys.prefix, hasher.clone(), cache, brake);
        let catalog = Catalog::build(&config.models, &config.aliases);
        let users =
            crate::users::Users::new(store.clone(), &config, &config.auth.load_jwt_secret()?);
        background.push(users.spawn_background(config.keys.revocation_poll).await?);
        let sealer = Arc::new(crate::seal::Sealer::load(&config.secrets.master_keys)?);
        // One sealer (master keys loaded once) for every store of sealed secrets.
        let vault = crate::vault::Vault::new(store.clone(), sealer.clone());
        let upstreams = Upstreams::new(&config)?;
        let ledger = Arc::new(Ledger::new(store.clone()));
        let balances = match &cluster {
            Some(cluster) => crate::metering::balances::Balances::Shared {
                ledger,
                cluster: cluster.clone(),
            },
            None => crate::metering::balances::Balances::Local(ledger),
        };
        let webhooks = Webhooks::new(store.clone(), sealer.clone(), config.webhooks.clone());
        let (alerts, evaluator) =
            crate::alerts::Alerts::spawn(store.clone(), config.alerts.clone(), webhooks.waker());
        background.extend(evaluator);
        let (usage_sink, writer) = sink::spawn(
            store.clone(),
            balances.clone(),
            alerts.clone(),
            config.usage.queue_capacity,
            sink::SpillConfig {
                path: config.usage.spill_path.clone(),
                max_bytes: config.usage.spill_max_bytes,
            },
        );
        background.push(spawn_retention(store.clone(), config.usage.retain));
        crate::telemetry::install_metrics();
        background.push(crate::webhooks::worker::spawn(webhooks.clone())?);
        let metering = Metering {
            sink: usage_sink,
            balances,
            balances_on_failure: config
                .redis
                .as_ref()
                .map(|r| r.on_failure)
                .unwrap_or_default()
                .balances,
            rates: config.exchange_rates.clone(),
            // After `install_metrics`: handles made before it record nowhere.
            metrics: Arc::new(crate::metering::request_metrics::RequestMetrics::new()),
        };
        let connections =
            crate::connections::Connections::new(&config, store.clone(), sealer.clone())?;
        let deployments = match &cluster {
            Some(cluster) => {
                let on_failure = config.redis.as_ref().map(|r| r.on_failure);
                let (deployments, tasks) = crate::routing::Deployments::shared(
                    &config,
                    cluster.clone(),
                    on_failure.unwrap_or_default().cooldowns,
                );
                background.extend(tasks);
                deployments
            }
            None => crate::routing::Deployments::local(&config),
        };
        let mailer = crate::email::Mailer::new(&config.email)?;
        let ui_sessions = crate::ui::Sessions::new(config.ui.idle_timeout, config.ui.session_ttl);
        Ok(App {
            state: AppState::new(Services {
                deployments,
                config,
                store,
                hasher,
                auth,
                catalog,
                upstreams,
                rate_limiter: LocalRateLimiter::new(),
                concurrency: ConcurrencyLimiter::new(),
                metering,
                cluster,
                connections,
                mailer,
                users,
                vault,
                webhooks,
                alerts,
                ui_sessions,
            }),
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

    /// The gateway's routes and layer stack ([`crate::http::router`]).
    pub fn router(&self) -> Router {
        crate::http::router::router(&self.state)
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
        crate::http::router::metrics_router(&self.state)
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
