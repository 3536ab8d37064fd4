//! Both responses: Anthropic message → chat.completion, and back.

use serde_json::{Value, json};

use crate::translate::anthropic::{chat_response_to_messages, messages_response_to_chat};

fn anthropic_message(content: Value, stop_reason: &str) -> Value {
    json!({
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": null,
        "usage": {"input_tokens": 12, "output_tokens": 6},
    })
}

fn chat_completion(message: Value, finish_reason: Value) -> Value {
    json!({
        "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
        "object": "chat.completion",
        "created": 1741569952,
        "model": "gpt-4o-2024-08-06",
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0}},
        "system_fingerprint": "fp_1",
    })
}

#[test]
fn a_text_message_becomes_a_chat_completion() {
    let resp = anthropic_message(
        json!([{"type": "text", "text": "Hello"}, {"type": "text", "text": ", world"}]),
        "end_turn",
    );
    let mut out = messages_response_to_chat(&resp, "claude-alias").unwrap();
    assert!(out["created"].as_i64().is_some_and(|t| t > 1_700_000_000));
    out["created"] = json!(0);
    assert_eq!(
        out,
        json!({
            "id": "chatcmpl-msg_01XFDUDYJgAACzvnptvVoYEL",
            "object": "chat.completion",
            "created": 0,
            "model": "claude-alias",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": "Hello, world", "refusal": null},
                "logprobs": null,
                "finish_reason": "stop",
            }],
            "usage": {"prompt_tokens": 12, "completion_tokens": 6, "total_tokens": 18,
                "prompt_tokens_details": {"cached_tokens": 0}},
        })
    );
}

#[test]
fn every_stop_reason_maps_to_a_finish_reason() {
    for (stop, finish) in [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("refusal", "content_filter"),
        ("tool_use", "tool_calls"),
    ] {
        let resp = anthropic_message(json!([{"type": "text", "text": "x"}]), stop);
        let out = messages_response_to_chat(&resp, "m").unwrap();
        assert_eq!(out["choices"][0]["finish_reason"], finish, "{stop}");
    }
    let mut resp = anthropic_message(json!([]), "end_turn");
    resp["stop_reason"] = Value::Null;
    assert_eq!(
        messages_response_to_chat(&resp, "m").unwrap()["choices"][0]["finish_reason"],
        "stop"
    );
}

#[test]
fn parallel_tool_use_becomes_tool_calls_and_thinking_reasoning_content() {
    let resp = anthropic_message(
        json!([
            {"type": "thinking", "thinking": "Two cities.", "signature": "EqQB"},
            {"type": "redacted_thinking", "data": "xyz"},
            {"type": "tool_use", "id": "toolu_1", "name": "now", "input": {"tz": "Europe/Paris"}},
            {"type": "tool_use", "id": "toolu_2", "name": "now", "input": {"tz": "Asia/Tokyo"}},
        ]),
        "tool_use",
    );
    let out = messages_response_to_chat(&resp, "m").unwrap();
    assert_eq!(
        out["choices"][0]["message"],
        json!({
            "role": "assistant",
            "content": null,
            "refusal": null,
            "reasoning_content": "Two cities.",
            "tool_calls": [
                {"id": "toolu_1", "type": "function", "function": {"name": "now", "arguments": "{\"tz\":\"Europe/Paris\"}"}},
                {"id": "toolu_2", "type": "function", "function": {"name": "now", "arguments": "{\"tz\":\"Asia/Tokyo\"}"}},
            ],
        })
    );
    assert_eq!(out["choices"][0]["finish_reason"], "tool_calls");
}

#[test]
fn anthropic_cache_usage_counts_in_the_prompt() {
    let mut resp = anthropic_message(json!([{"type": "text", "text": "x"}]), "end_turn");
    resp["usage"] = json!({"input_tokens": 10, "output_tokens": 5,
        "cache_creation_input_tokens": 100, "cache_read_input_tokens": 1000, "service_tier": "standard"});
    let out = messages_response_to_chat(&resp, "m").unwrap();
    assert_eq!(
        out["usage"],
        json!({"prompt_tokens": 1110, "completion_tokens": 5, "total_tokens": 1115,
            "prompt_tokens_details": {"cached_tokens": 1000}})
    );
}

#[test]
fn malformed_anthropic_responses_name_their_path() {
    for (resp, field) in [
        (json!(null), "body"),
        (
            json!({"type": "error", "error": {"type": "overloaded_error"}}),
            "type",
        ),
        (json!({"type": "message"}), "id"),
        (json!({"id": "m", "content": "text"}), "content"),
        (
            json!({"id": "m", "content": [{"type": "text", "text": 1}]}),
            "content[0].text",
        ),
        (
            json!({"id": "m", "content": [{"type": "tool_use", "name": "f"}]}),
            "content[0].id",
        ),
        (
            json!({"id": "m", "content": [], "usage": {"output_tokens": "6"}}),
            "usage.output_tokens",
        ),
    ] {
        let err = messages_response_to_chat(&resp, "m").unwrap_err();
        assert_eq!(err.field, field, "{resp}");
    }
}

