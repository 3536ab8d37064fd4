//! OpenAI chat request → Anthropic messages request.

use serde_json::json;

use super::{to_anthropic, to_anthropic_err};
use crate::translate::anthropic::DROPPED_OPENAI_FIELDS;

#[test]
fn a_plain_request_gets_the_upstream_model_and_a_default_max_tokens() {
    let out = to_anthropic(json!({
        "model": "claude-alias",
        "messages": [{"role": "user", "content": "Hello"}],
        "stream": true,
    }));
    assert_eq!(
        out,
        json!({
            "model": "claude-x",
            "max_tokens": 4096,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}],
            "stream": true,
        })
    );
}

#[test]
fn max_completion_tokens_wins_over_max_tokens() {
    let msgs = json!([{"role": "user", "content": "hi"}]);
    let out =
        to_anthropic(json!({"messages": msgs, "max_tokens": 50, "max_completion_tokens": 70}));
    assert_eq!(out["max_tokens"], 70);
    let out =
        to_anthropic(json!({"messages": msgs, "max_tokens": 50, "max_completion_tokens": null}));
    assert_eq!(out["max_tokens"], 50);
    assert_eq!(
        to_anthropic_err(json!({"messages": msgs, "max_tokens": 0})).field,
        "max_tokens"
    );
    assert_eq!(
        to_anthropic_err(json!({"messages": msgs, "max_completion_tokens": "many"})).field,
        "max_completion_tokens"
    );
}

#[test]
fn system_and_developer_messages_are_hoisted_from_anywhere() {
    let out = to_anthropic(json!({"messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "developer", "content": [{"type": "text", "text": "Use French."}, {"type": "text", "text": " "}]},
        {"role": "assistant", "content": "Salut"},
        {"role": "system", "content": ""},
    ]}));
    assert_eq!(
        out["system"],
        json!([{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Use French."}])
    );
    assert_eq!(
        out["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "Salut"}]},
        ])
    );
}

#[test]
fn same_role_runs_merge_and_blank_messages_vanish() {
    let out = to_anthropic(json!({"messages": [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": ""},
        {"role": "user", "content": [{"type": "text", "text": "two"}, {"type": "text", "text": ""}]},
        {"role": "assistant", "content": null, "refusal": "I can't."},
        {"role": "assistant", "content": [{"type": "text", "text": "ok"}]},
    ]}));
    assert_eq!(
        out["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "I can't."}, {"type": "text", "text": "ok"}]},
        ])
    );
}

#[test]
fn a_final_assistant_prefill_loses_trailing_whitespace() {
    let out = to_anthropic(json!({"messages": [
        {"role": "user", "content": "Write JSON."},
        {"role": "assistant", "content": "{\n  "},
    ]}));
    assert_eq!(
        out["messages"][1]["content"],
        json!([{"type": "text", "text": "{"}])
    );
}

#[test]
fn a_conversation_with_nothing_to_say_is_refused() {
    let err = to_anthropic_err(
        json!({"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": " "}]}),
    );
    assert_eq!(err.field, "messages");
    assert_eq!(to_anthropic_err(json!({"model": "m"})).field, "messages");
    assert_eq!(to_anthropic_err(json!([1])).field, "body");
}

#[test]
fn stop_becomes_stop_sequences() {
    let msgs = json!([{"role": "user", "content": "hi"}]);
    assert_eq!(
        to_anthropic(json!({"messages": msgs, "stop": "END"}))["stop_sequences"],
        json!(["END"])
    );
    assert_eq!(
        to_anthropic(json!({"messages": msgs, "stop": ["a", " ", "b"]}))["stop_sequences"],
        json!(["a", "b"])
    );
    assert!(
        to_anthropic(json!({"messages": msgs, "stop": []}))
            .get("stop_sequences")
            .is_none()
    );
    assert!(
        to_anthropic(json!({"messages": msgs, "stop": null}))
            .get("stop_sequences")
            .is_none()
    );
    assert_eq!(
        to_anthropic_err(json!({"messages": msgs, "stop": ["a", 3]})).field,
        "stop[1]"
    );
    assert_eq!(
        to_anthropic_err(json!({"messages": msgs, "stop": 3})).field,
        "stop"
    );
}

#[test]
fn sampling_parameters_carry_over_with_temperature_clamped() {
    let msgs = json!([{"role": "user", "content": "hi"}]);
    let out =
        to_anthropic(json!({"messages": msgs, "temperature": 1.7, "top_p": 0.9, "top_k": 40}));
    assert_eq!(out["temperature"], json!(1.0));
    assert_eq!(out["top_p"], json!(0.9));
    assert_eq!(out["top_k"], json!(40));
    assert_eq!(
        to_anthropic(json!({"messages": msgs, "temperature": 0.3}))["temperature"],
        json!(0.3)
    );
    assert_eq!(
        to_anthropic(json!({"messages": msgs, "temperature": -1}))["temperature"],
        json!(0.0)
    );
    assert_eq!(
        to_anthropic_err(json!({"messages": msgs, "temperature": "hot"})).field,
        "temperature"
    );
}

