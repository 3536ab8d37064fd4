//! Gemini `GenerateContentResponse` → OpenAI `chat.completion`.

use serde_json::{Value, json};

use crate::translate::gemini::gemini_response_to_chat;

fn gemini(parts: Value, finish: &str) -> Value {
    json!({
        "candidates": [{
            "content": {"role": "model", "parts": parts},
            "finishReason": finish,
            "index": 0,
            "safetyRatings": [{"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"}],
        }],
        "usageMetadata": {"promptTokenCount": 8, "candidatesTokenCount": 5, "totalTokenCount": 13},
        "modelVersion": "gemini-2.5-flash",
        "responseId": "mJ5rZ_abc",
    })
}

fn translate(resp: &Value) -> Value {
    let mut out = gemini_response_to_chat(resp, "gemini-alias").unwrap();
    assert!(out["created"].as_i64().is_some_and(|t| t > 1_700_000_000));
    out["created"] = json!(0);
    out
}

#[test]
fn a_text_response_becomes_a_chat_completion() {
    let out = translate(&gemini(
        json!([{"text": "Hello"}, {"text": ", world"}]),
        "STOP",
    ));
    assert_eq!(
        out,
        json!({
            "id": "chatcmpl-mJ5rZ_abc",
            "object": "chat.completion",
            "created": 0,
            "model": "gemini-alias",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": "Hello, world", "refusal": null},
                "logprobs": null,
                "finish_reason": "stop",
            }],
            "usage": {"prompt_tokens": 8, "completion_tokens": 5, "total_tokens": 13,
                "prompt_tokens_details": {"cached_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 0}},
        })
    );
}

#[test]
fn thoughts_leave_the_content_and_count_as_completion_tokens() {
    let mut resp = gemini(
        json!([
            {"text": "Let me think about the user's question", "thought": true},
            {"text": "42", "thoughtSignature": "c2ln"},
        ]),
        "STOP",
    );
    resp["usageMetadata"] = json!({"promptTokenCount": 10, "candidatesTokenCount": 2,
        "thoughtsTokenCount": 120, "totalTokenCount": 132, "cachedContentTokenCount": 4});
    let out = translate(&resp);
    let message = &out["choices"][0]["message"];
    assert_eq!(message["content"], "42");
    assert_eq!(
        message["reasoning_content"],
        "Let me think about the user's question"
    );
    assert_eq!(
        out["usage"],
        json!({"prompt_tokens": 10, "completion_tokens": 122, "total_tokens": 132,
            "prompt_tokens_details": {"cached_tokens": 4},
            "completion_tokens_details": {"reasoning_tokens": 120}})
    );
}

