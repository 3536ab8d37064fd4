//! Command-line interface: one file per subcommand.

mod accounts;
mod demo;
mod keys;
mod serve;

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
    /// Apply database migrations (serve also does this on start).
    Migrate,
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { listen } => serve::run(load_config(&cli.config)?, listen).await,
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
        Command::Keys(cmd) => keys::run(load_config(&cli.config)?, *cmd).await,
        Command::Accounts(cmd) => accounts::run(load_config(&cli.config)?, cmd).await,
        Command::Migrate => {
            let config = load_config(&cli.config)?;
            tollgate::store::Store::open(&config.storage.url)
                .await
                .context("migration failed")?;
            eprintln!("migrations applied to {}", config.storage.url);
            Ok(())
        }
    }
}

fn load_config(path: &Option<PathBuf>) -> anyhow::Result<Config> {
    let config = Config::load(path.as_deref()).context("invalid configuration")?;
    for warning in &config.warnings {
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

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown signal received; draining in-flight requests");
}
