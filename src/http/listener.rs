//! The listener: accepts TCP connections and serves each with hyper (HTTP/1.1 and
//! h2c), with the limits `axum::serve` has no knobs for.
//!
//! Why it exists: with `axum::serve`, 20,000 idle connections exhausted the file
//! descriptors and `/health` died, and 2,000 slowloris connections were still open
//! after 75 s. Here every connection is bounded:
//! - **header read timeout** (`[server] header_read_timeout_ms`, hyper's own): a
//!   request head must be complete in time. Hyper starts that clock whenever it
//!   waits for a head, so it also bounds an HTTP/1.1 connection waiting for its
//!   next request;
//! - **idle timeout** (`idle_timeout_ms`): a connection with no request in flight
//!   (a streaming response counts as in flight until its body ends) is shut down
//!   gracefully; this is what closes idle HTTP/2 connections;
//! - **max connections** (`max_connections`): at the cap we stop calling `accept`,
//!   so new connections wait in the kernel's backlog instead of being dropped, and
//!   are served as soon as one closes.
//!
//! The body read timeout and the header/URI limits live in
//! `http::middleware::edge`, where they can answer in the API's error shape.
//! Hyper's own limits are set generously above the documented ones so that only
//! absurd requests (over 4× the limits, more than [`HARD_MAX_HEADERS`] headers or a
//! URI over 64 KiB) get hyper's bare answer.
//!
//! Shutdown keeps `axum::serve`'s semantics: on the signal, stop accepting and ask
//! every connection to finish (HTTP/1.1: after its in-flight request; h2: GOAWAY);
//! after `[server] shutdown_grace_secs` the connections still open are dropped, so
//! their streams end (and are metered as cut) before the caller flushes usage.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::config::ServerConfig;
use crate::http::hold::holding;

/// Hyper answers a request with more headers than this with a bare 431 before our
/// middleware sees it; each slot costs memory on every parse, so it is not unlimited.
pub const HARD_MAX_HEADERS: usize = 512;

/// The per-connection limits, from `[server]`.
#[derive(Debug, Clone)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    /// Hyper's read buffer, which bounds a request head: generous, see the module doc.
    pub hard_head_bytes: usize,
}

impl Limits {
    pub fn from_config(server: &ServerConfig) -> Limits {
        let documented = server.max_header_bytes + server.max_uri_bytes;
        Limits {
            header_read_timeout: server.header_read_timeout,
            idle_timeout: server.idle_timeout,
            max_connections: server.max_connections.min(Semaphore::MAX_PERMITS),
            // hyper requires at least 8 KiB.
            hard_head_bytes: documented.saturating_mul(4).max(64 * 1024),
        }
    }
}

/// Serves `router` on each listener until `shutdown` resolves, then drains as the
/// module doc says. Returns once every connection has finished or been dropped.
pub async fn serve(
    listeners: Vec<(TcpListener, Router)>,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) {
    let stop = CancellationToken::new();
    let cut = CancellationToken::new();
    let connections = TaskTracker::new();
    let builder = Arc::new(builder(&limits));
    let mut accepting = tokio::task::JoinSet::new();
    for (listener, router) in listeners {
        accepting.spawn(accept_loop(AcceptLoop {
            listener,
            router,
            builder: builder.clone(),
            slots: Arc::new(Semaphore::new(limits.max_connections)),
            header_read_timeout: limits.header_read_timeout,
            idle_timeout: limits.idle_timeout,
            stop: stop.clone(),
            cut: cut.clone(),
            connections: connections.clone(),
        }));
    }
    shutdown.await;
    stop.cancel();
    // The accept loops return at once; after that no connection is added.
    while accepting.join_next().await.is_some() {}
    connections.close();
    if tokio::time::timeout(grace, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            grace_secs = grace.as_secs(),
            "shutdown grace period over; dropping remaining connections"
        );
        cut.cancel();
        connections.wait().await;
    }
}

