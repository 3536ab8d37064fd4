//! Relaying upstream bodies back to the caller, chunk by chunk.
//!
//! `sse` forwards an event stream as it arrives, cut only at event boundaries, so a
//! failure mid-stream can be reported as one well-formed error event in the caller's
//! dialect (then the stream ends without `[DONE]`, which every SDK treats as an
//! error). The caller going away drops this stream, which drops the upstream
//! response and closes that connection: the provider stops generating.
//!
//! The stream's last event (`data: [DONE]`, `event: message_stop`, a Responses
//! `response.completed`) is held until the upstream body ends, at most
//! `END_GRACE`: hyper then writes it and the terminating chunk in one write
//! instead of two (a syscall and a packet fewer per stream; issue 16 item 7).

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use http_body_util::BodyExt;

use super::transport::ResponseBody;

use crate::domain::ProviderKind;
use crate::translate::sse::SseParser;
use crate::translate::stream::{
    ErrorEventDialect, StreamTranslator, UPSTREAM_ERROR, UPSTREAM_TIMEOUT,
};

/// An event whose end we have not seen yet is held back, up to this size; past it we
/// forward what we have (the upstream is not speaking SSE as we know it).
const MAX_HELD_BYTES: usize = 1 << 20;

/// How long the stream's last event waits for the upstream body's end, so both go
/// out in one write. Providers end the body right after that event (usually in the
/// same TLS record); this only bounds one that keeps the body open, whose last
/// event then reaches the caller this much later.
const END_GRACE: Duration = Duration::from_millis(10);

/// Which error event to write if the upstream fails mid-stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamDialect {
    OpenAi,
    Anthropic,
    Gemini,
}

type Upstream = Pin<Box<dyn Stream<Item = Result<Bytes, hyper::Error>> + Send>>;

struct Relay {
    upstream: Upstream,
    held: BytesMut,
    /// What the upstream gave while the last event waited for the end.
    next: Option<Option<Result<Bytes, Broken>>>,
    finished: bool,
    provider: ProviderKind,
    dialect: StreamDialect,
    silence: Silence,
}

/// Why the upstream body ended early.
enum Broken {
    Transport,
    Silent,
}

/// The longest silence tolerated between upstream chunks, as one timer reused for
/// every chunk: restarting a registered timer to a later deadline is an atomic
/// store, where a new `tokio::time::timeout` per chunk registered and removed a
/// timer-wheel entry each time (~1.3k instructions per chunk under callgrind;
/// bench/RESULTS.md).
struct Silence {
    idle: Duration,
    timer: Pin<Box<tokio::time::Sleep>>,
}

impl Silence {
    fn new(idle: Duration) -> Silence {
        Silence {
            idle,
            timer: Box::pin(tokio::time::sleep(idle)),
        }
    }
}

/// The next upstream chunk, or why there is none, waiting at most `silence.idle`.
async fn next_chunk(
    upstream: &mut Upstream,
    silence: &mut Silence,
) -> Option<Result<Bytes, Broken>> {
    let deadline = tokio::time::Instant::now() + silence.idle;
    silence.timer.as_mut().reset(deadline);
    let item = std::future::poll_fn(|cx| {
        if let Poll::Ready(item) = upstream.poll_next_unpin(cx) {
            return Poll::Ready(Some(item));
        }
        silence.timer.as_mut().poll(cx).map(|()| None)
    })
    .await;
    match item {
        None => Some(Err(Broken::Silent)),
        Some(None) => None,
        Some(Some(Ok(b))) => Some(Ok(b)),
        Some(Some(Err(e))) if e.is_timeout() => Some(Err(Broken::Silent)),
        Some(Some(Err(_))) => Some(Err(Broken::Transport)),
    }
}

/// The caller-facing body of an upstream event stream.
/// `idle` is the longest silence tolerated between upstream chunks.
pub fn sse(
    response: ResponseBody,
    provider: ProviderKind,
    dialect: StreamDialect,
    idle: Duration,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    relay_events(
        Box::pin(response.into_data_stream()),
        provider,
        dialect,
        idle,
    )
}

