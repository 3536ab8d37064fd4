//! Streaming translators between dialects, event by event (wire-formats.md §5.4,
//! §5.6, §6).
//!
//! A translator takes parsed upstream events ([`SseEvent`], from
//! [`crate::translate::sse::SseParser`]) and returns ready-to-send bytes in the
//! caller's dialect. It keeps only the small state the mapping needs (which
//! block is open, tool-call counters, usage), never the text itself, so a stream
//! goes out as it comes in. It does no I/O and keeps no clock: idle pings and
//! timeouts belong to the relay, which calls [`StreamTranslator::fail`].
//!
//! Rules shared by every translator:
//! - A stream ends exactly once: the clean terminal (`[DONE]`, `message_stop`) or
//!   one error event in the caller's dialect. An upstream that stops without its
//!   terminal event is an error, never a faked clean finish. After the end every
//!   call returns nothing.
//! - An event the translator must understand but cannot read (bad JSON, wrong
//!   types) ends the stream with an `upstream_error`: dropping it could silently
//!   lose text or tool arguments. Events it need not understand (`ping`, unknown
//!   names, unknown delta types) are skipped.
//! - Each call returns at most one `Bytes`, holding all events it produced.
//!
//! - `anthropic_to_chat`: Anthropic upstream → OpenAI `chat.completion.chunk`.
//! - `chat_to_anthropic`: OpenAI-style upstream → Anthropic message events.
//! - `anthropic_events`, `chat_chunks`: each dialect's stream shapes, read
//!   borrowed and written without building JSON trees. `chat_chunks` (with
//!   `EventWriter` and `Unreadable`) also serves `translate::gemini`'s stream.
//! - `replay` (tests only): drives a translator and rebuilds its output the way a
//!   client SDK would, for every provider's stream tests.

mod anthropic_events;
mod anthropic_to_chat;
mod chain;
pub(crate) mod chat_chunks;
mod chat_to_anthropic;
#[cfg(test)]
pub(crate) mod replay;
#[cfg(test)]
mod tests;

use bytes::Bytes;
use serde::Serialize;

use crate::translate::sse::SseEvent;

pub use anthropic_to_chat::AnthropicToChat;
pub use chain::Chain;
pub use chat_to_anthropic::ChatToAnthropic;

/// The `code` for [`StreamTranslator::fail`] when the upstream connection broke.
pub const UPSTREAM_ERROR: &str = "upstream_error";
/// The `code` for [`StreamTranslator::fail`] when the upstream went silent.
pub const UPSTREAM_TIMEOUT: &str = "upstream_timeout";

/// Message of the error sent when the upstream ends without its terminal event.
const ENDED_EARLY: &str = "the upstream stream ended early; the response is incomplete";

/// Token counts seen in a stream, for metering. Zero where the upstream did not
/// report them (yet); the meter estimates those.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamUsage {
    /// Prompt tokens not read from or written to a cache (Anthropic's `input_tokens`).
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
}

/// Turns one upstream dialect's stream into another's. Each returned `Bytes` is one
/// or more complete SSE events, ready to send.
pub trait StreamTranslator: Send {
    fn on_event(&mut self, ev: &SseEvent) -> Vec<Bytes>;
    /// The upstream ended (EOF). If it ended without its terminal event, emit the
    /// caller-dialect error event (never fake a clean finish).
    fn finish(&mut self) -> Vec<Bytes>;
    /// The upstream failed mid-stream (transport error or silence): emit the
    /// caller-dialect error event with this message and code ([`UPSTREAM_ERROR`] /
    /// [`UPSTREAM_TIMEOUT`]).
    fn fail(&mut self, code: &str, message: &str) -> Vec<Bytes>;
    /// True once a terminal event (clean or error) has been emitted; later calls
    /// return nothing.
    fn is_done(&self) -> bool;
    fn usage(&self) -> StreamUsage;
}

/// The caller's wire format, for an error event written mid-stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorEventDialect {
    OpenAi,
    Anthropic,
    /// `data: {"error":{"code","message","status"}}`, then the stream ends.
    Gemini,
}

/// The one mid-stream error event per dialect, for streams relayed untranslated
/// (translators write the same events): OpenAI's `data: {"error":…}` (then no
/// `[DONE]`), Anthropic's `event: error`. `code` is [`UPSTREAM_ERROR`] or
/// [`UPSTREAM_TIMEOUT`].
pub fn error_event(dialect: ErrorEventDialect, code: &str, message: &str) -> Bytes {
    let mut out = EventWriter::default();
    match dialect {
        ErrorEventDialect::OpenAi => chat_chunks::ChunkWriter::error(code, message, &mut out),
        ErrorEventDialect::Anthropic => {
            let event = anthropic_events::Outgoing::Error {
                error: anthropic_events::ErrorOut {
                    kind: "api_error",
                    message,
                },
            };
            out.event(event.name(), &event);
        }
        ErrorEventDialect::Gemini => out.data(&serde_json::json!({
            "error": {
                "code": if code == UPSTREAM_TIMEOUT { 504 } else { 502 },
                "message": message,
                "status": if code == UPSTREAM_TIMEOUT { "DEADLINE_EXCEEDED" } else { "UNAVAILABLE" },
            }
        })),
    }
    Bytes::from(out.buf)
}

/// Collects the SSE events one call produces into a single buffer.
#[derive(Default)]
pub(crate) struct EventWriter {
    buf: Vec<u8>,
}

impl EventWriter {
    /// `data: <json>\n\n`. Compact JSON never holds a raw newline, so one line.
    pub(crate) fn data(&mut self, value: &impl Serialize) {
        self.buf.extend_from_slice(b"data: ");
        self.json(value);
        self.buf.extend_from_slice(b"\n\n");
    }

    /// `event: <name>\ndata: <json>\n\n`.
    fn event(&mut self, name: &str, value: &impl Serialize) {
        self.buf.extend_from_slice(b"event: ");
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.extend_from_slice(b"\ndata: ");
        self.json(value);
        self.buf.extend_from_slice(b"\n\n");
    }

    fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    #[allow(
        clippy::expect_used,
        reason = "the events are our own serde types written to a Vec, which cannot fail"
    )]
    fn json(&mut self, value: &impl Serialize) {
        // Writing into a Vec cannot fail, and our shapes have only string keys.
        serde_json::to_writer(&mut self.buf, value).expect("stream events always serialize");
    }

    /// What `write` writes, as at most one frame; nothing once the stream is `done`
    /// (a stream ends exactly once, and every later call returns nothing).
    pub(crate) fn frames(done: bool, write: impl FnOnce(&mut EventWriter)) -> Vec<Bytes> {
        if done {
            return Vec::new();
        }
        let mut out = EventWriter::default();
        write(&mut out);
        out.into_frames()
    }

    fn into_frames(self) -> Vec<Bytes> {
        if self.buf.is_empty() {
            Vec::new()
        } else {
            vec![Bytes::from(self.buf)]
        }
    }
}

/// Why an upstream event could not be translated; ends the stream with an error.
#[derive(Debug)]
pub(crate) struct Unreadable(pub(crate) String);

impl Unreadable {
    fn event(name: &str, err: &serde_json::Error) -> Self {
        Unreadable(format!(
            "the upstream sent a `{name}` event the gateway could not read ({err}); the response is incomplete"
        ))
    }
}
