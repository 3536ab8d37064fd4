use serde_json::{Value, json};

use super::*;
use crate::translate::sse::{SseEvent, SseParser};
use crate::translate::stream::StreamTranslator;

fn to_chat(req: Value) -> Value {
    responses_request_to_chat(&req, "up").unwrap().chat
}

#[test]
fn a_string_input_and_instructions_become_system_and_user() {
    let chat = to_chat(
        json!({"model": "m", "instructions": "Be terse.", "input": "Hi",
        "max_output_tokens": 50, "temperature": 0.2, "store": false}),
    );
    assert_eq!(chat["model"], "up");
    assert_eq!(
        chat["messages"],
        json!([{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Hi"}])
    );
    assert_eq!(chat["max_completion_tokens"], 50);
    assert_eq!(chat["temperature"], 0.2);
    assert!(chat.get("store").is_none());
}

#[test]
fn function_calls_and_outputs_become_tool_calls_and_tool_messages() {
    let out = responses_request_to_chat(
        &json!({"model": "m", "input": [
            {"role": "user", "content": [{"type": "input_text", "text": "weather?"},
                {"type": "input_image", "image_url": "data:image/png;base64,AA==", "detail": "low"}]},
            {"type": "reasoning", "id": "rs_1", "summary": []},
            {"type": "function_call", "call_id": "c1", "name": "get", "arguments": "{\"a\":1}"},
            {"type": "function_call", "call_id": "c2", "name": "get", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
            {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "rain"}]},
        ],
        "tools": [{"type": "function", "name": "get", "parameters": {"type": "object"}, "strict": true}],
        "tool_choice": {"type": "function", "name": "get"},
        "text": {"format": {"type": "json_schema", "name": "w", "schema": {"type": "object"}, "strict": true}}}),
        "up",
    )
    .unwrap();
    let chat = out.chat;
    assert_eq!(
        chat["messages"][0]["content"][1]["image_url"]["detail"],
        "low"
    );
    assert_eq!(chat["messages"][1]["role"], "assistant");
    assert_eq!(chat["messages"][1]["tool_calls"][1]["id"], "c2");
    assert_eq!(
        chat["messages"][2],
        json!({"role": "tool", "tool_call_id": "c1", "content": "sunny"})
    );
    assert_eq!(chat["messages"][3]["content"], "rain");
    assert_eq!(chat["tools"][0]["function"]["name"], "get");
    assert_eq!(chat["tools"][0]["function"]["strict"], true);
    assert_eq!(
        chat["tool_choice"],
        json!({"type": "function", "function": {"name": "get"}})
    );
    assert_eq!(chat["response_format"]["json_schema"]["name"], "w");
    assert_eq!(out.dropped, vec!["input.reasoning"]);
}

#[test]
fn stateful_fields_and_built_in_tools_are_refused_by_name() {
    let e = responses_request_to_chat(
        &json!({"input": "x", "previous_response_id": "resp_1"}),
        "m",
    )
    .unwrap_err();
    assert_eq!(e.field, "previous_response_id");
    assert!(e.message.contains("stateless"), "{}", e.message);
    let e = responses_request_to_chat(
        &json!({"input": "x", "tools": [{"type": "web_search_preview"}]}),
        "m",
    )
    .unwrap_err();
    assert_eq!(e.field, "tools[0].type");
    assert!(e.message.contains("web_search_preview"), "{}", e.message);
    assert!(responses_request_to_chat(&json!({"input": 3}), "m").is_err());
    assert!(
        responses_request_to_chat(
            &json!({"input": [{"type": "item_reference", "id": "x"}]}),
            "m"
        )
        .is_err()
    );
}

#[test]
fn namespace_tools_are_offered_as_their_functions() {
    let chat = to_chat(json!({"input": "x", "tools": [
        {"type": "function", "name": "a", "parameters": {"type": "object"}},
        {"type": "namespace", "name": "ns", "description": "group", "tools": [
            {"name": "b", "parameters": {"type": "object"}},
            {"type": "function", "name": "c"}]}]}));
    let names: Vec<&str> = chat["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a", "b", "c"]);
}

#[test]
fn a_chat_answer_becomes_a_response_with_items_and_usage() {
    let r = chat_response_to_responses(
        &json!({"id": "chatcmpl-1", "created": 5, "choices": [{"index": 0, "finish_reason": "tool_calls",
            "message": {"role": "assistant", "content": "Let me look.", "tool_calls": [
                {"id": "call_9", "type": "function", "function": {"name": "get", "arguments": "{}"}}]}}],
            "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}}),
        "claude-x",
    )
    .unwrap();
    assert_eq!(r["id"], "resp_1");
    assert_eq!(r["object"], "response");
    assert_eq!(r["status"], "completed");
    assert_eq!(r["model"], "claude-x");
    assert_eq!(r["output"][0]["content"][0]["text"], "Let me look.");
    assert_eq!(r["output"][1]["type"], "function_call");
    assert_eq!(r["output"][1]["call_id"], "call_9");
    assert_eq!(r["usage"]["input_tokens"], 7);
    assert_eq!(r["usage"]["output_tokens"], 3);
    let cut = chat_response_to_responses(
        &json!({"choices": [{"finish_reason": "length", "message": {"content": "a"}}]}),
        "m",
    )
    .unwrap();
    assert_eq!(cut["status"], "incomplete");
    assert_eq!(cut["incomplete_details"]["reason"], "max_output_tokens");
}

fn data(v: Value) -> SseEvent {
    SseEvent {
        event: None,
        data: v.to_string(),
    }
}

fn run(t: &mut ChatToResponses, events: Vec<SseEvent>, end: bool) -> Vec<Value> {
    let mut bytes = Vec::new();
    for e in &events {
        bytes.extend(t.on_event(e));
    }
    if end {
        bytes.extend(t.finish());
    }
    let mut p = SseParser::new();
    let mut out = Vec::new();
    for b in bytes {
        for ev in p.feed(&b) {
            let v: Value = serde_json::from_str(&ev.data).unwrap();
            assert_eq!(ev.event.as_deref(), v["type"].as_str(), "event name = type");
            out.push(v);
        }
    }
    out
}

#[test]
fn a_text_stream_has_every_typed_event_in_order() {
    let mut t = ChatToResponses::new("m");
    let evs = run(
        &mut t,
        vec![
            data(
                json!({"id": "chatcmpl-7", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}),
            ),
            data(
                json!({"id": "chatcmpl-7", "choices": [{"index": 0, "delta": {"content": "Hel"}}]}),
            ),
            data(
                json!({"id": "chatcmpl-7", "choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": "stop"}]}),
            ),
            data(
                json!({"id": "chatcmpl-7", "choices": [], "usage": {"prompt_tokens": 4, "completion_tokens": 2}}),
            ),
            SseEvent {
                event: None,
                data: "[DONE]".into(),
            },
        ],
        false,
    );
    let types: Vec<&str> = evs.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    for (i, e) in evs.iter().enumerate() {
        assert_eq!(e["sequence_number"], i as u64);
    }
    let done = evs.last().unwrap();
    assert_eq!(done["response"]["output"][0]["content"][0]["text"], "Hello");
    assert_eq!(done["response"]["usage"]["input_tokens"], 4);
    assert_eq!(done["response"]["id"], "resp_7");
    assert!(t.is_done());
    assert_eq!(t.usage().output, 2);
}

#[test]
fn tool_call_fragments_become_argument_deltas_and_one_item() {
    let mut t = ChatToResponses::new("m");
    let evs = run(
        &mut t,
        vec![
            data(
                json!({"id": "c", "choices": [{"delta": {"tool_calls": [{"index": 0, "id": "call_1", "function": {"name": "get", "arguments": ""}}]}}]}),
            ),
            data(
                json!({"id": "c", "choices": [{"delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{\"a\""}}]}}]}),
            ),
            data(
                json!({"id": "c", "choices": [{"delta": {"tool_calls": [{"index": 0, "function": {"arguments": ":1}"}}]}, "finish_reason": "tool_calls"}]}),
            ),
        ],
        true,
    );
    let deltas: String = evs
        .iter()
        .filter(|e| e["type"] == "response.function_call_arguments.delta")
        .map(|e| e["delta"].as_str().unwrap())
        .collect();
    assert_eq!(deltas, "{\"a\":1}");
    let done = evs.last().unwrap();
    assert_eq!(done["type"], "response.completed");
    assert_eq!(done["response"]["output"][0]["arguments"], "{\"a\":1}");
    assert_eq!(done["response"]["output"][0]["call_id"], "call_1");
}

