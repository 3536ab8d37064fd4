//! The mock's answer as an Anthropic `message` object and as the event
//! sequence of a streamed one (`wire-formats.md` §2): `message_start`,
//! `ping`, `content_block_start` / `_delta` / `_stop` per block,
//! `message_delta` with the stop reason and cumulative output tokens, then
//! `message_stop`.
//!
//! Pure rendering: no I/O, no directives beyond the ones that change what
//! is said, so tests can predict every byte.

use bytes::Bytes;
use serde_json::{Value, json};

use super::super::error_body::AnthropicErrorType;
use super::super::reply::{self, TOOL_ARGUMENT_FRAGMENTS};

/// Text before the tool call, as Claude usually says something first; it
/// also makes a tool answer two blocks, so block indices get exercised.
pub(super) const TOOL_PREAMBLE: &str = "Let me check.";
const TOOL_USE_ID: &str = "toolu_mock_1";

/// What the message says.
pub(super) enum Answer {
    Text(String),
    /// [`TOOL_PREAMBLE`], then a call to `name` with `{"location":"Paris"}`.
    ToolUse {
        name: String,
    },
}

pub(super) struct Reply {
    pub id: String,
    pub model: String,
    pub answer: Answer,
    pub input_tokens: u64,
}

/// One server-sent event: `event: <name>` with `data: {"type":"<name>",…}`.
pub(super) struct Event {
    name: &'static str,
    data: Value,
}

impl Event {
    fn new(name: &'static str, mut data: Value) -> Self {
        data["type"] = json!(name);
        Self { name, data }
    }

    /// The event as one body frame.
    pub(super) fn to_frame(&self) -> Bytes {
        Bytes::from(format!("event: {}\ndata: {}\n\n", self.name, self.data))
    }
}

/// The canned tool input as an object; [`reply::TOOL_ARGUMENTS`] is its JSON.
fn tool_input() -> Value {
    json!({"location": "Paris"})
}

impl Reply {
    fn stop_reason(&self) -> &'static str {
        match self.answer {
            Answer::Text(_) => "end_turn",
            Answer::ToolUse { .. } => "tool_use",
        }
    }

    /// One per stream piece of text plus one per tool-input fragment, so
    /// the count matches what a stream sends.
    fn output_tokens(&self) -> u64 {
        let pieces = match &self.answer {
            Answer::Text(text) => reply::stream_pieces(text).len(),
            Answer::ToolUse { .. } => {
                reply::stream_pieces(TOOL_PREAMBLE).len() + TOOL_ARGUMENT_FRAGMENTS.len()
            }
        };
        pieces as u64
    }

    fn text(&self) -> &str {
        match &self.answer {
            Answer::Text(text) => text,
            Answer::ToolUse { .. } => TOOL_PREAMBLE,
        }
    }

    fn tool_name(&self) -> Option<&str> {
        match &self.answer {
            Answer::Text(_) => None,
            Answer::ToolUse { name } => Some(name),
        }
    }

    /// The `message` object, with `content`, `stop_reason` and `usage` as
    /// given (empty and null in `message_start`).
    fn message(&self, content: Value, stop_reason: Option<&str>, output_tokens: u64) -> Value {
        json!({
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": null,
            "usage": {
                "input_tokens": self.input_tokens,
                "output_tokens": output_tokens,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
            },
        })
    }

    /// The non-streamed response body.
    pub(super) fn to_json(&self) -> Value {
        let mut content = vec![json!({"type": "text", "text": self.text()})];
        if let Some(name) = self.tool_name() {
            content.push(json!({
                "type": "tool_use", "id": TOOL_USE_ID, "name": name, "input": tool_input(),
            }));
        }
        self.message(
            Value::Array(content),
            Some(self.stop_reason()),
            self.output_tokens(),
        )
    }

    /// Every event of the stream, in order.
    pub(super) fn stream_events(&self) -> Vec<Event> {
        let mut events = vec![
            Event::new(
                "message_start",
                json!({"message": self.message(json!([]), None, 1)}),
            ),
            Event::new("ping", json!({})),
            Event::new(
                "content_block_start",
                json!({"index": 0, "content_block": {"type": "text", "text": ""}}),
            ),
        ];
        events.extend(reply::stream_pieces(self.text()).into_iter().map(|piece| {
            Event::new(
                "content_block_delta",
                json!({"index": 0, "delta": {"type": "text_delta", "text": piece}}),
            )
        }));
        events.push(Event::new("content_block_stop", json!({"index": 0})));
        if let Some(name) = self.tool_name() {
            events.push(Event::new(
                "content_block_start",
                json!({"index": 1, "content_block": {
                    "type": "tool_use", "id": TOOL_USE_ID, "name": name, "input": {},
                }}),
            ));
            // The real API often opens with an empty fragment; clients must
            // cope, so the mock does it too.
            let fragments = std::iter::once("").chain(TOOL_ARGUMENT_FRAGMENTS);
            events.extend(fragments.map(|fragment| {
                Event::new(
                    "content_block_delta",
                    json!({"index": 1, "delta": {"type": "input_json_delta", "partial_json": fragment}}),
                )
            }));
            events.push(Event::new("content_block_stop", json!({"index": 1})));
        }
        events.push(Event::new(
            "message_delta",
            json!({
                "delta": {"stop_reason": self.stop_reason(), "stop_sequence": null},
                "usage": {"output_tokens": self.output_tokens()},
            }),
        ));
        events.push(Event::new("message_stop", json!({})));
        events
    }
}

