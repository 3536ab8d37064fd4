//! Both responses: Anthropic message → chat.completion, and back.

use serde_json::{Value, json};

use crate::translate::answer::AnswerError;
use crate::translate::anthropic::response_to_openai::{
    messages_answer_to_chat_at, typed_answer_to_chat,
};
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

const CREATED: i64 = 1_741_569_952;

/// The `Value` path's answer bytes for `answer` (`created` fixed), or its error: what
/// the pipeline answered before the typed reading.
fn value_path(answer: &[u8]) -> Result<String, String> {
    let v: Value = serde_json::from_slice(answer).map_err(|e| format!("not JSON: {e}"))?;
    let mut chat = messages_response_to_chat(&v, "m").map_err(|e| e.field)?;
    chat["created"] = json!(CREATED);
    Ok(chat.to_string())
}

/// Asserts that the pipeline's translation of `answer` is byte for byte the `Value`
/// path's, and returns whether the typed reading produced it (else it fell back).
pub(super) fn same_as_value_path(answer: &[u8]) -> bool {
    let expected = value_path(answer);
    let text = |out: Vec<u8>| String::from_utf8(out).expect("JSON is UTF-8");
    let got = messages_answer_to_chat_at(answer, "m", CREATED)
        .map(text)
        .map_err(|e| match e {
            AnswerError::NotJson(e) => format!("not JSON: {e}"),
            AnswerError::Untranslatable(e) => e.field,
        });
    let shown = String::from_utf8_lossy(answer);
    assert_eq!(got, expected, "for {shown}");
    let typed = typed_answer_to_chat(answer, "m", CREATED).map(text);
    if let Some(typed) = &typed {
        assert_eq!(Ok(typed), expected.as_ref(), "typed, for {shown}");
    }
    typed.is_some()
}

#[test]
fn the_typed_reading_gives_the_value_paths_bytes() {
    let usage = json!({"input_tokens": 10, "output_tokens": 5,
        "cache_creation_input_tokens": 100, "cache_read_input_tokens": 1000,
        "service_tier": "standard", "server_tool_use": {"web_search_requests": 1}});
    let mut answers = vec![
        anthropic_message(json!([{"type": "text", "text": "Hello"}]), "end_turn"),
        anthropic_message(
            json!([{"type": "text", "text": "Hel"}, {"type": "text", "text": "lo \"\\n\u{e9}\u{1F600}\n"}]),
            "stop_sequence",
        ),
        anthropic_message(json!([]), "end_turn"),
        anthropic_message(
            json!([
                {"type": "thinking", "thinking": "Two cities.", "signature": "EqQB"},
                {"type": "thinking", "thinking": " Then.", "signature": "EqQC"},
                {"type": "redacted_thinking", "data": "xyz"},
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "now", "input": {"tz": "Europe/Paris", "n": [1, 2.5, -3, null, true]}},
                {"type": "tool_use", "id": "toolu_2", "name": "now", "input": {}},
                {"type": "tool_use", "id": "toolu_3", "name": "ping"},
                {"type": "tool_use", "id": "toolu_4", "name": "ping", "input": null},
                {"type": "tool_use", "id": "toolu_5", "name": "odd", "input": "not an object"},
            ]),
            "tool_use",
        ),
        // Tool calls with a `stop` reason, no text: content is null, finish tool_calls.
        anthropic_message(
            json!([{"type": "tool_use", "id": "t", "name": "f", "input": {"a": 1}}]),
            "end_turn",
        ),
        // Server tools and future block types are skipped, whatever their fields hold.
        anthropic_message(
            json!([
                {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "x"}},
                {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": [{"type": "web_search_result", "url": "https://x.test"}]},
                {"type": "text", "text": "Found.", "citations": [{"type": "web_search_result_location", "cited_text": "x"}]},
                {"type": "a_future_block", "data": {"deep": {"er": [1]}}},
            ]),
            "pause_turn",
        ),
        anthropic_message(json!([{"type": "thinking"}]), "max_tokens"),
        json!({"id": "msg_1", "content": null, "stop_reason": null, "usage": null}),
        json!({"id": "msg_1"}),
        json!({"id": "msg_\u{e9}\"1", "type": "message", "content": [{"type": "text", "text": ""}]}),
    ];
    for stop in [
        "max_tokens",
        "model_context_window_exceeded",
        "refusal",
        "a_new_reason",
    ] {
        answers.push(anthropic_message(
            json!([{"type": "text", "text": "x"}]),
            stop,
        ));
    }
    let mut cached = anthropic_message(json!([{"type": "text", "text": "x"}]), "end_turn");
    cached["usage"] = usage;
    answers.push(cached);
    let mut nulls = anthropic_message(json!([{"type": "text", "text": "x"}]), "end_turn");
    nulls["usage"] = json!({"input_tokens": 3, "output_tokens": null});
    answers.push(nulls);
    let mut huge = anthropic_message(json!([{"type": "text", "text": "x"}]), "end_turn");
    huge["usage"] =
        json!({"input_tokens": u64::MAX, "cache_read_input_tokens": 2, "output_tokens": 1});
    answers.push(huge);
    for answer in answers {
        let bytes = serde_json::to_vec(&answer).unwrap();
        assert!(same_as_value_path(&bytes), "fell back for {answer}");
    }
}

