//! Reads token usage out of the response the caller receives, whatever produced
//! it (a provider's own bytes or a translator's), and counts the text delivered so
//! a stream cut short can still be billed for what was sent.
//!
//! Streams are parsed event by event as they pass, each event into the borrowed
//! shape of its format (`usage_wire`; no `Value` tree). The bytes are forwarded
//! untouched (except that an OpenAI usage chunk the caller did not ask for is
//! removed: see [`UsagePlan`], the one place that both asks upstream for the chunk
//! and decides to strip it). Whole JSON answers go through a `UsageScanner`, which
//! finds the top-level `usage` whatever the answer's size; it is read at the end
//! into the provider's usage struct. Only answers that report no usage are kept
//! (up to `MAX_JSON` bytes) to estimate from their text.

use bytes::{Bytes, BytesMut};
use serde_json::Value;

use super::meter::TokenCounts;
use super::usage_scan::UsageScanner;
use super::usage_wire as wire;
use crate::translate::sse::{SseEvent, SseParser};

/// The most of a whole answer kept for a text estimate when it reports no usage.
const MAX_JSON: usize = 4 * 1024 * 1024;

/// Whether to ask an OpenAI-dialect upstream for the stream usage chunk, and
/// whether to remove it before the caller sees it. Decided once, from whether the
/// request is metered and whether the caller asked for the chunk itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsagePlan {
    /// The stream carries the usage chunk: ask the upstream for it
    /// (`stream_options.include_usage`), or have the translator write it.
    pub include: bool,
    /// Remove the usage chunk from the caller's stream.
    pub strip: bool,
}

impl UsagePlan {
    /// `metered`: usage is recorded for this request; `caller_asked`: the caller's
    /// own `stream_options.include_usage`; `openai_stream`: the caller-facing body
    /// is an OpenAI event stream. Metering adds the chunk and removes it again;
    /// with metering off the caller gets exactly what it asked for.
    pub fn new(metered: bool, caller_asked: bool, openai_stream: bool) -> Self {
        UsagePlan {
            include: openai_stream && (caller_asked || metered),
            strip: openai_stream && metered && !caller_asked,
        }
    }
}

/// The shape of the caller-facing body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    OpenAiJson,
    OpenAiSse,
    AnthropicJson,
    AnthropicSse,
    /// Gemini's native `GenerateContentResponse`: usage in `usageMetadata`.
    GeminiJson,
    /// Gemini's `alt=sse` stream: each chunk may carry `usageMetadata` (cumulative).
    GeminiSse,
    /// `/v1/images/generations`: counted per image; usage read if reported.
    OpenAiImages,
    /// `/v1/responses`, whole: `usage.input_tokens` / `output_tokens`.
    ResponsesJson,
    /// `/v1/responses`, streamed: usage in `response.completed` (or
    /// `response.incomplete` / `response.failed`).
    ResponsesSse,
    /// No tokens (errors).
    Opaque,
}

impl BodyFormat {
    /// An event stream (the caller's response is SSE), whatever its dialect.
    pub fn is_stream(self) -> bool {
        matches!(
            self,
            BodyFormat::OpenAiSse
                | BodyFormat::AnthropicSse
                | BodyFormat::GeminiSse
                | BodyFormat::ResponsesSse
        )
    }
}

pub struct Observer {
    format: BodyFormat,
    strip_usage_chunk: bool,
    parser: SseParser,
    scanner: UsageScanner,
    json: BytesMut,
    /// The answer did not fit in `json`: no text estimate from it.
    json_cut: bool,
    reported: Option<TokenCounts>,
    /// Text and tool-argument characters delivered, for estimates.
    pub delivered_text: String,
    /// The stream reached its own clean end (`[DONE]`, `message_stop`).
    pub completed: bool,
}

impl Observer {
    pub fn new(format: BodyFormat, strip_usage_chunk: bool) -> Self {
        Observer {
            format,
            strip_usage_chunk,
            parser: SseParser::new(),
            scanner: if format == BodyFormat::GeminiJson {
                UsageScanner::for_key(b"usageMetadata")
            } else {
                UsageScanner::new()
            },
            json: BytesMut::new(),
            json_cut: false,
            reported: None,
            delivered_text: String::new(),
            completed: false,
        }
    }

