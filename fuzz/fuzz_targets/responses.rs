//! Every whole-response translator on any JSON answer: Anthropic → OpenAI chat,
//! OpenAI chat → Anthropic, Gemini → OpenAI chat (and on to Anthropic, as
//! `/v1/messages` does for Gemini), Gemini embeddings. An upstream's answer is
//! untrusted input too: no panic, and the output is JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tollgate_fuzz::translate::anthropic::{chat_response_to_messages, messages_response_to_chat};
use tollgate_fuzz::translate::gemini::{gemini_embeddings, gemini_response_to_chat};

fuzz_target!(|data: &[u8]| {
    let Ok(resp) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    if let Ok(chat) = messages_response_to_chat(&resp, "m") {
        assert!(serde_json::to_vec(&chat).is_ok());
    }
    if let Ok(messages) = chat_response_to_messages(&resp, "m") {
        assert!(serde_json::to_vec(&messages).is_ok());
    }
    if let Ok(chat) = gemini_response_to_chat(&resp, "m") {
        let _ = chat_response_to_messages(&chat, "m");
    }
    let _ = gemini_embeddings(&resp);
});