fn relay_events(
    upstream: Upstream,
    provider: ProviderKind,
    dialect: StreamDialect,
    idle: Duration,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    let relay = Relay {
        upstream,
        held: BytesMut::new(),
        next: None,
        finished: false,
        provider,
        dialect,
        silence: Silence::new(idle),
    };
    futures_util::stream::unfold(relay, |mut r| async move {
        if r.finished {
            return None;
        }
        loop {
            let item = match r.next.take() {
                Some(item) => item,
                None => next_chunk(&mut r.upstream, &mut r.silence).await,
            };
            match item {
                Some(Ok(chunk)) => {
                    let data = if r.held.is_empty() {
                        chunk
                    } else {
                        r.held.extend_from_slice(&chunk);
                        r.held.split().freeze()
                    };
                    match last_event_end(&data) {
                        Some(end) if end == data.len() => {
                            if ends_the_stream(&data) {
                                r.await_end().await;
                            }
                            return Some((Ok(data), r));
                        }
                        Some(end) => {
                            r.held.extend_from_slice(&data[end..]);
                            return Some((Ok(data.slice(..end)), r));
                        }
                        None if data.len() >= MAX_HELD_BYTES => return Some((Ok(data), r)),
                        None => r.held.extend_from_slice(&data),
                    }
                }
                Some(Err(broken)) => {
                    r.finished = true;
                    let timed_out = matches!(broken, Broken::Silent);
                    tracing::warn!(provider = %r.provider, timed_out, "upstream stream failed mid-way");
                    return Some((Ok(error_event(r.dialect, r.provider, timed_out)), r));
                }
                None => {
                    r.finished = true;
                    if r.held.is_empty() {
                        return None;
                    }
                    let rest = r.held.split().freeze();
                    return Some((Ok(rest), r));
                }
            }
        }
    })
}

impl Relay {
    /// The stream's last event has been read: waits (at most [`END_GRACE`]) for the
    /// upstream body to end, so the caller's response ends in that event's write.
    /// Whatever else the upstream sends meanwhile is kept for the next poll.
    async fn await_end(&mut self) {
        let next = next_chunk(&mut self.upstream, &mut self.silence);
        match tokio::time::timeout(END_GRACE, next).await {
            Ok(None) => self.finished = true,
            Ok(item) => self.next = Some(item),
            // Still open: the event goes out now, the end on its own later.
            Err(_) => {}
        }
    }
}

/// Whether the last event in `data` (which ends at an event boundary) is the one
/// after which a provider ends its stream: OpenAI's `data: [DONE]`, Anthropic's
/// `message_stop`, a Responses stream's final `response.*` event. Matched on whole
/// lines, so a text delta that merely mentions them never waits.
fn ends_the_stream(data: &[u8]) -> bool {
    let body = data.trim_ascii_end();
    // Where the last event starts: just past the boundary before it.
    let start = last_event_end(body).unwrap_or(0);
    body[start..].split(|&b| b == b'\n').any(|line| {
        matches!(
            line.trim_ascii(),
            b"data: [DONE]"
                | b"data:[DONE]"
                | b"event: message_stop"
                | b"event:message_stop"
                | b"event: response.completed"
                | b"event: response.incomplete"
                | b"event: response.failed"
        )
    })
}

/// The caller-facing body of a non-stream upstream answer: bytes as they come. A
/// transport failure aborts the connection, so the caller sees a truncated response.
pub fn passthrough(
    response: ResponseBody,
    idle: Duration,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    let upstream: Upstream = Box::pin(response.into_data_stream());
    let state = Some((upstream, Silence::new(idle)));
    futures_util::stream::unfold(state, move |state| async move {
        let (mut upstream, mut silence) = state?;
        match next_chunk(&mut upstream, &mut silence).await {
            None => None,
            Some(Ok(b)) => Some((Ok(b), Some((upstream, silence)))),
            Some(Err(_)) => Some((Err(std::io::Error::other("upstream body failed")), None)),
        }
    })
}