    /// Sees a chunk on its way to the caller; returns what to send instead.
    pub fn chunk(&mut self, chunk: Bytes) -> Bytes {
        match self.format {
            BodyFormat::OpenAiJson
            | BodyFormat::AnthropicJson
            | BodyFormat::OpenAiImages
            | BodyFormat::ResponsesJson
            | BodyFormat::GeminiJson => {
                self.scanner.feed(&chunk);
                if !self.json_cut && self.json.len() + chunk.len() <= MAX_JSON {
                    self.json.extend_from_slice(&chunk);
                } else {
                    self.json_cut = true;
                    self.json = BytesMut::new();
                }
                chunk
            }
            BodyFormat::Opaque => chunk,
            BodyFormat::OpenAiSse
            | BodyFormat::AnthropicSse
            | BodyFormat::ResponsesSse
            | BodyFormat::GeminiSse => {
                let events = self.parser.feed(&chunk);
                let mut drop_usage = false;
                for ev in &events {
                    drop_usage |= self.event(ev);
                }
                if drop_usage && self.strip_usage_chunk {
                    strip_usage_events(&chunk)
                } else {
                    chunk
                }
            }
        }
    }

    /// Handles one event; true if it is an OpenAI usage-only chunk. Each event is
    /// read into the borrowed shape of its format (`usage_wire`), never a `Value`.
    fn event(&mut self, ev: &SseEvent) -> bool {
        if self.format == BodyFormat::OpenAiSse && ev.data == "[DONE]" {
            self.completed = true;
            return false;
        }
        let out = &mut self.delivered_text;
        match self.format {
            BodyFormat::OpenAiSse => {
                let Ok(c) = serde_json::from_str::<wire::ChatChunk>(&ev.data) else {
                    return false;
                };
                for choice in c.choices.iter().flatten() {
                    if let Some(delta) = &choice.delta {
                        delta.content.push_to(out);
                        for tc in delta.tool_calls.iter().flatten() {
                            if let Some(f) = &tc.function {
                                f.arguments.push_to(out);
                            }
                        }
                    }
                }
                if let Some(u) = &c.usage {
                    self.reported = Some(u.counts());
                    return c.is_usage_only();
                }
                false
            }
            BodyFormat::AnthropicSse => {
                let Ok(e) = serde_json::from_str::<wire::AnthropicEvent>(&ev.data) else {
                    return false;
                };
                match e.kind.as_str() {
                    Some("message_start") => {
                        if let Some(u) = e.message.as_ref().and_then(|m| m.usage.as_ref()) {
                            self.reported = Some(u.counts());
                        }
                    }
                    Some("content_block_delta") => {
                        if let Some(d) = &e.delta {
                            d.text.push_to(out);
                            d.partial_json.push_to(out);
                        }
                    }
                    Some("message_delta") => {
                        let mut u = self.reported.unwrap_or_default();
                        if let Some(usage) = &e.usage {
                            if let Some(output) = usage.output() {
                                // Cumulative: take the last, never sum.
                                u.output = output;
                            }
                            let more = usage.counts();
                            if more.input > 0 {
                                u.input = more.input;
                                u.cached = more.cached;
                            }
                        }
                        self.reported = Some(u);
                    }
                    Some("message_stop") => self.completed = true,
                    _ => {}
                }
                false
            }
            BodyFormat::ResponsesSse => {
                let Ok(e) = serde_json::from_str::<wire::ResponsesEvent>(&ev.data) else {
                    return false;
                };
                match e.kind.as_str() {
                    Some(
                        "response.output_text.delta" | "response.function_call_arguments.delta",
                    ) => e.delta.push_to(out),
                    Some(
                        kind @ ("response.completed" | "response.incomplete" | "response.failed"),
                    ) => {
                        if let Some(u) = e.response.as_ref().and_then(|r| r.usage.as_ref()) {
                            self.reported = Some(u.counts());
                        }
                        self.completed = kind != "response.failed";
                    }
                    _ => {}
                }
                false
            }
            BodyFormat::GeminiSse => {
                let Ok(c) = serde_json::from_str::<wire::GeminiChunk>(&ev.data) else {
                    return false;
                };
                for cand in c.candidates.iter().flatten() {
                    let parts = cand.content.as_ref().and_then(|c| c.parts.as_ref());
                    for part in parts.into_iter().flatten() {
                        part.text.push_to(out);
                    }
                    // Gemini streams just end: a finish reason is their clean end.
                    if cand.finish_reason.as_str().is_some_and(|r| !r.is_empty()) {
                        self.completed = true;
                    }
                }
                if let Some(u) = &c.usage_metadata {
                    // Cumulative: the last wins.
                    self.reported = Some(u.counts());
                }
                false
            }
            _ => false,
        }
    }

