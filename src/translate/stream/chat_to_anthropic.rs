//! OpenAI-style upstream chunks → Anthropic message events (wire-formats.md §5.4,
//! second machine). The upstream request should always ask for `include_usage`.
//!
//! - The first chunk → `message_start` (`msg_` + the chunk id without
//!   `chatcmpl-`, empty content, usage 0/0 unless that chunk carried usage).
//! - Text (`content`, and `refusal`, so a refusal is still shown) → a text
//!   block, opened when no text block is open (closing any other block first),
//!   then `text_delta`s. Empty strings open nothing (an empty text block is a 400
//!   when the client sends the history back).
//! - A tool call with a new `id` → the open block closes and a `tool_use` block
//!   opens with `input: {}`; its argument fragments → `input_json_delta` on that
//!   block. Calls are found by their `index`; an `id` repeated on later fragments
//!   of the same call opens nothing, a different `id` on a reused `index` is a new
//!   call. Blocks never interleave, so when a fragment arrives for a call whose
//!   block was already closed (a server interleaving parallel calls; OpenAI sends
//!   them one after the other) the stream ends with an error: the fragment
//!   cannot be placed, and dropping it would hand the client wrong input
//!   (litellm#13638).
//! - `finish_reason`: `null`, `""` and absent are alike; the last non-empty one
//!   wins (an early `""`/`"STOP"` must not lock the reason) and closes the open
//!   block.
//! - `usage` on any chunk (normally the `choices: []` one) is remembered; the last
//!   wins.
//! - `data: [DONE]`, or EOF after a `finish_reason` → `message_delta` (mapped
//!   `stop_reason`, `stop_sequence: null`, usage) then `message_stop`. A `[DONE]`
//!   with no `finish_reason` at all (liteLLM-proxy#19) still ends cleanly, with
//!   `tool_use` if a tool call was sent and `end_turn` otherwise.
//! - `{"error":…}` data, an unreadable chunk, EOF with no `finish_reason`, or
//!   [`StreamTranslator::fail`] → `event: error` with `api_error` (the Anthropic
//!   shape has no `code`; the message says what happened).
//! - Only choice 0 is translated; reasoning fields (`reasoning_content`) are
//!   dropped: a thinking block needs a signature only Anthropic can make.

use bytes::Bytes;

use super::anthropic_events::{
    BlockOut, DeltaOut, EmptyObject, ErrorOut, MessageDeltaOut, Outgoing, StartMessageOut, UsageOut,
};
use super::chat_chunks::{Chunk, ToolCallDelta, Usage, error_message};
use super::{ENDED_EARLY, EventWriter, StreamTranslator, StreamUsage, Unreadable};
use crate::translate::reasons;
use crate::translate::sse::SseEvent;

/// OpenAI-style upstream chunks → Anthropic message events.
pub struct ChatToAnthropic {
    /// The caller's model name, echoed in `message_start`.
    model: Box<str>,
    started: bool,
    done: bool,
    next_block: u32,
    open: Option<Open>,
    /// Every tool call so far, in arrival order.
    tools: Vec<ToolSlot>,
    /// Already mapped to Anthropic's vocabulary.
    stop_reason: Option<&'static str>,
    usage: StreamUsage,
}

/// The one content block that may be open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text { block: u32 },
    Tool { block: u32, slot: usize },
}

struct ToolSlot {
    /// The upstream's tool-call `index`, if it sent one.
    key: Option<u64>,
    id: Box<str>,
}

impl ChatToAnthropic {
    /// `model` is the name the caller asked for.
    pub fn new(model: &str) -> Self {
        ChatToAnthropic {
            model: model.into(),
            started: false,
            done: false,
            next_block: 0,
            open: None,
            tools: Vec::new(),
            stop_reason: None,
            usage: StreamUsage::default(),
        }
    }

