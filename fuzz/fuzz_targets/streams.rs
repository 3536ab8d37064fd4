//! Every stream translator on any upstream event stream: Anthropic → OpenAI chunks,
//! OpenAI chunks → Anthropic, Gemini → OpenAI chunks, and Gemini → Anthropic (the
//! chain `/v1/messages` uses). No panic; every event written is one JSON value (or
//! OpenAI's `[DONE]`); and once the stream has ended the translator is done, with
//! its terminal event written (never a silent stop).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_fuzz::translate::gemini::GeminiToChat;
use tollgate_fuzz::translate::sse::SseParser;
use tollgate_fuzz::translate::stream::{AnthropicToChat, Chain, ChatToAnthropic, StreamTranslator};

fn translators() -> Vec<(&'static str, Box<dyn StreamTranslator>)> {
    vec![
        ("anthropic->chat", Box::new(AnthropicToChat::new("m", true))),
        ("chat->anthropic", Box::new(ChatToAnthropic::new("m"))),
        ("gemini->chat", Box::new(GeminiToChat::new("m", true))),
        (
            "gemini->anthropic",
            Box::new(Chain::new(
                Box::new(GeminiToChat::new("m", true)),
                Box::new(ChatToAnthropic::new("m")),
            )),
        ),
    ]
}

/// Each event in `out` carries JSON data, or `[DONE]`.
fn well_formed(name: &str, out: &[bytes::Bytes]) {
    let mut parser = SseParser::new();
    let mut events: Vec<_> = out.iter().flat_map(|b| parser.feed(b)).collect();
    events.extend(parser.finish());
    for ev in events {
        if ev.data == "[DONE]" {
            continue;
        }
        assert!(
            serde_json::from_str::<serde_json::Value>(&ev.data).is_ok(),
            "{name} wrote an event that is not JSON: {:?}",
            ev.data
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let mut parser = SseParser::new();
    let mut events = parser.feed(data);
    events.extend(parser.finish());
    for (name, mut t) in translators() {
        let mut out = Vec::new();
        for ev in &events {
            out.extend(t.on_event(ev));
        }
        out.extend(t.finish());
        assert!(t.is_done(), "{name} is not done after the stream ended");
        assert!(!out.is_empty(), "{name} ended without a terminal event");
        well_formed(name, &out);
        let _ = t.usage();
    }
});
