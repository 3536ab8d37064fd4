//! No input makes a Gemini translator panic: arbitrary JSON, bodies shaped like each
//! input with a few fields wrong (so fuzzing reaches past the first check), and
//! arbitrary event sequences, whose output must still follow the chunk-stream rules.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::stream::rebuild_chat;
use crate::translate::arbitrary_json::{JsonFuzz, object, pick};
use crate::translate::gemini::{
    GeminiToChat, chat_request_to_gemini, embeddings_request_to_gemini, gemini_embeddings,
    gemini_response_to_chat,
};
use crate::translate::sse::SseEvent;
use crate::translate::stream::StreamTranslator;

/// Keys and strings the translators look at, so random values reach deep code paths
/// (whitespace-separated; the empty and blank strings are added by `JsonFuzz::word`).
const WORDS: &str = r#"
role content messages type text tool_calls function arguments name id tool_call_id
image_url url file file_data input_audio data format tools tool_choice parameters
user assistant tool system developer auto none required properties $ref $defs
#/$defs/A anyOf type object string null items enum const required response_format
json_schema schema json_object stop n stream max_tokens temperature candidates
parts functionCall args thought thoughtSignature finishReason STOP MAX_TOKENS SAFETY
promptFeedback blockReason usageMetadata promptTokenCount thoughtsTokenCount
candidatesTokenCount index error embedding embeddings values input dimensions
data:image/png;base64,AA https://x.test/a.png {"a":1} [1] call_1__thought__AB-_
"#;

const JSON: JsonFuzz = JsonFuzz {
    words: WORDS,
    small_integers: true,
};

/// A JSON schema, sometimes with refs, nullable idioms and junk keywords.
fn schema() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        pick(&["string", "integer", "object", "null"]).prop_map(|t| json!({"type": t})),
        Just(json!({"type": ["string", "null"]})),
        Just(json!({"$ref": "#/$defs/A"})),
        Just(json!({"enum": ["a", 1, null]})),
        JSON.value(),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::btree_map(JSON.word(), inner.clone(), 0..4).prop_map(|p| {
                json!({"type": "object", "properties": p, "required": ["a", "type"],
                    "additionalProperties": false, "$defs": {"A": {"type": "object",
                        "properties": {"b": {"$ref": "#/$defs/A"}}}}})
            }),
            proptest::collection::vec(inner.clone(), 0..3).prop_map(|v| json!({"anyOf": v})),
            inner.prop_map(|i| json!({"type": "array", "items": i, "allOf": [i]})),
        ]
    })
    .boxed()
}

fn part() -> BoxedStrategy<Value> {
    (
        JSON.fuzzy(pick(&[
            "text",
            "text",
            "image_url",
            "file",
            "input_audio",
            "refusal",
        ])),
        JSON.fuzzy(JSON.word().prop_map(Value::from)),
        JSON.fuzzy(
            pick(&["data:image/png;base64,AA", "https://x.test/a.png", "data:,"])
                .prop_map(|u| json!({"url": u})),
        ),
        JSON.fuzzy(
            pick(&["data:application/pdf;base64,JV", "JV"]).prop_map(|d| json!({"file_data": d})),
        ),
        JSON.fuzzy(pick(&["wav", "mp3", ""]).prop_map(|f| json!({"data": "AA", "format": f}))),
    )
        .prop_map(|(kind, text, image, file, audio)| {
            object(vec![
                ("type", kind),
                ("text", text.clone()),
                ("refusal", text),
                ("image_url", image),
                ("file", file),
                ("input_audio", audio),
            ])
        })
        .boxed()
}

fn tool_call() -> BoxedStrategy<Value> {
    (
        JSON.fuzzy(pick(&["call_1", "call_2", "call_1__thought__AB-_"])),
        JSON.fuzzy(JSON.word().prop_map(Value::from)),
        JSON.fuzzy(pick(&["", "{}", "{\"a\":1}", "{\"a\":", "[1]", "null"])),
    )
        .prop_map(|(id, name, arguments)| {
            let function = object(vec![("name", name), ("arguments", arguments)]);
            object(vec![
                ("id", id),
                ("type", Some(json!("function"))),
                ("function", Some(function)),
            ])
        })
        .boxed()
}

