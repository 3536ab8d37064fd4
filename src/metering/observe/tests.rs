//! The observer against reading every event: usage, strip, estimates, bounds.

use super::*;

#[test]
fn openai_stream_usage_is_read_and_stripped_when_unasked() {
    let mut o = Observer::new(BodyFormat::OpenAiSse, true);
    let a = o.chunk(Bytes::from_static(
        b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}],\"usage\":null}\n\n",
    ));
    assert!(a.starts_with(b"data: "));
    let b = o.chunk(Bytes::from_static(
        b"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":2,\"total_tokens\":9}}\n\ndata: [DONE]\n\n",
    ));
    assert_eq!(&b[..], b"data: [DONE]\n\n");
    assert_eq!(
        o.reported(),
        Some(TokenCounts {
            input: 7,
            output: 2,
            cached: 0
        })
    );
    assert!(o.completed());
    // Reported usage: no estimate, so the text was never read.
    assert_eq!(o.take_delivered_text(), "");
}

#[test]
fn anthropic_stream_usage_takes_the_last_cumulative_output() {
    let mut o = Observer::new(BodyFormat::AnthropicSse, false);
    for e in [
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":10,\"cache_read_input_tokens\":4,\"output_tokens\":1}}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"ok\"}}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{},\"usage\":{\"output_tokens\":3}}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{},\"usage\":{\"output_tokens\":5}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    ] {
        o.chunk(Bytes::from(e));
    }
    assert_eq!(
        o.reported(),
        Some(TokenCounts {
            input: 14,
            output: 5,
            cached: 4
        })
    );
    assert!(o.completed());
}

#[test]
fn gemini_json_and_stream_usage_metadata_is_read() {
    let mut o = Observer::new(BodyFormat::GeminiJson, false);
    o.chunk(Bytes::from_static(
        br#"{"candidates":[{"content":{"parts":[{"text":"hi"}]}}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":2,"thoughtsTokenCount":1}}"#,
    ));
    assert_eq!(
        o.reported(),
        Some(TokenCounts {
            input: 5,
            output: 3,
            cached: 0
        })
    );
    let mut o = Observer::new(BodyFormat::GeminiSse, false);
    o.chunk(Bytes::from_static(
        b"data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]}}],\"usageMetadata\":{\"promptTokenCount\":4,\"candidatesTokenCount\":1}}\r\n\r\n",
    ));
    o.chunk(Bytes::from_static(
        b"data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"b\"}]},\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":4,\"candidatesTokenCount\":2}}\r\n\r\n",
    ));
    assert_eq!(
        o.reported(),
        Some(TokenCounts {
            input: 4,
            output: 2,
            cached: 0
        })
    );
    assert!(o.completed());
}

#[test]
fn json_answers_are_parsed_at_the_end() {
    let mut o = Observer::new(BodyFormat::OpenAiJson, false);
    o.chunk(Bytes::from_static(b"{\"usage\":{\"prompt_tokens\":3,"));
    o.chunk(Bytes::from_static(b"\"completion_tokens\":4}}"));
    assert_eq!(
        o.reported(),
        Some(TokenCounts {
            input: 3,
            output: 4,
            cached: 0
        })
    );
}

