use serde_json::{Value, json};

use super::anthropic_stream;
use crate::translate::sse::SseEvent;
use crate::translate::stream::replay::{rebuild_chat, run};
use crate::translate::stream::{
    AnthropicToChat, StreamTranslator, StreamUsage, UPSTREAM_ERROR, UPSTREAM_TIMEOUT,
};

const MODEL: &str = "claude-via-tollgate";

fn message_start(usage: Value) -> Value {
    json!({"type": "message_start", "message": {
        "id": "msg_01ABC", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [], "stop_reason": null, "stop_sequence": null, "usage": usage,
    }})
}

fn text_start(index: u64) -> Value {
    json!({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}})
}

fn text_delta(index: u64, text: &str) -> Value {
    json!({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": text}})
}

fn tool_start(index: u64, id: &str, name: &str) -> Value {
    json!({"type": "content_block_start", "index": index,
        "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}}})
}

fn json_delta(index: u64, partial: &str) -> Value {
    json!({"type": "content_block_delta", "index": index,
        "delta": {"type": "input_json_delta", "partial_json": partial}})
}

fn block_stop(index: u64) -> Value {
    json!({"type": "content_block_stop", "index": index})
}

fn message_delta(stop_reason: &str, output_tokens: u64) -> Value {
    json!({"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": null},
        "usage": {"output_tokens": output_tokens}})
}

fn stop() -> Value {
    json!({"type": "message_stop"})
}

fn translate(events: &[Value], include_usage: bool) -> (Vec<u8>, AnthropicToChat) {
    let mut t = AnthropicToChat::new(MODEL, include_usage);
    let out = run(&mut t, anthropic_stream(events).as_bytes(), 4096);
    (out, t)
}

fn text_stream() -> Vec<Value> {
    vec![
        message_start(json!({"input_tokens": 12, "output_tokens": 1})),
        text_start(0),
        json!({"type": "ping"}),
        text_delta(0, "Hel"),
        text_delta(0, "lo \"world\"\n"),
        block_stop(0),
        message_delta("end_turn", 7),
        stop(),
    ]
}

#[test]
fn text_only() {
    let (out, t) = translate(&text_stream(), false);
    let r = rebuild_chat(&out, false);
    assert_eq!(r.id, "chatcmpl-msg_01ABC");
    assert_eq!(r.model, MODEL);
    assert_eq!(r.content, "Hello \"world\"\n");
    assert_eq!(r.finish_reason.as_deref(), Some("stop"));
    assert!(r.tools.is_empty());
    assert!(r.done && r.error.is_none() && r.usage.is_none());
    // Output tokens are cumulative: 7, not 1 + 7.
    let want = StreamUsage {
        input: 12,
        output: 7,
        ..StreamUsage::default()
    };
    assert_eq!(t.usage(), want);
    assert!(out.ends_with(b"data: [DONE]\n\n"));
}

#[test]
fn a_tool_call_with_many_fragments_keeps_its_arguments() {
    let events = [
        message_start(json!({"input_tokens": 40, "output_tokens": 1})),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "hmm"}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "c2ln"}}),
        block_stop(0),
        text_start(1),
        text_delta(1, "Checking."),
        block_stop(1),
        tool_start(2, "toolu_01", "now"),
        json_delta(2, ""),
        json_delta(2, "{\"tz\": "),
        json!({"type": "ping"}),
        json_delta(2, "\"Europe/Ist"),
        json_delta(2, "anbul\", \"n\": [1, 2]}"),
        block_stop(2),
        message_delta("tool_use", 25),
        stop(),
    ];
    let (out, _) = translate(&events, false);
    let r = rebuild_chat(&out, false);
    assert_eq!(r.content, "Checking.", "thinking is dropped");
    assert_eq!(r.finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(r.tools.len(), 1);
    let call = &r.tools[0];
    assert_eq!((call.id.as_str(), call.name.as_str()), ("toolu_01", "now"));
    let args: Value = serde_json::from_str(&call.arguments).unwrap();
    assert_eq!(args, json!({"tz": "Europe/Istanbul", "n": [1, 2]}));
    // k is the tool counter (0), not the block index (2), on every tool delta.
    let text = String::from_utf8(out).unwrap();
    assert!(!text.contains("\"index\":2"), "{text}");
}

#[test]
fn two_parallel_tool_calls_count_from_zero() {
    let events = [
        message_start(json!({"input_tokens": 5, "output_tokens": 1})),
        text_start(0),
        text_delta(0, "Both."),
        block_stop(0),
        tool_start(1, "toolu_a", "weather"),
        json_delta(1, "{\"city\":"),
        json_delta(1, "\"Oslo\"}"),
        block_stop(1),
        tool_start(2, "toolu_b", "time"),
        json_delta(2, "{}"),
        block_stop(2),
        message_delta("tool_use", 30),
        stop(),
    ];
    let (out, _) = translate(&events, true);
    let r = rebuild_chat(&out, true);
    let calls: Vec<_> = r
        .tools
        .iter()
        .map(|c| (c.id.as_str(), c.name.as_str(), c.arguments.as_str()))
        .collect();
    assert_eq!(
        calls,
        [
            ("toolu_a", "weather", "{\"city\":\"Oslo\"}"),
            ("toolu_b", "time", "{}")
        ]
    );
}

