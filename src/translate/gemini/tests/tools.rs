//! Tools, tool choice, and tool calls through a whole agent turn: Gemini response →
//! chat.completion → the client's next request → Gemini request.

use serde_json::{Value, json};

use super::{to_gemini, to_gemini_err};
use crate::translate::gemini::gemini_response_to_chat;

fn weather_tool() -> Value {
    json!({"type": "function", "function": {
        "name": "get_weather", "description": "Weather for a city", "strict": true,
        "parameters": {"type": "object", "additionalProperties": false,
            "properties": {"city": {"type": "string"}}, "required": ["city"]}}})
}

#[test]
fn tools_become_one_function_declarations_entry() {
    let out = to_gemini(json!({
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [
            weather_tool(),
            {"type": "function", "function": {"name": "now", "parameters": {"type": "object", "properties": {}}}},
            {"type": "function", "function": {"name": "ping"}},
        ],
    }));
    assert_eq!(
        out["tools"],
        json!([{"functionDeclarations": [
            {"name": "get_weather", "description": "Weather for a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
            {"name": "now"},
            {"name": "ping"},
        ]}])
    );
    assert!(out.get("toolConfig").is_none());
}

#[test]
fn tool_choice_maps_to_function_calling_modes() {
    for (choice, config) in [
        (json!("auto"), json!({"mode": "AUTO"})),
        (json!("none"), json!({"mode": "NONE"})),
        (json!("required"), json!({"mode": "ANY"})),
        (
            json!({"type": "function", "function": {"name": "get_weather"}}),
            json!({"mode": "ANY", "allowedFunctionNames": ["get_weather"]}),
        ),
    ] {
        let out = to_gemini(json!({
            "messages": [{"role": "user", "content": "hi"}],
            "tools": [weather_tool()],
            "tool_choice": choice,
        }));
        assert_eq!(
            out["toolConfig"],
            json!({ "functionCallingConfig": config })
        );
    }
    // No tools: the choice means nothing and is left out.
    let out = to_gemini(
        json!({"messages": [{"role": "user", "content": "hi"}], "tool_choice": "required"}),
    );
    assert!(out.get("toolConfig").is_none() && out.get("tools").is_none());
}

#[test]
fn bad_tools_name_their_field() {
    let msgs = json!([{"role": "user", "content": "hi"}]);
    for (tools, choice, field) in [
        (
            json!([{"type": "web_search"}]),
            json!(null),
            "tools[0].type",
        ),
        (
            json!([{"type": "function", "function": {"name": ""}}]),
            json!(null),
            "tools[0].function.name",
        ),
        (
            json!([{"type": "function", "function": {"name": "f", "parameters": "x"}}]),
            json!(null),
            "tools[0].function.parameters",
        ),
        (
            json!([weather_tool()]),
            json!({"type": "custom", "custom": {"name": "f"}}),
            "tool_choice.type",
        ),
        (
            json!([weather_tool()]),
            json!({"type": "function", "function": {}}),
            "tool_choice.function.name",
        ),
    ] {
        let err = to_gemini_err(json!({"messages": msgs, "tools": tools, "tool_choice": choice}));
        assert_eq!(err.field, field);
    }
}

/// A Gemini 3 turn with two parallel calls; only the first carries a signature.
fn parallel_calls_response() -> Value {
    json!({
        "candidates": [{"content": {"role": "model", "parts": [
            {"text": "Checking both."},
            {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "CiQB+/xy1A=="},
            {"functionCall": {"id": "fc_2", "name": "get_weather", "args": {"city": "Oslo"}}},
        ]}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 30, "candidatesTokenCount": 12, "totalTokenCount": 42},
        "modelVersion": "gemini-3-pro",
        "responseId": "resp_1",
    })
}

#[test]
fn parallel_calls_and_their_results_round_trip_in_call_order() {
    let chat = gemini_response_to_chat(&parallel_calls_response(), "g").unwrap();
    let message = &chat["choices"][0]["message"];
    assert_eq!(chat["choices"][0]["finish_reason"], "tool_calls");
    let calls = message["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2);
    let (paris, oslo) = (
        calls[0]["id"].as_str().unwrap(),
        calls[1]["id"].as_str().unwrap(),
    );
    assert!(
        paris.starts_with("call_") && paris.contains("__thought__"),
        "{paris}"
    );
    assert_eq!(oslo, "fc_2");
    assert_eq!(calls[0]["function"]["arguments"], r#"{"city":"Paris"}"#);

    // The client answers out of order, with a JSON object and with plain text.
    let req = json!({"messages": [
        {"role": "user", "content": "Weather in Paris and Oslo?"},
        message.clone(),
        {"role": "tool", "tool_call_id": oslo, "content": "-3C and snowing"},
        {"role": "tool", "tool_call_id": paris, "content": "{\"temp_c\": 18}"},
        {"role": "user", "content": "Which is warmer?"},
    ], "tools": [weather_tool()]});
    let out = to_gemini(req);
    assert_eq!(
        out["contents"],
        json!([
            {"role": "user", "parts": [{"text": "Weather in Paris and Oslo?"}]},
            {"role": "model", "parts": [
                {"text": "Checking both."},
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "CiQB+/xy1A=="},
                {"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}},
            ]},
            {"role": "user", "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"temp_c": 18}}},
                {"functionResponse": {"name": "get_weather", "response": {"result": "-3C and snowing"}}},
                {"text": "Which is warmer?"},
            ]},
        ])
    );
}

#[test]
fn tool_results_are_wrapped_unless_they_are_objects() {
    let call = |id: &str| json!({"id": id, "type": "function", "function": {"name": "f", "arguments": ""}});
    let out = to_gemini(json!({"messages": [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": null, "tool_calls": [call("a"), call("b"), call("c"), call("d")]},
        {"role": "tool", "tool_call_id": "a", "content": "42"},
        {"role": "tool", "tool_call_id": "b", "content": [{"type": "text", "text": "line 1"}, {"type": "text", "text": "line 2"}]},
        {"role": "tool", "tool_call_id": "c", "content": ""},
        {"role": "tool", "tool_call_id": "d", "content": "[1, 2]"},
    ]}));
    let responses: Vec<&Value> = out["contents"][2]["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["functionResponse"]["response"])
        .collect();
    assert_eq!(
        responses,
        [
            &json!({"result": 42}),
            &json!({"result": "line 1\nline 2"}),
            &json!({"result": ""}),
            &json!({"result": [1, 2]}),
        ]
    );
    // `""` arguments are no arguments.
    assert_eq!(
        out["contents"][1]["parts"][0],
        json!({"functionCall": {"name": "f", "args": {}}})
    );
}

#[test]
fn unanswered_calls_get_an_error_response_but_a_final_call_is_left_alone() {
    let calls = json!([
        {"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}},
        {"id": "b", "type": "function", "function": {"name": "g", "arguments": "{\"x\":1}"}},
    ]);
    let out = to_gemini(json!({"messages": [
        {"role": "user", "content": "go"},
        {"role": "assistant", "tool_calls": calls},
        {"role": "tool", "tool_call_id": "b", "content": "ok"},
        {"role": "user", "content": "and?"},
        {"role": "assistant", "tool_calls": calls},
    ]}));
    assert_eq!(
        out["contents"][2]["parts"],
        json!([
            {"functionResponse": {"name": "f", "response": {"error": "No result was provided for this tool call."}}},
            {"functionResponse": {"name": "g", "response": {"result": "ok"}}},
            {"text": "and?"},
        ])
    );
    assert_eq!(out["contents"].as_array().unwrap().len(), 4);
    assert_eq!(
        out["contents"][3]["parts"].as_array().unwrap().len(),
        2,
        "the final model turn keeps its calls, unanswered"
    );
}

#[test]
fn bad_tool_calls_and_results_name_their_field() {
    let call = |args: &str| json!({"id": "a", "type": "function", "function": {"name": "f", "arguments": args}});
    for (messages, field) in [
        (
            json!([{"role": "assistant", "tool_calls": [call("{\"a\":")]}]),
            "messages[0].tool_calls[0].function.arguments",
        ),
        (
            json!([{"role": "assistant", "tool_calls": [call("[1]")]}]),
            "messages[0].tool_calls[0].function.arguments",
        ),
        (
            json!([{"role": "assistant", "tool_calls": [{"id": "a", "type": "custom"}]}]),
            "messages[0].tool_calls[0].type",
        ),
        (
            json!([{"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "f"}}]}]),
            "messages[0].tool_calls[0].id",
        ),
        (
            json!([{"role": "user", "content": "x"}, {"role": "tool", "tool_call_id": "nope", "content": "1"}]),
            "messages[1].tool_call_id",
        ),
        (
            json!([{"role": "assistant", "tool_calls": [call("{}")]},
                {"role": "tool", "tool_call_id": "a", "content": [{"type": "image_url"}]}]),
            "messages[1].content[0].type",
        ),
    ] {
        assert_eq!(
            to_gemini_err(json!({ "messages": messages })).field,
            field,
            "{messages}"
        );
    }
}

#[test]
fn a_tool_result_before_its_call_is_refused() {
    let err = to_gemini_err(json!({"messages": [
        {"role": "tool", "tool_call_id": "a", "content": "1"},
        {"role": "assistant", "tool_calls": [{"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
    ]}));
    assert_eq!(err.field, "messages[0].tool_call_id");
    assert!(err.message.contains("function's name"), "{}", err.message);
}
