//! Every request translator on any JSON body: OpenAI chat → Anthropic messages,
//! Anthropic messages → OpenAI chat, OpenAI chat → Gemini, OpenAI embeddings →
//! Gemini, and the peek and request limits that run before them. None may panic or
//! overflow its stack; whatever they produce is JSON that reads back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tollgate_fuzz::translate::anthropic::{
    ChatToMessagesOptions, chat_request_to_messages, messages_request_to_chat,
};
use tollgate_fuzz::translate::gemini::{chat_request_to_gemini, embeddings_request_to_gemini};
use tollgate_fuzz::translate::{limits, peek::ChatPeek};

fn reads_back(v: &Value) {
    let bytes = serde_json::to_vec(v).expect("a translated body serializes");
    let again: Value = serde_json::from_slice(&bytes).expect("and parses back");
    assert_eq!(&again, v);
}

fuzz_target!(|data: &[u8]| {
    let _ = ChatPeek::parse(data);
    let _ = limits::check(data);
    let Ok(req) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let opts = ChatToMessagesOptions {
        default_max_tokens: 4096,
    };
    if let Ok(messages) = chat_request_to_messages(&req, "claude-haiku-4-5", &opts) {
        reads_back(&messages);
        // And back again: an Anthropic body we made must be one we can read.
        let _ = messages_request_to_chat(&messages, "gpt-4o-mini");
    }
    if let Ok(chat) = messages_request_to_chat(&req, "gpt-4o-mini") {
        reads_back(&chat);
        if let Ok(gemini) = chat_request_to_gemini(&chat) {
            reads_back(&gemini);
        }
    }
    if let Ok(gemini) = chat_request_to_gemini(&req) {
        reads_back(&gemini);
    }
    let _ = embeddings_request_to_gemini(&req, "models/gemini-embedding-001");
});