#[test]
fn usage_with_cache_fields_sums_the_prompt() {
    let mut events = text_stream();
    events[0] = message_start(
        json!({"input_tokens": 100, "cache_creation_input_tokens": 20,
        "cache_read_input_tokens": 30, "output_tokens": 1}),
    );
    events[6] = message_delta("max_tokens", 42);
    let (out, t) = translate(&events, true);
    let r = rebuild_chat(&out, true);
    assert_eq!(r.finish_reason.as_deref(), Some("length"));
    assert_eq!(
        r.usage,
        Some(
            json!({"prompt_tokens": 150, "completion_tokens": 42, "total_tokens": 192,
            "prompt_tokens_details": {"cached_tokens": 30}})
        )
    );
    let want = StreamUsage {
        input: 100,
        output: 42,
        cache_read: 30,
        cache_write: 20,
    };
    assert_eq!(t.usage(), want);
}

#[test]
fn message_delta_usage_replaces_earlier_counts() {
    let mut events = text_stream();
    events[6] = json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"},
        "usage": {"output_tokens": 9, "input_tokens": 15, "cache_read_input_tokens": 3}});
    let (_, t) = translate(&events, false);
    let want = StreamUsage {
        input: 15,
        output: 9,
        cache_read: 3,
        cache_write: 0,
    };
    assert_eq!(t.usage(), want);
}

#[test]
fn include_usage_decides_the_usage_field_and_chunk() {
    for include in [false, true] {
        let (out, _) = translate(&text_stream(), include);
        // rebuild_chat asserts `usage: null` on every chunk (or its absence) and
        // the `choices: []` chunk right before [DONE] (or its absence).
        let r = rebuild_chat(&out, include);
        assert_eq!(r.usage.is_some(), include);
    }
}

#[test]
fn an_upstream_error_event_becomes_an_error_chunk_without_done() {
    let events = [
        message_start(json!({"input_tokens": 3})),
        text_start(0),
        text_delta(0, "Partial"),
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        text_delta(0, "never sent"),
    ];
    let (out, t) = translate(&events, true);
    let r = rebuild_chat(&out, true);
    assert_eq!(r.content, "Partial");
    assert!(!r.done);
    let error = r.error.unwrap();
    assert_eq!(error["code"], "upstream_unavailable");
    assert_eq!(error["type"], "upstream_error");
    assert!(error["message"].as_str().unwrap().contains("Overloaded"));
    assert!(t.is_done());
}

#[test]
fn eof_before_message_stop_is_an_error_not_a_finish() {
    let full = text_stream();
    for cut in [0, 1, 4, 6, 7] {
        let (out, _) = translate(&full[..cut], false);
        let r = rebuild_chat(&out, false);
        assert!(!r.done, "cut {cut}");
        let error = r.error.expect("an error at EOF");
        assert_eq!(error["code"], UPSTREAM_ERROR);
        assert!(error["message"].as_str().unwrap().contains("ended early"));
    }
}

#[test]
fn fail_sends_the_code_once() {
    let mut t = AnthropicToChat::new(MODEL, false);
    let ev = |e: &Value| SseEvent {
        event: e["type"].as_str().map(str::to_owned),
        data: e.to_string(),
    };
    let mut out = Vec::new();
    for e in &text_stream()[..4] {
        out.extend(t.on_event(&ev(e)).concat());
    }
    out.extend(t.fail(UPSTREAM_TIMEOUT, "anthropic went silent").concat());
    assert!(t.is_done());
    assert!(t.on_event(&ev(&stop())).is_empty() && t.finish().is_empty());
    let error = rebuild_chat(&out, false).error.unwrap();
    assert_eq!(error["code"], UPSTREAM_TIMEOUT);
    assert_eq!(error["message"], "anthropic went silent");
}

#[test]
fn a_repeated_message_start_opens_nothing() {
    let mut events = text_stream();
    events.insert(2, message_start(json!({"input_tokens": 99})));
    let (out, t) = translate(&events, false);
    // rebuild_chat asserts the role delta comes once.
    assert_eq!(rebuild_chat(&out, false).content, "Hello \"world\"\n");
    assert_eq!(t.usage().input, 12);
}

#[test]
fn events_without_names_route_on_their_type() {
    let text: String = text_stream()
        .iter()
        .map(|e| format!("data: {e}\n\n"))
        .collect();
    let mut t = AnthropicToChat::new(MODEL, false);
    let r = rebuild_chat(&run(&mut t, text.as_bytes(), 4096), false);
    assert!(r.done);
    assert_eq!(r.content, "Hello \"world\"\n");
}

#[test]
fn an_unreadable_known_event_ends_the_stream() {
    let mut text = anthropic_stream(&text_stream()[..3]);
    text.push_str("event: content_block_delta\ndata: {\"index\": \"zero\"}\n\n");
    let mut t = AnthropicToChat::new(MODEL, false);
    let r = rebuild_chat(&run(&mut t, text.as_bytes(), 4096), false);
    assert!(!r.done);
    assert_eq!(r.error.unwrap()["code"], UPSTREAM_ERROR);
}

#[test]
fn every_split_point_gives_the_same_message() {
    let events = [
        message_start(json!({"input_tokens": 7, "cache_read_input_tokens": 2})),
        text_start(0),
        text_delta(0, "Grüße 🌍"),
        block_stop(0),
        tool_start(1, "toolu_9", "lookup"),
        json_delta(1, "{\"q\":"),
        json_delta(1, "\"ß\"}"),
        block_stop(1),
        message_delta("tool_use", 11),
        stop(),
    ];
    // CRLF line ends as well: the parser must not care.
    let input = anthropic_stream(&events).replace('\n', "\r\n");
    let want = rebuild_chat(&translate(&events, true).0, true);
    assert_eq!(want.content, "Grüße 🌍");
    for piece in 1..input.len() {
        let mut t = AnthropicToChat::new(MODEL, true);
        let got = rebuild_chat(&run(&mut t, input.as_bytes(), piece), true);
        assert_eq!(got, want, "pieces of {piece} bytes");
    }
}
