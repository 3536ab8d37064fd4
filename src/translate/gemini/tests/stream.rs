//! `GeminiToChat` on recorded-style `alt=sse` streams, fed through [`SseParser`] at
//! awkward splits. The output is never compared as text: it is parsed back and
//! rebuilt the way an OpenAI client would, checking the chunk-stream rules on the
//! way (wire-formats.md §1, §5.4).

use serde_json::{Value, json};

use crate::translate::gemini::GeminiToChat;
use crate::translate::sse::SseParser;
use crate::translate::stream::replay::{self, ChatResult, run};
use crate::translate::stream::{StreamTranslator, StreamUsage, UPSTREAM_ERROR, UPSTREAM_TIMEOUT};

const MODEL: &str = "gemini-via-tollgate";

/// `data: <json>\r\n\r\n` per event, as Gemini sends them (CRLF, no terminator).
fn gemini_stream(events: &[Value]) -> String {
    events
        .iter()
        .map(|e| format!("data: {e}\r\n\r\n"))
        .collect()
}

/// [`replay::rebuild_chat`] (one id, the role first and once, tool indices from 0,
/// one finish reason on an empty delta, usage on every chunk iff asked, nothing after
/// the end), plus Gemini's own rules: the caller's model on every chunk, and every
/// tool call whole in one delta, its arguments a JSON object.
pub(super) fn rebuild_chat(out: &[u8], include_usage: bool) -> ChatResult {
    let r = replay::rebuild_chat(out, include_usage);
    if !r.id.is_empty() {
        assert_eq!(r.model, MODEL);
    }
    for call in &r.tools {
        assert_eq!(call.deltas, 1, "a call arrives whole: {call:?}");
        let parsed: Value = serde_json::from_str(&call.arguments).expect("whole arguments");
        assert!(parsed.is_object(), "{}", call.arguments);
    }
    r
}

fn text_event(text: &str) -> Value {
    json!({"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}],
        "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9},
        "modelVersion": "gemini-2.5-flash", "responseId": "r_1"})
}

fn last_event(parts: Value, finish: &str) -> Value {
    json!({"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": finish, "index": 0}],
        "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 6, "thoughtsTokenCount": 30,
            "totalTokenCount": 45, "cachedContentTokenCount": 2},
        "modelVersion": "gemini-2.5-flash", "responseId": "r_1"})
}

/// The same stream at several awkward split sizes must rebuild to the same result.
fn translate(events: &[Value], include_usage: bool) -> (ChatResult, StreamUsage) {
    let input = gemini_stream(events);
    let mut results = Vec::new();
    for piece in [1, 2, 3, 7, 64, input.len()] {
        let mut t = GeminiToChat::new(MODEL, include_usage);
        let out = run(&mut t, input.as_bytes(), piece);
        let mut r = rebuild_chat(&out, include_usage);
        // Generated call ids differ per run.
        for tool in &mut r.tools {
            if tool.id.starts_with("call_") {
                tool.id = "call_*".into();
            }
        }
        results.push((r, t.usage()));
    }
    let first = results.remove(0);
    for other in results {
        assert_eq!(first, other, "the split changed the result");
    }
    first
}

#[test]
fn text_with_usage() {
    let events = [
        text_event("Hel"),
        text_event("lo \"wörld\"\n"),
        last_event(json!([{"text": "!"}]), "STOP"),
    ];
    let (r, usage) = translate(&events, true);
    assert_eq!(r.id, "chatcmpl-r_1");
    assert_eq!(r.content, "Hello \"wörld\"\n!");
    assert_eq!(r.finish_reason.as_deref(), Some("stop"));
    assert!(r.done && r.error.is_none() && r.tools.is_empty());
    assert_eq!(
        r.usage,
        Some(
            json!({"prompt_tokens": 9, "completion_tokens": 36, "total_tokens": 45,
            "prompt_tokens_details": {"cached_tokens": 2},
            "completion_tokens_details": {"reasoning_tokens": 30}})
        )
    );
    let want = StreamUsage {
        input: 7,
        output: 36,
        cache_read: 2,
        cache_write: 0,
    };
    assert_eq!(usage, want);
}

#[test]
fn usage_is_not_sent_unasked_but_still_metered() {
    let events = [text_event("Hi"), last_event(json!([]), "STOP")];
    let (r, usage) = translate(&events, false);
    assert!(r.done && r.usage.is_none());
    assert_eq!(usage.output, 36);
}

#[test]
fn thoughts_are_dropped_and_calls_arrive_whole() {
    let events = [
        json!({"candidates": [{"content": {"parts": [{"text": "**Planning**", "thought": true}]}}],
            "responseId": "r_1"}),
        text_event("Checking."),
        last_event(
            json!([
                {"functionCall": {"name": "now", "args": {"tz": "Europe/Istanbul", "n": [1, 2]}},
                    "thoughtSignature": "CiQB0e2K"},
                {"functionCall": {"id": "fc_2", "name": "ping"}},
            ]),
            "STOP",
        ),
    ];
    let (r, _) = translate(&events, false);
    assert_eq!(r.content, "Checking.");
    assert_eq!(r.finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(r.tools.len(), 2);
    assert_eq!(r.tools[0].id, "call_*", "a fresh id, signature packed in");
    assert_eq!(r.tools[0].name, "now");
    let args: Value = serde_json::from_str(&r.tools[0].arguments).unwrap();
    assert_eq!(args, json!({"tz": "Europe/Istanbul", "n": [1, 2]}));
    let second = &r.tools[1];
    assert_eq!(
        (
            second.id.as_str(),
            second.name.as_str(),
            second.arguments.as_str()
        ),
        ("fc_2", "ping", "{}")
    );

    let mut t = GeminiToChat::new(MODEL, false);
    let out = run(&mut t, gemini_stream(&events).as_bytes(), 4096);
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("__thought__CiQB0e2K"), "{text}");
}

