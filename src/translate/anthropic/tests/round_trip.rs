//! OpenAI → Anthropic → OpenAI keeps the conversation: text, tool calls, tool results.

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::{to_anthropic, to_openai};

/// One user turn and the assistant's answer: text, or calls with their results.
#[derive(Debug, Clone)]
enum Reply {
    Text(String),
    Calls(Option<String>, Vec<(String, Map<String, Value>, String)>),
}

/// Non-blank text without trailing whitespace (a final assistant turn is trimmed).
fn text() -> impl Strategy<Value = String> {
    "[A-Za-z0-9]([A-Za-z0-9 .,!?]{0,22}[A-Za-z0-9.!?])?"
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