fn answer(format: BodyFormat, pad: usize, input: u64, output: u64) -> Vec<u8> {
    let text = "x".repeat(pad);
    match format {
        BodyFormat::OpenAiJson => serde_json::to_vec(&serde_json::json!({
            "id": "c", "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": input, "completion_tokens": output}
        }))
        .unwrap(),
        BodyFormat::AnthropicJson => serde_json::to_vec(&serde_json::json!({
            "id": "m", "type": "message", "content": [{"type": "text", "text": text}],
            "usage": {"input_tokens": input, "output_tokens": output}
        }))
        .unwrap(),
        BodyFormat::OpenAiSse => format!(
            "data: {}\n\ndata: {}\n\ndata: [DONE]\n\n",
            serde_json::json!({"choices": [{"index": 0, "delta": {"content": text}}]}),
            serde_json::json!({"choices": [], "usage": {"prompt_tokens": input, "completion_tokens": output}}),
        )
        .into_bytes(),
        _ => format!(
            "event: message_start\ndata: {}\n\nevent: content_block_delta\ndata: {}\n\nevent: message_delta\ndata: {}\n\nevent: message_stop\ndata: {{\"type\":\"message_stop\"}}\n\n",
            serde_json::json!({"type": "message_start", "message": {"usage": {"input_tokens": input, "output_tokens": 1}}}),
            serde_json::json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}),
            serde_json::json!({"type": "message_delta", "delta": {}, "usage": {"output_tokens": output}}),
        )
        .into_bytes(),
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
    /// Every answer with provider-reported usage yields that usage, whatever
    /// its size (past the old 4 MiB cut too), format and chunking.
    #[test]
    fn reported_usage_is_found_for_any_size_format_and_chunking(
        format in proptest::sample::select(vec![
            BodyFormat::OpenAiJson, BodyFormat::AnthropicJson,
            BodyFormat::OpenAiSse, BodyFormat::AnthropicSse,
        ]),
        pad in proptest::prop_oneof![0usize..4096, (4usize << 20)..(5usize << 20)],
        chunk in 1usize..70_000,
        input in 1u64..1_000_000,
        output in 1u64..1_000_000,
    ) {
        let bytes = answer(format, pad, input, output);
        let mut o = Observer::new(format, false);
        for c in bytes.chunks(chunk) {
            o.chunk(Bytes::copy_from_slice(c));
        }
        proptest::prop_assert_eq!(
            o.reported(),
            Some(TokenCounts { input, output, cached: 0 })
        );
    }
}

#[test]
fn responses_usage_is_read_from_the_completed_event_and_whole_answers() {
    let mut o = Observer::new(BodyFormat::ResponsesSse, false);
    o.chunk(Bytes::from_static(
        b"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"Hi\",\"sequence_number\":3}\n\n",
    ));
    assert!(!o.completed());
    o.chunk(Bytes::from_static(
        b"event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"usage\":{\"input_tokens\":9,\"input_tokens_details\":{\"cached_tokens\":2},\"output_tokens\":4}}}\n\n",
    ));
    assert!(o.completed());
    assert_eq!(
        o.reported(),
        Some(TokenCounts {
            input: 9,
            output: 4,
            cached: 2
        })
    );
    let mut o = Observer::new(BodyFormat::ResponsesJson, false);
    o.chunk(Bytes::from_static(
        br#"{"object":"response","output":[],"usage":{"input_tokens":5,"output_tokens":6}}"#,
    ));
    assert_eq!(
        o.reported(),
        Some(TokenCounts {
            input: 5,
            output: 6,
            cached: 0
        })
    );
}

#[test]
fn images_are_counted_and_their_usage_read() {
    let mut o = Observer::new(BodyFormat::OpenAiImages, false);
    o.chunk(Bytes::from_static(
        br#"{"created":1,"data":[{"b64_json":"AA=="},{"b64_json":"AA=="}],"#,
    ));
    o.chunk(Bytes::from_static(
        br#""usage":{"input_tokens":5,"output_tokens":272,"total_tokens":277}}"#,
    ));
    assert_eq!(o.images(), 2);
    assert_eq!(
        o.reported(),
        Some(TokenCounts {
            input: 5,
            output: 272,
            cached: 0
        })
    );
}

// Reading only the events that matter must give what reading every event
// gave: the same bytes out, the same usage, and, when no usage is reported,
// the same completion and the same text for the estimate.

