//! Anthropic upstream events → OpenAI `chat.completion.chunk` stream
//! (wire-formats.md §5.4, first machine).
//!
//! - `message_start` → the role chunk; input and cache counts are kept.
//! - `text_delta` → `delta.content`.
//! - A `tool_use` block start → an opening tool delta with `index` k, a 0-based
//!   counter of tool calls (not the block index: text and thinking blocks share
//!   that numbering); its `input_json_delta`s → argument fragments with the same
//!   `index`, which is on every tool delta (litellm#4554).
//! - Thinking (`thinking_delta`, `signature_delta`), `citations_delta`,
//!   server-tool blocks, `ping` and unknown events are dropped: the chat format
//!   has no standard field for them, and a client cannot run a server tool.
//! - `message_delta` → a chunk with the mapped `finish_reason` and an empty
//!   delta; `output_tokens` is cumulative, so the last value wins.
//! - `message_stop` → the usage chunk (`choices: []`) if the caller asked for
//!   it, then `data: [DONE]`.
//! - `event: error`, an unreadable event, EOF before `message_stop`, or
//!   [`StreamTranslator::fail`] → one `data: {"error":…}` and no `[DONE]`, which
//!   openai-python raises as `APIError`.

use std::borrow::Cow;

use bytes::Bytes;

use super::anthropic_events::{
    ContentBlockDelta, ContentBlockStart, ErrorEvent, MessageDelta, MessageStart, TypeOnly, Usage,
};
use super::chat_chunks::{
    ChunkWriter, DeltaOut, FunctionOut, PromptDetailsOut, ToolCallOut, UsageOut,
};
use super::{ENDED_EARLY, EventWriter, StreamTranslator, StreamUsage, UPSTREAM_ERROR, Unreadable};
use crate::translate::reasons;
use crate::translate::sse::SseEvent;

/// Anthropic upstream events → OpenAI `chat.completion.chunk` SSE.
pub struct AnthropicToChat {
    /// Stamps every chunk; its id is `chatcmpl-` + the Anthropic message id.
    chunks: ChunkWriter,
    finish_sent: bool,
    done: bool,
    /// `(block index, tool index k)` of every tool_use block so far.
    tools: Vec<(u64, u32)>,
    usage: StreamUsage,
}

impl AnthropicToChat {
    /// `model` is the name the caller asked for; `include_usage` is the caller's
    /// `stream_options.include_usage`.
    pub fn new(model: &str, include_usage: bool) -> Self {
        AnthropicToChat {
            chunks: ChunkWriter::new(model, include_usage),
            finish_sent: false,
            done: false,
            tools: Vec::new(),
            usage: StreamUsage::default(),
        }
    }

