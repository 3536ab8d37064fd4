//! `POST /v1/completions`, OpenAI's legacy text completions
//! (`wire-formats.md` §1): `text_completion` objects, and SSE streams of
//! `text_completion` chunks ending in `data: [DONE]`.
//!
//! The reply is the chat reply to the prompt (`Mock reply to: <prompt>`),
//! and `max_tokens` cuts it after that many words with `finish_reason:
//! "length"`. Unlike the real API the mock applies no limit when
//! `max_tokens` is absent (OpenAI's default is 16), so an echo is never cut
//! by surprise. Prompt tokens are the prompt's words, with no per-message
//! overhead since there are no messages.

use std::sync::Arc;

use axum::Json;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};

use super::super::MockState;
use super::super::directives::Directives;
use super::super::error_body::OpenAiError;
use super::super::event_stream::{self, Ending};
use super::super::reply;
use super::super::stats::StreamGuard;
use super::{CREATED, Delivery, ModelFrom, StreamOptions, invalid, parse_body};

#[derive(Deserialize)]
struct CompletionRequest {
    model: Option<String>,
    #[serde(default)]
    prompt: Value,
    max_tokens: Option<u64>,
    stream: Option<bool>,
    stream_options: Option<StreamOptions>,
}

struct TextCompletion {
    id: String,
    model: String,
    text: String,
    finish_reason: &'static str,
    prompt_tokens: u64,
}

/// The answer to a completion request that passed the Bearer check.
pub(super) async fn answer(
    state: &MockState,
    n: u64,
    body: &[u8],
) -> Result<Response, OpenAiError> {
    let request: CompletionRequest = parse_body(body)?;
    let model = ModelFrom::Body.resolve(request.model)?;
    let prompt = prompt_text(&request.prompt)?;
    let directives = Directives::parse(&prompt);
    if let Some(status) = directives.delay_then_status().await {
        return Err(OpenAiError::injected(status));
    }

    let reply = reply::reply_text(&prompt, &directives);
    let pieces = reply::stream_pieces(&reply);
    let cut = request
        .max_tokens
        .map(|max| usize::try_from(max).unwrap_or(usize::MAX))
        .filter(|&max| max < pieces.len())
        .map(|max| pieces[..max].concat());
    let (text, finish_reason) = match cut {
        Some(text) => (text, "length"),
        None => (reply, "stop"),
    };
    let completion = TextCompletion {
        id: format!("cmpl-mock-{n}"),
        model,
        text,
        finish_reason,
        prompt_tokens: reply::count_words(&prompt),
    };

    let include_usage = match Delivery::of(request.stream, request.stream_options) {
        Delivery::Whole if directives.drop_after.is_some() => {
            return Ok(Response::new(event_stream::broken_body()));
        }
        Delivery::Whole => return Ok(Json(completion.to_json()).into_response()),
        Delivery::Stream { include_usage } => include_usage,
    };
    let events = completion.stream_events(include_usage);
    let guard = StreamGuard::start(Arc::clone(&state.stats));
    let body = event_stream::body(events, Ending::Complete, &directives, guard);
    Ok(event_stream::sse_response(body))
}

/// The prompt the reply answers: a string, or the first of an array of
/// strings; token ids (one array, or the first of several) are read as
/// their numbers joined by spaces, so each id counts as one token.
fn prompt_text(prompt: &Value) -> Result<String, OpenAiError> {
    let first = match prompt {
        Value::Array(items) => items.first().map(|first| match first {
            Value::Number(_) => prompt,
            other => other,
        }),
        Value::Null => None,
        other => Some(other),
    };
    match first {
        Some(Value::String(text)) => Ok(text.clone()),
        Some(Value::Array(ids)) if !ids.is_empty() && ids.iter().all(Value::is_u64) => Ok(ids
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" ")),
        None if prompt.is_null() => Err(invalid("prompt", "Missing required parameter: 'prompt'.")
            .code("missing_required_parameter")),
        _ => Err(invalid(
            "prompt",
            "'prompt' must be a string, an array of strings, an array of token ids \
             or an array of token-id arrays, and not empty",
        )),
    }
}

impl TextCompletion {
    fn completion_tokens(&self) -> u64 {
        reply::stream_pieces(&self.text).len() as u64
    }

    fn usage(&self) -> Value {
        let completion_tokens = self.completion_tokens();
        json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": self.prompt_tokens + completion_tokens,
        })
    }

    fn to_json(&self) -> Value {
        let mut body = self.object(json!([{
            "text": self.text, "index": 0, "logprobs": null, "finish_reason": self.finish_reason,
        }]));
        body["usage"] = self.usage();
        body
    }

    /// A `text_completion` object without `usage`.
    fn object(&self, choices: Value) -> Value {
        json!({
            "id": self.id,
            "object": "text_completion",
            "created": CREATED,
            "model": self.model,
            "choices": choices,
        })
    }

    /// One chunk per word, a closing chunk with the finish reason, the
    /// `choices: []` usage chunk if asked for, then `[DONE]`.
    fn stream_events(&self, include_usage: bool) -> Vec<Bytes> {
        let choice = |text: &str, finish_reason: Option<&str>| json!([{"text": text, "index": 0, "logprobs": null, "finish_reason": finish_reason}]);
        let mut chunks: Vec<Value> = reply::stream_pieces(&self.text)
            .into_iter()
            .map(|piece| self.object(choice(piece, None)))
            .collect();
        chunks.push(self.object(choice("", Some(self.finish_reason))));
        if include_usage {
            let mut usage = self.object(json!([]));
            usage["usage"] = self.usage();
            chunks.push(usage);
        }
        let mut events: Vec<Bytes> = chunks
            .iter()
            .map(|chunk| Bytes::from(format!("data: {chunk}\n\n")))
            .collect();
        events.push(Bytes::from_static(b"data: [DONE]\n\n"));
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_forms_all_give_text() {
        let ok = |prompt: Value| prompt_text(&prompt).map_err(|_| format!("{prompt} rejected"));
        assert_eq!(ok(json!("hi there")), Ok("hi there".into()));
        assert_eq!(ok(json!(["first", "second"])), Ok("first".into()));
        assert_eq!(ok(json!([1, 2, 3])), Ok("1 2 3".into()));
        assert_eq!(ok(json!([[7, 8], [9]])), Ok("7 8".into()));
        for bad in [json!(null), json!([]), json!(5), json!([[]]), json!([true])] {
            assert!(prompt_text(&bad).is_err(), "{bad}");
        }
    }
}