#[test]
fn answers_the_typed_reading_refuses_get_the_value_paths_answer_or_error() {
    for answer in [
        // Malformed: the Value path names the field.
        r#"null"#,
        r#"["msg_1", "message"]"#,
        r#"{"type": "error", "error": {"type": "overloaded_error"}}"#,
        r#"{"type": "message"}"#,
        r#"{"id": ""}"#,
        r#"{"id": 5}"#,
        r#"{"id": "m", "content": "text"}"#,
        r#"{"id": "m", "content": [["text", "hi"]]}"#,
        r#"{"id": "m", "content": [{"type": "text"}]}"#,
        r#"{"id": "m", "content": [{"type": "text", "text": 1}]}"#,
        r#"{"id": "m", "content": [{"type": 1}]}"#,
        r#"{"id": "m", "content": [{"type": "tool_use", "name": "f"}]}"#,
        r#"{"id": "m", "content": [{"type": "tool_use", "id": "t", "name": ""}]}"#,
        r#"{"id": "m", "content": [{"type": "thinking", "thinking": 2}]}"#,
        r#"{"id": "m", "stop_reason": 1}"#,
        r#"{"id": "m", "usage": []}"#,
        r#"{"id": "m", "usage": {"output_tokens": "6"}}"#,
        r#"{"id": "m", "usage": {"input_tokens": -1}}"#,
        r#"{"id": "m", "usage": {"input_tokens": 1.0}}"#,
        // Not JSON at all: the same error as before.
        r#"{"id": "m""#,
        r#"{"id": "m"} trailing"#,
        // Fields the Value path ignores, typed wrong: it answers, so the pipeline does.
        r#"{"id": "m", "content": [{"type": "redacted_thinking", "text": 1}]}"#,
        r#"{"id": "m", "content": [{"type": "text", "text": "a", "id": 1}]}"#,
        // A duplicate key: the Value path keeps the last.
        r#"{"id": "first", "id": "last", "content": []}"#,
    ] {
        same_as_value_path(answer.as_bytes());
    }
}

#[test]
fn tool_input_is_passed_on_as_the_upstream_wrote_it() {
    let answer = br#"{"id":"m","content":[{"type":"tool_use","id":"t","name":"f","input": {"b": 1, "a": [1.50, 2]} }]}"#;
    let out: Value =
        serde_json::from_slice(&messages_answer_to_chat_at(answer, "m", CREATED).unwrap()).unwrap();
    let arguments = out["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
        .as_str()
        .unwrap();
    assert_eq!(arguments, r#"{"b": 1, "a": [1.50, 2]}"#);
    // The same JSON the Value path's re-serialized `input` holds.
    let by_value: Value = serde_json::from_str(&value_path(answer).unwrap()).unwrap();
    let old = by_value["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
        .as_str()
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(arguments).unwrap(),
        serde_json::from_str::<Value>(old).unwrap()
    );
}
