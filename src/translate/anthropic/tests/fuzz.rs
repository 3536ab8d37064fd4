//! No input makes a translator panic: arbitrary JSON, and bodies shaped like each dialect
//! with a few fields wrong, so the fuzzing reaches past the first check.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::OPTS;
use super::responses::same_as_value_path;
use crate::translate::anthropic::{
    chat_request_to_messages, chat_response_to_messages, messages_request_to_chat,
    messages_response_to_chat,
};
use crate::translate::arbitrary_json::{JsonFuzz, object, pick};

/// Keys and strings the translators look at, so random values reach deep code paths
/// (whitespace-separated; the empty and blank strings are added by `JsonFuzz::word`).
const WORDS: &str = r#"
role content messages type text tool_calls function arguments name id tool_call_id
image_url url source input tool_use_id system tools tool_choice stop usage choices
message file file_data media_type data is_error parameters input_schema user
assistant tool developer tool_use tool_result image document thinking refusal base64
auto any none required application/pdf data:image/png;base64,AA https://x.test/a.png
{"a":1} prompt_tokens prompt_tokens_details cached_tokens input_tokens max_tokens
stream finish_reason stop_reason metadata user_id temperature n
"#;

const JSON: JsonFuzz = JsonFuzz {
    words: WORDS,
    small_integers: false,
};

fn text() -> BoxedStrategy<Value> {
    JSON.word().prop_map(Value::from).boxed()
}

#[derive(Clone, Copy)]
enum Dialect {
    OpenAi,
    Anthropic,
}

const ARGUMENTS: &[&str] = &["", "{}", "{\"a\":1}", "{\"a\":", "[1]", "null", " "];
const URLS: &[&str] = &[
    "data:image/png;base64,AA",
    "data:image/bmp;base64,AA",
    "data:image/png,AA",
    "https://x.test/a.png",
    "ftp://x",
    "data:application/pdf;base64,JV",
    "JVBE",
    "data:",
];

/// A content part (OpenAI) or block (Anthropic), fields mostly well-typed.
fn part(dialect: Dialect) -> BoxedStrategy<Value> {
    let kinds: &'static [&'static str] = match dialect {
        Dialect::OpenAi => &[
            "text",
            "text",
            "text",
            "image_url",
            "image_url",
            "file",
            "refusal",
            "input_audio",
        ],
        Dialect::Anthropic => &[
            "text",
            "text",
            "image",
            "document",
            "tool_use",
            "tool_result",
            "tool_result",
            "thinking",
            "redacted_thinking",
            "server_tool_use",
        ],
    };
    let source = (
        pick(&["base64", "base64", "url", "text", "file"]),
        pick(&["image/png", "application/pdf", "text/plain"]),
        pick(URLS),
    )
        .prop_map(|(t, m, d)| json!({"type": t, "media_type": m, "data": d, "url": d}));
    let result_content = prop_oneof![
        text(),
        proptest::collection::vec(
            prop_oneof![
                text().prop_map(|t| json!({"type": "text", "text": t})),
                pick(URLS).prop_map(|d| json!({"type": "image", "source":
                    {"type": "base64", "media_type": "image/png", "data": d}})),
                JSON.value(),
            ],
            0..3
        )
        .prop_map(Value::Array),
    ];
    (
        JSON.fuzzy(pick(kinds)),
        JSON.fuzzy(text()),
        JSON.fuzzy(prop_oneof![
            pick(URLS),
            pick(URLS).prop_map(|u| json!({"url": u}))
        ]),
        JSON.fuzzy(pick(URLS).prop_map(|d| json!({"file_data": d}))),
        JSON.fuzzy(source),
        JSON.fuzzy(prop_oneof![
            Just(json!({})),
            Just(json!({"a": [1]})),
            JSON.value()
        ]),
        JSON.fuzzy(result_content),
        JSON.fuzzy(any::<bool>().prop_map(Value::from)),
    )
        .prop_map(
            |(kind, text, image_url, file, source, input, content, is_error)| {
                object(vec![
                    ("type", kind),
                    ("text", text.clone()),
                    ("refusal", text.clone()),
                    ("thinking", text.clone()),
                    ("id", text.clone()),
                    ("name", text.clone()),
                    ("tool_use_id", text),
                    ("image_url", image_url),
                    ("file", file),
                    ("source", source),
                    ("input", input),
                    ("content", content),
                    ("is_error", is_error),
                ])
            },
        )
        .boxed()
}

