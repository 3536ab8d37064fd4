//! `tollgate serve`.

use anyhow::Context;

use tollgate::{App, Config};

pub async fn run(config: Config, listen: Option<String>) -> anyhow::Result<()> {
    let addr = listen.unwrap_or_else(|| config.server.listen.to_string());
    let storage = tollgate::config::redact_url(&config.storage.url);
    let app = App::build(config)
        .await
        .context("cannot start the gateway")?;
    if let Some(key) = app.bootstrap_key() {
        eprintln!(
            "No management key existed, so one was created (shown only now; store it):\n\n    {}\n\nUse it with the /admin API, e.g. curl -H 'Authorization: Bearer …' http://{addr}/admin/keys",
            key.expose()
        );
    }
    raise_nofile_limit();
    // Before the "listening" line: from then on SIGTERM drains, never kills.
    let shutdown = super::shutdown_signal();
    let listener = super::bind(&addr).await?;
    let local = listener.local_addr()?;
    tracing::info!(%local, storage = %storage, "tollgate listening");
    // A line on stderr that scripts and tests can wait for.
    eprintln!("tollgate listening on http://{local}");
    app.serve(listener, shutdown)
        .await
        .context("server failed")?;
    tracing::info!("tollgate stopped");
    Ok(())
}

/// Every connection is a file descriptor, and the usual soft limit (1024) is far
/// below `[server] max_connections`: raise it to the hard limit the system allows.
fn raise_nofile_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::info!(limit, "open-files limit (RLIMIT_NOFILE)"),
        Err(e) => tracing::warn!(error = %e, "could not raise the open-files limit"),
    }
}
