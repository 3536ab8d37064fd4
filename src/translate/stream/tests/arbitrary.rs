//! Arbitrary upstream event sequences: the translators must never panic, and what
//! they send must still follow the caller's dialect (checked by the rebuilders).

use proptest::prelude::*;
use serde_json::{Value, json};

use super::rebuild_message;
use crate::translate::sse::SseEvent;
use crate::translate::stream::replay::rebuild_chat;
use crate::translate::stream::{AnthropicToChat, ChatToAnthropic, StreamTranslator};

/// Keys and strings both dialects use, so random objects reach deep paths.
const WORDS: &[&str] = &[
    "type",
    "index",
    "id",
    "name",
    "text",
    "delta",
    "usage",
    "message",
    "error",
    "content",
    "content_block",
    "partial_json",
    "stop_reason",
    "choices",
    "finish_reason",
    "tool_calls",
    "function",
    "arguments",
    "tool_use",
    "text_delta",
    "input_json_delta",
    "",
    "stop",
    "{\"a\":",
];

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(WORDS).prop_map(str::to_owned),
        ".{0,6}",
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (0u64..4).prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        word().prop_map(Value::from),
    ]
}

fn any_json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map(word(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn maybe<T: std::fmt::Debug + Clone + 'static>(
    s: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<Option<T>> {
    proptest::option::of(s).boxed()
}

/// One object with every field any Anthropic event reads, valued at random.
fn anthropic_like() -> impl Strategy<Value = Value> {
    let kind = proptest::sample::select(&[
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
        "ping",
        "error",
    ]);
    let block_kind = proptest::sample::select(&["text", "tool_use", "thinking", "server_tool_use"]);
    let delta_kind = proptest::sample::select(&[
        "text_delta",
        "input_json_delta",
        "thinking_delta",
        "signature_delta",
    ]);
    (kind, 0u64..4, block_kind, delta_kind, maybe(word()), maybe(0u64..1000), maybe(word()))
        .prop_map(|(kind, index, block, delta, text, tokens, reason)| {
            json!({"type": kind, "index": index,
                "message": {"id": "msg_1", "usage": {"input_tokens": tokens, "cache_read_input_tokens": tokens}},
                "content_block": {"type": block, "id": "toolu_1", "name": "f", "text": text, "input": {}},
                "delta": {"type": delta, "text": text, "partial_json": text, "stop_reason": reason},
                "usage": {"output_tokens": tokens},
                "error": {"type": "overloaded_error", "message": text}})
        })
}

/// A chat chunk with random content, tool-call pieces and finish reasons.
fn chat_like() -> impl Strategy<Value = Value> {
    let tool = (maybe(0u64..3), maybe(word()), maybe(word()), maybe(word()))
        .prop_map(|(index, id, name, args)| {
            json!({"index": index, "id": id, "function": {"name": name, "arguments": args}})
        });
    let finish = maybe(proptest::sample::select(&[
        "",
        "stop",
        "length",
        "tool_calls",
    ]));
    let usage = maybe((0u64..100, 0u64..200, any::<u64>()));
    (
        maybe(0u64..2),
        maybe(word()),
        proptest::collection::vec(tool, 0..3),
        finish,
        usage,
        proptest::bool::weighted(0.03),
    )
        .prop_map(|(index, content, tools, finish, usage, error)| {
            let mut chunk = json!({"id": "chatcmpl-1",
                "choices": [{"index": index, "delta": {"content": content, "tool_calls": tools},
                    "finish_reason": finish}]});
            if let Some((cached, prompt, completion)) = usage {
                chunk["usage"] = json!({"prompt_tokens": prompt, "completion_tokens": completion,
                    "prompt_tokens_details": {"cached_tokens": cached}});
            }
            if error {
                chunk["error"] = json!({"message": "boom"});
            }
            chunk
        })
}

fn event(shaped: impl Strategy<Value = Value> + 'static) -> impl Strategy<Value = SseEvent> {
    let name = maybe(prop_oneof![
        proptest::sample::select(&[
            "message_start",
            "content_block_start",
            "content_block_delta",
            "message_delta",
            "message_stop",
            "error",
            "ping",
        ])
        .prop_map(str::to_owned),
        word(),
    ]);
    let data = prop_oneof![
        6 => shaped.prop_map(|v| v.to_string()),
        2 => any_json().prop_map(|v| v.to_string()),
        1 => Just("[DONE]".to_owned()),
        1 => ".{0,12}",
    ];
    (name, data).prop_map(|(event, data)| SseEvent { event, data })
}

/// Runs the events, then EOF or a failure; returns everything sent.
fn drive(t: &mut dyn StreamTranslator, events: &[SseEvent], fail: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for ev in events {
        let was_done = t.is_done();
        let frames = t.on_event(ev);
        assert!(!was_done || frames.is_empty(), "output after the end");
        out.extend(frames.concat());
    }
    let end = if fail {
        t.fail("upstream_timeout", "silence")
    } else {
        t.finish()
    };
    out.extend(end.concat());
    assert!(t.is_done());
    out
}

proptest! {
    #[test]
    fn anthropic_to_chat_survives_anything(
        events in proptest::collection::vec(event(anthropic_like()), 0..24),
        include_usage: bool,
        fail: bool,
    ) {
        let mut t = AnthropicToChat::new("m", include_usage);
        let out = drive(&mut t, &events, fail);
        let r = rebuild_chat(&out, include_usage);
        prop_assert!(r.done != r.error.is_some(), "exactly one ending: {:?}", r);
    }

    #[test]
    fn chat_to_anthropic_survives_anything(
        events in proptest::collection::vec(event(chat_like()), 0..24),
        fail: bool,
    ) {
        let mut t = ChatToAnthropic::new("m");
        let out = drive(&mut t, &events, fail);
        let r = rebuild_message(&out);
        prop_assert!(r.stopped != r.error.is_some(), "exactly one ending: {:?}", r);
    }
}
