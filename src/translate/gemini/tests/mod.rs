//! Tests of the Gemini translations on small recorded-style bodies and streams, plus
//! properties. Unit tests of the helpers (`schema`, `media`, `usage`, `call_id`) sit
//! beside them.

use serde_json::Value;

use super::{TranslateError, chat_request_to_gemini};

mod chat_request;
mod embeddings;
mod fuzz;
mod responses;
mod stream;
mod tools;

/// OpenAI request → Gemini request, expected to succeed.
fn to_gemini(req: Value) -> Value {
    chat_request_to_gemini(&req).unwrap_or_else(|e| panic!("{e:?} for {req}"))
}

/// OpenAI request → the error, expected to fail.
fn to_gemini_err(req: Value) -> TranslateError {
    match chat_request_to_gemini(&req) {
        Ok(out) => panic!("expected an error for {req}, got {out}"),
        Err(e) => e,
    }
}