fn message() -> BoxedStrategy<Value> {
    (
        JSON.fuzzy(pick(&[
            "user",
            "user",
            "user",
            "assistant",
            "assistant",
            "tool",
            "system",
        ])),
        JSON.fuzzy(prop_oneof![
            2 => JSON.word().prop_map(Value::from),
            1 => proptest::collection::vec(part(), 0..3).prop_map(Value::Array),
        ]),
        JSON.fuzzy(proptest::collection::vec(tool_call(), 0..3).prop_map(Value::Array)),
        JSON.fuzzy(pick(&["call_1", "call_2", "call_1__thought__AB-_"])),
    )
        .prop_map(|(role, content, tool_calls, tool_call_id)| {
            object(vec![
                ("role", role),
                ("content", content),
                ("tool_calls", tool_calls),
                ("tool_call_id", tool_call_id),
            ])
        })
        .boxed()
}

fn chat_request() -> BoxedStrategy<Value> {
    let tool = (JSON.fuzzy(JSON.word().prop_map(Value::from)), JSON.fuzzy(schema()))
        .prop_map(|(name, parameters)| {
            json!({"type": "function", "function": object(vec![("name", name), ("parameters", parameters)])})
        });
    let choice = prop_oneof![
        pick(&["auto", "required", "none", "any"]),
        JSON.word()
            .prop_map(|n| json!({"type": "function", "function": {"name": n}})),
    ];
    let format = prop_oneof![
        pick(&["text", "json_object", "json_schema"]).prop_map(|t| json!({"type": t})),
        schema().prop_map(
            |s| json!({"type": "json_schema", "json_schema": {"name": "x", "schema": s}})
        ),
    ];
    (
        proptest::collection::vec(message(), 1..6),
        JSON.fuzzy(proptest::collection::vec(tool, 0..3).prop_map(Value::Array)),
        (JSON.fuzzy(choice), JSON.fuzzy(format)),
        (
            JSON.fuzzy((1u64..3).prop_map(Value::from)),
            JSON.fuzzy(any::<bool>().prop_map(Value::from)),
            JSON.fuzzy((-3.0f64..3.0).prop_map(Value::from)),
            JSON.fuzzy(prop_oneof![
                JSON.word().prop_map(Value::from),
                Just(json!(["a", ""]))
            ]),
        ),
    )
        .prop_map(
            |(messages, tools, (choice, format), (n, stream, temperature, stop))| {
                object(vec![
                    ("messages", Some(Value::Array(messages))),
                    ("tools", tools),
                    ("tool_choice", choice),
                    ("response_format", format),
                    ("n", n.clone().filter(|_| stream != Some(json!(true)))),
                    ("max_tokens", n),
                    ("stream", stream),
                    ("temperature", temperature),
                    ("stop", stop),
                ])
            },
        )
        .boxed()
}

/// How a generated body's fields are typed.
#[derive(Clone, Copy)]
enum Fields {
    /// Right types, some fields absent: reaches the translation itself.
    Typed,
    /// Now and then any value: reaches the error paths.
    Fuzzy,
}

/// Usually `good`, sometimes absent, and with [`Fields::Fuzzy`] now and then any value.
fn field(
    good: impl Strategy<Value = Value> + 'static,
    fields: Fields,
) -> BoxedStrategy<Option<Value>> {
    match fields {
        Fields::Typed => proptest::option::weighted(0.9, good).boxed(),
        Fields::Fuzzy => JSON.fuzzy(good),
    }
}