fn builder(limits: &Limits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true)
        .max_buf_size(limits.hard_head_bytes)
        .max_headers(HARD_MAX_HEADERS);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.hard_head_bytes).unwrap_or(u32::MAX));
    builder
}

struct AcceptLoop {
    listener: TcpListener,
    router: Router,
    builder: Arc<auto::Builder<TokioExecutor>>,
    slots: Arc<Semaphore>,
    header_read_timeout: Duration,
    idle_timeout: Duration,
    stop: CancellationToken,
    cut: CancellationToken,
    connections: TaskTracker,
}

async fn accept_loop(l: AcceptLoop) {
    loop {
        // Take a slot before accepting: at the cap, connections wait in the backlog.
        let slot = tokio::select! {
            () = l.stop.cancelled() => return,
            slot = l.slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => return, // never closed
            },
        };
        let (tcp, peer) = tokio::select! {
            () = l.stop.cancelled() => return,
            accepted = l.listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning, as axum::serve does.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // Small SSE frames must leave at once, not wait for Nagle.
        let _ = tcp.set_nodelay(true);
        let conn = Connection {
            tcp,
            peer,
            router: l.router.clone(),
            builder: l.builder.clone(),
            header_read_timeout: l.header_read_timeout,
            idle_timeout: l.idle_timeout,
            stop: l.stop.clone(),
        };
        let cut = l.cut.clone();
        l.connections.spawn(async move {
            tokio::select! {
                () = cut.cancelled() => {}
                () = conn.run() => {}
            }
            drop(slot);
        });
    }
}

struct Connection {
    tcp: TcpStream,
    peer: SocketAddr,
    router: Router,
    builder: Arc<auto::Builder<TokioExecutor>>,
    header_read_timeout: Duration,
    idle_timeout: Duration,
    stop: CancellationToken,
}

impl Connection {
    async fn run(self) {
        let header_read_timeout = self.header_read_timeout;
        let (in_flight, _) = watch::channel(0usize);
        let in_flight = Arc::new(in_flight);
        let peer = self.peer;
        let router = self.router;
        let counter = in_flight.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            let guard = InFlight::start(counter.clone());
            let router = router.clone();
            async move {
                let res = router.oneshot(req.map(Body::new)).await?;
                Ok::<_, Infallible>(res.map(|body| holding(body, guard)))
            }
        });
        let conn = self
            .builder
            .serve_connection_with_upgrades(TokioIo::new(self.tcp), service);
        tokio::pin!(conn);
        let mut closing = false;
        loop {
            tokio::select! {
                res = conn.as_mut() => {
                    if let Err(e) = res {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                    return;
                }
                () = self.stop.cancelled(), if !closing => {
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
                () = idle_for(&in_flight, self.idle_timeout), if !closing => {
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
                () = no_request_by(&in_flight, header_read_timeout), if !closing => {
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// Resolves if no request has started within `timeout` of the connection opening.
/// Hyper's header clock only starts once it knows the protocol; before that, the
/// auto builder waits for the first bytes (HTTP/1.1 or the h2 preface) unbounded,
/// so a silent connection needs this.
async fn no_request_by(in_flight: &watch::Sender<usize>, timeout: Duration) {
    let mut rx = in_flight.subscribe();
    rx.mark_unchanged();
    if tokio::time::timeout(timeout, rx.changed()).await.is_err() {
        return;
    }
    std::future::pending::<()>().await
}

/// Resolves once no request has been in flight on the connection for `timeout`.
async fn idle_for(in_flight: &watch::Sender<usize>, timeout: Duration) {
    let mut rx = in_flight.subscribe();
    loop {
        if rx.wait_for(|n| *n == 0).await.is_err() {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(timeout) => return,
            changed = rx.changed() => if changed.is_err() { return },
        }
    }
}

/// One request in flight on a connection, from the service call until its response
/// body is finished or dropped.
struct InFlight(Arc<watch::Sender<usize>>);

impl InFlight {
    fn start(counter: Arc<watch::Sender<usize>>) -> InFlight {
        counter.send_modify(|n| *n += 1);
        InFlight(counter)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}