#[test]
fn an_early_end_or_an_error_is_response_failed_once() {
    let mut t = ChatToResponses::new("m");
    let evs = run(
        &mut t,
        vec![data(
            json!({"id": "c", "choices": [{"delta": {"content": "Hi"}}]}),
        )],
        true,
    );
    assert_eq!(evs.last().unwrap()["type"], "response.failed");
    assert!(t.finish().is_empty());
    let mut t = ChatToResponses::new("m");
    let evs = run(
        &mut t,
        vec![data(json!({"error": {"message": "boom"}}))],
        false,
    );
    assert_eq!(evs.last().unwrap()["response"]["error"]["message"], "boom");
}

const FUZZ: crate::translate::arbitrary_json::JsonFuzz =
    crate::translate::arbitrary_json::JsonFuzz {
        words: "model input instructions type message role user assistant system developer content \
            input_text output_text input_image image_url input_file file_data function_call \
            function_call_output call_id name arguments output tools function parameters \
            tool_choice auto required none text format json_schema json_object schema \
            reasoning effort max_output_tokens stream choices delta finish_reason tool_calls \
            usage prompt_tokens completion_tokens refusal id",
        small_integers: true,
    };

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    /// Arbitrary JSON never panics the request translator.
    #[test]
    fn arbitrary_requests_never_panic(v in FUZZ.value()) {
        let _ = responses_request_to_chat(&v, "m");
        let _ = chat_response_to_responses(&v, "m");
    }

    /// Text split into any pieces streams back whole, with monotonic sequence numbers.
    #[test]
    fn streamed_text_round_trips(pieces in proptest::collection::vec("[a-z ]{0,8}", 0..12)) {
        let mut t = ChatToResponses::new("m");
        let mut evs: Vec<SseEvent> = pieces.iter()
            .map(|p| data(json!({"id": "c", "choices": [{"delta": {"content": p}}]})))
            .collect();
        evs.push(data(json!({"id": "c", "choices": [{"delta": {}, "finish_reason": "stop"}]})));
        let out = run(&mut t, evs, true);
        let text: String = out.iter().filter(|e| e["type"] == "response.output_text.delta")
            .map(|e| e["delta"].as_str().unwrap().to_owned()).collect();
        proptest::prop_assert_eq!(&text, &pieces.concat());
        for (i, e) in out.iter().enumerate() {
            proptest::prop_assert_eq!(e["sequence_number"].as_u64(), Some(i as u64));
        }
        proptest::prop_assert_eq!(out.last().unwrap()["type"].as_str(), Some("response.completed"));
    }
}
