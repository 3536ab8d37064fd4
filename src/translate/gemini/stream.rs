//! Gemini `streamGenerateContent?alt=sse` events → OpenAI `chat.completion.chunk`
//! stream (wire-formats.md §0, §5.4 third machine, §6). The same contract as
//! `translate::stream::AnthropicToChat`.
//!
//! - Every event is a whole `GenerateContentResponse`. The first readable one sends
//!   the role chunk (`id` is `chatcmpl-` + `responseId`).
//! - Text parts → `delta.content`; `thought: true` parts are dropped (the chunk format
//!   has no standard field for them).
//! - Each `functionCall` part → one complete tool delta: `index` k (a 0-based counter
//!   of calls), the id (see `call_id`: Gemini's or `call_<uuid>`, with its thought
//!   signature), the name and all arguments at once.
//! - Only candidate 0 is followed (the request translator refuses `n > 1` streams).
//! - `finishReason`: the last non-empty one wins (early `STOP`s have misled other
//!   gateways, §5.6). `usageMetadata`: the last one wins, never summed.
//! - Gemini streams have no terminator, the connection just closes. So the finish
//!   chunk waits for [`StreamTranslator::finish`] (EOF): after a finish reason it
//!   sends the finish chunk, the usage chunk if the caller asked, and `[DONE]`;
//!   before any finish reason it is an error. A blocked prompt (`promptFeedback.
//!   blockReason`, no candidates) finishes with `content_filter`.
//! - `{"error":…}` in an event, an unreadable event, or
//!   [`StreamTranslator::fail`] → one `data: {"error":…}` and no `[DONE]`.

use bytes::Bytes;

use super::call_id;
use super::stream_shapes::{Event, Part};
use super::usage::UsageMetadata;
use crate::translate::reasons;
use crate::translate::sse::SseEvent;
use crate::translate::stream::chat_chunks::{ChunkWriter, DeltaOut, FunctionOut, ToolCallOut};
use crate::translate::stream::{
    EventWriter, StreamTranslator, StreamUsage, UPSTREAM_ERROR, UPSTREAM_TIMEOUT, Unreadable,
};

/// Sent when the upstream closes before saying the turn is over.
const ENDED_EARLY: &str =
    "the upstream stream ended before Gemini reported a finish reason; the response is incomplete";

/// How the turn ended, as far as the events so far tell.
enum Ending {
    /// The last non-empty `finishReason` of candidate 0.
    Finished(Box<str>),
    /// The prompt was blocked: no candidates, a `promptFeedback.blockReason`.
    Blocked,
}

/// Gemini `alt=sse` events → OpenAI `chat.completion.chunk` SSE.
pub struct GeminiToChat {
    /// Stamps every chunk; its id is `chatcmpl-` + Gemini's `responseId`.
    chunks: ChunkWriter,
    done: bool,
    /// Tool calls sent so far: the next one's `index`.
    tool_calls: u32,
    ending: Option<Ending>,
    usage: UsageMetadata,
}

impl GeminiToChat {
    /// `model` is the name the caller asked for; `include_usage` is the caller's
    /// `stream_options.include_usage`.
    pub fn new(model: &str, include_usage: bool) -> Self {
        GeminiToChat {
            chunks: ChunkWriter::new(model, include_usage),
            done: false,
            tool_calls: 0,
            ending: None,
            usage: UsageMetadata::default(),
        }
    }

    fn handle(&mut self, data: &str, out: &mut EventWriter) -> Result<(), Unreadable> {
        let data = data.trim();
        // Not Gemini's, but a relaying proxy may add it; the end is decided the same.
        if data == "[DONE]" {
            self.end(out);
            return Ok(());
        }
        let unreadable = |e: serde_json::Error| {
            Unreadable(format!(
                "the upstream sent a stream event the gateway could not read ({e}); \
                 the response is incomplete"
            ))
        };
        // Errors have come wrapped in an array (vybestack/llxprt-code#194).
        if data.starts_with('[') {
            let events: Vec<Event> = serde_json::from_str(data).map_err(unreadable)?;
            for event in &events {
                if self.done {
                    break;
                }
                self.event(event, out)?;
            }
            return Ok(());
        }
        let event: Event = serde_json::from_str(data).map_err(unreadable)?;
        self.event(&event, out)
    }

