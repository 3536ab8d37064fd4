//! OpenAI-style chat chunks → Responses API stream events (every event typed, with a
//! `sequence_number` counting from 0).
//!
//! - The first chunk → `response.created` and `response.in_progress`.
//! - Text → a `message` output item (`response.output_item.added`,
//!   `response.content_part.added`), then `response.output_text.delta`s.
//! - A tool call with a new `index`/`id` → the open item closes and a
//!   `function_call` item opens; its argument fragments →
//!   `response.function_call_arguments.delta`.
//! - `[DONE]`, or EOF after a `finish_reason` → each open item is closed with its
//!   `…done` events, then `response.completed` (or `response.incomplete` for
//!   `length`/`content_filter`) carrying the whole output and the usage.
//! - `{"error":…}` data, an unreadable chunk, EOF with no `finish_reason`, or
//!   [`StreamTranslator::fail`] → `response.failed` with the error; nothing after.
//!
//! Unlike the other translators this one keeps the text and arguments delivered:
//! the protocol repeats them in the `…done` events and in the final response.

use bytes::Bytes;
use serde_json::{Value, json};

use super::{response_object, usage_from_chat};
use crate::translate::sse::SseEvent;
use crate::translate::stream::{StreamTranslator, StreamUsage};

const ENDED_EARLY: &str = "the upstream stream ended early; the response is incomplete";

struct TextItem {
    output_index: usize,
    id: String,
    text: String,
}

struct CallItem {
    key: Option<u64>,
    output_index: usize,
    id: String,
    call_id: String,
    name: String,
    arguments: String,
}

/// OpenAI-style chat chunks → Responses events.
pub struct ChatToResponses {
    model: Box<str>,
    id: String,
    created: Option<u64>,
    seq: u64,
    started: bool,
    done: bool,
    text: Option<TextItem>,
    call: Option<CallItem>,
    /// Finished output items, in output order.
    output: Vec<Value>,
    calls_seen: usize,
    finish: Option<String>,
    usage: Option<Value>,
    stream_usage: StreamUsage,
}

impl ChatToResponses {
    /// `model` is the name the caller asked for.
    pub fn new(model: &str) -> Self {
        ChatToResponses {
            model: model.into(),
            id: String::new(),
            created: None,
            seq: 0,
            started: false,
            done: false,
            text: None,
            call: None,
            output: Vec::new(),
            calls_seen: 0,
            finish: None,
            usage: None,
            stream_usage: StreamUsage::default(),
        }
    }

    fn emit(&mut self, out: &mut Vec<u8>, kind: &str, mut event: Value) {
        event["type"] = Value::String(kind.to_owned());
        event["sequence_number"] = json!(self.seq);
        self.seq += 1;
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(kind.as_bytes());
        out.extend_from_slice(b"\ndata: ");
        out.extend_from_slice(event.to_string().as_bytes());
        out.extend_from_slice(b"\n\n");
    }

    fn response(&self, status: &str) -> Value {
        let mut r = response_object(&self.id, &self.model, self.created);
        r["status"] = json!(status);
        r
    }

