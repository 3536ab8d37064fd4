//! OpenAI chat request → Gemini `GenerateContentRequest`, field by field.

use serde_json::json;

use super::{to_gemini, to_gemini_err};
use crate::translate::gemini::DROPPED_OPENAI_FIELDS_FOR_GEMINI;

#[test]
fn a_plain_request_has_contents_and_nothing_else() {
    let out = to_gemini(json!({
        "model": "gemini-alias",
        "messages": [{"role": "user", "content": "Hello"}],
        "stream": true,
        "stream_options": {"include_usage": true},
    }));
    assert_eq!(
        out,
        json!({"contents": [{"role": "user", "parts": [{"text": "Hello"}]}]})
    );
}

#[test]
fn system_and_developer_messages_are_hoisted_into_the_system_instruction() {
    let out = to_gemini(json!({"messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "developer", "content": [{"type": "text", "text": "Use French."}, {"type": "text", "text": " "}]},
        {"role": "assistant", "content": "Salut"},
        {"role": "system", "content": ""},
    ]}));
    assert_eq!(
        out["systemInstruction"],
        json!({"parts": [{"text": "Be brief."}, {"text": "Use French."}]})
    );
    assert_eq!(
        out["contents"],
        json!([
            {"role": "user", "parts": [{"text": "Hi"}]},
            {"role": "model", "parts": [{"text": "Salut"}]},
        ])
    );
}

#[test]
fn same_role_runs_merge_and_blank_messages_vanish() {
    let out = to_gemini(json!({"messages": [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": ""},
        {"role": "user", "content": [{"type": "text", "text": "two"}, {"type": "text", "text": ""}]},
        {"role": "assistant", "content": null, "refusal": "I can't."},
        {"role": "assistant", "content": [{"type": "text", "text": "ok"}]},
        {"role": "user", "content": "  "},
    ]}));
    assert_eq!(
        out["contents"],
        json!([
            {"role": "user", "parts": [{"text": "one"}, {"text": "two"}]},
            {"role": "model", "parts": [{"text": "I can't."}, {"text": "ok"}]},
        ])
    );
}

#[test]
fn a_conversation_with_nothing_to_say_is_refused() {
    for messages in [
        json!([]),
        json!([{"role": "system", "content": "x"}]),
        json!([{"role": "user", "content": ""}]),
    ] {
        assert_eq!(
            to_gemini_err(json!({ "messages": messages })).field,
            "messages"
        );
    }
    assert_eq!(to_gemini_err(json!({})).field, "messages");
    assert_eq!(to_gemini_err(json!([1])).field, "body");
}

#[test]
fn images_files_and_audio_become_inline_data() {
    let out = to_gemini(json!({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf"}},
        {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
    ]}]}));
    assert_eq!(
        out["contents"][0]["parts"],
        json!([
            {"text": "What is this?"},
            {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
            {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}},
            {"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}},
        ])
    );
}

#[test]
fn image_links_are_refused_naming_the_url() {
    let err = to_gemini_err(json!({"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://x.test/cat.png"}},
    ]}]}));
    assert_eq!(err.field, "messages[0].content[0].image_url.url");
    assert!(err.message.contains("data URL"), "{}", err.message);
}

#[test]
fn unsupported_parts_and_roles_are_refused() {
    let cases = [
        (
            json!([{"role": "system", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}]}]),
            "messages[0].content[0].type",
        ),
        (
            json!([{"role": "user", "content": [{"type": "video"}]}]),
            "messages[0].content[0].type",
        ),
        (
            json!([{"role": "function", "content": "x"}]),
            "messages[0].role",
        ),
        (
            json!([{"role": "robot", "content": "x"}]),
            "messages[0].role",
        ),
        (json!([{"content": "x"}]), "messages[0].role"),
        (
            json!([{"role": "user", "content": 5}]),
            "messages[0].content",
        ),
        (
            json!([{"role": "assistant", "function_call": {"name": "f"}}]),
            "messages[0].function_call",
        ),
    ];
    for (messages, field) in cases {
        assert_eq!(
            to_gemini_err(json!({ "messages": messages })).field,
            field,
            "{messages}"
        );
    }
    for legacy in ["functions", "function_call"] {
        let err =
            to_gemini_err(json!({"messages": [{"role": "user", "content": "x"}], legacy: []}));
        assert_eq!(err.field, legacy);
    }
}