#[test]
fn the_last_finish_reason_wins_and_waits_for_eof() {
    // An early STOP (seen from some proxies) must not end the turn before the call.
    let early_stop = json!({"candidates": [{"content": {"parts": [{"text": "a"}]}, "finishReason": "STOP"}],
        "responseId": "r_1"});
    let events = [
        early_stop,
        last_event(json!([{"functionCall": {"name": "f", "args": {}}}]), "STOP"),
    ];
    let (r, _) = translate(&events, false);
    assert_eq!(r.finish_reason.as_deref(), Some("tool_calls"));
    let events = [text_event("a"), last_event(json!([]), "MAX_TOKENS")];
    assert_eq!(
        translate(&events, false).0.finish_reason.as_deref(),
        Some("length")
    );
    let events = [text_event("a"), last_event(json!([]), "SAFETY")];
    assert_eq!(
        translate(&events, false).0.finish_reason.as_deref(),
        Some("content_filter")
    );
}

#[test]
fn a_blocked_prompt_ends_with_content_filter() {
    let events = [
        json!({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
        "usageMetadata": {"promptTokenCount": 5, "totalTokenCount": 5}, "responseId": "r_9"}),
    ];
    let (r, usage) = translate(&events, true);
    assert_eq!(r.id, "chatcmpl-r_9");
    assert_eq!(r.content, "");
    assert_eq!(r.finish_reason.as_deref(), Some("content_filter"));
    assert!(r.done);
    assert_eq!(usage.input, 5);
}

#[test]
fn eof_before_a_finish_reason_is_an_error_not_a_finish() {
    let (r, _) = translate(&[text_event("Hel"), text_event("lo")], true);
    assert_eq!(r.content, "Hello");
    assert!(!r.done && r.finish_reason.is_none());
    assert_eq!(r.error.unwrap()["code"], UPSTREAM_ERROR);
    let (r, _) = translate(&[], false);
    assert!(r.error.is_some() && r.id.is_empty());
}

#[test]
fn an_error_event_ends_the_stream() {
    let events = [
        text_event("partial"),
        json!({"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}),
        last_event(json!([{"text": "never"}]), "STOP"),
    ];
    let (r, _) = translate(&events, false);
    assert_eq!(r.content, "partial");
    let error = r.error.unwrap();
    assert_eq!(error["code"], "upstream_unavailable");
    assert!(error["message"].as_str().unwrap().contains("overloaded"));
    // Wrapped in an array, as some proxies send it.
    let input = "data: [{\"error\":{\"code\":504,\"message\":\"slow\",\"status\":\"DEADLINE_EXCEEDED\"}}]\n\n";
    let mut t = GeminiToChat::new(MODEL, false);
    let r = rebuild_chat(&run(&mut t, input.as_bytes(), 5), false);
    assert_eq!(r.error.unwrap()["code"], UPSTREAM_TIMEOUT);
}

#[test]
fn an_unreadable_event_ends_the_stream() {
    for bad in [
        "data: {not json\n\n",
        "data: {\"candidates\": \"x\"}\n\n",
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"args\":{}}}]}}]}\n\n",
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"f\",\"args\":[1]}}]}}]}\n\n",
        "data: {\"usageMetadata\":{\"promptTokenCount\":-1}}\n\n",
    ] {
        let input = format!("data: {}\n\n{bad}", text_event("ok"));
        let mut t = GeminiToChat::new(MODEL, false);
        let r = rebuild_chat(&run(&mut t, input.as_bytes(), 3), false);
        assert_eq!(r.content, "ok", "{bad}");
        assert_eq!(r.error.expect(bad)["code"], UPSTREAM_ERROR);
    }
}

#[test]
fn fail_ends_the_stream_with_the_given_code() {
    let mut t = GeminiToChat::new(MODEL, true);
    let mut parser = SseParser::new();
    let mut out = Vec::new();
    for ev in parser.feed(gemini_stream(&[text_event("Hi")]).as_bytes()) {
        out.extend(t.on_event(&ev).concat());
    }
    out.extend(t.fail(UPSTREAM_TIMEOUT, "no bytes for 60s").concat());
    assert!(t.is_done() && t.finish().is_empty());
    let r = rebuild_chat(&out, true);
    assert_eq!(r.content, "Hi");
    assert_eq!(r.error.unwrap()["code"], UPSTREAM_TIMEOUT);
}

#[test]
fn other_candidates_are_ignored_and_a_done_marker_ends_cleanly() {
    let events = [json!({"candidates": [
        {"content": {"parts": [{"text": "B"}]}, "index": 1, "finishReason": "MAX_TOKENS"},
        {"content": {"parts": [{"text": "A"}]}, "index": 0, "finishReason": "STOP"},
    ]})];
    let mut input = gemini_stream(&events);
    input.push_str("data: [DONE]\n\n");
    let mut t = GeminiToChat::new(MODEL, false);
    let r = rebuild_chat(&run(&mut t, input.as_bytes(), 10), false);
    assert_eq!(r.content, "A");
    assert_eq!(r.finish_reason.as_deref(), Some("stop"));
    assert!(r.done);
}
