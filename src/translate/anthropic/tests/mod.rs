//! Tests of the four translations on small recorded-style bodies, plus properties.

use serde_json::Value;

use super::{
    ChatToMessagesOptions, TranslateError, chat_request_to_messages, messages_request_to_chat,
};

mod chat_request;
mod fuzz;
mod messages_request;
mod responses;
mod round_trip;

const OPTS: ChatToMessagesOptions = ChatToMessagesOptions {
    default_max_tokens: 4096,
};

/// OpenAI request → Anthropic request for `claude-x`, expected to succeed.
fn to_anthropic(req: Value) -> Value {
    chat_request_to_messages(&req, "claude-x", &OPTS).unwrap_or_else(|e| panic!("{e:?} for {req}"))
}

/// OpenAI request → the error's field path, expected to fail.
fn to_anthropic_err(req: Value) -> TranslateError {
    match chat_request_to_messages(&req, "claude-x", &OPTS) {
        Ok(out) => panic!("expected an error for {req}, got {out}"),
        Err(e) => e,
    }
}

/// Anthropic request → OpenAI request for `gpt-x`, expected to succeed.
fn to_openai(req: Value) -> Value {
    messages_request_to_chat(&req, "gpt-x").unwrap_or_else(|e| panic!("{e:?} for {req}"))
}

fn to_openai_err(req: Value) -> TranslateError {
    match messages_request_to_chat(&req, "gpt-x") {
        Ok(out) => panic!("expected an error for {req}, got {out}"),
        Err(e) => e,
    }
}
