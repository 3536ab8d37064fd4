//! Tests for the streaming translators, driven by recorded-style upstream
//! streams. The output is never compared as text: it is parsed back with
//! [`SseParser`] and rebuilt the way a client SDK would, checking the dialect's
//! framing rules on the way, and the rebuilt message is what tests assert on.

mod anthropic_to_chat;
mod arbitrary;
mod chat_to_anthropic;

use serde_json::Value;

use super::StreamTranslator;
use crate::translate::sse::{SseEvent, SseParser};

/// `event: <type>\ndata: <json>\n\n` per event, as Anthropic sends them.
fn anthropic_stream(events: &[Value]) -> String {
    events
        .iter()
        .map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap()))
        .collect()
}

/// `data: <json>\n\n` per chunk, then `data: [DONE]` if `done`.
fn openai_stream(chunks: &[Value], done: bool) -> String {
    let mut s: String = chunks.iter().map(|c| format!("data: {c}\n\n")).collect();
    if done {
        s.push_str("data: [DONE]\n\n");
    }
    s
}

/// Feeds `input` in pieces of `piece` bytes through a parser into `t`, then EOF.
/// Checks that every returned `Bytes` holds only complete events.
fn run(t: &mut dyn StreamTranslator, input: &[u8], piece: usize) -> Vec<u8> {
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

fn parse_events(out: &[u8]) -> Vec<SseEvent> {
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
struct ChatResult {
    id: String,
    model: String,
    content: String,
    tools: Vec<ToolCall>,
    finish_reason: Option<String>,
    usage: Option<Value>,
    done: bool,
    error: Option<Value>,
}

#[derive(Debug, Default, PartialEq)]
struct ToolCall {
    id: String,
    name: String,
    arguments: String,
}

/// Rebuilds the OpenAI view of `out`, asserting the chunk-stream rules
/// (wire-formats.md §1) and `include_usage` handling.
fn rebuild_chat(out: &[u8], include_usage: bool) -> ChatResult {
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
                });
            }
            let call = r.tools.get_mut(k).expect("a fragment for an opened call");
            call.arguments
                .push_str(function["arguments"].as_str().expect("arguments"));
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

/// What an Anthropic client accumulates from a message event stream.
#[derive(Debug, Default, PartialEq)]
struct MessageResult {
    id: String,
    model: String,
    start_usage: Value,
    blocks: Vec<Block>,
    stop_reason: Option<String>,
    usage: Option<Value>,
    stopped: bool,
    error: Option<Value>,
}

#[derive(Debug, PartialEq)]
enum Block {
    Text(String),
    Tool {
        id: String,
        name: String,
        json: String,
    },
}

impl Block {
    /// A tool block's input, parsed from its `input_json_delta`s.
    fn input(&self) -> Value {
        match self {
            Block::Tool { json, .. } if json.is_empty() => Value::Object(Default::default()),
            Block::Tool { json, .. } => serde_json::from_str(json).expect("tool input JSON"),
            Block::Text(_) => panic!("not a tool block"),
        }
    }
}

/// Rebuilds the Anthropic view of `out`, asserting the framing rules: names equal
/// types, one `message_start` first, blocks numbered in order and never
/// overlapping, `message_delta` then `message_stop` last.
fn rebuild_message(out: &[u8]) -> MessageResult {
    let mut r = MessageResult::default();
    let mut started = false;
    let mut open: Option<usize> = None;
    for ev in parse_events(out) {
        assert!(
            !r.stopped && r.error.is_none(),
            "an event after the end: {ev:?}"
        );
        let data: Value = serde_json::from_str(&ev.data).expect("event data is JSON");
        let name = ev.event.expect("every event is named");
        assert_eq!(data["type"], name.as_str(), "the name is the type");
        if name == "error" {
            assert!(data["error"]["type"].is_string() && data["error"]["message"].is_string());
            r.error = Some(data["error"].clone());
            continue;
        }
        assert_eq!(
            started,
            name != "message_start",
            "message_start first, once"
        );
        match name.as_str() {
            "message_start" => {
                started = true;
                let m = &data["message"];
                assert_eq!(m["type"], "message");
                assert_eq!(m["role"], "assistant");
                assert_eq!(m["content"], serde_json::json!([]));
                assert!(m["stop_reason"].is_null() && m["stop_sequence"].is_null());
                r.id = m["id"].as_str().expect("id").to_owned();
                assert!(r.id.starts_with("msg_"), "{}", r.id);
                r.model = m["model"].as_str().expect("model").to_owned();
                r.start_usage = m["usage"].clone();
            }
            "content_block_start" => {
                assert_eq!(open, None, "blocks never overlap");
                assert!(r.stop_reason.is_none(), "no block after message_delta");
                assert_eq!(data["index"], r.blocks.len(), "indices count up");
                let b = &data["content_block"];
                r.blocks.push(match b["type"].as_str() {
                    Some("text") => {
                        assert_eq!(b["text"], "");
                        Block::Text(String::new())
                    }
                    Some("tool_use") => {
                        assert_eq!(b["input"], serde_json::json!({}));
                        Block::Tool {
                            id: b["id"].as_str().expect("id").to_owned(),
                            name: b["name"].as_str().expect("name").to_owned(),
                            json: String::new(),
                        }
                    }
                    other => panic!("unexpected block {other:?}"),
                });
                open = Some(r.blocks.len() - 1);
            }
            "content_block_delta" => {
                let i = open.expect("a delta needs an open block");
                assert_eq!(data["index"], i);
                let d = &data["delta"];
                match (&mut r.blocks[i], d["type"].as_str()) {
                    (Block::Text(text), Some("text_delta")) => {
                        let t = d["text"].as_str().expect("text");
                        assert!(!t.is_empty(), "no empty text deltas");
                        text.push_str(t);
                    }
                    (Block::Tool { json, .. }, Some("input_json_delta")) => {
                        json.push_str(d["partial_json"].as_str().expect("partial_json"));
                    }
                    (b, t) => panic!("delta {t:?} on {b:?}"),
                }
            }
            "content_block_stop" => {
                assert_eq!(Some(data["index"].as_u64().unwrap() as usize), open);
                open = None;
            }
            "message_delta" => {
                assert_eq!(open, None, "every block is closed first");
                assert!(r.stop_reason.is_none(), "one message_delta");
                assert!(data["delta"]["stop_sequence"].is_null());
                let reason = data["delta"]["stop_reason"].as_str().expect("stop_reason");
                r.stop_reason = Some(reason.to_owned());
                assert!(data["usage"]["output_tokens"].is_u64());
                r.usage = Some(data["usage"].clone());
            }
            "message_stop" => {
                assert!(r.stop_reason.is_some(), "message_delta before message_stop");
                r.stopped = true;
            }
            other => panic!("unexpected event {other}"),
        }
    }
    for block in &r.blocks {
        if let Block::Text(text) = block {
            assert!(!text.is_empty(), "no empty text blocks");
        }
    }
    r
}
