//! Anthropic messages request → OpenAI chat request.

use serde_json::json;

use super::{to_openai, to_openai_err};
use crate::translate::anthropic::DROPPED_ANTHROPIC_FIELDS;

#[test]
fn parameters_carry_over_and_streaming_asks_for_usage() {
    let out = to_openai(json!({
        "model": "claude-alias",
        "max_tokens": 1024,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "Hello"}],
        "stop_sequences": ["END"],
        "temperature": 0.5,
        "top_p": 0.9,
        "top_k": 40,
        "stream": true,
        "metadata": {"user_id": "u-42"},
        "thinking": {"type": "enabled", "budget_tokens": 2048},
    }));
    assert_eq!(
        out,
        json!({
            "model": "gpt-x",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hello"},
            ],
            "max_completion_tokens": 1024,
            "stop": ["END"],
            "temperature": 0.5,
            "top_p": 0.9,
            "stream": true,
            "stream_options": {"include_usage": true},
            "user": "u-42",
        })
    );
    let out = to_openai(json!({"messages": [], "stream": false}));
    assert_eq!(out["stream"], false);
    assert!(out.get("stream_options").is_none());
}

#[test]
fn dropped_fields_are_gone() {
    let mut req = json!({"max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]});
    for field in DROPPED_ANTHROPIC_FIELDS {
        req[*field] = json!({"type": "x"});
    }
    let out = to_openai(req);
    for field in DROPPED_ANTHROPIC_FIELDS {
        assert!(out.get(*field).is_none(), "{field} leaked");
    }
}

#[test]
fn system_text_blocks_join_into_one_message() {
    let out = to_openai(
        json!({"max_tokens": 10, "messages": [{"role": "user", "content": "hi"}],
        "system": [{"type": "text", "text": "Rule one.", "cache_control": {"type": "ephemeral"}}, {"type": "text", "text": "Rule two."}]}),
    );
    assert_eq!(
        out["messages"][0],
        json!({"role": "system", "content": "Rule one.\n\nRule two."})
    );
    let err = to_openai_err(json!({"messages": [], "system": [{"type": "image"}]}));
    assert_eq!(err.field, "system[0].type");
    assert_eq!(
        to_openai_err(json!({"messages": [], "system": 1})).field,
        "system"
    );
}

#[test]
fn content_blocks_become_parts_and_images_data_urls() {
    let out = to_openai(json!({"max_tokens": 10, "messages": [
        {"role": "user", "content": [{"type": "text", "text": "only text"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Sure, "}, {"type": "text", "text": "done."}]},
        {"role": "user", "content": [
            {"type": "text", "text": "Compare"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0K"}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/b.jpg"}},
        ]},
    ]}));
    assert_eq!(
        out["messages"],
        json!([
            {"role": "user", "content": "only text"},
            {"role": "assistant", "content": "Sure, done."},
            {"role": "user", "content": [
                {"type": "text", "text": "Compare"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0K"}},
                {"type": "image_url", "image_url": {"url": "https://example.com/b.jpg"}},
            ]},
        ])
    );
}

#[test]
fn tool_use_and_results_become_tool_calls_and_tool_messages() {
    let out = to_openai(json!({"max_tokens": 10, "messages": [
        {"role": "user", "content": "Time in Paris and Tokyo?"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "two calls", "signature": "sig"},
            {"type": "tool_use", "id": "toolu_1", "name": "now", "input": {"tz": "Europe/Paris"}},
            {"type": "tool_use", "id": "toolu_2", "name": "now", "input": {}},
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "10:00"},
            {"type": "tool_result", "tool_use_id": "toolu_2", "is_error": true,
             "content": [{"type": "text", "text": "timeout"}, {"type": "text", "text": "retry later"}]},
            {"type": "text", "text": "Thanks"},
        ]},
    ]}));
    assert_eq!(
        out["messages"],
        json!([
            {"role": "user", "content": "Time in Paris and Tokyo?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "toolu_1", "type": "function", "function": {"name": "now", "arguments": "{\"tz\":\"Europe/Paris\"}"}},
                {"id": "toolu_2", "type": "function", "function": {"name": "now", "arguments": "{}"}},
            ]},
            {"role": "tool", "tool_call_id": "toolu_1", "content": "10:00"},
            {"role": "tool", "tool_call_id": "toolu_2", "content": "Error: timeout\nretry later"},
            {"role": "user", "content": "Thanks"},
        ])
    );
}

