use serde_json::{Value, json};

use super::{Block, MessageResult, openai_stream, rebuild_message};
use crate::translate::stream::replay::run;
use crate::translate::stream::{ChatToAnthropic, StreamTranslator, StreamUsage, UPSTREAM_TIMEOUT};

const MODEL: &str = "gpt-via-tollgate";

/// A chunk the way OpenAI sends it with `include_usage`: `usage: null`.
fn chunk(delta: Value, finish_reason: Value) -> Value {
    json!({"id": "chatcmpl-B9x", "object": "chat.completion.chunk", "created": 1700000000,
        "model": "gpt-4o-mini", "system_fingerprint": "fp_1",
        "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason}],
        "usage": null})
}

fn usage_chunk(prompt: u64, cached: u64, completion: u64) -> Value {
    json!({"id": "chatcmpl-B9x", "object": "chat.completion.chunk", "created": 1700000000,
        "model": "gpt-4o-mini", "choices": [],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached},
            "completion_tokens_details": {"reasoning_tokens": 0}}})
}

fn text(s: &str) -> Value {
    chunk(json!({"content": s}), Value::Null)
}

fn tool_open(index: u64, id: &str, name: &str) -> Value {
    chunk(
        json!({"tool_calls": [{"index": index, "id": id, "type": "function",
            "function": {"name": name, "arguments": ""}}]}),
        Value::Null,
    )
}

fn tool_args(index: u64, fragment: &str) -> Value {
    chunk(
        json!({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]}),
        Value::Null,
    )
}

fn finish(reason: &str) -> Value {
    chunk(json!({}), json!(reason))
}

fn translate_text(input: &str, piece: usize) -> (MessageResult, ChatToAnthropic) {
    let mut t = ChatToAnthropic::new(MODEL);
    let out = run(&mut t, input.as_bytes(), piece);
    (rebuild_message(&out), t)
}

fn translate(chunks: &[Value], done: bool) -> (MessageResult, ChatToAnthropic) {
    translate_text(&openai_stream(chunks, done), 4096)
}

fn text_chunks() -> Vec<Value> {
    vec![
        chunk(
            json!({"role": "assistant", "content": "", "refusal": null}),
            Value::Null,
        ),
        text("Hel"),
        text("lo"),
        finish("stop"),
        usage_chunk(20, 0, 2),
    ]
}