    fn event(&mut self, event: &Event, out: &mut EventWriter) -> Result<(), Unreadable> {
        if let Some(error) = &event.error {
            let status = error.status.as_deref().unwrap_or("UNKNOWN");
            let message = format!(
                "the upstream reported {status} mid-stream: {}",
                error.message.as_deref().unwrap_or("no message")
            );
            let code = match status {
                "UNAVAILABLE" => "upstream_unavailable",
                "DEADLINE_EXCEEDED" => UPSTREAM_TIMEOUT,
                _ => UPSTREAM_ERROR,
            };
            self.error(code, &message, out);
            return Ok(());
        }
        self.chunks.start(event.response_id.as_deref(), out);
        if let Some(usage) = event.usage_metadata {
            self.usage = usage;
        }
        let blocked = event
            .prompt_feedback
            .as_ref()
            .and_then(|f| f.block_reason.as_deref())
            .is_some_and(|r| !r.is_empty());
        if blocked && self.ending.is_none() {
            self.ending = Some(Ending::Blocked);
        }
        let candidates = event.candidates.as_deref().unwrap_or_default();
        let first = candidates
            .iter()
            .enumerate()
            .find(|(i, c)| c.index.map_or(*i == 0, |index| index == 0));
        let Some((_, candidate)) = first else {
            return Ok(());
        };
        let parts = candidate
            .content
            .as_ref()
            .and_then(|c| c.parts.as_deref())
            .unwrap_or_default();
        for part in parts {
            self.part(part, out)?;
        }
        if let Some(reason) = candidate.finish_reason.as_deref().filter(|r| !r.is_empty()) {
            self.ending = Some(Ending::Finished(reason.into()));
        }
        Ok(())
    }

    fn part(&mut self, part: &Part, out: &mut EventWriter) -> Result<(), Unreadable> {
        if let Some(call) = &part.function_call {
            let Some(name) = call.name.as_deref().filter(|n| !n.is_empty()) else {
                return Err(Unreadable(
                    "the upstream sent a function call without a name; the response is incomplete"
                        .to_owned(),
                ));
            };
            let arguments = match call.args.map(|raw| raw.get().trim()) {
                None | Some("null") => "{}",
                Some(args) if args.starts_with('{') => args,
                Some(_) => {
                    return Err(Unreadable(format!(
                        "the upstream sent arguments for `{name}` that are not a JSON object; \
                         the response is incomplete"
                    )));
                }
            };
            let id = call_id::for_call(call.id.as_deref(), part.thought_signature.as_deref());
            // A whole tool call in one delta: Gemini sends each `functionCall` complete.
            let tool = ToolCallOut {
                index: self.tool_calls,
                id: Some(&id),
                kind: Some("function"),
                function: FunctionOut {
                    name: Some(name),
                    arguments,
                },
            };
            self.tool_calls = self.tool_calls.saturating_add(1);
            self.chunks.chunk(DeltaOut::tool(tool), None, out);
        } else if let Some(text) = part.text.as_deref()
            && !text.is_empty()
            && part.thought != Some(true)
        {
            self.chunks.chunk(DeltaOut::text(text), None, out);
        }
        Ok(())
    }

    /// The clean end if the turn said it was over, else the early-end error.
    fn end(&mut self, out: &mut EventWriter) {
        let reason = match &self.ending {
            Some(Ending::Finished(reason)) => {
                reasons::gemini_to_openai(reason, self.tool_calls > 0)
            }
            Some(Ending::Blocked) => "content_filter",
            None => {
                self.error(UPSTREAM_ERROR, ENDED_EARLY, out);
                return;
            }
        };
        self.chunks.chunk(DeltaOut::default(), Some(reason), out);
        self.chunks.close(self.usage.to_openai(), out);
        self.done = true;
    }

    fn error(&mut self, code: &str, message: &str, out: &mut EventWriter) {
        ChunkWriter::error(code, message, out);
        self.done = true;
    }
}

impl StreamTranslator for GeminiToChat {
    fn on_event(&mut self, ev: &SseEvent) -> Vec<Bytes> {
        EventWriter::frames(self.done, |out| {
            if let Err(Unreadable(message)) = self.handle(&ev.data, out) {
                self.error(UPSTREAM_ERROR, &message, out);
            }
        })
    }

    fn finish(&mut self) -> Vec<Bytes> {
        EventWriter::frames(self.done, |out| self.end(out))
    }

    fn fail(&mut self, code: &str, message: &str) -> Vec<Bytes> {
        EventWriter::frames(self.done, |out| self.error(code, message, out))
    }

    fn is_done(&self) -> bool {
        self.done
    }

    fn usage(&self) -> StreamUsage {
        self.usage.to_stream_usage()
    }
}
