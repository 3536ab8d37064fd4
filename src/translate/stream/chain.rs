//! Two translators in a row, for dialect pairs with no direct translator: e.g. a
//! Gemini stream to an Anthropic caller goes Gemini → OpenAI chunks → Anthropic
//! events. The middle dialect is parsed event by event, never buffered.

use bytes::Bytes;

use super::{StreamTranslator, StreamUsage};
use crate::translate::sse::{SseEvent, SseParser};

pub struct Chain {
    first: Box<dyn StreamTranslator>,
    second: Box<dyn StreamTranslator>,
    middle: SseParser,
}

impl Chain {
    pub fn new(first: Box<dyn StreamTranslator>, second: Box<dyn StreamTranslator>) -> Self {
        Chain {
            first,
            second,
            middle: SseParser::new(),
        }
    }

    fn pass(&mut self, produced: Vec<Bytes>) -> Vec<Bytes> {
        let mut out = Vec::new();
        for bytes in produced {
            for ev in self.middle.feed(&bytes) {
                out.extend(self.second.on_event(&ev));
            }
        }
        out
    }
}

impl StreamTranslator for Chain {
    fn on_event(&mut self, ev: &SseEvent) -> Vec<Bytes> {
        let produced = self.first.on_event(ev);
        self.pass(produced)
    }

    fn finish(&mut self) -> Vec<Bytes> {
        let produced = self.first.finish();
        let mut out = self.pass(produced);
        if let Some(ev) = self.middle.finish() {
            out.extend(self.second.on_event(&ev));
        }
        if !self.second.is_done() {
            out.extend(self.second.finish());
        }
        out
    }

    fn fail(&mut self, code: &str, message: &str) -> Vec<Bytes> {
        let produced = self.first.fail(code, message);
        let mut out = self.pass(produced);
        if !self.second.is_done() {
            out.extend(self.second.fail(code, message));
        }
        out
    }

    fn is_done(&self) -> bool {
        self.second.is_done()
    }

    fn usage(&self) -> StreamUsage {
        self.first.usage()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::stream::{AnthropicToChat, ChatToAnthropic};

    fn ev(name: &str, data: &str) -> SseEvent {
        SseEvent {
            event: Some(name.into()),
            data: data.into(),
        }
    }

    #[test]
    fn anthropic_through_openai_back_to_anthropic_keeps_the_text() {
        let mut chain = Chain::new(
            Box::new(AnthropicToChat::new("m", true)),
            Box::new(ChatToAnthropic::new("m")),
        );
        let mut out = Vec::new();
        for (n, d) in [
            (
                "message_start",
                r#"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[],"stop_reason":null,"usage":{"input_tokens":3,"output_tokens":1}}}"#,
            ),
            (
                "content_block_start",
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
            ),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello "}}"#,
            ),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"there"}}"#,
            ),
            (
                "content_block_stop",
                r#"{"type":"content_block_stop","index":0}"#,
            ),
            (
                "message_delta",
                r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":2}}"#,
            ),
            ("message_stop", r#"{"type":"message_stop"}"#),
        ] {
            out.extend(chain.on_event(&ev(n, d)));
        }
        out.extend(chain.finish());
        let text: String = out
            .iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect();
        let mut parser = SseParser::new();
        let events = parser.feed(text.as_bytes());
        let joined: String = events
            .iter()
            .filter(|e| e.event.as_deref() == Some("content_block_delta"))
            .filter_map(|e| serde_json::from_str::<serde_json::Value>(&e.data).ok())
            .filter_map(|v| v["delta"]["text"].as_str().map(str::to_owned))
            .collect();
        assert_eq!(joined, "Hello there");
        assert_eq!(
            events.last().unwrap().event.as_deref(),
            Some("message_stop")
        );
        assert!(chain.is_done());
        assert_eq!(chain.usage().input, 3);
    }

    #[test]
    fn failure_in_the_middle_reaches_the_caller_as_its_error() {
        let mut chain = Chain::new(
            Box::new(AnthropicToChat::new("m", false)),
            Box::new(ChatToAnthropic::new("m")),
        );
        let out: String = chain
            .fail("upstream_error", "broke")
            .iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect();
        assert!(out.contains("event: error"), "{out}");
        assert!(chain.is_done());
    }
}