#[test]
fn text_only() {
    let (r, t) = translate(&text_chunks(), true);
    assert_eq!(r.id, "msg_B9x");
    assert_eq!(r.model, MODEL);
    assert_eq!(
        r.start_usage,
        json!({"input_tokens": 0, "output_tokens": 0,
            "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0})
    );
    assert_eq!(r.blocks, [Block::Text("Hello".into())]);
    assert_eq!(r.stop_reason.as_deref(), Some("end_turn"));
    assert!(r.stopped && r.error.is_none());
    let usage = r.usage.unwrap();
    assert_eq!(
        (
            usage["input_tokens"].as_u64(),
            usage["output_tokens"].as_u64()
        ),
        (Some(20), Some(2))
    );
    let want = StreamUsage {
        input: 20,
        output: 2,
        ..StreamUsage::default()
    };
    assert_eq!(t.usage(), want);
}

#[test]
fn a_tool_call_with_many_fragments_keeps_its_input() {
    // Role and the opening tool delta share a chunk, as OpenAI sends them.
    let chunks = [
        chunk(
            json!({"role": "assistant", "content": null, "tool_calls": [{"index": 0,
                "id": "call_1", "type": "function", "function": {"name": "now", "arguments": ""}}]}),
            Value::Null,
        ),
        tool_args(0, "{\"tz"),
        tool_args(0, "\": \"UT"),
        tool_args(0, "C\", \"list\": [1,"),
        tool_args(0, " {\"a\": null}]}"),
        finish("tool_calls"),
        usage_chunk(30, 0, 12),
    ];
    let (r, _) = translate(&chunks, true);
    assert_eq!(r.blocks.len(), 1);
    let Block::Tool { id, name, .. } = &r.blocks[0] else {
        panic!("{:?}", r.blocks)
    };
    assert_eq!((id.as_str(), name.as_str()), ("call_1", "now"));
    assert_eq!(
        r.blocks[0].input(),
        json!({"tz": "UTC", "list": [1, {"a": null}]})
    );
    assert_eq!(r.stop_reason.as_deref(), Some("tool_use"));
}

#[test]
fn text_then_two_parallel_tool_calls_become_three_blocks() {
    let chunks = [
        chunk(json!({"role": "assistant", "content": ""}), Value::Null),
        text("Let me check."),
        tool_open(0, "call_a", "weather"),
        tool_args(0, "{\"city\":"),
        tool_args(0, "\"Oslo\"}"),
        tool_open(1, "call_b", "time"),
        tool_args(1, "{\"tz\":\"CET\"}"),
        finish("tool_calls"),
        usage_chunk(50, 0, 40),
    ];
    let (r, _) = translate(&chunks, true);
    assert_eq!(r.blocks.len(), 3);
    assert_eq!(r.blocks[0], Block::Text("Let me check.".into()));
    assert_eq!(r.blocks[1].input(), json!({"city": "Oslo"}));
    assert_eq!(r.blocks[2].input(), json!({"tz": "CET"}));
    assert_eq!(r.stop_reason.as_deref(), Some("tool_use"));
}

#[test]
fn whole_parallel_calls_in_one_chunk() {
    let calls = json!({"tool_calls": [
        {"index": 0, "id": "call_a", "type": "function", "function": {"name": "a", "arguments": "{\"x\":1}"}},
        {"index": 1, "id": "call_b", "type": "function", "function": {"name": "b", "arguments": "{\"y\":2}"}},
    ]});
    let (r, _) = translate(&[chunk(calls, json!("tool_calls"))], true);
    let inputs: Vec<_> = r.blocks.iter().map(Block::input).collect();
    assert_eq!(inputs, [json!({"x": 1}), json!({"y": 2})]);
}

#[test]
fn an_id_repeated_on_every_fragment_opens_one_block() {
    let frag = |s: &str| {
        chunk(
            json!({"tool_calls": [{"index": 0, "id": "call_1", "function": {"arguments": s}}]}),
            Value::Null,
        )
    };
    let chunks = [
        tool_open(0, "call_1", "f"),
        frag("{\"k\""),
        frag(":true}"),
        finish("tool_calls"),
    ];
    let (r, _) = translate(&chunks, true);
    assert_eq!(r.blocks.len(), 1);
    assert_eq!(r.blocks[0].input(), json!({"k": true}));
}

#[test]
fn interleaved_fragments_end_the_stream_with_an_error() {
    let chunks = [
        tool_open(0, "call_a", "a"),
        tool_open(1, "call_b", "b"),
        tool_args(0, "{\"late\":1}"),
    ];
    let (r, _) = translate(&chunks, true);
    assert!(!r.stopped);
    let error = r.error.unwrap();
    assert_eq!(error["type"], "api_error");
    assert!(error["message"].as_str().unwrap().contains("interleaved"));
}

#[test]
fn usage_with_cached_tokens_splits_the_prompt() {
    let mut chunks = text_chunks();
    chunks[4] = usage_chunk(100, 30, 7);
    let (r, t) = translate(&chunks, true);
    assert_eq!(
        r.usage,
        Some(json!({"input_tokens": 70, "output_tokens": 7,
            "cache_creation_input_tokens": 0, "cache_read_input_tokens": 30}))
    );
    let want = StreamUsage {
        input: 70,
        output: 7,
        cache_read: 30,
        cache_write: 0,
    };
    assert_eq!(t.usage(), want);
}

#[test]
fn only_the_last_non_empty_finish_reason_counts() {
    let chunks = [
        chunk(json!({"role": "assistant", "content": "Hi"}), json!("")),
        chunk(json!({"content": " there"}), Value::Null),
        json!({"id": "chatcmpl-B9x", "choices": [{"index": 0, "delta": {"content": "."}}]}),
        // An early "stop" (CLIProxyAPI#5651) must not lock the reason.
        finish("stop"),
        tool_open(0, "call_1", "go"),
        tool_args(0, "{}"),
        finish("tool_calls"),
        chunk(json!({}), json!("")),
    ];
    let (r, _) = translate(&chunks, true);
    assert_eq!(r.stop_reason.as_deref(), Some("tool_use"));
    assert_eq!(r.blocks[0], Block::Text("Hi there.".into()));
    assert_eq!(r.blocks.len(), 2);
}

#[test]
fn done_without_any_finish_reason_still_ends_cleanly() {
    let (r, _) = translate(&[text("a")], true);
    assert_eq!(r.stop_reason.as_deref(), Some("end_turn"));
    let (r, _) = translate(&[tool_open(0, "c", "f"), tool_args(0, "{}")], true);
    assert_eq!(r.stop_reason.as_deref(), Some("tool_use"));
}

#[test]
fn eof_after_the_finish_reason_ends_cleanly_with_known_usage() {
    let mut chunks = text_chunks();
    chunks[4] = usage_chunk(9, 0, 4);
    let (r, _) = translate(&chunks, false);
    assert!(r.stopped && r.error.is_none());
    assert_eq!(r.usage.unwrap()["output_tokens"], 4);
}

#[test]
fn eof_without_a_finish_reason_is_an_error() {
    let chunks = text_chunks();
    for cut in 0..3 {
        let (r, _) = translate(&chunks[..cut], false);
        assert!(!r.stopped, "cut {cut}");
        assert!(
            r.error.unwrap()["message"]
                .as_str()
                .unwrap()
                .contains("ended early")
        );
    }
    let (r, _) = translate(&[], true);
    assert!(r.error.is_some(), "[DONE] alone is not a completion");
}

#[test]
fn an_error_chunk_becomes_an_error_event() {
    let chunks = [
        text("partial"),
        json!({"error": {"message": "The server had an error", "type": "server_error", "code": null}}),
    ];
    let (r, t) = translate(&chunks, true);
    assert_eq!(r.blocks, [Block::Text("partial".into())]);
    let error = r.error.unwrap();
    assert_eq!(error["type"], "api_error");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("The server had an error")
    );
    assert!(t.is_done());
}

#[test]
fn fail_sends_one_error_event() {
    let mut t = ChatToAnthropic::new(MODEL);
    let ev = crate::translate::sse::SseEvent {
        event: None,
        data: text("x").to_string(),
    };
    let mut out = t.on_event(&ev).concat();
    out.extend(t.fail(UPSTREAM_TIMEOUT, "openai went silent").concat());
    assert!(t.is_done() && t.on_event(&ev).is_empty() && t.finish().is_empty());
    let r = rebuild_message(&out);
    assert_eq!(r.error.unwrap()["message"], "openai went silent");
}

#[test]
fn unreadable_data_is_an_error_but_comments_and_empty_data_are_not() {
    let input = format!(
        ": keepalive\n\ndata:\n\n{}data: {{not json\n\n",
        openai_stream(&[text("a")], false)
    );
    let (r, _) = translate_text(&input, 4096);
    assert_eq!(r.blocks, [Block::Text("a".into())]);
    assert!(r.error.is_some());
}

#[test]
fn every_split_point_gives_the_same_message() {
    let chunks = [
        chunk(json!({"role": "assistant", "content": ""}), Value::Null),
        text("Grüße 🌍"),
        tool_open(0, "call_a", "a"),
        tool_args(0, "{\"q\":\"ß\"}"),
        finish("tool_calls"),
        usage_chunk(10, 4, 3),
    ];
    let input = openai_stream(&chunks, true).replace('\n', "\r\n");
    let (want, _) = translate(&chunks, true);
    assert_eq!(want.blocks[0], Block::Text("Grüße 🌍".into()));
    for piece in 1..input.len() {
        let (got, _) = translate_text(&input, piece);
        assert_eq!(got, want, "pieces of {piece} bytes");
    }
}
