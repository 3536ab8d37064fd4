//! Relaying upstream bodies back to the caller, chunk by chunk.
//!
//! `sse` forwards an event stream as it arrives, cut only at event boundaries, so a
//! failure mid-stream can be reported as one well-formed error event in the caller's
//! dialect (then the stream ends without `[DONE]`, which every SDK treats as an
//! error). The caller going away drops this stream, which drops the upstream
//! response and closes that connection: the provider stops generating.

use std::pin::Pin;
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
    finished: bool,
    provider: ProviderKind,
    dialect: StreamDialect,
    idle: Duration,
}

/// Why the upstream body ended early.
enum Broken {
    Transport,
    Silent,
}

/// The next upstream chunk, or why there is none, waiting at most `idle`.
async fn next_chunk(upstream: &mut Upstream, idle: Duration) -> Option<Result<Bytes, Broken>> {
    match tokio::time::timeout(idle, upstream.next()).await {
        Err(_) => Some(Err(Broken::Silent)),
        Ok(None) => None,
        Ok(Some(Ok(b))) => Some(Ok(b)),
        Ok(Some(Err(e))) if e.is_timeout() => Some(Err(Broken::Silent)),
        Ok(Some(Err(_))) => Some(Err(Broken::Transport)),
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
    let relay = Relay {
        upstream: Box::pin(response.into_data_stream()),
        held: BytesMut::new(),
        finished: false,
        provider,
        dialect,
        idle,
    };
    futures_util::stream::unfold(relay, |mut r| async move {
        if r.finished {
            return None;
        }
        loop {
            match next_chunk(&mut r.upstream, r.idle).await {
                Some(Ok(chunk)) => {
                    let data = if r.held.is_empty() {
                        chunk
                    } else {
                        r.held.extend_from_slice(&chunk);
                        r.held.split().freeze()
                    };
                    match last_event_end(&data) {
                        Some(end) if end == data.len() => return Some((Ok(data), r)),
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

/// The caller-facing body of a non-stream upstream answer: bytes as they come. A
/// transport failure aborts the connection, so the caller sees a truncated response.
pub fn passthrough(
    response: ResponseBody,
    idle: Duration,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    let upstream: Upstream = Box::pin(response.into_data_stream());
    futures_util::stream::unfold(Some(upstream), move |state| async move {
        let mut upstream = state?;
        match next_chunk(&mut upstream, idle).await {
            None => None,
            Some(Ok(b)) => Some((Ok(b), Some(upstream))),
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
    }
    let state = State {
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
            match next_chunk(&mut s.upstream, idle).await {
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
    use super::*;

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
