//! OpenAI `chat.completion.chunk`s → Gemini's `alt=sse` stream, for a Gemini-native
//! caller (`:streamGenerateContent?alt=sse`) served by another provider.
//!
//! - Each text delta → one `data: {"candidates":[{"content":{"role":"model",
//!   "parts":[{"text":…}]},"index":0}]}` event, as it comes.
//! - Tool-call fragments are gathered per `index` and sent whole, as Gemini does, in
//!   the last event: `functionCall` parts with parsed `args`.
//! - The last event carries `finishReason` (`finish_to_gemini`) and, once known,
//!   `usageMetadata`; it is sent at `[DONE]` (or EOF after a finish reason). Gemini
//!   streams have no terminator: the stream simply ends.
//! - An error chunk, EOF with no finish reason or [`StreamTranslator::fail`] → one
//!   Gemini error event `data: {"error":{"code","message","status"}}`.
//! - Only choice 0 is translated.

use bytes::Bytes;
use serde_json::{Value, json};

use super::native::{finish_to_gemini, function_call_part, usage_to_gemini};
use crate::translate::sse::SseEvent;
use crate::translate::stream::{ErrorEventDialect, StreamTranslator, StreamUsage, error_event};

pub struct ChatToGemini {
    model: Box<str>,
    done: bool,
    finish: Option<String>,
    usage: Option<Value>,
    /// (index, name, arguments so far)
    tools: Vec<(u64, String, String)>,
    counted: StreamUsage,
}

impl ChatToGemini {
    pub fn new(model: &str) -> Self {
        ChatToGemini {
            model: model.into(),
            done: false,
            finish: None,
            usage: None,
            tools: Vec::new(),
            counted: StreamUsage::default(),
        }
    }

    fn frame(v: &Value) -> Bytes {
        Bytes::from(format!("data: {v}\r\n\r\n"))
    }

    fn last(&mut self) -> Vec<Bytes> {
        self.done = true;
        let mut parts: Vec<Value> = self
            .tools
            .iter()
            .map(|(_, name, args)| function_call_part(name, args))
            .collect();
        if parts.is_empty() {
            parts.push(json!({"text": ""}));
        }
        let mut v = json!({
            "candidates": [{
                "content": {"role": "model", "parts": parts},
                "finishReason": finish_to_gemini(self.finish.as_deref().unwrap_or("stop")),
                "index": 0,
            }],
            "modelVersion": &*self.model,
        });
        if let Some(u) = &self.usage {
            v["usageMetadata"] = usage_to_gemini(u);
        }
        vec![Self::frame(&v)]
    }

    fn error(&mut self, code: &str, message: &str) -> Vec<Bytes> {
        self.done = true;
        vec![error_event(ErrorEventDialect::Gemini, code, message)]
    }
}