/// The caller-facing body of an upstream event stream in another dialect: parsed
/// event by event and re-emitted by `translator`, never buffered beyond one event.
/// A transport failure or silence ends it with the translator's error event.
pub fn translated(
    response: ResponseBody,
    translator: Box<dyn StreamTranslator>,
    idle: Duration,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    struct State {
        upstream: Upstream,
        parser: SseParser,
        translator: Box<dyn StreamTranslator>,
        pending: std::collections::VecDeque<Bytes>,
        ended: bool,
        silence: Silence,
    }
    let state = State {
        silence: Silence::new(idle),
        upstream: Box::pin(response.into_data_stream()),
        parser: SseParser::new(),
        translator,
        pending: Default::default(),
        ended: false,
    };
    futures_util::stream::unfold(state, move |mut s| async move {
        loop {
            if let Some(out) = s.pending.pop_front() {
                return Some((Ok(out), s));
            }
            if s.ended || s.translator.is_done() {
                return None;
            }
            match next_chunk(&mut s.upstream, &mut s.silence).await {
                Some(Ok(chunk)) => {
                    for ev in s.parser.feed(&chunk) {
                        s.pending.extend(s.translator.on_event(&ev));
                    }
                }
                Some(Err(broken)) => {
                    s.ended = true;
                    let (code, message) = match broken {
                        Broken::Silent => (
                            "upstream_timeout",
                            "the provider went silent mid-stream; the response is incomplete",
                        ),
                        Broken::Transport => (
                            "upstream_error",
                            "the provider broke off the stream; the response is incomplete",
                        ),
                    };
                    s.pending.extend(s.translator.fail(code, message));
                }
                None => {
                    s.ended = true;
                    if let Some(ev) = s.parser.finish() {
                        s.pending.extend(s.translator.on_event(&ev));
                    }
                    s.pending.extend(s.translator.finish());
                }
            }
        }
    })
}

/// Index just past the last complete event (`\n\n` or `\r\n\r\n`) in `data`.
fn last_event_end(data: &[u8]) -> Option<usize> {
    (1..data.len()).rev().find_map(|i| {
        if data[i] != b'\n' {
            return None;
        }
        let blank = data[i - 1] == b'\n' || (i >= 3 && &data[i - 3..i] == b"\r\n\r");
        blank.then_some(i + 1)
    })
}

