//! Test-only: drives a stream translator through [`SseParser`] at any split, and
//! rebuilds OpenAI `chat.completion.chunk` output the way a client SDK would,
//! asserting the chunk-stream rules (wire-formats.md §1) on the way. Shared by the
//! stream tests of every translator that writes chunks (`AnthropicToChat` here,
//! `translate::gemini::GeminiToChat`); the output is never compared as text.

use serde_json::Value;

use super::StreamTranslator;
use crate::translate::sse::{SseEvent, SseParser};

/// Feeds `input` in pieces of `piece` bytes through a parser into `t`, then EOF.
/// Checks that every returned `Bytes` holds only complete events.
pub(crate) fn run(t: &mut dyn StreamTranslator, input: &[u8], piece: usize) -> Vec<u8> {
    let mut parser = SseParser::new();
    let mut out = Vec::new();
    let take = |frames: Vec<bytes::Bytes>, out: &mut Vec<u8>| {
        for frame in frames {
            assert!(!frame.is_empty(), "an empty frame");
            let mut check = SseParser::new();
            assert!(!check.feed(&frame).is_empty(), "a frame with no event");
            assert_eq!(check.finish(), None, "a frame ending mid-event: {frame:?}");
            out.extend_from_slice(&frame);
        }
    };
    for piece in input.chunks(piece.max(1)) {
        for ev in parser.feed(piece) {
            take(t.on_event(&ev), &mut out);
        }
    }
    if let Some(ev) = parser.finish() {
        take(t.on_event(&ev), &mut out);
    }
    take(t.finish(), &mut out);
    assert!(t.is_done(), "a stream must be over after finish()");
    assert!(t.finish().is_empty() && t.fail("upstream_error", "late").is_empty());
    out
}

pub(crate) fn parse_events(out: &[u8]) -> Vec<SseEvent> {
    let mut parser = SseParser::new();
    let events = parser.feed(out);
    assert_eq!(
        parser.finish(),
        None,
        "the output must end with a blank line"
    );
    events
}

/// What an OpenAI client accumulates from a chunk stream.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct ChatResult {
    pub id: String,
    pub model: String,
    pub content: String,
    pub tools: Vec<ToolCall>,
    pub finish_reason: Option<String>,
    pub usage: Option<Value>,
    pub done: bool,
    pub error: Option<Value>,
}

#[derive(Debug, Default, PartialEq)]
pub(crate) struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
    /// How many deltas carried it (the opening one included).
    pub deltas: usize,
}

/// Rebuilds the OpenAI view of `out`, asserting the chunk-stream rules
/// (wire-formats.md §1) and `include_usage` handling.
pub(crate) fn rebuild_chat(out: &[u8], include_usage: bool) -> ChatResult {
    let mut r = ChatResult::default();
    let mut created = None;
    let mut seen_role = false;
    for ev in parse_events(out) {
        assert!(
            !r.done && r.error.is_none(),
            "an event after the end: {ev:?}"
        );
        assert_eq!(ev.event, None, "chat chunks have no event name");
        if ev.data == "[DONE]" {
            r.done = true;
            continue;
        }
        let chunk: Value = serde_json::from_str(&ev.data).expect("each chunk is JSON");
        if let Some(error) = chunk.get("error") {
            for field in ["message", "type", "code"] {
                assert!(error[field].is_string(), "error.{field} in {chunk}");
            }
            r.error = Some(error.clone());
            continue;
        }
        assert!(r.usage.is_none(), "a chunk after the usage chunk: {chunk}");
        assert_eq!(chunk["object"], "chat.completion.chunk");
        let id = chunk["id"].as_str().expect("id").to_owned();
        assert!(id.starts_with("chatcmpl-"), "{id}");
        if r.id.is_empty() {
            r.id = id;
            r.model = chunk["model"].as_str().expect("model").to_owned();
        } else {
            assert_eq!(r.id, id, "one id for the whole stream");
            assert_eq!(r.model, chunk["model"]);
        }
        let c = chunk["created"].as_u64().expect("created");
        assert_eq!(*created.get_or_insert(c), c);
        let choices = chunk["choices"].as_array().expect("choices");
        if include_usage {
            let usage = chunk.get("usage").expect("usage on every chunk");
            if choices.is_empty() {
                assert!(usage.is_object(), "{chunk}");
                r.usage = Some(usage.clone());
                continue;
            }
            assert!(usage.is_null(), "usage null until the usage chunk: {chunk}");
        } else {
            assert!(chunk.get("usage").is_none(), "no usage unasked: {chunk}");
        }
        assert_eq!(choices.len(), 1, "{chunk}");
        let choice = &choices[0];
        assert_eq!(choice["index"], 0);
        let delta = &choice["delta"];
        assert_eq!(
            delta["role"] == "assistant",
            !std::mem::replace(&mut seen_role, true),
            "the first delta, and only it, names the role: {chunk}"
        );
        if let Some(text) = delta["content"].as_str() {
            r.content.push_str(text);
        }
        for tool in delta["tool_calls"].as_array().into_iter().flatten() {
            let k = tool["index"].as_u64().expect("index on every tool delta") as usize;
            let function = &tool["function"];
            if let Some(id) = tool["id"].as_str() {
                assert_eq!(k, r.tools.len(), "tool indices count from 0: {chunk}");
                assert_eq!(tool["type"], "function");
                r.tools.push(ToolCall {
                    id: id.to_owned(),
                    name: function["name"].as_str().expect("name").to_owned(),
                    arguments: String::new(),
                    deltas: 0,
                });
            }
            let call = r.tools.get_mut(k).expect("a fragment for an opened call");
            call.arguments
                .push_str(function["arguments"].as_str().expect("arguments"));
            call.deltas += 1;
        }
        if let Some(reason) = choice["finish_reason"].as_str() {
            assert!(r.finish_reason.is_none(), "one finish_reason: {chunk}");
            assert!(delta.as_object().is_some_and(|d| d.is_empty()));
            r.finish_reason = Some(reason.to_owned());
        }
    }
    if r.done {
        assert!(r.finish_reason.is_some(), "a clean end has a finish_reason");
        assert_eq!(
            include_usage,
            r.usage.is_some(),
            "the usage chunk iff asked"
        );
    }
    r
}