impl StreamTranslator for ChatToGemini {
    fn on_event(&mut self, ev: &SseEvent) -> Vec<Bytes> {
        if self.done {
            return Vec::new();
        }
        if ev.data == "[DONE]" {
            return self.last();
        }
        let Ok(v) = serde_json::from_str::<Value>(&ev.data) else {
            return self.error(
                crate::translate::stream::UPSTREAM_ERROR,
                "the upstream sent an event the gateway could not read; the response is incomplete",
            );
        };
        if let Some(e) = v.get("error").filter(|e| !e.is_null()) {
            let msg = e["message"]
                .as_str()
                .unwrap_or("the upstream failed mid-stream");
            return self.error(crate::translate::stream::UPSTREAM_ERROR, msg);
        }
        if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
            self.counted.input = u["prompt_tokens"].as_u64().unwrap_or(0);
            self.counted.output = u["completion_tokens"].as_u64().unwrap_or(0);
            self.usage = Some(u.clone());
        }
        let mut out = Vec::new();
        for choice in v["choices"].as_array().into_iter().flatten() {
            if choice["index"].as_u64().unwrap_or(0) != 0 {
                continue;
            }
            let delta = &choice["delta"];
            if let Some(t) = delta["content"].as_str().filter(|t| !t.is_empty()) {
                out.push(Self::frame(&json!({
                    "candidates": [{"content": {"role": "model", "parts": [{"text": t}]}, "index": 0}],
                    "modelVersion": &*self.model,
                })));
            }
            for tc in delta["tool_calls"].as_array().into_iter().flatten() {
                let index = tc["index"].as_u64().unwrap_or(self.tools.len() as u64);
                let name = tc["function"]["name"].as_str().unwrap_or_default();
                let args = tc["function"]["arguments"].as_str().unwrap_or_default();
                match self.tools.iter_mut().find(|(i, _, _)| *i == index) {
                    Some(slot) => {
                        slot.1.push_str(name);
                        slot.2.push_str(args);
                    }
                    None => self.tools.push((index, name.to_owned(), args.to_owned())),
                }
            }
            if let Some(r) = choice["finish_reason"].as_str().filter(|r| !r.is_empty()) {
                self.finish = Some(r.to_owned());
            }
        }
        out
    }

    fn finish(&mut self) -> Vec<Bytes> {
        if self.done {
            return Vec::new();
        }
        if self.finish.is_some() {
            return self.last();
        }
        self.error(
            crate::translate::stream::UPSTREAM_ERROR,
            "the upstream stream ended early; the response is incomplete",
        )
    }

    fn fail(&mut self, code: &str, message: &str) -> Vec<Bytes> {
        if self.done {
            return Vec::new();
        }
        self.error(code, message)
    }

    fn is_done(&self) -> bool {
        self.done
    }

    fn usage(&self) -> StreamUsage {
        self.counted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(data: &str) -> SseEvent {
        SseEvent {
            event: None,
            data: data.to_owned(),
        }
    }

    fn data(frames: Vec<Bytes>) -> Vec<Value> {
        frames
            .iter()
            .flat_map(|b| {
                String::from_utf8_lossy(b)
                    .split("\r\n\r\n")
                    .filter_map(|e| e.strip_prefix("data: ").map(str::to_owned))
                    .collect::<Vec<_>>()
            })
            .map(|d| serde_json::from_str(&d).unwrap())
            .collect()
    }

    #[test]
    fn text_tools_finish_and_usage_become_gemini_chunks() {
        let mut t = ChatToGemini::new("gpt-4o-mini");
        let mut out = Vec::new();
        out.extend(t.on_event(&ev(
            r#"{"choices":[{"index":0,"delta":{"content":"Hel"}}]}"#,
        )));
        out.extend(t.on_event(&ev(r#"{"choices":[{"index":0,"delta":{"content":"lo"}}]}"#)));
        out.extend(t.on_event(&ev(r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c1","function":{"name":"get_weather","arguments":"{\"loc"}}]}}]}"#)));
        out.extend(t.on_event(&ev(r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"ation\":\"Paris\"}"}}]}}]}"#)));
        out.extend(t.on_event(&ev(
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
        )));
        out.extend(t.on_event(&ev(
            r#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8}}"#,
        )));
        out.extend(t.on_event(&ev("[DONE]")));
        assert!(t.is_done());
        let v = data(out);
        assert_eq!(v.len(), 3);
        assert_eq!(v[0]["candidates"][0]["content"]["parts"][0]["text"], "Hel");
        let last = &v[2];
        assert_eq!(
            last["candidates"][0]["content"]["parts"][0]["functionCall"],
            json!({"name": "get_weather", "args": {"location": "Paris"}})
        );
        assert_eq!(last["candidates"][0]["finishReason"], "STOP");
        assert_eq!(last["usageMetadata"]["totalTokenCount"], 8);
    }

    #[test]
    fn eof_without_finish_is_an_error_event() {
        let mut t = ChatToGemini::new("m");
        t.on_event(&ev(r#"{"choices":[{"index":0,"delta":{"content":"x"}}]}"#));
        let v = data(t.finish());
        assert_eq!(v[0]["error"]["code"], 502);
        assert!(t.finish().is_empty());
    }
}
