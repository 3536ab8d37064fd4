//! Logging setup. `TOLLGATE_LOG` sets the filter (default `info`), `TOLLGATE_LOG_FORMAT=json`
//! switches to JSON lines. Secrets never reach the log: they live in `Secret<T>` and the
//! layer stack marks credential headers sensitive.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

static METRICS: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Log lines waiting for the writer thread before new ones are dropped.
const LOG_QUEUE_LINES: usize = 8 * 1024;

/// Installs the process-wide Prometheus recorder (once; later calls reuse it).
pub fn install_metrics() -> Option<&'static PrometheusHandle> {
    METRICS
        .get_or_init(|| {
            let buckets = [
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                60.0,
            ];
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &buckets)
                .ok()?
                .install_recorder()
                .map_err(|e| eprintln!("metrics recorder not installed: {e}"))
                .ok()
        })
        .as_ref()
}

/// The Prometheus text exposition of every metric so far.
pub fn render_metrics() -> String {
    install_metrics()
        .map(PrometheusHandle::render)
        .unwrap_or_default()
}

/// Installs the log subscriber. Lines are written by a background thread, so a
/// request never waits on stderr; keep the returned guard alive until exit (it
/// flushes what is queued when dropped).
pub fn init() -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let filter = EnvFilter::try_from_env("TOLLGATE_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,hyper=warn,reqwest=warn"));
    let json = std::env::var("TOLLGATE_LOG_FORMAT").is_ok_and(|v| v == "json");
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        // Never block a request on a full log queue: drop lines instead. The queue's
        // slots are allocated up front: the default 128k lines held 4 MB for nothing.
        .lossy(true)
        .buffered_lines_limit(LOG_QUEUE_LINES)
        // The worker drains whatever is queued into this buffer and flushes once per
        // batch: one write(2) per burst of lines instead of one per line.
        .finish(std::io::BufWriter::with_capacity(
            64 * 1024,
            std::io::stderr(),
        ));
    // Colours only for a person at a terminal: escape codes in a log file or a
    // collector are noise, and cost bytes on every line.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(writer);
    let installed = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    installed.ok().map(|()| guard)
}