    fn handle(&mut self, ev: &SseEvent, out: &mut EventWriter) -> Result<(), Unreadable> {
        let data = ev.data.trim();
        if data.is_empty() {
            // A keepalive some servers send as an empty `data:`.
            return Ok(());
        }
        // openai-python stops at any data starting with `[DONE]`.
        if data.starts_with("[DONE]") {
            if self.started {
                self.end_message(out);
            } else {
                self.error("the upstream ended the stream before any output", out);
            }
            return Ok(());
        }
        let chunk: Chunk = serde_json::from_str(data)
            .map_err(|e| Unreadable::event(ev.event.as_deref().unwrap_or("chunk"), &e))?;
        if let Some(message) = chunk.error.as_ref().and_then(error_message) {
            self.error(
                &format!("the upstream reported an error mid-stream: {message}"),
                out,
            );
            return Ok(());
        }
        if let Some(usage) = &chunk.usage {
            self.take_usage(usage);
        }
        self.start(chunk.id.as_deref(), out);
        let choices = chunk.choices.iter().flatten();
        for choice in choices.filter(|c| c.index.unwrap_or(0) == 0) {
            if let Some(delta) = &choice.delta {
                for text in [&delta.content, &delta.refusal].into_iter().flatten() {
                    self.text(text, out);
                }
                for call in delta.tool_calls.iter().flatten() {
                    self.tool_call(call, out)?;
                }
            }
            if let Some(reason) = choice.finish_reason.as_deref().filter(|r| !r.is_empty()) {
                self.stop_reason = Some(reasons::openai_to_anthropic(reason));
                self.close_block(out);
            }
        }
        Ok(())
    }

    fn start(&mut self, chunk_id: Option<&str>, out: &mut EventWriter) {
        if self.started {
            return;
        }
        self.started = true;
        let id = match chunk_id.filter(|id| !id.is_empty()) {
            Some(id) => format!("msg_{}", id.strip_prefix("chatcmpl-").unwrap_or(id)),
            None => format!("msg_{}", uuid::Uuid::new_v4().simple()),
        };
        let message = StartMessageOut {
            id: &id,
            kind: "message",
            role: "assistant",
            content: [],
            model: &self.model,
            stop_reason: None,
            stop_sequence: None,
            usage: self.usage_out(),
        };
        write(out, &Outgoing::MessageStart { message });
    }

    fn text(&mut self, text: &str, out: &mut EventWriter) {
        if text.is_empty() {
            return;
        }
        let block = match self.open {
            Some(Open::Text { block }) => block,
            _ => {
                let block = self.open_block(out, BlockOut::Text { text: "" });
                self.open = Some(Open::Text { block });
                block
            }
        };
        let delta = DeltaOut::TextDelta { text };
        write(
            out,
            &Outgoing::ContentBlockDelta {
                index: block,
                delta,
            },
        );
    }

    fn tool_call(&mut self, call: &ToolCallDelta, out: &mut EventWriter) -> Result<(), Unreadable> {
        let id = call.id.as_deref().filter(|id| !id.is_empty());
        let function = call.function.as_ref();
        let name = function.and_then(|f| f.name.as_deref());
        let arguments = function.and_then(|f| f.arguments.as_deref());
        let known = match call.index {
            Some(index) => self.tools.iter().rposition(|t| t.key == Some(index)),
            // No index: the call in progress.
            None => match self.open {
                Some(Open::Tool { slot, .. }) => Some(slot),
                _ => self.tools.len().checked_sub(1),
            },
        };
        let slot = match known {
            Some(slot) if id.is_none_or(|id| *id == *self.tools[slot].id) => slot,
            _ => {
                if id.is_none() && name.is_none() {
                    return Err(Unreadable(
                        "the upstream sent arguments for a tool call it never opened; the response is incomplete"
                            .into(),
                    ));
                }
                let id: Box<str> = match id {
                    Some(id) => id.into(),
                    None => format!("toolu_{}", uuid::Uuid::new_v4().simple()).into(),
                };
                let content_block = BlockOut::ToolUse {
                    id: &id,
                    name: name.unwrap_or_default(),
                    input: EmptyObject {},
                };
                let block = self.open_block(out, content_block);
                self.tools.push(ToolSlot {
                    key: call.index,
                    id,
                });
                let slot = self.tools.len() - 1;
                self.open = Some(Open::Tool { block, slot });
                slot
            }
        };
        let Some(partial_json) = arguments.filter(|a| !a.is_empty()) else {
            return Ok(());
        };
        match self.open {
            Some(Open::Tool { block, slot: open }) if open == slot => {
                let delta = DeltaOut::InputJsonDelta { partial_json };
                write(out, &Outgoing::ContentBlockDelta { index: block, delta });
                Ok(())
            }
            _ => Err(Unreadable(
                "the upstream interleaved the arguments of parallel tool calls, which an Anthropic stream cannot carry; the response is incomplete"
                    .into(),
            )),
        }
    }