    fn handle(&mut self, ev: &SseEvent, out: &mut EventWriter) -> Result<(), Unreadable> {
        let data = ev.data.as_str();
        let peeked;
        let name = match ev.event.as_deref() {
            Some(name) => name,
            None => match serde_json::from_str::<TypeOnly>(data) {
                Ok(t) => {
                    peeked = t.kind;
                    &*peeked
                }
                // No name and no `type`: nothing we know.
                Err(_) => return Ok(()),
            },
        };
        let read_err = |e: serde_json::Error| Unreadable::event(name, &e);
        match name {
            "message_start" => {
                let start: MessageStart = serde_json::from_str(data).map_err(read_err)?;
                // A repeated message_start (bifrost#4556) must not open a second message.
                if !self.chunks.started() {
                    if let Some(usage) = &start.message.usage {
                        self.take_usage(usage);
                    }
                    self.chunks.start(start.message.id.as_deref(), out);
                }
            }
            "content_block_start" => {
                let block: ContentBlockStart = serde_json::from_str(data).map_err(read_err)?;
                self.chunks.start(None, out);
                let b = &block.content_block;
                match &*b.kind {
                    "tool_use" => {
                        let k = u32::try_from(self.tools.len()).unwrap_or(u32::MAX);
                        self.tools.push((block.index, k));
                        // The API always opens with `input: {}` and streams the input;
                        // a non-empty one (some proxies) is sent whole rather than lost.
                        let arguments = match b.input.map(|raw| raw.get().trim()) {
                            None | Some("{}") | Some("null") => "",
                            Some(json) => json,
                        };
                        let id: Cow<str> = match b.id.as_deref().filter(|id| !id.is_empty()) {
                            Some(id) => id.into(),
                            None => format!("call_{}", uuid::Uuid::new_v4().simple()).into(),
                        };
                        let tool = ToolCallOut {
                            index: k,
                            id: Some(&id),
                            kind: Some("function"),
                            function: FunctionOut {
                                name: Some(b.name.as_deref().unwrap_or_default()),
                                arguments,
                            },
                        };
                        self.chunks.chunk(DeltaOut::tool(tool), None, out);
                    }
                    "text" => self.text(b.text.as_deref(), out),
                    _ => {}
                }
            }
            "content_block_delta" => {
                let d: ContentBlockDelta = serde_json::from_str(data).map_err(read_err)?;
                self.chunks.start(None, out);
                match &*d.delta.kind {
                    "text_delta" => self.text(d.delta.text.as_deref(), out),
                    "input_json_delta" => {
                        let fragment = d.delta.partial_json.as_deref().unwrap_or_default();
                        // Unknown blocks (server tools) have no k: skipped.
                        let k = self.tools.iter().rev().find(|(b, _)| *b == d.index);
                        if let (Some(&(_, k)), false) = (k, fragment.is_empty()) {
                            let tool = ToolCallOut {
                                index: k,
                                id: None,
                                kind: None,
                                function: FunctionOut {
                                    name: None,
                                    arguments: fragment,
                                },
                            };
                            self.chunks.chunk(DeltaOut::tool(tool), None, out);
                        }
                    }
                    _ => {}
                }
            }
            "message_delta" => {
                let d: MessageDelta = serde_json::from_str(data).map_err(read_err)?;
                self.chunks.start(None, out);
                if let Some(usage) = &d.usage {
                    self.take_usage(usage);
                }
                let stop = d.delta.as_ref().and_then(|d| d.stop_reason.as_deref());
                if let Some(stop) = stop.filter(|s| !s.is_empty()) {
                    self.finish_chunk(reasons::anthropic_to_openai(stop), out);
                }
            }
            "message_stop" => {
                self.chunks.start(None, out);
                // message_delta always carries the reason; if a proxy lost it, the
                // turn still ended cleanly.
                self.finish_chunk("stop", out);
                self.chunks.close(self.usage_out(), out);
                self.done = true;
            }
            "error" => {
                let e: ErrorEvent = serde_json::from_str(data).unwrap_or_default();
                let body = e.error.unwrap_or_default();
                let kind = body.kind.as_deref().unwrap_or("api_error");
                let message = format!(
                    "the upstream reported {kind} mid-stream: {}",
                    body.message.as_deref().unwrap_or("no message")
                );
                let code = match kind {
                    "overloaded_error" => "upstream_unavailable",
                    "timeout_error" => "upstream_timeout",
                    _ => UPSTREAM_ERROR,
                };
                self.error(code, &message, out);
            }
            // ping, content_block_stop and anything new.
            _ => {}
        }
        Ok(())
    }

    fn text(&mut self, text: Option<&str>, out: &mut EventWriter) {
        if let Some(text) = text.filter(|t| !t.is_empty()) {
            self.chunks.chunk(DeltaOut::text(text), None, out);
        }
    }

    fn finish_chunk(&mut self, reason: &'static str, out: &mut EventWriter) {
        if !self.finish_sent {
            self.finish_sent = true;
            self.chunks.chunk(DeltaOut::default(), Some(reason), out);
        }
    }

    /// Cumulative counts: each reported value replaces the last, never adds.
    fn take_usage(&mut self, usage: &Usage) {
        let u = &mut self.usage;
        u.input = usage.input_tokens.unwrap_or(u.input);
        u.output = usage.output_tokens.unwrap_or(u.output);
        u.cache_write = usage.cache_creation_input_tokens.unwrap_or(u.cache_write);
        u.cache_read = usage.cache_read_input_tokens.unwrap_or(u.cache_read);
    }

    /// wire-formats.md §5.2: the prompt is input + cache writes + cache reads.
    fn usage_out(&self) -> UsageOut {
        let u = self.usage;
        let prompt = u
            .input
            .saturating_add(u.cache_write)
            .saturating_add(u.cache_read);
        UsageOut {
            prompt_tokens: prompt,
            completion_tokens: u.output,
            total_tokens: prompt.saturating_add(u.output),
            prompt_tokens_details: PromptDetailsOut {
                cached_tokens: u.cache_read,
            },
            completion_tokens_details: None,
        }
    }

    fn error(&mut self, code: &str, message: &str, out: &mut EventWriter) {
        ChunkWriter::error(code, message, out);
        self.done = true;
    }
}

impl StreamTranslator for AnthropicToChat {
    fn on_event(&mut self, ev: &SseEvent) -> Vec<Bytes> {
        EventWriter::frames(self.done, |out| {
            if let Err(Unreadable(message)) = self.handle(ev, out) {
                self.error(UPSTREAM_ERROR, &message, out);
            }
        })
    }

    fn finish(&mut self) -> Vec<Bytes> {
        self.fail(UPSTREAM_ERROR, ENDED_EARLY)
    }

    fn fail(&mut self, code: &str, message: &str) -> Vec<Bytes> {
        EventWriter::frames(self.done, |out| self.error(code, message, out))
    }

    fn is_done(&self) -> bool {
        self.done
    }

    fn usage(&self) -> StreamUsage {
        self.usage
    }
}