/// Cuts `events` after the first content delta (or, with no text at all,
/// after the first block opens) and ends them with the `overloaded_error`
/// event the real API may send after a 200.
pub(super) fn fail_after_first_delta(events: &mut Vec<Event>) {
    let cut = events
        .iter()
        .position(|e| e.name == "content_block_delta")
        .or_else(|| events.iter().position(|e| e.name == "content_block_start"))
        .map_or(events.len(), |i| i + 1);
    events.truncate(cut);
    events.push(Event::new(
        "error",
        AnthropicErrorType::Overloaded.body("Overloaded"),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(answer: Answer) -> Reply {
        Reply {
            id: "msg_mock_1".into(),
            model: "claude-mock".into(),
            answer,
            input_tokens: 9,
        }
    }

    fn names(events: &[Event]) -> Vec<&str> {
        events.iter().map(|e| e.name).collect()
    }

    #[test]
    fn tool_input_is_the_canned_arguments() {
        assert_eq!(tool_input().to_string(), reply::TOOL_ARGUMENTS);
    }

    #[test]
    fn frames_name_the_event_in_both_lines() {
        let frame = Event::new("ping", json!({})).to_frame();
        assert_eq!(&frame[..], b"event: ping\ndata: {\"type\":\"ping\"}\n\n");
    }

    #[test]
    fn empty_text_still_opens_and_closes_its_block() {
        let events = reply(Answer::Text(String::new())).stream_events();
        assert_eq!(
            names(&events),
            [
                "message_start",
                "ping",
                "content_block_start",
                "content_block_stop",
                "message_delta",
                "message_stop",
            ]
        );
        assert_eq!(events[4].data["usage"]["output_tokens"], 0);
    }

    #[test]
    fn failing_cuts_after_the_first_delta_or_block_start() {
        let mut events = reply(Answer::Text("a b c".into())).stream_events();
        fail_after_first_delta(&mut events);
        assert_eq!(
            names(&events),
            [
                "message_start",
                "ping",
                "content_block_start",
                "content_block_delta",
                "error",
            ]
        );
        assert_eq!(events[4].data["error"]["type"], "overloaded_error");

        let mut empty = reply(Answer::Text(String::new())).stream_events();
        fail_after_first_delta(&mut empty);
        assert_eq!(
            names(&empty),
            ["message_start", "ping", "content_block_start", "error"]
        );
    }

    #[test]
    fn tool_use_counts_preamble_words_and_fragments() {
        let tool = reply(Answer::ToolUse { name: "w".into() });
        assert_eq!(
            tool.output_tokens(),
            3 + TOOL_ARGUMENT_FRAGMENTS.len() as u64
        );
        assert_eq!(tool.to_json()["usage"]["output_tokens"], 6);
    }
}