    fn start(&mut self, out: &mut Vec<u8>, chunk_id: Option<&str>) {
        if self.started {
            return;
        }
        self.started = true;
        let base = chunk_id
            .map(|id| id.trim_start_matches("chatcmpl-").to_owned())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "gateway".to_owned());
        self.id = format!("resp_{base}");
        let r = self.response("in_progress");
        self.emit(out, "response.created", json!({"response": r.clone()}));
        self.emit(out, "response.in_progress", json!({"response": r}));
    }

    fn next_index(&self) -> usize {
        self.output.len() + usize::from(self.text.is_some()) + usize::from(self.call.is_some())
    }

    fn open_text(&mut self, out: &mut Vec<u8>) {
        if self.text.is_some() {
            return;
        }
        self.close_call(out);
        let item = TextItem {
            output_index: self.next_index(),
            id: format!("msg_{}", self.id.trim_start_matches("resp_")),
            text: String::new(),
        };
        let added = json!({
            "output_index": item.output_index,
            "item": {"type": "message", "id": item.id, "status": "in_progress", "role": "assistant", "content": []},
        });
        let part = json!({
            "item_id": item.id,
            "output_index": item.output_index,
            "content_index": 0,
            "part": {"type": "output_text", "text": "", "annotations": [], "logprobs": []},
        });
        self.text = Some(item);
        self.emit(out, "response.output_item.added", added);
        self.emit(out, "response.content_part.added", part);
    }

    fn close_text(&mut self, out: &mut Vec<u8>) {
        let Some(item) = self.text.take() else {
            return;
        };
        let part =
            json!({"type": "output_text", "text": item.text, "annotations": [], "logprobs": []});
        self.emit(
            out,
            "response.output_text.done",
            json!({"item_id": item.id, "output_index": item.output_index, "content_index": 0, "text": item.text, "logprobs": []}),
        );
        self.emit(
            out,
            "response.content_part.done",
            json!({"item_id": item.id, "output_index": item.output_index, "content_index": 0, "part": part}),
        );
        let done = json!({"type": "message", "id": item.id, "status": "completed", "role": "assistant", "content": [part]});
        self.emit(
            out,
            "response.output_item.done",
            json!({"output_index": item.output_index, "item": done}),
        );
        self.output.push(done);
    }

    fn close_call(&mut self, out: &mut Vec<u8>) {
        let Some(call) = self.call.take() else {
            return;
        };
        self.emit(
            out,
            "response.function_call_arguments.done",
            json!({"item_id": call.id, "output_index": call.output_index, "name": call.name, "arguments": call.arguments}),
        );
        let done = json!({
            "type": "function_call", "id": call.id, "call_id": call.call_id,
            "name": call.name, "arguments": call.arguments, "status": "completed",
        });
        self.emit(
            out,
            "response.output_item.done",
            json!({"output_index": call.output_index, "item": done}),
        );
        self.output.push(done);
    }

    fn tool_delta(&mut self, out: &mut Vec<u8>, tc: &Value) {
        let key = tc.get("index").and_then(Value::as_u64);
        let id = tc
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty());
        let function = tc.get("function");
        let same = self.call.as_ref().is_some_and(|c| {
            (key.is_some() && c.key == key && id.is_none_or(|id| id == c.call_id))
                || (key.is_none() && id.is_none_or(|id| id == c.call_id))
        });
        if !same {
            self.close_text(out);
            self.close_call(out);
            let call_id = id.map_or_else(
                || {
                    format!(
                        "call_{}_{}",
                        self.id.trim_start_matches("resp_"),
                        self.calls_seen
                    )
                },
                str::to_owned,
            );
            self.calls_seen += 1;
            let name = function
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let item = CallItem {
                key,
                output_index: self.next_index(),
                id: format!("fc_{call_id}"),
                call_id,
                name,
                arguments: String::new(),
            };
            let added = json!({
                "output_index": item.output_index,
                "item": {"type": "function_call", "id": item.id, "call_id": item.call_id,
                         "name": item.name, "arguments": "", "status": "in_progress"},
            });
            self.call = Some(item);
            self.emit(out, "response.output_item.added", added);
        }
        let fragment = function
            .and_then(|f| f.get("arguments"))
            .and_then(Value::as_str)
            .unwrap_or("");
        if fragment.is_empty() {
            return;
        }
        let Some(call) = self.call.as_mut() else {
            return;
        };
        call.arguments.push_str(fragment);
        let event =
            json!({"item_id": call.id, "output_index": call.output_index, "delta": fragment});
        self.emit(out, "response.function_call_arguments.delta", event);
    }

    fn complete(&mut self, out: &mut Vec<u8>) {
        self.start(out, None);
        self.close_text(out);
        self.close_call(out);
        let incomplete = match self.finish.as_deref() {
            Some("length") => Some("max_output_tokens"),
            Some("content_filter") => Some("content_filter"),
            _ => None,
        };
        let mut r = self.response(if incomplete.is_some() {
            "incomplete"
        } else {
            "completed"
        });
        if let Some(reason) = incomplete {
            r["incomplete_details"] = json!({"reason": reason});
        }
        r["output"] = Value::Array(std::mem::take(&mut self.output));
        r["usage"] = self.usage.as_ref().map_or(Value::Null, usage_from_chat);
        let kind = if incomplete.is_some() {
            "response.incomplete"
        } else {
            "response.completed"
        };
        self.emit(out, kind, json!({"response": r}));
        self.done = true;
    }

    fn failed(&mut self, out: &mut Vec<u8>, code: &str, message: &str) {
        self.start(out, None);
        let mut r = self.response("failed");
        r["error"] = json!({"code": code, "message": message});
        r["output"] = Value::Array(std::mem::take(&mut self.output));
        r["usage"] = self.usage.as_ref().map_or(Value::Null, usage_from_chat);
        self.emit(out, "response.failed", json!({"response": r}));
        self.done = true;
    }

    fn frames(out: Vec<u8>) -> Vec<Bytes> {
        if out.is_empty() {
            Vec::new()
        } else {
            vec![Bytes::from(out)]
        }
    }
}

