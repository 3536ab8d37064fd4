//! Counters served at `GET /_mock/stats`, and the guard that decides how a
//! stream ended.
//!
//! Counters are independent relaxed atomics: readers want eventually
//! consistent totals, not a snapshot that is atomic across counters, and a
//! lock would serialise every request of a benchmark.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

#[derive(Debug, Default)]
pub(crate) struct Stats {
    requests: AtomicU64,
    streams_started: AtomicU64,
    streams_completed: AtomicU64,
    streams_cancelled: AtomicU64,
    streams_aborted: AtomicU64,
}

/// The JSON body of `GET /_mock/stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct StatsSnapshot {
    /// Requests received on provider routes, whatever their outcome.
    pub requests: u64,
    pub streams_started: u64,
    /// Streams whose last event was handed to the server.
    pub streams_completed: u64,
    /// Streams whose body was dropped before the last event: the client left.
    pub streams_cancelled: u64,
    /// Streams failed on purpose by a directive: cut by `drop_after`, or
    /// ended with an error event by `stream_error`. Kept apart from
    /// `streams_cancelled` so that counter only ever means "the client left".
    pub streams_aborted: u64,
}

impl Stats {
    pub(crate) fn count_request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            requests: self.requests.load(Ordering::Relaxed),
            streams_started: self.streams_started.load(Ordering::Relaxed),
            streams_completed: self.streams_completed.load(Ordering::Relaxed),
            streams_cancelled: self.streams_cancelled.load(Ordering::Relaxed),
            streams_aborted: self.streams_aborted.load(Ordering::Relaxed),
        }
    }
}

/// Lives inside a stream body. Hyper drops the body when the connection goes
/// away, so a guard dropped before [`completed`](Self::completed) or
/// [`aborted`](Self::aborted) was called is, by construction, a client that
/// left mid-stream; no timing heuristics involved.
#[derive(Debug)]
pub(crate) struct StreamGuard {
    stats: Arc<Stats>,
    settled: bool,
}

impl StreamGuard {
    /// Counts a started stream.
    pub(crate) fn start(stats: Arc<Stats>) -> Self {
        stats.streams_started.fetch_add(1, Ordering::Relaxed);
        Self {
            stats,
            settled: false,
        }
    }

    /// The last event is being handed over. Counted before the bytes leave,
    /// so a client that has read the end of the stream already sees it in
    /// the stats.
    pub(crate) fn completed(&mut self) {
        if !self.settled {
            self.settled = true;
            self.stats.streams_completed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A directive is failing the stream: `drop_after` cuts it, or
    /// `stream_error` is handing over its closing error event.
    pub(crate) fn aborted(&mut self) {
        if !self.settled {
            self.settled = true;
            self.stats.streams_aborted.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        if !self.settled {
            self.stats.streams_cancelled.fetch_add(1, Ordering::Relaxed);
        }
    }
}