    /// Usage the provider reported, once the body has ended.
    pub fn reported(&mut self) -> Option<TokenCounts> {
        if !matches!(
            self.format,
            BodyFormat::OpenAiJson
                | BodyFormat::AnthropicJson
                | BodyFormat::OpenAiImages
                | BodyFormat::ResponsesJson
                | BodyFormat::GeminiJson
        ) || self.reported.is_some()
        {
            return self.reported;
        }
        let found = self
            .scanner
            .usage_bytes()
            .filter(|b| b.trim_ascii_start().starts_with(b"{"));
        match found {
            Some(b) => {
                self.completed = true;
                self.reported = match self.format {
                    BodyFormat::OpenAiJson => {
                        wire::parse_usage::<wire::OpenAiUsage>(b).map(|u| u.counts())
                    }
                    BodyFormat::OpenAiImages => wire::parse_usage::<wire::InputOutputUsage>(b)
                        .and_then(|u| u.image_counts()),
                    BodyFormat::ResponsesJson => {
                        wire::parse_usage::<wire::InputOutputUsage>(b).map(|u| u.counts())
                    }
                    BodyFormat::GeminiJson => {
                        wire::parse_usage::<wire::GeminiUsage>(b).map(|u| u.counts())
                    }
                    _ => wire::parse_usage::<wire::AnthropicUsage>(b).map(|u| u.counts()),
                };
            }
            // Rare: no usage reported. Read the answer's text for an estimate.
            None if !self.json_cut => self.estimate_text(),
            None => {}
        }
        self.reported
    }

    /// The text of a whole answer that reported no usage, for an estimate.
    fn estimate_text(&mut self) {
        let Ok(v) = serde_json::from_slice::<Value>(&self.json) else {
            return;
        };
        self.completed = true;
        push_str(
            &mut self.delivered_text,
            &v["choices"][0]["message"]["content"],
        );
        for block in v["content"].as_array().into_iter().flatten() {
            push_str(&mut self.delivered_text, &block["text"]);
        }
        for item in v["output"].as_array().into_iter().flatten() {
            push_str(&mut self.delivered_text, &item["arguments"]);
            for part in item["content"].as_array().into_iter().flatten() {
                push_str(&mut self.delivered_text, &part["text"]);
            }
        }
        for part in v
            .pointer("/candidates/0/content/parts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            push_str(&mut self.delivered_text, &part["text"]);
        }
    }

    /// Images delivered (`/v1/images/generations`), 0 for other formats.
    pub fn images(&self) -> u64 {
        match self.format {
            BodyFormat::OpenAiImages => self.scanner.data_items(),
            _ => 0,
        }
    }
}

fn push_str(out: &mut String, v: &Value) {
    if let Some(s) = v.as_str() {
        out.push_str(s);
    }
}

/// `chunk` without its `"choices":[]` usage events (rarely more than one event).
fn strip_usage_events(chunk: &Bytes) -> Bytes {
    let text = String::from_utf8_lossy(chunk);
    let mut out = String::with_capacity(text.len());
    for block in text.split_inclusive("\n\n") {
        let is_usage = block
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .any(|d| {
                serde_json::from_str::<wire::ChatChunk>(d.trim()).is_ok_and(|c| c.is_usage_only())
            });
        if !is_usage {
            out.push_str(block);
        }
    }
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
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
        assert!(o.completed);
        assert_eq!(o.delivered_text, "Hi");
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
        assert!(o.completed);
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
        assert!(!o.completed);
        o.chunk(Bytes::from_static(
            b"data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"b\"}]},\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":4,\"candidatesTokenCount\":2}}\r\n\r\n",
        ));
        assert!(o.completed);
        assert_eq!(o.delivered_text, "ab");
        assert_eq!(
            o.reported(),
            Some(TokenCounts {
                input: 4,
                output: 2,
                cached: 0
            })
        );
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
        assert!(!o.completed);
        o.chunk(Bytes::from_static(
            b"event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"usage\":{\"input_tokens\":9,\"input_tokens_details\":{\"cached_tokens\":2},\"output_tokens\":4}}}\n\n",
        ));
        assert!(o.completed);
        assert_eq!(o.delivered_text, "Hi");
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
}
