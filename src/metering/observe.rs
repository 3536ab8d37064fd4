//! Reads token usage out of the response the caller receives, whatever produced
//! it (a provider's own bytes or a translator's), and counts the text delivered so
//! a stream cut short can still be billed for what was sent.
//!
//! Streams are parsed event by event as they pass (the bytes are forwarded
//! untouched, except that an OpenAI usage chunk the caller did not ask for — the
//! gateway always asks upstream — is removed). Whole JSON answers are kept up to
//! `MAX_JSON` bytes and parsed at the end.

use bytes::{Bytes, BytesMut};
use serde_json::Value;

use super::bounds::reported_tokens;
use super::meter::TokenCounts;
use crate::translate::sse::{SseEvent, SseParser};

const MAX_JSON: usize = 4 * 1024 * 1024;

/// The shape of the caller-facing body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    OpenAiJson,
    OpenAiSse,
    AnthropicJson,
    AnthropicSse,
    /// No tokens (images, errors).
    Opaque,
}

pub struct Observer {
    format: BodyFormat,
    strip_usage_chunk: bool,
    parser: SseParser,
    json: BytesMut,
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
            json: BytesMut::new(),
            reported: None,
            delivered_text: String::new(),
            completed: false,
        }
    }

    /// Sees a chunk on its way to the caller; returns what to send instead.
    pub fn chunk(&mut self, chunk: Bytes) -> Bytes {
        match self.format {
            BodyFormat::OpenAiJson | BodyFormat::AnthropicJson => {
                if self.json.len() + chunk.len() <= MAX_JSON {
                    self.json.extend_from_slice(&chunk);
                }
                chunk
            }
            BodyFormat::Opaque => chunk,
            BodyFormat::OpenAiSse | BodyFormat::AnthropicSse => {
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

    /// Handles one event; true if it is an OpenAI usage-only chunk.
    fn event(&mut self, ev: &SseEvent) -> bool {
        if self.format == BodyFormat::OpenAiSse && ev.data == "[DONE]" {
            self.completed = true;
            return false;
        }
        let Ok(v) = serde_json::from_str::<Value>(&ev.data) else {
            return false;
        };
        match self.format {
            BodyFormat::OpenAiSse => {
                for choice in v["choices"].as_array().into_iter().flatten() {
                    let delta = &choice["delta"];
                    push_str(&mut self.delivered_text, &delta["content"]);
                    for tc in delta["tool_calls"].as_array().into_iter().flatten() {
                        push_str(&mut self.delivered_text, &tc["function"]["arguments"]);
                    }
                }
                if let Some(u) = openai_usage(&v) {
                    self.reported = Some(u);
                    return v["choices"].as_array().is_some_and(Vec::is_empty);
                }
                false
            }
            BodyFormat::AnthropicSse => {
                match v["type"].as_str() {
                    Some("message_start") => {
                        if let Some(u) = anthropic_usage(&v["message"]["usage"]) {
                            self.reported = Some(u);
                        }
                    }
                    Some("content_block_delta") => {
                        push_str(&mut self.delivered_text, &v["delta"]["text"]);
                        push_str(&mut self.delivered_text, &v["delta"]["partial_json"]);
                    }
                    Some("message_delta") => {
                        let mut u = self.reported.unwrap_or_default();
                        if let Some(out) = v["usage"].get("output_tokens").map(reported_tokens) {
                            // Cumulative: take the last, never sum.
                            u.output = out;
                        }
                        if let Some(more) = anthropic_usage(&v["usage"]).filter(|m| m.input > 0) {
                            u.input = more.input;
                            u.cached = more.cached;
                        }
                        self.reported = Some(u);
                    }
                    Some("message_stop") => self.completed = true,
                    _ => {}
                }
                false
            }
            _ => false,
        }
    }

    /// Usage the provider reported, once the body has ended.
    pub fn reported(&mut self) -> Option<TokenCounts> {
        if matches!(
            self.format,
            BodyFormat::OpenAiJson | BodyFormat::AnthropicJson
        ) && self.reported.is_none()
            && let Ok(answer) = serde_json::from_slice::<UsageOnly>(&self.json)
        {
            // Only `usage` is materialized; the rest of the answer is skimmed.
            self.completed = true;
            match &answer.usage {
                Some(u) => {
                    self.reported = match self.format {
                        BodyFormat::OpenAiJson => openai_usage_object(u),
                        _ => anthropic_usage(u),
                    };
                }
                // Rare: no usage reported. Read the answer's text for an estimate.
                None => {
                    if let Ok(v) = serde_json::from_slice::<Value>(&self.json) {
                        push_str(
                            &mut self.delivered_text,
                            &v["choices"][0]["message"]["content"],
                        );
                        for block in v["content"].as_array().into_iter().flatten() {
                            push_str(&mut self.delivered_text, &block["text"]);
                        }
                    }
                }
            }
        }
        self.reported
    }
}

/// A whole answer, reading nothing but its `usage` object.
#[derive(serde::Deserialize)]
struct UsageOnly {
    #[serde(default)]
    usage: Option<Value>,
}

fn push_str(out: &mut String, v: &Value) {
    if let Some(s) = v.as_str() {
        out.push_str(s);
    }
}

fn openai_usage(v: &Value) -> Option<TokenCounts> {
    openai_usage_object(v.get("usage")?)
}

fn openai_usage_object(u: &Value) -> Option<TokenCounts> {
    if !u.is_object() {
        return None;
    }
    Some(TokenCounts {
        input: reported_tokens(&u["prompt_tokens"]),
        output: reported_tokens(&u["completion_tokens"]),
        cached: u
            .pointer("/prompt_tokens_details/cached_tokens")
            .map_or(0, reported_tokens),
    })
}

/// Anthropic's `input_tokens` excludes cache reads and writes; ours includes them.
fn anthropic_usage(u: &Value) -> Option<TokenCounts> {
    if !u.is_object() {
        return None;
    }
    let input = reported_tokens(&u["input_tokens"]);
    let cache_write = reported_tokens(&u["cache_creation_input_tokens"]);
    let cache_read = reported_tokens(&u["cache_read_input_tokens"]);
    Some(TokenCounts {
        input: input + cache_write + cache_read,
        output: u["output_tokens"].as_u64().unwrap_or(0),
        cached: cache_read,
    })
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
                serde_json::from_str::<Value>(d.trim()).is_ok_and(|v| {
                    v["choices"].as_array().is_some_and(Vec::is_empty) && v["usage"].is_object()
                })
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
}