/// A `GenerateContentResponse` (or stream event) with random parts and counts.
fn gemini_response(fields: Fields) -> BoxedStrategy<Value> {
    let call = (
        field(JSON.word().prop_map(Value::from), fields),
        field(
            prop_oneof![6 => Just(json!({})), 6 => Just(json!({"a": [1]})), 1 => JSON.value()],
            fields,
        ),
        field(pick(&["fc_1", ""]), fields),
    )
        .prop_map(|(name, args, id)| object(vec![("name", name), ("args", args), ("id", id)]));
    let part = (
        field(JSON.word().prop_map(Value::from), fields),
        field(any::<bool>().prop_map(Value::from), fields),
        proptest::option::weighted(0.3, call),
        field(pick(&["CiQB+/x=", "", "AB"]), fields),
    )
        .prop_map(|(text, thought, call, signature)| {
            object(vec![
                ("text", text),
                ("thought", thought),
                ("functionCall", call),
                ("thoughtSignature", signature),
            ])
        });
    let candidate = (
        proptest::collection::vec(part, 0..3),
        field(
            pick(&["STOP", "MAX_TOKENS", "SAFETY", "", "IMAGE_OTHER"]),
            fields,
        ),
        field((0u64..2).prop_map(Value::from), fields),
    )
        .prop_map(|(parts, finish, index)| {
            object(vec![
                ("content", Some(json!({"role": "model", "parts": parts}))),
                ("finishReason", finish),
                ("index", index),
            ])
        });
    let usage = (0u64..500, 0u64..500, 0u64..500, 0u64..50).prop_map(|(p, c, t, k)| {
        json!({"promptTokenCount": p, "candidatesTokenCount": c, "thoughtsTokenCount": t,
            "cachedContentTokenCount": k, "totalTokenCount": p + c + t})
    });
    (
        field(
            proptest::collection::vec(candidate, 0..3).prop_map(Value::Array),
            fields,
        ),
        field(usage, fields),
        proptest::option::weighted(
            0.1,
            pick(&["SAFETY", ""]).prop_map(|r| json!({"blockReason": r})),
        ),
        proptest::option::weighted(
            0.02,
            Just(json!({"code": 503, "message": "x", "status": "UNAVAILABLE"})),
        ),
    )
        .prop_map(|(candidates, usage, feedback, error)| {
            object(vec![
                ("candidates", candidates),
                ("usageMetadata", usage),
                ("promptFeedback", feedback),
                ("error", error),
                ("responseId", Some(json!("r_1"))),
            ])
        })
        .boxed()
}

fn embeddings_body() -> BoxedStrategy<Value> {
    let input = prop_oneof![
        JSON.word().prop_map(Value::from),
        proptest::collection::vec(JSON.word().prop_map(Value::from), 0..3).prop_map(Value::Array),
        Just(json!([1, 2])),
        Just(json!([[1], [2]])),
    ];
    let values = proptest::collection::vec(-2.0f64..2.0, 0..4);
    prop_oneof![
        (
            JSON.fuzzy(input),
            JSON.fuzzy((0u64..3).prop_map(Value::from))
        )
            .prop_map(|(input, dims)| object(vec![("input", input), ("dimensions", dims)])),
        values
            .clone()
            .prop_map(|v| json!({"embedding": {"values": v}})),
        proptest::collection::vec(values, 0..3).prop_map(|vs| {
            json!({"embeddings": vs.into_iter().map(|v| json!({"values": v})).collect::<Vec<_>>()})
        }),
    ]
    .boxed()
}

fn body() -> BoxedStrategy<Value> {
    prop_oneof![
        JSON.value(),
        chat_request(),
        gemini_response(Fields::Fuzzy),
        embeddings_body()
    ]
    .boxed()
}

/// An SSE event carrying a shaped response, arbitrary JSON, or junk.
fn event() -> BoxedStrategy<SseEvent> {
    prop_oneof![
        40 => gemini_response(Fields::Typed).prop_map(|v| v.to_string()),
        1 => JSON.value().prop_map(|v| v.to_string()),
        1 => Just("[DONE]".to_owned()),
        1 => ".{0,12}",
    ]
    .prop_map(|data| SseEvent { event: None, data })
    .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn no_input_makes_a_translator_panic(v in body()) {
        let _ = chat_request_to_gemini(&v);
        let _ = gemini_response_to_chat(&v, "m");
        let _ = embeddings_request_to_gemini(&v, "models/e");
        let _ = gemini_embeddings(&v);
    }
}

proptest! {
    #[test]
    fn gemini_to_chat_survives_anything(
        events in proptest::collection::vec(event(), 0..16),
        include_usage: bool,
        fail: bool,
    ) {
        let mut t = GeminiToChat::new("gemini-via-tollgate", include_usage);
        let mut out = Vec::new();
        for ev in &events {
            let was_done = t.is_done();
            let frames = t.on_event(ev);
            prop_assert!(!was_done || frames.is_empty(), "output after the end");
            prop_assert!(frames.len() <= 1);
            out.extend(frames.concat());
        }
        let end = if fail { t.fail("upstream_timeout", "silence") } else { t.finish() };
        out.extend(end.concat());
        prop_assert!(t.is_done());
        let r = rebuild_chat(&out, include_usage);
        prop_assert!(r.done != r.error.is_some(), "exactly one ending: {:?}", r);
    }
}
