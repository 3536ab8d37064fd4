//! Tests for the streaming translators, driven by recorded-style upstream
//! streams. The output is never compared as text: it is parsed back with
//! [`SseParser`](crate::translate::sse::SseParser) and rebuilt the way a client SDK
//! would, checking the dialect's framing rules on the way, and the rebuilt message is
//! what tests assert on. The chat side (`run`, `rebuild_chat`) is `super::replay`,
//! shared with the Gemini stream tests; the Anthropic side is here.

mod anthropic_to_chat;
mod arbitrary;
mod chat_to_anthropic;

use serde_json::Value;

use super::replay::parse_events;

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
