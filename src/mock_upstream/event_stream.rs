//! Turns pre-rendered stream events into a response body that hands hyper
//! one `Bytes` frame per event, paced by `chunk_delay_ms` and optionally cut
//! by `drop_after`. Shared by every provider dialect: they differ in what an
//! event says, not in how it travels.
//!
//! The body never buffers ahead: the next event is produced only when hyper
//! polls for it, so a slow or vanished client shows up as a slow or dropped
//! body, which is exactly what [`StreamGuard`] observes.

use std::io;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures_util::stream;
use http::HeaderValue;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};

use super::directives::Directives;
use super::stats::StreamGuard;

/// How a stream that hands over all its events is counted in the stats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// A normal stream: `streams_completed`.
    Complete,
    /// Its last event reports an error on purpose (`stream_error`):
    /// `streams_aborted`, like a `drop_after` cut, since in both the mock
    /// chose to fail the stream.
    Failed,
}

/// A body streaming `events` as directed, settled in the stats by `guard`
/// as `ending` says unless it is cut or dropped first.
pub(crate) fn body(
    events: Vec<Bytes>,
    ending: Ending,
    directives: &Directives,
    guard: StreamGuard,
) -> Body {
    let feed = Feed {
        events: events.into_iter(),
        sent: 0,
        chunk_delay: directives.chunk_delay,
        drop_after: directives.drop_after,
        ending,
        finished: false,
        guard,
    };
    Body::from_stream(stream::unfold(feed, Feed::next_frame))
}

/// A `200 text/event-stream` response around a [`body`], as every
/// provider sends its SSE streams.
pub(crate) fn sse_response(body: Body) -> Response {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// A body that fails on its first poll: the closest an axum handler gets to
/// hanging up without answering. Hyper has not flushed the response head by
/// then (it waits for body data), so over HTTP/1.1 the client sees the
/// connection close with no response at all; at worst it gets the head and a
/// truncated body, never a clean reply.
pub(crate) fn broken_body() -> Body {
    Body::from_stream(stream::once(async { Err::<Bytes, _>(injected_drop()) }))
}

fn injected_drop() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "mock upstream: connection dropped by drop_after directive",
    )
}

struct Feed {
    events: std::vec::IntoIter<Bytes>,
    sent: usize,
    chunk_delay: Duration,
    drop_after: Option<usize>,
    ending: Ending,
    finished: bool,
    guard: StreamGuard,
}

impl Feed {
    async fn next_frame(mut self) -> Option<(io::Result<Bytes>, Self)> {
        if self.finished {
            return None;
        }
        // Pace before the drop as well, so a cut lands mid-stream in time
        // too, the way a real upstream failure would.
        if self.sent > 0 && !self.chunk_delay.is_zero() {
            tokio::time::sleep(self.chunk_delay).await;
        }
        if self.drop_after == Some(self.sent) {
            self.finished = true;
            self.guard.aborted();
            // Hyper flushes its write buffer only when the body is pending;
            // erroring right away would discard the events (and headers)
            // still buffered, so give it one turn to send them first.
            tokio::task::yield_now().await;
            // Yielding an error (not ending the stream) makes hyper abort
            // the connection without the terminating chunk.
            return Some((Err(injected_drop()), self));
        }
        let Some(event) = self.events.next() else {
            // Only reached when there were no events at all.
            self.settle();
            return None;
        };
        self.sent += 1;
        if self.events.as_slice().is_empty() {
            self.finished = true;
            self.settle();
        }
        Some((Ok(event), self))
    }

    fn settle(&mut self) {
        match self.ending {
            Ending::Complete => self.guard.completed(),
            Ending::Failed => self.guard.aborted(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use futures_util::StreamExt;

    use super::super::stats::Stats;
    use super::*;

    async fn frames(
        ending: Ending,
        directives: &Directives,
        stats: &Arc<Stats>,
    ) -> Vec<Result<Bytes, String>> {
        let events = ["a", "b", "c"].map(Bytes::from).to_vec();
        let guard = StreamGuard::start(Arc::clone(stats));
        let body = body(events, ending, directives, guard);
        body.into_data_stream()
            .map(|frame| frame.map_err(|e| e.to_string()))
            .collect()
            .await
    }

    #[tokio::test]
    async fn yields_one_frame_per_event_and_counts_completion() {
        let stats = Arc::new(Stats::default());
        let got = frames(Ending::Complete, &Directives::default(), &stats).await;
        assert_eq!(got, ["a", "b", "c"].map(|s| Ok(Bytes::from(s))));
        let snap = stats.snapshot();
        assert_eq!((snap.streams_started, snap.streams_completed), (1, 1));
        assert_eq!((snap.streams_cancelled, snap.streams_aborted), (0, 0));
    }

    #[tokio::test]
    async fn a_failed_ending_sends_everything_and_counts_an_abort() {
        let stats = Arc::new(Stats::default());
        let got = frames(Ending::Failed, &Directives::default(), &stats).await;
        assert_eq!(got, ["a", "b", "c"].map(|s| Ok(Bytes::from(s))));
        let snap = stats.snapshot();
        assert_eq!((snap.streams_completed, snap.streams_aborted), (0, 1));
        assert_eq!(snap.streams_cancelled, 0);
    }

    #[tokio::test]
    async fn drop_after_errors_instead_of_ending() {
        let stats = Arc::new(Stats::default());
        let directives = Directives {
            drop_after: Some(2),
            ..Directives::default()
        };
        let got = frames(Ending::Complete, &directives, &stats).await;
        assert_eq!(got.len(), 3);
        assert_eq!(got[1], Ok(Bytes::from_static(b"b")));
        assert!(got[2].is_err(), "{got:?}");
        let snap = stats.snapshot();
        assert_eq!((snap.streams_completed, snap.streams_aborted), (0, 1));
        assert_eq!(snap.streams_cancelled, 0);
    }

    #[tokio::test]
    async fn dropping_the_body_early_counts_a_cancel() {
        let stats = Arc::new(Stats::default());
        let events = vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")];
        let mut data = body(
            events,
            Ending::Complete,
            &Directives::default(),
            StreamGuard::start(stats.clone()),
        )
        .into_data_stream();
        assert!(matches!(data.next().await, Some(Ok(_))));
        drop(data);
        let snap = stats.snapshot();
        assert_eq!((snap.streams_completed, snap.streams_cancelled), (0, 1));
    }
}
