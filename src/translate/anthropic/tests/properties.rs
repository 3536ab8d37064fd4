//! Properties: no input makes a translator panic, and OpenAI → Anthropic → OpenAI keeps
//! the conversation.

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::{OPTS, to_anthropic, to_openai};
use crate::translate::anthropic::{
    chat_request_to_messages, chat_response_to_messages, messages_request_to_chat,
    messages_response_to_chat,
};

/// Keys and strings the translators look at, so random values reach deep code paths.
const WORDS: &[&str] = &[
    "role",
    "content",
    "messages",
    "type",
    "text",
    "tool_calls",
    "function",
    "arguments",
    "name",
    "id",
    "tool_call_id",
    "image_url",
    "url",
    "source",
    "input",
    "tool_use_id",
    "system",
    "tools",
    "tool_choice",
    "stop",
    "usage",
    "choices",
    "message",
    "file",
    "file_data",
    "media_type",
    "data",
    "is_error",
    "parameters",
    "input_schema",
    "user",
    "assistant",
    "tool",
    "developer",
    "tool_use",
    "tool_result",
    "image",
    "document",
    "thinking",
    "refusal",
    "base64",
    "auto",
    "any",
    "none",
    "required",
    "application/pdf",
    "data:image/png;base64,AA",
    "https://x.test/a.png",
    "{\"a\":1}",
    "",
    " ",
    "prompt_tokens",
    "prompt_tokens_details",
    "cached_tokens",
    "input_tokens",
    "max_tokens",
    "stream",
    "finish_reason",
    "stop_reason",
    "metadata",
    "user_id",
    "temperature",
    "n",
];

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(WORDS).prop_map(str::to_owned),
        1 => "\\PC{0,6}",
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        word().prop_map(Value::from),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 96, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((word(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Usually `good`, sometimes any value, sometimes absent: a field as a buggy client sends it.
fn fuzzy(good: impl Strategy<Value = Value>) -> impl Strategy<Value = Option<Value>> {
    prop_oneof![6 => good.prop_map(Some), 1 => value().prop_map(Some), 1 => Just(None)]
}

fn pick(words: &'static [&'static str]) -> impl Strategy<Value = Value> {
    proptest::sample::select(words).prop_map(Value::from)
}

/// An object of the given fields, absent ones left out.
fn object(fields: Vec<(&'static str, Option<Value>)>) -> Value {
    Value::Object(
        fields
            .into_iter()
            .filter_map(|(k, v)| Some((k.to_owned(), v?)))
            .collect(),
    )
}

const ARGUMENTS: &[&str] = &["", "{}", "{\"a\":1}", "{", "[1]", "null", " "];
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

/// A part or block of either dialect, fields mostly well-typed.
fn part() -> impl Strategy<Value = Value> {
    let kinds: &[&str] = &[
        "text",
        "image_url",
        "file",
        "refusal",
        "input_audio",
        "image",
        "document",
        "tool_use",
        "tool_result",
        "thinking",
        "redacted_thinking",
        "server_tool_use",
    ];
    (
        fuzzy(pick(kinds)),
        fuzzy(word().prop_map(Value::from)),
        fuzzy(prop_oneof![
            pick(URLS),
            pick(URLS).prop_map(|u| json!({"url": u}))
        ]),
        fuzzy(pick(URLS).prop_map(|d| json!({"file_data": d}))),
        fuzzy(
            (
                pick(&["base64", "url", "text", "file"]),
                pick(&["image/png", "application/pdf", "text/plain"]),
                pick(URLS),
            )
                .prop_map(|(t, m, d)| json!({"type": t, "media_type": m, "data": d, "url": d})),
        ),
        fuzzy(prop_oneof![value(), Just(json!({}))]),
        fuzzy(prop_oneof![
            word().prop_map(Value::from),
            proptest::collection::vec(leaf_part(), 0..3).prop_map(Value::Array)
        ]),
        fuzzy(any::<bool>().prop_map(Value::from)),
    )
        .prop_map(
            |(kind, text, image_url, file, source, input, content, is_error)| {
                let id = text.clone();
                object(vec![
                    ("type", kind),
                    ("text", text.clone()),
                    ("refusal", text.clone()),
                    ("thinking", text.clone()),
                    ("image_url", image_url),
                    ("file", file),
                    ("source", source),
                    ("input", input),
                    ("id", id.clone()),
                    ("name", id.clone()),
                    ("tool_use_id", id),
                    ("content", content),
                    ("is_error", is_error),
                ])
            },
        )
}

/// A text or image block, for tool results.
fn leaf_part() -> impl Strategy<Value = Value> {
    prop_oneof![
        word().prop_map(|t| json!({"type": "text", "text": t})),
        pick(URLS).prop_map(|d| json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": d}})),
        value(),
    ]
}

fn tool_call() -> impl Strategy<Value = Value> {
    (
        fuzzy(word().prop_map(Value::from)),
        fuzzy(pick(&["function", "custom"])),
        fuzzy(word().prop_map(Value::from)),
        fuzzy(pick(ARGUMENTS)),
    )
        .prop_map(|(id, kind, name, arguments)| {
            let function = object(vec![("name", name), ("arguments", arguments)]);
            object(vec![
                ("id", id),
                ("type", kind),
                ("function", Some(function)),
            ])
        })
}

/// A message of either dialect.
fn message() -> impl Strategy<Value = Value> {
    let roles: &[&str] = &[
        "system",
        "developer",
        "user",
        "assistant",
        "tool",
        "function",
        "robot",
    ];
    (
        fuzzy(pick(roles)),
        fuzzy(prop_oneof![
            word().prop_map(Value::from),
            proptest::collection::vec(part(), 0..4).prop_map(Value::Array)
        ]),
        fuzzy(proptest::collection::vec(tool_call(), 0..3).prop_map(Value::Array)),
        fuzzy(word().prop_map(Value::from)),
    )
        .prop_map(|(role, content, tool_calls, id)| {
            object(vec![
                ("role", role),
                ("content", content),
                ("tool_calls", tool_calls),
                ("tool_call_id", id),
            ])
        })
}

/// Arbitrary values, and bodies shaped enough to reach each translator's inner code.
fn body() -> impl Strategy<Value = Value> {
    prop_oneof![
        value(),
        (proptest::collection::vec(message(), 0..6), value(), value(), value()).prop_map(
            |(m, tools, choice, system)| json!({"messages": m, "tools": tools, "tool_choice": choice, "system": system})
        ),
        (proptest::collection::vec(part(), 0..5), value()).prop_map(|(content, usage)| {
            json!({"id": "x", "type": "message", "content": content, "usage": usage})
        }),
        (message(), value(), value()).prop_map(|(message, finish, usage)| {
            json!({"id": "x", "choices": [{"message": message, "finish_reason": finish}], "usage": usage})
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn no_input_makes_a_translator_panic(v in body()) {
        let _ = chat_request_to_messages(&v, "claude-x", &OPTS);
        let _ = messages_response_to_chat(&v, "m");
        let _ = messages_request_to_chat(&v, "gpt-x");
        let _ = chat_response_to_messages(&v, "m");
    }
}

/// One user turn and the assistant's answer: text, or calls with their results.
#[derive(Debug, Clone)]
enum Reply {
    Text(String),
    Calls(Option<String>, Vec<(String, Map<String, Value>, String)>),
}

fn text() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9 .,!?]{0,24}"
}

fn call() -> impl Strategy<Value = (String, Map<String, Value>, String)> {
    (
        "[a-z_]{1,10}",
        proptest::collection::btree_map(
            "[a-z]{1,5}",
            prop_oneof![
                any::<i32>().prop_map(Value::from),
                "[a-z ]{0,8}".prop_map(Value::from),
                any::<bool>().prop_map(Value::from),
            ],
            0..4,
        ),
        text(),
    )
        .prop_map(|(name, args, result)| (name, args.into_iter().collect(), result))
}

fn reply() -> impl Strategy<Value = Reply> {
    prop_oneof![
        text().prop_map(Reply::Text),
        (
            proptest::option::of(text()),
            proptest::collection::vec(call(), 1..4)
        )
            .prop_map(|(t, calls)| Reply::Calls(t, calls)),
    ]
}

/// An OpenAI conversation in the canonical shape both translators produce.
fn conversation(system: Option<String>, exchanges: &[(String, Reply)]) -> Vec<Value> {
    let mut messages: Vec<Value> = system
        .map(|s| json!({"role": "system", "content": s}))
        .into_iter()
        .collect();
    for (i, (user, reply)) in exchanges.iter().enumerate() {
        messages.push(json!({"role": "user", "content": user}));
        match reply {
            Reply::Text(t) => messages.push(json!({"role": "assistant", "content": t})),
            Reply::Calls(t, calls) => {
                let ids: Vec<String> = (0..calls.len()).map(|j| format!("call_{i}_{j}")).collect();
                let tool_calls: Vec<Value> = calls
                    .iter()
                    .zip(&ids)
                    .map(|((name, args, _), id)| json!({"id": id, "type": "function",
                        "function": {"name": name, "arguments": Value::Object(args.clone()).to_string()}}))
                    .collect();
                messages.push(json!({"role": "assistant", "content": t, "tool_calls": tool_calls}));
                for ((_, _, result), id) in calls.iter().zip(&ids) {
                    messages.push(json!({"role": "tool", "tool_call_id": id, "content": result}));
                }
            }
        }
    }
    messages
}

proptest! {
    #[test]
    fn openai_to_anthropic_to_openai_keeps_the_conversation(
        system in proptest::option::of(text()),
        exchanges in proptest::collection::vec((text(), reply()), 1..5),
        tools in proptest::collection::vec("[a-z_]{1,10}", 0..3),
    ) {
        let messages = conversation(system, &exchanges);
        let tools: Vec<Value> = tools
            .iter()
            .map(|name| json!({"type": "function", "function": {"name": name, "description": "d",
                "parameters": {"type": "object", "properties": {"x": {"type": "string"}}}}}))
            .collect();
        let mut original = json!({"model": "gpt-alias", "messages": messages, "max_completion_tokens": 100});
        if !tools.is_empty() {
            original["tools"] = Value::Array(tools.clone());
        }

        let anthropic = to_anthropic(original.clone());
        let back = to_openai(anthropic);

        prop_assert_eq!(&back["messages"], &original["messages"]);
        prop_assert_eq!(&back["max_completion_tokens"], &json!(100));
        if tools.is_empty() {
            prop_assert!(back.get("tools").is_none());
        } else {
            prop_assert_eq!(&back["tools"], &Value::Array(tools));
        }
    }
}

#[test]
fn tmp_coverage() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::default();
    let mut ok = [0usize; 4];
    let mut fields = std::collections::BTreeMap::<String, usize>::new();
    for _ in 0..5000 {
        let v = body().new_tree(&mut runner).unwrap().current();
        let rs = [
            chat_request_to_messages(&v, "c", &OPTS),
            messages_response_to_chat(&v, "m"),
            messages_request_to_chat(&v, "g"),
            chat_response_to_messages(&v, "m"),
        ];
        for (i, r) in rs.iter().enumerate() {
            match r { Ok(_) => ok[i] += 1, Err(e) => *fields.entry(format!("{i}:{}", e.field.chars().filter(|c| !c.is_ascii_digit()).collect::<String>())).or_default() += 1 }
        }
    }
    eprintln!("ok={ok:?}");
    for (f, n) in fields { if n > 20 {eprintln!("{n:6} {f}");} }
}