fn error_event(dialect: StreamDialect, provider: ProviderKind, timed_out: bool) -> Bytes {
    let (code, message) = if timed_out {
        (
            UPSTREAM_TIMEOUT,
            format!("{provider} went silent mid-stream; the response is incomplete"),
        )
    } else {
        (
            UPSTREAM_ERROR,
            format!("{provider} broke off the stream; the response is incomplete"),
        )
    };
    let dialect = match dialect {
        StreamDialect::OpenAi => ErrorEventDialect::OpenAi,
        StreamDialect::Anthropic => ErrorEventDialect::Anthropic,
        StreamDialect::Gemini => ErrorEventDialect::Gemini,
    };
    crate::translate::stream::error_event(dialect, code, &message)
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;

    use super::*;

    #[test]
    fn knows_each_dialect_s_last_event() {
        assert!(ends_the_stream(b"data: {\"a\":1}\n\ndata: [DONE]\n\n"));
        assert!(ends_the_stream(b"data: [DONE]\r\n\r\n"));
        assert!(ends_the_stream(
            b"event: message_delta\ndata: {}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
        ));
        assert!(ends_the_stream(
            b"event: response.completed\ndata: {\"type\":\"response.completed\"}\n\n"
        ));
        // Only the last event counts, and only whole lines.
        assert!(!ends_the_stream(b"data: [DONE]\n\ndata: {\"a\":1}\n\n"));
        assert!(!ends_the_stream(
            b"event: content_block_delta\ndata: {\"text\":\"event: message_stop\"}\n\n"
        ));
        assert!(!ends_the_stream(b"data: {\"choices\":[]}\n\n"));
    }

    /// An upstream body: `items` in order, each after one `Pending` (as the hyper
    /// client's connection task hands over each chunk and then the end), then
    /// either the end or, with `stay_open`, `Pending` for ever.
    struct Paced {
        items: std::collections::VecDeque<Bytes>,
        ready: bool,
        stay_open: bool,
    }

    impl Stream for Paced {
        type Item = Result<Bytes, hyper::Error>;
        fn poll_next(
            mut self: Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            if !self.ready {
                self.ready = true;
                cx.waker().wake_by_ref();
                return std::task::Poll::Pending;
            }
            self.ready = false;
            match self.items.pop_front() {
                Some(b) => std::task::Poll::Ready(Some(Ok(b))),
                None if self.stay_open => std::task::Poll::Pending,
                None => std::task::Poll::Ready(None),
            }
        }
    }

    fn relay_of(
        items: &[&'static [u8]],
        stay_open: bool,
    ) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
        let upstream: Upstream = Box::pin(Paced {
            items: items.iter().map(|b| Bytes::from_static(b)).collect(),
            ready: false,
            stay_open,
        });
        relay_events(
            upstream,
            ProviderKind::OpenAi,
            StreamDialect::OpenAi,
            Duration::from_secs(60),
        )
    }

    #[tokio::test]
    async fn the_last_event_comes_with_the_end() {
        let mut s = Box::pin(relay_of(
            &[b"data: {\"a\":1}\n\n", b"data: [DONE]\n\n"],
            false,
        ));
        assert_eq!(
            s.next().await.unwrap().unwrap(),
            &b"data: {\"a\":1}\n\n"[..]
        );
        assert_eq!(s.next().await.unwrap().unwrap(), &b"data: [DONE]\n\n"[..]);
        // The upstream's end was awaited with [DONE]: the body ends without another
        // wait, so hyper writes the terminating chunk in [DONE]'s write.
        assert!(matches!(s.next().now_or_never(), Some(None)));
    }

    #[tokio::test]
    async fn what_follows_the_last_event_is_still_relayed() {
        let mut s = Box::pin(relay_of(
            &[b"data: [DONE]\n\n", b"data: {\"late\":1}\n\n"],
            false,
        ));
        assert_eq!(s.next().await.unwrap().unwrap(), &b"data: [DONE]\n\n"[..]);
        assert_eq!(
            s.next().await.unwrap().unwrap(),
            &b"data: {\"late\":1}\n\n"[..]
        );
        assert!(s.next().await.is_none());
    }

    #[tokio::test]
    async fn an_upstream_that_stays_open_still_gets_its_last_event_out() {
        let mut s = Box::pin(relay_of(&[b"data: [DONE]\n\n"], true));
        // Past END_GRACE the event goes out without the end (a deadline, not a timing).
        let first = tokio::time::timeout(Duration::from_secs(10), s.next()).await;
        assert_eq!(first.unwrap().unwrap().unwrap(), &b"data: [DONE]\n\n"[..]);
        // The body is still open: the next poll waits for the upstream.
        assert!(s.next().now_or_never().is_none());
    }

    #[test]
    fn finds_the_last_event_boundary() {
        assert_eq!(last_event_end(b"data: a\n\ndata: b"), Some(9));
        assert_eq!(last_event_end(b"data: a\n\ndata: b\n\n"), Some(18));
        assert_eq!(last_event_end(b"data: a\r\n\r\ndata"), Some(11));
        assert_eq!(last_event_end(b"data: a\n"), None);
        assert_eq!(last_event_end(b""), None);
    }

    #[test]
    fn error_events_parse_in_each_dialect() {
        let e = error_event(StreamDialect::OpenAi, ProviderKind::OpenAi, false);
        let text = std::str::from_utf8(&e).unwrap();
        let json: serde_json::Value =
            serde_json::from_str(text.strip_prefix("data: ").unwrap().trim()).unwrap();
        assert_eq!(json["error"]["code"], "upstream_error");
        assert_eq!(json["error"]["param"], serde_json::Value::Null);
        let e = error_event(StreamDialect::Anthropic, ProviderKind::Anthropic, true);
        let text = std::str::from_utf8(&e).unwrap();
        let data = text.strip_prefix("event: error\ndata: ").unwrap();
        let json: serde_json::Value = serde_json::from_str(data.trim()).unwrap();
        assert_eq!(json["type"], "error");
        assert_eq!(json["error"]["type"], "api_error");
        assert!(
            json["error"]["message"]
                .as_str()
                .unwrap()
                .contains("silent")
        );
    }
}
