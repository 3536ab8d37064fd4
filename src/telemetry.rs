//! Logging setup. `TOLLGATE_LOG` sets the filter (default `info`), `TOLLGATE_LOG_FORMAT=json`
//! switches to JSON lines. Secrets never reach the log: they live in `Secret<T>` and the
//! layer stack marks credential headers sensitive.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_env("TOLLGATE_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,hyper=warn,reqwest=warn"));
    let json = std::env::var("TOLLGATE_LOG_FORMAT").is_ok_and(|v| v == "json");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