#[test]
fn user_goes_to_metadata_and_dropped_fields_are_gone() {
    let mut req = json!({"messages": [{"role": "user", "content": "hi"}], "user": "u-42", "n": 1});
    for field in DROPPED_OPENAI_FIELDS {
        req[*field] = json!(1);
    }
    let out = to_anthropic(req);
    // OpenAI `metadata` (stored-completion tags) is dropped; Anthropic's carries `user`.
    assert_eq!(out["metadata"], json!({"user_id": "u-42"}));
    for field in DROPPED_OPENAI_FIELDS.iter().filter(|f| **f != "metadata") {
        assert!(out.get(*field).is_none(), "{field} leaked");
    }
    assert!(out.get("n").is_none());
}

#[test]
fn n_above_one_and_legacy_functions_are_refused() {
    let msgs = json!([{"role": "user", "content": "hi"}]);
    assert_eq!(
        to_anthropic_err(json!({"messages": msgs, "n": 2})).field,
        "n"
    );
    assert_eq!(
        to_anthropic_err(json!({"messages": msgs, "functions": []})).field,
        "functions"
    );
    let err =
        to_anthropic_err(json!({"messages": [{"role": "function", "name": "f", "content": "x"}]}));
    assert_eq!(err.field, "messages[0].role");
}

#[test]
fn images_become_base64_or_url_sources() {
    let out = to_anthropic(json!({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "Compare"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0K", "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/b.jpg"}},
    ]}]}));
    assert_eq!(
        out["messages"][0]["content"],
        json!([
            {"type": "text", "text": "Compare"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0K"}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/b.jpg"}},
        ])
    );
    let err = to_anthropic_err(json!({"messages": [{"role": "user", "content": [
        {"type": "input_audio", "input_audio": {"data": "AA", "format": "wav"}}]}]}));
    assert_eq!(err.field, "messages[0].content[0].type");
}

#[test]
fn tools_and_tool_choice_translate() {
    let tools = json!([
        {"type": "function", "function": {"name": "now", "description": "Time", "parameters":
            {"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]}, "strict": true}},
        {"type": "function", "function": {"name": "ping"}},
    ]);
    let msgs = json!([{"role": "user", "content": "hi"}]);
    let out = to_anthropic(json!({"messages": msgs, "tools": tools}));
    assert_eq!(
        out["tools"],
        json!([
            {"name": "now", "description": "Time", "input_schema":
                {"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]}},
            {"name": "ping", "input_schema": {"type": "object", "properties": {}}},
        ])
    );
    assert!(out.get("tool_choice").is_none());
    for (choice, want) in [
        (json!("auto"), json!({"type": "auto"})),
        (json!("required"), json!({"type": "any"})),
        (json!("none"), json!({"type": "none"})),
        (
            json!({"type": "function", "function": {"name": "now"}}),
            json!({"type": "tool", "name": "now"}),
        ),
    ] {
        let out = to_anthropic(json!({"messages": msgs, "tools": tools, "tool_choice": choice}));
        assert_eq!(out["tool_choice"], want, "{choice}");
    }
    let out = to_anthropic(json!({"messages": msgs, "tools": tools, "parallel_tool_calls": false}));
    assert_eq!(
        out["tool_choice"],
        json!({"type": "auto", "disable_parallel_tool_use": true})
    );
    let out = to_anthropic(
        json!({"messages": msgs, "tools": tools, "tool_choice": "required", "parallel_tool_calls": false}),
    );
    assert_eq!(
        out["tool_choice"],
        json!({"type": "any", "disable_parallel_tool_use": true})
    );
    let out = to_anthropic(
        json!({"messages": msgs, "tools": tools, "tool_choice": "none", "parallel_tool_calls": false}),
    );
    assert_eq!(out["tool_choice"], json!({"type": "none"}));
    // No tools: a choice means nothing and Anthropic would reject it.
    let out = to_anthropic(
        json!({"messages": msgs, "tool_choice": "auto", "parallel_tool_calls": false}),
    );
    assert!(out.get("tool_choice").is_none() && out.get("tools").is_none());

    assert_eq!(
        to_anthropic_err(json!({"messages": msgs, "tool_choice": "always"})).field,
        "tool_choice"
    );
    let err = to_anthropic_err(
        json!({"messages": msgs, "tools": [{"type": "custom", "custom": {"name": "x"}}]}),
    );
    assert_eq!(err.field, "tools[0].type");
    let err = to_anthropic_err(
        json!({"messages": msgs, "tools": [{"type": "function", "function": {"name": "x", "parameters": []}}]}),
    );
    assert_eq!(err.field, "tools[0].function.parameters");
}

#[test]
fn parallel_tool_calls_and_their_results_make_one_user_turn() {
    let out = to_anthropic(json!({"messages": [
        {"role": "user", "content": "Time in Paris and Tokyo?"},
        {"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "now", "arguments": "{\"tz\":\"Europe/Paris\"}"}},
            {"id": "call_2", "type": "function", "function": {"name": "now", "arguments": ""}},
        ]},
        {"role": "tool", "tool_call_id": "call_1", "content": "10:00"},
        {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "17:00"}]},
        {"role": "user", "content": "Thanks. And London?"},
    ]}));
    assert_eq!(
        out["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "Time in Paris and Tokyo?"}]},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "call_1", "name": "now", "input": {"tz": "Europe/Paris"}},
                {"type": "tool_use", "id": "call_2", "name": "now", "input": {}},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "10:00"},
                {"type": "tool_result", "tool_use_id": "call_2", "content": [{"type": "text", "text": "17:00"}]},
                {"type": "text", "text": "Thanks. And London?"},
            ]},
        ])
    );
}