    /// Closes the open block and starts the next one; returns its index.
    fn open_block(&mut self, out: &mut EventWriter, content_block: BlockOut) -> u32 {
        self.close_block(out);
        let index = self.next_block;
        self.next_block += 1;
        write(
            out,
            &Outgoing::ContentBlockStart {
                index,
                content_block,
            },
        );
        index
    }

    fn close_block(&mut self, out: &mut EventWriter) {
        if let Some(Open::Text { block } | Open::Tool { block, .. }) = self.open.take() {
            write(out, &Outgoing::ContentBlockStop { index: block });
        }
    }

    /// The clean end: `message_delta` then `message_stop`.
    fn end_message(&mut self, out: &mut EventWriter) {
        self.close_block(out);
        let inferred = if self.tools.is_empty() {
            "end_turn"
        } else {
            "tool_use"
        };
        let delta = MessageDeltaOut {
            stop_reason: self.stop_reason.unwrap_or(inferred),
            stop_sequence: None,
        };
        let usage = self.usage_out();
        write(out, &Outgoing::MessageDelta { delta, usage });
        write(out, &Outgoing::MessageStop);
        self.done = true;
    }

    /// wire-formats.md §5.3: Anthropic's input excludes the cached prompt tokens.
    fn take_usage(&mut self, usage: &Usage) {
        let cached = usage
            .prompt_tokens_details
            .as_ref()
            .and_then(|d| d.cached_tokens);
        let u = &mut self.usage;
        if let Some(prompt) = usage.prompt_tokens {
            u.input = prompt.saturating_sub(cached.unwrap_or(0));
        }
        u.cache_read = cached.unwrap_or(u.cache_read);
        u.output = usage.completion_tokens.unwrap_or(u.output);
    }

    fn usage_out(&self) -> UsageOut {
        UsageOut {
            input_tokens: self.usage.input,
            output_tokens: self.usage.output,
            cache_creation_input_tokens: self.usage.cache_write,
            cache_read_input_tokens: self.usage.cache_read,
        }
    }

    fn error(&mut self, message: &str, out: &mut EventWriter) {
        let error = ErrorOut {
            kind: "api_error",
            message,
        };
        write(out, &Outgoing::Error { error });
        self.done = true;
    }
}

fn write(out: &mut EventWriter, event: &Outgoing) {
    out.event(event.name(), event);
}

impl StreamTranslator for ChatToAnthropic {
    fn on_event(&mut self, ev: &SseEvent) -> Vec<Bytes> {
        EventWriter::frames(self.done, |out| {
            if let Err(Unreadable(message)) = self.handle(ev, out) {
                self.error(&message, out);
            }
        })
    }

    fn finish(&mut self) -> Vec<Bytes> {
        EventWriter::frames(self.done, |out| {
            if self.started && self.stop_reason.is_some() {
                // The finish_reason came; only [DONE] (and maybe usage) was cut off.
                self.end_message(out);
            } else {
                self.error(ENDED_EARLY, out);
            }
        })
    }

    /// The Anthropic error shape has no `code`; `code` is not sent.
    fn fail(&mut self, _code: &str, message: &str) -> Vec<Bytes> {
        EventWriter::frames(self.done, |out| self.error(message, out))
    }

    fn is_done(&self) -> bool {
        self.done
    }

    fn usage(&self) -> StreamUsage {
        self.usage
    }
}