#[test]
fn a_chat_completion_becomes_a_message() {
    let resp = chat_completion(
        json!({"role": "assistant", "content": "Hello", "refusal": null}),
        json!("stop"),
    );
    assert_eq!(
        chat_response_to_messages(&resp, "gpt-alias").unwrap(),
        json!({
            "id": "msg_chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
            "type": "message",
            "role": "assistant",
            "model": "gpt-alias",
            "content": [{"type": "text", "text": "Hello"}],
            "stop_reason": "end_turn",
            "stop_sequence": null,
            "usage": {"input_tokens": 19, "output_tokens": 10,
                "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
        })
    );
}

#[test]
fn every_finish_reason_maps_to_a_stop_reason() {
    for (finish, stop) in [
        (json!("stop"), "end_turn"),
        (json!("length"), "max_tokens"),
        (json!("content_filter"), "refusal"),
        (json!("tool_calls"), "tool_use"),
        (json!("function_call"), "tool_use"),
        (json!(null), "end_turn"),
        (json!(""), "end_turn"),
    ] {
        let resp = chat_completion(json!({"role": "assistant", "content": "x"}), finish.clone());
        let out = chat_response_to_messages(&resp, "m").unwrap();
        assert_eq!(out["stop_reason"], stop, "{finish}");
    }
}

#[test]
fn tool_calls_become_tool_use_even_when_finish_says_stop() {
    let resp = chat_completion(
        json!({"role": "assistant", "content": "Checking.", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "now", "arguments": "{\"tz\":\"UTC\"}"}},
            {"id": "call_2", "type": "function", "function": {"name": "ping", "arguments": ""}},
        ]}),
        json!("stop"),
    );
    let out = chat_response_to_messages(&resp, "m").unwrap();
    assert_eq!(
        out["content"],
        json!([
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "call_1", "name": "now", "input": {"tz": "UTC"}},
            {"type": "tool_use", "id": "call_2", "name": "ping", "input": {}},
        ])
    );
    assert_eq!(out["stop_reason"], "tool_use");

    let resp = chat_completion(
        json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "now", "arguments": "{\"tz\":"}}]}),
        json!("tool_calls"),
    );
    let err = chat_response_to_messages(&resp, "m").unwrap_err();
    assert_eq!(
        err.field,
        "choices[0].message.tool_calls[0].function.arguments"
    );
}

#[test]
fn a_refusal_becomes_text_with_stop_reason_refusal() {
    let resp = chat_completion(
        json!({"role": "assistant", "content": null, "refusal": "I can't help with that."}),
        json!("stop"),
    );
    let out = chat_response_to_messages(&resp, "m").unwrap();
    assert_eq!(
        out["content"],
        json!([{"type": "text", "text": "I can't help with that."}])
    );
    assert_eq!(out["stop_reason"], "refusal");
}

#[test]
fn openai_cached_tokens_come_out_of_input() {
    let mut resp = chat_completion(json!({"role": "assistant", "content": "x"}), json!("stop"));
    resp["usage"] = json!({"prompt_tokens": 2006, "completion_tokens": 300, "total_tokens": 2306,
        "prompt_tokens_details": {"cached_tokens": 1920},
        "completion_tokens_details": {"reasoning_tokens": 64}});
    let out = chat_response_to_messages(&resp, "m").unwrap();
    assert_eq!(
        out["usage"],
        json!({"input_tokens": 86, "output_tokens": 300,
            "cache_creation_input_tokens": 0, "cache_read_input_tokens": 1920})
    );
}

#[test]
fn malformed_chat_completions_name_their_path() {
    for (resp, field) in [
        (json!([]), "body"),
        (json!({"choices": []}), "id"),
        (json!({"id": "c", "choices": []}), "choices"),
        (json!({"id": "c", "choices": [1]}), "choices[0]"),
        (json!({"id": "c", "choices": [{}]}), "choices[0].message"),
        (
            json!({"id": "c", "choices": [{"message": {"content": 1}}]}),
            "choices[0].message.content",
        ),
        (
            json!({"id": "c", "choices": [{"message": {"tool_calls": [{"type": "function", "function": {"name": "f"}}]}}]}),
            "choices[0].message.tool_calls[0].id",
        ),
        (
            json!({"id": "c", "choices": [{"message": {}, "finish_reason": 3}]}),
            "choices[0].finish_reason",
        ),
        (
            json!({"id": "c", "choices": [{"message": {}}], "usage": {"prompt_tokens": 1.5}}),
            "usage.prompt_tokens",
        ),
    ] {
        let err = chat_response_to_messages(&resp, "m").unwrap_err();
        assert_eq!(err.field, field, "{resp}");
    }
}