#[test]
fn function_calls_become_tool_calls() {
    let out = translate(&gemini(
        json!([
            {"functionCall": {"id": "fc_1", "name": "now", "args": {"tz": "UTC", "n": [1, 2]}}},
            {"functionCall": {"name": "ping"}},
        ]),
        "STOP",
    ));
    let choice = &out["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], Value::Null);
    let calls = choice["message"]["tool_calls"].as_array().unwrap();
    assert_eq!(
        calls[0],
        json!({"id": "fc_1", "type": "function",
            "function": {"name": "now", "arguments": "{\"n\":[1,2],\"tz\":\"UTC\"}"}})
    );
    assert!(calls[1]["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(calls[1]["function"]["arguments"], "{}");
}

#[test]
fn every_finish_reason_maps() {
    for (finish, want) in [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("BLOCKLIST", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("SPII", "content_filter"),
        ("IMAGE_SAFETY", "content_filter"),
        ("LANGUAGE", "stop"),
        ("OTHER", "stop"),
        ("MALFORMED_FUNCTION_CALL", "stop"),
        ("FINISH_REASON_UNSPECIFIED", "stop"),
        ("SOMETHING_NEW", "stop"),
        ("", "stop"),
    ] {
        let out = translate(&gemini(json!([{"text": "x"}]), finish));
        assert_eq!(out["choices"][0]["finish_reason"], want, "{finish}");
    }
    // A candidate cut off by a filter may have no content at all.
    let resp = json!({"candidates": [{"finishReason": "SAFETY", "index": 0}]});
    let out = translate(&resp);
    assert_eq!(out["choices"][0]["message"]["content"], "");
    assert_eq!(out["choices"][0]["finish_reason"], "content_filter");
    // No finish reason but a call: the call must still run.
    let resp = json!({"candidates": [{"content": {"parts": [{"functionCall": {"name": "f", "args": {}}}]}}]});
    assert_eq!(
        translate(&resp)["choices"][0]["finish_reason"],
        "tool_calls"
    );
}

#[test]
fn a_blocked_prompt_is_an_empty_content_filter_choice() {
    let resp = json!({
        "promptFeedback": {"blockReason": "SAFETY", "safetyRatings": []},
        "usageMetadata": {"promptTokenCount": 7, "totalTokenCount": 7},
        "modelVersion": "gemini-2.5-flash",
    });
    let out = translate(&resp);
    assert!(out["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(
        out["choices"],
        json!([{"index": 0, "message": {"role": "assistant", "content": "", "refusal": null},
            "logprobs": null, "finish_reason": "content_filter"}])
    );
    assert_eq!(out["usage"]["prompt_tokens"], 7);
    assert_eq!(out["usage"]["completion_tokens"], 0);
}

#[test]
fn each_candidate_is_a_choice() {
    let resp = json!({"candidates": [
        {"content": {"parts": [{"text": "A"}]}, "finishReason": "STOP", "index": 0},
        {"content": {"parts": [{"text": "B"}]}, "finishReason": "MAX_TOKENS", "index": 1},
    ]});
    let out = translate(&resp);
    let choices = out["choices"].as_array().unwrap();
    assert_eq!(choices.len(), 2);
    assert_eq!(
        (
            &choices[1]["index"],
            &choices[1]["message"]["content"],
            &choices[1]["finish_reason"]
        ),
        (&json!(1), &json!("B"), &json!("length"))
    );
}

#[test]
fn malformed_responses_name_their_field() {
    for (resp, field) in [
        (json!("x"), "body"),
        (json!({}), "candidates"),
        (json!({"candidates": []}), "candidates"),
        (json!({"candidates": {}}), "candidates"),
        (json!({"candidates": [1]}), "candidates[0]"),
        (
            json!({"candidates": [{"content": {"parts": [{"functionCall": {"args": {}}}]}}]}),
            "candidates[0].content.parts[0].functionCall.name",
        ),
        (
            json!({"candidates": [{"content": {"parts": [{"functionCall": {"name": "f", "args": [1]}}]}}]}),
            "candidates[0].content.parts[0].functionCall.args",
        ),
        (
            json!({"candidates": [{"content": {"parts": [{"text": 5}]}}]}),
            "candidates[0].content.parts[0].text",
        ),
        (
            json!({"candidates": [{"content": {"parts": []}}], "usageMetadata": {"promptTokenCount": "9"}}),
            "usageMetadata.promptTokenCount",
        ),
        (
            json!({"error": {"code": 400, "message": "bad", "status": "INVALID_ARGUMENT"}}),
            "error",
        ),
    ] {
        let err = gemini_response_to_chat(&resp, "m").unwrap_err();
        assert_eq!(err.field, field, "{resp}");
    }
}

#[test]
fn generated_images_and_code_parts_are_dropped() {
    let out = translate(&gemini(
        json!([
            {"inlineData": {"mimeType": "image/png", "data": "AA"}},
            {"executableCode": {"language": "PYTHON", "code": "print(1)"}},
            {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "1"}},
            {"text": "Done."},
        ]),
        "STOP",
    ));
    assert_eq!(out["choices"][0]["message"]["content"], "Done.");
}