/// The observer as it was: every event read on arrival.
fn read_every_event(
    format: BodyFormat,
    strip: bool,
    chunks: &[&[u8]],
) -> (Vec<u8>, Option<TokenCounts>, bool, String) {
    let mut r = Reading {
        format,
        reported: None,
        completed: false,
        text: String::new(),
        pending: Pending::default(),
    };
    let mut parser = SseParser::new();
    let mut out = Vec::new();
    for c in chunks {
        let mut drop_usage = false;
        for ev in parser.feed(c) {
            if format == BodyFormat::OpenAiSse && ev.data == "[DONE]" {
                r.completed = true;
            } else {
                drop_usage |= r.read(&ev.data);
            }
        }
        if drop_usage && strip {
            out.extend_from_slice(&strip_usage_events(&Bytes::copy_from_slice(c)));
        } else {
            out.extend_from_slice(c);
        }
    }
    (out, r.reported, r.completed, r.text)
}

fn observe(
    format: BodyFormat,
    strip: bool,
    chunks: &[&[u8]],
) -> (Vec<u8>, Option<TokenCounts>, bool, String) {
    let mut o = Observer::new(format, strip);
    let mut out = Vec::new();
    for c in chunks {
        out.extend_from_slice(&o.chunk(Bytes::copy_from_slice(c)));
    }
    let reported = o.reported();
    (out, reported, o.completed(), o.take_delivered_text())
}

fn assert_same_as_reading_every_event(format: BodyFormat, strip: bool, chunks: &[&[u8]]) {
    let want = read_every_event(format, strip, chunks);
    let got = observe(format, strip, chunks);
    assert_eq!(got.0, want.0, "bytes out, {format:?}");
    assert_eq!(got.1, want.1, "usage, {format:?}");
    if want.1.is_none() {
        assert_eq!(got.2, want.2, "completed, {format:?}");
        assert_eq!(got.3, want.3, "text, {format:?}");
    }
}

/// Pieces of text, some with escapes and some spelling the usage keys.
const PIECES: &[&str] = &[
    "Hello",
    " w\u{f6}rld \u{1F600}",
    "a \"quoted\" \\ line\n",
    "\"usage\":{\"prompt_tokens\":1}",
    "\"usageMetadata\": {",
    "",
    "{\"type\":\"message_delta\"}",
];

struct Shape<'a> {
    pieces: Vec<&'a str>,
    tool_args: Vec<&'a str>,
    usage: bool,
}

fn sse(events: &[(Option<&str>, serde_json::Value)], crlf: bool) -> String {
    let nl = if crlf { "\r\n" } else { "\n" };
    let mut out = String::new();
    for (name, data) in events {
        if let Some(name) = name {
            out.push_str(&format!("event: {name}{nl}"));
        }
        out.push_str(&format!("data: {data}{nl}{nl}"));
    }
    out
}