#[test]
fn generation_settings_map_to_generation_config() {
    let out = to_gemini(json!({
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 50,
        "max_completion_tokens": 70,
        "stop": ["END", "", "STOP"],
        "n": 2,
        "temperature": 1.5,
        "top_p": 0.9,
        "top_k": 40,
        "seed": -7,
        "presence_penalty": 0.5,
        "frequency_penalty": -0.25,
    }));
    assert_eq!(
        out["generationConfig"],
        json!({
            "maxOutputTokens": 70,
            "stopSequences": ["END", "STOP"],
            "candidateCount": 2,
            "temperature": 1.5,
            "topP": 0.9,
            "topK": 40,
            "seed": -7,
            "presencePenalty": 0.5,
            "frequencyPenalty": -0.25,
        })
    );
    let msgs = json!([{"role": "user", "content": "hi"}]);
    let out =
        to_gemini(json!({"messages": msgs, "max_tokens": 50, "stop": "END", "temperature": 0}));
    assert_eq!(
        out["generationConfig"],
        json!({"maxOutputTokens": 50, "stopSequences": ["END"], "temperature": 0})
    );
    let out = to_gemini(json!({"messages": msgs, "stop": [""], "max_tokens": null}));
    assert!(out.get("generationConfig").is_none(), "{out}");
}

#[test]
fn bad_generation_settings_name_their_field() {
    let msgs = json!([{"role": "user", "content": "hi"}]);
    for (key, value) in [
        ("max_tokens", json!(0)),
        ("max_completion_tokens", json!("many")),
        ("n", json!(0)),
        ("temperature", json!("hot")),
        ("top_p", json!([])),
        ("seed", json!(1.5)),
        ("stop", json!(3)),
        ("response_format", json!("json")),
        ("tool_choice", json!("sometimes")),
        ("tools", json!({})),
    ] {
        let err = to_gemini_err(json!({"messages": msgs, key: value}));
        assert!(err.field.starts_with(key), "{key}: {err:?}");
    }
    assert_eq!(
        to_gemini_err(json!({"messages": msgs, "stop": ["a", 1]})).field,
        "stop[1]"
    );
}

#[test]
fn several_choices_cannot_be_streamed() {
    let msgs = json!([{"role": "user", "content": "hi"}]);
    assert_eq!(
        to_gemini_err(json!({"messages": msgs, "n": 2, "stream": true})).field,
        "n"
    );
    to_gemini(json!({"messages": msgs, "n": 1, "stream": true}));
    to_gemini(json!({"messages": msgs, "n": 2, "stream": false}));
}

#[test]
fn response_formats_set_the_mime_type_and_a_cleaned_schema() {
    let msgs = json!([{"role": "user", "content": "hi"}]);
    let out = to_gemini(json!({"messages": msgs, "response_format": {"type": "json_object"}}));
    assert_eq!(
        out["generationConfig"],
        json!({"responseMimeType": "application/json"})
    );
    let out = to_gemini(
        json!({"messages": msgs, "response_format": {"type": "json_schema",
        "json_schema": {"name": "person", "strict": true, "schema": {
            "$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
            "additionalProperties": false,
            "properties": {"name": {"type": "string"}, "age": {"type": ["integer", "null"]}},
            "required": ["name", "age"]}}}}),
    );
    assert_eq!(
        out["generationConfig"],
        json!({"responseMimeType": "application/json", "responseSchema": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "age": {"type": "integer", "nullable": true}},
            "required": ["name", "age"]}})
    );
    let out = to_gemini(json!({"messages": msgs, "response_format": {"type": "text"}}));
    assert!(out.get("generationConfig").is_none());
    assert_eq!(
        to_gemini_err(json!({"messages": msgs, "response_format": {"type": "grammar"}})).field,
        "response_format.type"
    );
    assert_eq!(
        to_gemini_err(json!({"messages": msgs, "response_format": {"type": "json_schema"}})).field,
        "response_format.json_schema"
    );
}

#[test]
fn dropped_fields_are_dropped() {
    let mut req = json!({"messages": [{"role": "user", "content": "hi"}]});
    for key in DROPPED_OPENAI_FIELDS_FOR_GEMINI {
        req[*key] = json!({"anything": [1, "x"]});
    }
    let out = to_gemini(req);
    assert_eq!(
        out,
        json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
    );
}