impl StreamTranslator for ChatToResponses {
    fn on_event(&mut self, ev: &SseEvent) -> Vec<Bytes> {
        if self.done {
            return Vec::new();
        }
        let mut out = Vec::new();
        if ev.data.trim() == "[DONE]" {
            self.complete(&mut out);
            return Self::frames(out);
        }
        let Ok(chunk) = serde_json::from_str::<Value>(&ev.data) else {
            self.failed(
                &mut out,
                "server_error",
                "the upstream sent an event the gateway could not read; the response is incomplete",
            );
            return Self::frames(out);
        };
        if let Some(error) = chunk.get("error").filter(|e| is_truthy(e)) {
            let message = error
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("An error occurred during streaming")
                .to_owned();
            self.failed(&mut out, "server_error", &message);
            return Self::frames(out);
        }
        self.start(&mut out, chunk.get("id").and_then(Value::as_str));
        if self.created.is_none() {
            self.created = chunk.get("created").and_then(Value::as_u64);
        }
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            let input = usage["prompt_tokens"].as_u64().unwrap_or(0);
            let cached = usage
                .pointer("/prompt_tokens_details/cached_tokens")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            self.stream_usage = StreamUsage {
                input: input.saturating_sub(cached),
                output: usage["completion_tokens"].as_u64().unwrap_or(0),
                cache_read: cached,
                cache_write: 0,
            };
            self.usage = Some(usage.clone());
        }
        let Some(choice) = chunk.pointer("/choices/0") else {
            return Self::frames(out);
        };
        let delta = &choice["delta"];
        for key in ["content", "refusal"] {
            if let Some(text) = delta
                .get(key)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
            {
                self.open_text(&mut out);
                if let Some(item) = self.text.as_mut() {
                    item.text.push_str(text);
                    let event = json!({
                        "item_id": item.id, "output_index": item.output_index,
                        "content_index": 0, "delta": text, "logprobs": [],
                    });
                    self.emit(&mut out, "response.output_text.delta", event);
                }
            }
        }
        for tc in delta
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.tool_delta(&mut out, tc);
        }
        if let Some(reason) = choice
            .get("finish_reason")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            self.finish = Some(reason.to_owned());
        }
        Self::frames(out)
    }

    fn finish(&mut self) -> Vec<Bytes> {
        if self.done {
            return Vec::new();
        }
        let mut out = Vec::new();
        if self.finish.is_some() {
            self.complete(&mut out);
        } else {
            self.failed(&mut out, "server_error", ENDED_EARLY);
        }
        Self::frames(out)
    }

    fn fail(&mut self, code: &str, message: &str) -> Vec<Bytes> {
        if self.done {
            return Vec::new();
        }
        let mut out = Vec::new();
        self.failed(&mut out, code, message);
        Self::frames(out)
    }

    fn is_done(&self) -> bool {
        self.done
    }

    fn usage(&self) -> StreamUsage {
        self.stream_usage
    }
}

/// Whether openai-python would raise for this `error` value.
fn is_truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}