fn stream(format: BodyFormat, shape: &Shape<'_>) -> String {
    use serde_json::json;
    let mut ev: Vec<(Option<&str>, serde_json::Value)> = Vec::new();
    match format {
        BodyFormat::OpenAiSse => {
            let with = |mut v: serde_json::Value| {
                if shape.usage {
                    v["usage"] = serde_json::Value::Null;
                }
                v
            };
            ev.push((None, with(json!({"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]}))));
            for p in &shape.pieces {
                ev.push((None, with(json!({"id": "c", "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": null}]}))));
            }
            for (i, a) in shape.tool_args.iter().enumerate() {
                let call = if i == 0 {
                    json!({"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": a}})
                } else {
                    json!({"index": 0, "function": {"arguments": a}})
                };
                ev.push((None, with(json!({"id": "c", "choices": [{"index": 0, "delta": {"tool_calls": [call]}}]}))));
            }
            ev.push((None, with(json!({"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))));
            if shape.usage {
                ev.push((None, json!({"id": "c", "choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 7, "prompt_tokens_details": {"cached_tokens": 2}}})));
            }
            let mut s = sse(&ev, false);
            s.push_str("data: [DONE]\n\n");
            s
        }
        BodyFormat::AnthropicSse => {
            let mut message = json!({"id": "m", "type": "message", "content": []});
            if shape.usage {
                message["usage"] =
                    json!({"input_tokens": 9, "cache_read_input_tokens": 3, "output_tokens": 1});
            }
            ev.push((
                Some("message_start"),
                json!({"type": "message_start", "message": message}),
            ));
            ev.push((Some("content_block_start"), json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": "ignored"}})));
            ev.push((Some("ping"), json!({"type": "ping"})));
            for p in &shape.pieces {
                ev.push((Some("content_block_delta"), json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}})));
            }
            ev.push((
                Some("content_block_stop"),
                json!({"type": "content_block_stop", "index": 0}),
            ));
            for a in &shape.tool_args {
                ev.push((Some("content_block_delta"), json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": a}})));
            }
            if shape.usage {
                ev.push((Some("message_delta"), json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 6}})));
            }
            ev.push((Some("message_stop"), json!({"type": "message_stop"})));
            sse(&ev, false)
        }
        BodyFormat::ResponsesSse => {
            let all: String = shape.pieces.concat();
            ev.push((
                Some("response.created"),
                json!({"type": "response.created", "response": {"output": [], "usage": null}}),
            ));
            for p in &shape.pieces {
                ev.push((
                    Some("response.output_text.delta"),
                    json!({"type": "response.output_text.delta", "delta": p}),
                ));
            }
            ev.push((
                Some("response.output_text.done"),
                json!({"type": "response.output_text.done", "text": all}),
            ));
            for a in &shape.tool_args {
                ev.push((
                    Some("response.function_call_arguments.delta"),
                    json!({"type": "response.function_call_arguments.delta", "delta": a}),
                ));
            }
            let mut response = json!({"output": [{"content": [{"text": all}]}]});
            if shape.usage {
                response["usage"] = json!({"input_tokens": 8, "output_tokens": 5, "input_tokens_details": {"cached_tokens": 1}});
            }
            ev.push((
                Some("response.completed"),
                json!({"type": "response.completed", "response": response}),
            ));
            sse(&ev, false)
        }
        _ => {
            let n = shape.pieces.len();
            for (i, p) in shape.pieces.iter().enumerate() {
                let mut cand =
                    json!({"content": {"role": "model", "parts": [{"text": p}]}, "index": 0});
                if i + 1 == n {
                    cand["finishReason"] = json!("STOP");
                }
                let mut chunk = json!({"candidates": [cand], "modelVersion": "g"});
                if shape.usage {
                    chunk["usageMetadata"] = json!({"promptTokenCount": 4, "candidatesTokenCount": i + 1, "thoughtsTokenCount": 2});
                }
                ev.push((None, chunk));
            }
            sse(&ev, true)
        }
    }
}

const STREAMS: [BodyFormat; 4] = [
    BodyFormat::OpenAiSse,
    BodyFormat::AnthropicSse,
    BodyFormat::ResponsesSse,
    BodyFormat::GeminiSse,
];

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
    /// Any stream of any format, with or without usage, tool-call arguments
    /// or not, cut anywhere (the client left, the upstream stopped) and split
    /// anywhere: the same result as reading every event.
    #[test]
    fn reading_only_what_matters_equals_reading_every_event(
        format in proptest::sample::select(STREAMS.to_vec()),
        pieces in proptest::collection::vec(proptest::sample::select(PIECES), 0..8),
        tool_args in proptest::collection::vec(proptest::sample::select(PIECES), 0..3),
        usage in proptest::bool::ANY,
        strip in proptest::bool::ANY,
        cut in proptest::option::of(proptest::prelude::any::<proptest::sample::Index>()),
        splits in proptest::collection::vec(proptest::prelude::any::<proptest::sample::Index>(), 0..6),
    ) {
        let shape = Shape { pieces, tool_args, usage };
        let whole = stream(format, &shape);
        let bytes = match cut {
            Some(at) => &whole.as_bytes()[..at.index(whole.len() + 1)],
            None => whole.as_bytes(),
        };
        let mut at: Vec<usize> = splits.iter().map(|i| i.index(bytes.len() + 1)).collect();
        at.sort_unstable();
        let mut chunks = Vec::new();
        let mut from = 0;
        for to in at {
            chunks.push(&bytes[from..to]);
            from = to;
        }
        chunks.push(&bytes[from..]);
        assert_same_as_reading_every_event(format, strip, &chunks);
    }
}

#[test]
fn streams_past_the_pending_cap_equal_reading_every_event() {
    // 2-4 MiB of events: kept events are read a cap's worth at a time.
    let long = " some text for the estimate, long enough per event";
    for format in STREAMS {
        for usage in [false, true] {
            let shape = Shape {
                pieces: vec![long; 2 * MAX_PENDING / 100],
                tool_args: vec!["{\"a\":", "1}"],
                usage,
            };
            let whole = stream(format, &shape);
            let chunks: Vec<&[u8]> = whole.as_bytes().chunks(8192).collect();
            assert_same_as_reading_every_event(format, true, &chunks);
            // A cut stream: the estimate's text is all the delivered text.
            let cut = &whole.as_bytes()[..whole.len() - 100];
            assert_same_as_reading_every_event(format, false, &[cut]);
        }
    }
    // One event larger than the cap on its own is read at once.
    let huge = "x".repeat(MAX_PENDING + 1);
    for format in STREAMS {
        let shape = Shape {
            pieces: vec!["a", &huge, "b"],
            tool_args: vec![],
            usage: false,
        };
        let whole = stream(format, &shape);
        assert_same_as_reading_every_event(format, false, &[whole.as_bytes()]);
    }
}

#[test]
fn text_events_are_kept_unread_and_bounded_and_dropped_once_usage_is_known() {
    let piece = "0123456789".repeat(20);
    let shape = Shape {
        pieces: vec![&piece; 2 * MAX_PENDING / piece.len()],
        tool_args: vec![],
        usage: true,
    };
    for format in STREAMS {
        let whole = stream(format, &shape);
        let mut o = Observer::new(format, false);
        let mut peak = 0;
        for c in whole.as_bytes().chunks(4096) {
            o.chunk(Bytes::copy_from_slice(c));
            peak = peak.max(o.reading.pending.bytes.capacity());
        }
        assert!(peak <= MAX_PENDING, "{format:?}: {peak}");
        match format {
            // Usage came first (message_start): nothing was kept.
            BodyFormat::AnthropicSse => assert_eq!(peak, 0),
            // Usage came last and was read: the kept text went with it.
            BodyFormat::OpenAiSse | BodyFormat::ResponsesSse => {
                assert!(peak > 0 && o.reading.pending.is_empty(), "{format:?}");
            }
            // Gemini: kept to the end, where only the last usage is read.
            _ => assert!(!o.reading.pending.is_empty()),
        }
        assert!(o.reported().is_some());
        assert!(o.reading.pending.bytes.capacity() == 0);
    }
    // Mid-stream, an OpenAI text chunk is kept, not read.
    let mut o = Observer::new(BodyFormat::OpenAiSse, false);
    o.chunk(Bytes::from_static(
        b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}],\"usage\":null}\n\n",
    ));
    assert!(o.reading.text.is_empty() && !o.reading.pending.is_empty());
    assert_eq!(o.reported(), None);
    assert_eq!(o.take_delivered_text(), "Hi");
}

#[test]
fn a_usage_key_is_found_only_with_an_object_value() {
    let f = &*USAGE_KEY;
    assert!(has_object_value(f, r#"{"choices":[],"usage" : {"a":1}}"#));
    assert!(has_object_value(f, r#"{"usage":null,"x":{"usage":{}}}"#));
    assert!(has_object_value(f, r#"{"choices":[],"usage":[]}"#));
    assert!(!has_object_value(f, r#"{"choices":[],"usage":null}"#));
    assert!(!has_object_value(f, r#"{"c":"\"usage\":{","usage":7}"#));
    assert!(!has_object_value(f, r#"{"k":"usage","v":{}}"#));
    assert!(!has_object_value(f, r#"{"usage""#));
}