#[test]
fn images_in_tool_results_follow_as_user_content() {
    let out = to_openai(json!({"max_tokens": 10, "messages": [
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t1", "content": [
                {"type": "text", "text": "screenshot"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/"}},
            ]},
        ]},
    ]}));
    assert_eq!(
        out["messages"],
        json!([
            {"role": "tool", "tool_call_id": "t1", "content": "screenshot"},
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/"}}]},
        ])
    );
}

#[test]
fn tools_and_tool_choice_translate() {
    let tools = json!([
        {"name": "now", "description": "Time", "input_schema": {"type": "object", "properties": {"tz": {"type": "string"}}},
         "cache_control": {"type": "ephemeral"}},
        {"name": "ping", "type": "custom"},
    ]);
    let msgs = json!([{"role": "user", "content": "hi"}]);
    let out = to_openai(json!({"messages": msgs, "tools": tools}));
    assert_eq!(
        out["tools"],
        json!([
            {"type": "function", "function": {"name": "now", "description": "Time",
                "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}}}},
            {"type": "function", "function": {"name": "ping", "parameters": {"type": "object", "properties": {}}}},
        ])
    );
    for (choice, want) in [
        (json!({"type": "auto"}), json!("auto")),
        (json!({"type": "any"}), json!("required")),
        (json!({"type": "none"}), json!("none")),
        (
            json!({"type": "tool", "name": "now"}),
            json!({"type": "function", "function": {"name": "now"}}),
        ),
    ] {
        let out = to_openai(json!({"messages": msgs, "tools": tools, "tool_choice": choice}));
        assert_eq!(out["tool_choice"], want, "{choice}");
        assert!(out.get("parallel_tool_calls").is_none());
    }
    let out = to_openai(json!({"messages": msgs, "tools": tools,
        "tool_choice": {"type": "any", "disable_parallel_tool_use": true}}));
    assert_eq!(out["parallel_tool_calls"], false);
    let out = to_openai(json!({"messages": msgs, "tool_choice": {"type": "auto"}}));
    assert!(out.get("tool_choice").is_none());

    let err = to_openai_err(
        json!({"messages": msgs, "tools": [{"type": "web_search_20250305", "name": "web_search"}]}),
    );
    assert_eq!(err.field, "tools[0].type");
    let err =
        to_openai_err(json!({"messages": msgs, "tools": tools, "tool_choice": {"type": "tool"}}));
    assert_eq!(err.field, "tool_choice.name");
}

#[test]
fn system_role_messages_become_system_messages_in_place() {
    let out = to_openai(json!({"messages": [
        {"role": "user", "content": "a"},
        {"role": "system", "content": "rule"},
        {"role": "user", "content": "b"}
    ]}));
    assert_eq!(
        out["messages"][1],
        json!({"role": "system", "content": "rule"})
    );
    assert_eq!(out["messages"].as_array().unwrap().len(), 3);
}

#[test]
fn malformed_requests_name_their_path() {
    for (req, field) in [
        (json!("x"), "body"),
        (json!({}), "messages"),
        (
            json!({"messages": [{"role": "robot", "content": "x"}]}),
            "messages[0].role",
        ),
        (
            json!({"messages": [{"role": "user"}]}),
            "messages[0].content",
        ),
        (
            json!({"messages": [{"role": "user", "content": [{"type": "server_tool_use"}]}]}),
            "messages[0].content[0].type",
        ),
        (
            json!({"messages": [{"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": [1]}]}]}),
            "messages[0].content[0].input",
        ),
        (
            json!({"messages": [{"role": "user", "content": [{"type": "tool_result"}]}]}),
            "messages[0].content[0].tool_use_id",
        ),
        (
            json!({"messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": [{"type": "document"}]}]}]}),
            "messages[0].content[0].content[0].type",
        ),
        (json!({"messages": [], "max_tokens": -5}), "max_tokens"),
        (
            json!({"messages": [], "stop_sequences": [1]}),
            "stop_sequences[0]",
        ),
        (
            json!({"messages": [], "metadata": {"user_id": 5}}),
            "metadata.user_id",
        ),
        (
            json!({"messages": [], "tool_choice": "auto"}),
            "tool_choice",
        ),
    ] {
        assert_eq!(to_openai_err(req.clone()).field, field, "{req}");
    }
}