#[test]
fn assistant_text_precedes_its_tool_use() {
    let out = to_anthropic(json!({"messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Checking.", "tool_calls": [
            {"id": "call_9", "type": "function", "function": {"name": "look", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_9", "content": ""},
    ]}));
    assert_eq!(
        out["messages"][1]["content"],
        json!([{"type": "text", "text": "Checking."}, {"type": "tool_use", "id": "call_9", "name": "look", "input": {}}])
    );
    // Blank results leave `content` out rather than send an empty text.
    assert_eq!(
        out["messages"][2]["content"],
        json!([{"type": "tool_result", "tool_use_id": "call_9"}])
    );
}

#[test]
fn bad_tool_arguments_name_their_path() {
    for args in ["{not json", "[1,2]", "\"text\""] {
        let err = to_anthropic_err(json!({"messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": args}}]},
        ]}));
        assert_eq!(
            err.field, "messages[1].tool_calls[0].function.arguments",
            "{args}"
        );
    }
    let err = to_anthropic_err(json!({"messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "tool_calls": [{"id": "", "type": "function", "function": {"name": "f"}}]},
    ]}));
    assert_eq!(err.field, "messages[1].tool_calls[0].id");
}

#[test]
fn unanswered_tool_calls_get_an_error_result_and_ids_are_made_safe() {
    let out = to_anthropic(json!({"messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "tool_calls": [
            {"id": "call.1", "type": "function", "function": {"name": "a", "arguments": "{}"}},
            {"id": "call_2", "type": "function", "function": {"name": "b", "arguments": "{}"}},
        ]},
        {"role": "tool", "tool_call_id": "call.1", "content": "done"},
        {"role": "user", "content": "go on"},
    ]}));
    assert_eq!(out["messages"][1]["content"][0]["id"], "call_1");
    assert_eq!(
        out["messages"][2]["content"],
        json!([
            {"type": "tool_result", "tool_use_id": "call_1", "content": "done"},
            {"type": "tool_result", "tool_use_id": "call_2", "content": "No result was provided for this tool call.", "is_error": true},
            {"type": "text", "text": "go on"},
        ])
    );
    // A trailing assistant turn is a prefill: nothing to answer yet.
    let out = to_anthropic(json!({"messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "a", "arguments": "{}"}}]},
    ]}));
    assert_eq!(out["messages"].as_array().map(Vec::len), Some(2));
}

#[test]
fn malformed_messages_name_their_path() {
    for (messages, field) in [
        (json!("hi"), "messages"),
        (json!([7]), "messages[0]"),
        (json!([{"content": "x"}]), "messages[0].role"),
        (
            json!([{"role": "robot", "content": "x"}]),
            "messages[0].role",
        ),
        (
            json!([{"role": "user", "content": 5}]),
            "messages[0].content",
        ),
        (
            json!([{"role": "user", "content": [{"text": "x"}]}]),
            "messages[0].content[0].type",
        ),
        (
            json!([{"role": "user", "content": [{"type": "text"}]}]),
            "messages[0].content[0].text",
        ),
        (
            json!([{"role": "system", "content": [{"type": "image_url", "image_url": "https://x"}]}]),
            "messages[0].content[0].type",
        ),
        (
            json!([{"role": "tool", "content": "x"}]),
            "messages[0].tool_call_id",
        ),
        (
            json!([{"role": "assistant", "tool_calls": {}}]),
            "messages[0].tool_calls",
        ),
        (
            json!([{"role": "assistant", "function_call": {"name": "f"}}]),
            "messages[0].function_call",
        ),
    ] {
        assert_eq!(
            to_anthropic_err(json!({"messages": messages})).field,
            field,
            "{messages}"
        );
    }
}