fn tool_call() -> BoxedStrategy<Value> {
    (
        JSON.fuzzy(text()),
        JSON.fuzzy(pick(&["function", "function", "custom"])),
        JSON.fuzzy(text()),
        JSON.fuzzy(pick(ARGUMENTS)),
    )
        .prop_map(|(id, kind, name, arguments)| {
            let function = object(vec![("name", name), ("arguments", arguments)]);
            object(vec![
                ("id", id),
                ("type", kind),
                ("function", Some(function)),
            ])
        })
        .boxed()
}

fn message(dialect: Dialect) -> BoxedStrategy<Value> {
    let roles: &'static [&'static str] = match dialect {
        Dialect::OpenAi => &[
            "user",
            "user",
            "user",
            "assistant",
            "assistant",
            "tool",
            "system",
            "developer",
            "function",
        ],
        Dialect::Anthropic => &["user", "assistant"],
    };
    (
        JSON.fuzzy(pick(roles)),
        JSON.fuzzy(prop_oneof![
            2 => text(),
            1 => proptest::collection::vec(part(dialect), 0..4).prop_map(Value::Array),
        ]),
        JSON.fuzzy(proptest::collection::vec(tool_call(), 0..3).prop_map(Value::Array)),
        JSON.fuzzy(text()),
        JSON.fuzzy(text()),
    )
        .prop_map(|(role, content, tool_calls, id, refusal)| {
            object(vec![
                ("role", role),
                ("content", content),
                ("tool_calls", tool_calls),
                ("tool_call_id", id),
                ("refusal", refusal),
            ])
        })
        .boxed()
}

/// A tool definition of either dialect.
fn tool() -> BoxedStrategy<Value> {
    (
        JSON.fuzzy(pick(&["function", "custom", "web_search_20250305"])),
        JSON.fuzzy(text()),
        JSON.fuzzy(prop_oneof![
            Just(json!({})),
            Just(json!({"type": "object"})),
            JSON.value()
        ]),
    )
        .prop_map(|(kind, name, schema)| {
            let function = object(vec![("name", name.clone()), ("parameters", schema.clone())]);
            object(vec![
                ("type", kind),
                ("function", Some(function)),
                ("name", name),
                ("input_schema", schema),
            ])
        })
        .boxed()
}

