//! Command-line interface: one file per subcommand.

mod accounts;
mod demo;
mod keys;
mod secrets;
mod serve;
mod users;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio::net::TcpListener;

use tollgate::Config;

#[derive(Parser, Debug)]
#[command(name = "tollgate", version, about = "Self-hosted AI gateway")]
pub struct Cli {
    /// TOML config file; every value can also come from TOLLGATE_… env vars.
    #[arg(long, global = true, env = "TOLLGATE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the gateway.
    Serve {
        /// Address to listen on (overrides [server] listen).
        #[arg(long)]
        listen: Option<String>,
    },
    /// Gateway + built-in mock upstream in one process, with a ready demo key.
    Demo {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
    },
    /// Fake OpenAI-compatible upstream for tests, demos and benchmarks.
    MockUpstream {
        #[arg(long, default_value = "127.0.0.1:9090")]
        listen: String,
    },
    /// Administer API keys directly on the database.
    #[command(subcommand)]
    Keys(Box<keys::KeysCommand>),
    /// Administer accounts directly on the database.
    #[command(subcommand)]
    Accounts(accounts::AccountsCommand),
    /// Administer end users directly on the database.
    #[command(subcommand)]
    Users(users::UsersCommand),
    /// Master keys of sealed secrets: rotate and re-seal.
    #[command(subcommand)]
    Secrets(secrets::SecretsCommand),
    /// Apply database migrations (serve also does this on start).
    Migrate,
}

/// A parsed command line, with `serve`'s configuration already loaded: `main`
/// sizes the async runtime from it (`[server] worker_threads`) before starting it.
pub struct Prepared {
    cli: Cli,
    serve: Option<Config>,
}

impl Prepared {
    /// The worker threads to start the runtime with; `None`: tokio's default (one
    /// per core, or `TOKIO_WORKER_THREADS` when set, which also wins over the
    /// config key).
    pub fn worker_threads(&self) -> Option<usize> {
        if std::env::var_os("TOKIO_WORKER_THREADS").is_some() {
            return None;
        }
        self.serve
            .as_ref()
            .and_then(|c| c.server.worker_threads)
            .map(std::num::NonZeroUsize::get)
    }
}

/// Loads what must be known before the runtime starts (a bad config stops here).
pub fn prepare(cli: Cli) -> anyhow::Result<Prepared> {
    let serve = match cli.command {
        Command::Serve { .. } => Some(load_config(&cli.config, Warn::All)?),
        _ => None,
    };
    Ok(Prepared { cli, serve })
}

pub async fn run(prepared: Prepared) -> anyhow::Result<()> {
    let Prepared { cli, serve } = prepared;
    match cli.command {
        Command::Serve { listen } => {
            let config = match serve {
                Some(config) => config,
                None => load_config(&cli.config, Warn::All)?,
            };
            serve::run(config, listen).await
        }
        Command::Demo { listen } => demo::run(&listen).await,
        Command::MockUpstream { listen } => {
            let listener = bind(&listen).await?;
            eprintln!(
                "mock upstream listening on http://{}",
                listener.local_addr()?
            );
            tollgate::mock_upstream::MockUpstream::new()
                .serve(listener)
                .await
                .context("mock upstream failed")
        }
        Command::Keys(cmd) => keys::run(load_config(&cli.config, Warn::DatabaseOnly)?, *cmd).await,
        Command::Accounts(cmd) => {
            accounts::run(load_config(&cli.config, Warn::DatabaseOnly)?, cmd).await
        }
        Command::Users(cmd) => users::run(load_config(&cli.config, Warn::DatabaseOnly)?, cmd).await,
        Command::Secrets(cmd) => {
            secrets::run(load_config(&cli.config, Warn::DatabaseOnly)?, cmd).await
        }
        Command::Migrate => {
            let config = load_config(&cli.config, Warn::DatabaseOnly)?;
            tollgate::store::Store::open(&config.storage.url)
                .await
                .context("migration failed")?;
            eprintln!(
                "migrations applied to {}",
                tollgate::config::redact_url(&config.storage.url)
            );
            Ok(())
        }
    }
}

/// Which configuration warnings a command prints.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Warn {
    All,
    /// Commands that only touch the database (keys, accounts, migrate) never call
    /// a provider, so an unset provider variable is no news to them.
    DatabaseOnly,
}

fn load_config(path: &Option<PathBuf>, warn: Warn) -> anyhow::Result<Config> {
    let config = Config::load(path.as_deref()).context("invalid configuration")?;
    for warning in &config.warnings {
        if warn == Warn::DatabaseOnly && warning.starts_with("providers.") {
            continue;
        }
        tracing::warn!("{warning}");
    }
    Ok(config)
}

async fn bind(addr: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.with_context(|| {
        format!(
            "cannot listen on {addr}; is another process using it? Consider --listen 127.0.0.1:0"
        )
    })
}

/// A future that resolves on SIGINT or SIGTERM. The handlers are installed when
/// this is called, not when the future is first polled: callers call it before they
/// announce that they listen, so a signal sent right after that line drains the
/// server instead of killing the process with the default action.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let (mut int, mut term) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let int = async {
                match int.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let term = async {
                match term.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = int => {},
                () = term => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutdown signal received; draining in-flight requests");
    }
}