/// A request, top-level fields mostly well-typed.
fn request(dialect: Dialect) -> BoxedStrategy<Value> {
    let choice = prop_oneof![
        pick(&["auto", "required", "none", "any"]),
        (pick(&["auto", "any", "none", "tool", "function"]), JSON.word(), any::<bool>()).prop_map(
            |(t, n, d)| json!({"type": t, "name": n, "function": {"name": n}, "disable_parallel_tool_use": d})
        ),
    ];
    let system = prop_oneof![
        text(),
        proptest::collection::vec(part(dialect), 0..3).prop_map(Value::Array),
    ];
    let stop = prop_oneof![
        text(),
        proptest::collection::vec(JSON.word(), 0..3).prop_map(Value::from),
    ];
    (
        proptest::collection::vec(message(dialect), 1..5),
        JSON.fuzzy(proptest::collection::vec(tool(), 0..3).prop_map(Value::Array)),
        (
            JSON.fuzzy(choice),
            JSON.fuzzy(any::<bool>().prop_map(Value::from)),
        ),
        (JSON.fuzzy(system), JSON.fuzzy(stop)),
        (
            JSON.fuzzy((-3.0f64..3.0).prop_map(Value::from)),
            JSON.fuzzy(prop_oneof![4 => Just(json!(1)), 1 => Just(json!(2))]),
            JSON.fuzzy((0u64..9).prop_map(Value::from)),
        ),
        (
            JSON.fuzzy(any::<bool>().prop_map(Value::from)),
            JSON.fuzzy(JSON.word().prop_map(|u| json!({"user_id": u}))),
        ),
    )
        .prop_map(
            |(
                messages,
                tools,
                (choice, parallel),
                (system, stop),
                (temperature, n, max),
                (stream, metadata),
            )| {
                object(vec![
                    ("messages", Some(Value::Array(messages))),
                    ("tools", tools),
                    ("tool_choice", choice),
                    ("parallel_tool_calls", parallel),
                    ("system", system),
                    ("stop", stop.clone()),
                    ("stop_sequences", stop),
                    ("temperature", temperature),
                    ("n", n),
                    ("max_tokens", max),
                    ("stream", stream),
                    ("metadata", metadata),
                    ("user", Some(json!("u"))),
                ])
            },
        )
        .boxed()
}

fn usage() -> BoxedStrategy<Value> {
    prop_oneof![
        JSON.value(),
        (0u64..5000, 0u64..5000, 0u64..5000).prop_map(|(a, b, c)| json!({
            "input_tokens": a, "output_tokens": b, "cache_read_input_tokens": c,
            "prompt_tokens": a, "completion_tokens": b, "prompt_tokens_details": {"cached_tokens": c},
        })),
    ]
    .boxed()
}

/// Arbitrary values, and bodies shaped like each of the four inputs.
fn body() -> BoxedStrategy<Value> {
    let anthropic_response = (
        proptest::collection::vec(part(Dialect::Anthropic), 0..5),
        usage(),
        JSON.fuzzy(pick(&["end_turn", "tool_use", "max_tokens"])),
    )
        .prop_map(|(content, usage, stop)| {
            object(vec![
                ("id", Some(json!("msg_1"))),
                ("type", Some(json!("message"))),
                ("content", Some(Value::Array(content))),
                ("usage", Some(usage)),
                ("stop_reason", stop),
            ])
        });
    let openai_response = (
        message(Dialect::OpenAi),
        usage(),
        JSON.fuzzy(pick(&["stop", "tool_calls", "length", ""])),
    )
        .prop_map(|(message, usage, finish)| {
            let choice = object(vec![("message", Some(message)), ("finish_reason", finish)]);
            json!({"id": "chatcmpl-1", "choices": [choice], "usage": usage})
        });
    prop_oneof![
        JSON.value(),
        request(Dialect::OpenAi),
        request(Dialect::Anthropic),
        anthropic_response,
        openai_response,
    ]
    .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn no_input_makes_a_translator_panic(v in body()) {
        let _ = chat_request_to_messages(&v, "claude-x", &OPTS);
        let _ = messages_response_to_chat(&v, "m");
        let _ = messages_request_to_chat(&v, "gpt-x");
        let _ = chat_response_to_messages(&v, "m");
    }

    #[test]
    fn the_typed_answer_reading_matches_the_value_path(v in body()) {
        // serde_json reads floats to the nearest f64 only roughly, so the `Value` path
        // can write a tool input's `1.2295633` back as `1.2295632` where the typed path
        // passes the upstream's text on. Feed both text that a read and write keeps.
        let mut bytes = serde_json::to_vec(&v).unwrap();
        for _ in 0..4 {
            let again = serde_json::to_vec(&serde_json::from_slice::<Value>(&bytes).unwrap()).unwrap();
            if again == bytes {
                break;
            }
            bytes = again;
        }
        same_as_value_path(&bytes);
    }
}
