//! `POST /v1/chat/completions` (and Azure's deployment route to it) in
//! OpenAI's real wire format (`wire-formats.md` §1): JSON completions, SSE
//! chunk streams ending in `data: [DONE]`, the optional `choices: []` usage
//! chunk, and tool-call deltas.

use std::sync::Arc;

use axum::Json;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::super::MockState;
use super::super::directives::Directives;
use super::super::error_body::OpenAiError;
use super::super::event_stream::{self, Ending};
use super::super::reply::{self, TOOL_ARGUMENT_FRAGMENTS, TOOL_ARGUMENTS};
use super::super::stats::StreamGuard;
use super::{CREATED, Delivery, ModelFrom, StreamOptions, parse_body};

const SYSTEM_FINGERPRINT: &str = "fp_mock";
const TOOL_CALL_ID: &str = "call_mock_1";
/// OpenAI's own per-message overhead is about this size; any fixed value
/// would do, but a realistic one keeps metering numbers plausible.
const TOKENS_PER_MESSAGE: u64 = 3;

#[derive(Deserialize)]
struct ChatRequest {
    model: Option<String>,
    messages: Option<Vec<Message>>,
    stream: Option<bool>,
    stream_options: Option<StreamOptions>,
    tools: Option<Vec<Tool>>,
}

#[derive(Deserialize)]
struct Message {
    role: String,
    content: Option<Content>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Content {
    Text(String),
    Parts(Vec<Part>),
}

/// Any content part; only `text` parts carry words the mock counts.
#[derive(Deserialize)]
struct Part {
    text: Option<String>,
}

#[derive(Deserialize)]
struct Tool {
    function: Option<ToolFunction>,
}

#[derive(Deserialize)]
struct ToolFunction {
    name: String,
}

impl Message {
    fn texts(&self) -> impl Iterator<Item = &str> {
        let (text, parts) = match &self.content {
            Some(Content::Text(text)) => (Some(text.as_str()), None),
            Some(Content::Parts(parts)) => (None, Some(parts)),
            None => (None, None),
        };
        text.into_iter().chain(
            parts
                .into_iter()
                .flatten()
                .filter_map(|p| p.text.as_deref()),
        )
    }
}

/// What the completion says.
enum Answer {
    Text(String),
    ToolCall { name: String },
}

struct Completion {
    id: String,
    model: String,
    answer: Answer,
    prompt_tokens: u64,
    completion_tokens: u64,
}

/// The answer to a chat request that passed the route's credential check.
pub(super) async fn answer(
    state: &MockState,
    n: u64,
    body: &[u8],
    model_from: ModelFrom<'_>,
) -> Result<Response, OpenAiError> {
    let request = validate(body, model_from)?;
    // A conversation ending in tool results is answered about them (as the
    // Anthropic mock does for tool_result blocks); directives are read from them
    // too, so the first turn's `[[mock:tool_call]]` does not fire again.
    let answering_tools = request.messages.last().is_some_and(|m| m.role == "tool");
    let last_user_text = if answering_tools {
        let results: Vec<String> = request
            .messages
            .iter()
            .rev()
            .take_while(|m| m.role == "tool")
            .map(|m| m.texts().collect::<Vec<_>>().join(" "))
            .collect();
        results.into_iter().rev().collect::<Vec<_>>().join(" ")
    } else {
        request
            .messages
            .iter()
            .rfind(|m| m.role == "user")
            .map(|m| m.texts().collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    };
    let directives = Directives::parse(&last_user_text);
    if let Some(status) = directives.delay_then_status().await {
        return Err(OpenAiError::injected(status));
    }

    let (answer, completion_tokens) = match request.first_tool {
        Some(name) if directives.tool_call => (
            Answer::ToolCall { name },
            TOOL_ARGUMENT_FRAGMENTS.len() as u64,
        ),
        _ => {
            let text = if answering_tools {
                reply::tool_result_reply_text(&last_user_text, &directives)
            } else {
                reply::reply_text(&last_user_text, &directives)
            };
            let pieces = reply::stream_pieces(&text).len() as u64;
            (Answer::Text(text), pieces)
        }
    };
    let completion = Completion {
        id: format!("chatcmpl-mock-{n}"),
        model: request.model,
        answer,
        prompt_tokens: prompt_tokens(&request.messages),
        completion_tokens,
    };

    let include_usage = match request.delivery {
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

/// A request that passed the checks OpenAI makes before generating.
struct ValidRequest {
    model: String,
    messages: Vec<Message>,
    delivery: Delivery,
    first_tool: Option<String>,
}

fn validate(body: &[u8], model_from: ModelFrom<'_>) -> Result<ValidRequest, OpenAiError> {
    let request: ChatRequest = parse_body(body)?;
    let model = model_from.resolve(request.model)?;
    let messages = request.messages.ok_or_else(|| {
        OpenAiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "Missing required parameter: 'messages'.",
        )
        .param("messages")
        .code("missing_required_parameter")
    })?;
    Ok(ValidRequest {
        model,
        messages,
        delivery: Delivery::of(request.stream, request.stream_options),
        first_tool: request
            .tools
            .into_iter()
            .flatten()
            .find_map(|t| t.function)
            .map(|f| f.name),
    })
}

/// Words of every text content, plus a fixed overhead per message.
fn prompt_tokens(messages: &[Message]) -> u64 {
    messages
        .iter()
        .map(|m| m.texts().map(reply::count_words).sum::<u64>() + TOKENS_PER_MESSAGE)
        .sum()
}

impl Completion {
    fn usage(&self) -> Value {
        json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0},
        })
    }

    fn finish_reason(&self) -> &'static str {
        match self.answer {
            Answer::Text(_) => "stop",
            Answer::ToolCall { .. } => "tool_calls",
        }
    }

    fn to_json(&self) -> Value {
        let message = match &self.answer {
            Answer::Text(text) => json!({"role": "assistant", "content": text, "refusal": null}),
            Answer::ToolCall { name } => json!({
                "role": "assistant",
                "content": null,
                "refusal": null,
                "tool_calls": [{
                    "id": TOOL_CALL_ID,
                    "type": "function",
                    "function": {"name": name, "arguments": TOOL_ARGUMENTS},
                }],
            }),
        };
        json!({
            "id": self.id,
            "object": "chat.completion",
            "created": CREATED,
            "model": self.model,
            "system_fingerprint": SYSTEM_FINGERPRINT,
            "choices": [{
                "index": 0,
                "message": message,
                "logprobs": null,
                "finish_reason": self.finish_reason(),
            }],
            "usage": self.usage(),
        })
    }

    /// Every SSE event of the stream, `[DONE]` included, in order.
    fn stream_events(&self, include_usage: bool) -> Vec<Bytes> {
        let mut deltas = Vec::new();
        match &self.answer {
            Answer::Text(text) => {
                deltas.push(json!({"role": "assistant", "content": ""}));
                deltas.extend(
                    reply::stream_pieces(text)
                        .into_iter()
                        .map(|p| json!({"content": p})),
                );
            }
            Answer::ToolCall { name } => {
                // Role and opening tool delta share a chunk, as OpenAI sends them.
                deltas.push(
                    json!({"role": "assistant", "content": null, "tool_calls": [{
                        "index": 0,
                        "id": TOOL_CALL_ID,
                        "type": "function",
                        "function": {"name": name, "arguments": ""},
                    }]}),
                );
                deltas.extend(TOOL_ARGUMENT_FRAGMENTS.iter().map(|fragment| {
                    json!({"tool_calls": [{"index": 0, "function": {"arguments": fragment}}]})
                }));
            }
        }
        // With include_usage every chunk carries `usage`: null until the last.
        let no_usage_yet = include_usage.then_some(Value::Null);
        let mut events: Vec<Bytes> = deltas
            .into_iter()
            .map(|delta| {
                let choice =
                    json!({"index": 0, "delta": delta, "logprobs": null, "finish_reason": null});
                self.chunk(json!([choice]), no_usage_yet.clone())
            })
            .collect();
        let closing = json!({"index": 0, "delta": {}, "logprobs": null, "finish_reason": self.finish_reason()});
        events.push(self.chunk(json!([closing]), no_usage_yet));
        if include_usage {
            events.push(self.chunk(json!([]), Some(self.usage())));
        }
        events.push(Bytes::from_static(b"data: [DONE]\n\n"));
        events
    }

    /// One `chat.completion.chunk` event; `usage: None` omits the field.
    fn chunk(&self, choices: Value, usage: Option<Value>) -> Bytes {
        let mut chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": self.model,
            "system_fingerprint": SYSTEM_FINGERPRINT,
            "choices": choices,
        });
        if let Some(usage) = usage {
            chunk["usage"] = usage;
        }
        Bytes::from(format!("data: {chunk}\n\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(value: Value) -> Vec<Message> {
        serde_json::from_value(value).unwrap_or_else(|e| panic!("test messages must parse: {e}"))
    }

    #[test]
    fn prompt_tokens_count_text_words_plus_overhead_per_message() {
        let messages = messages(json!([
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [
                {"type": "text", "text": "one two three"},
                {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
                {"type": "text", "text": "four"},
            ]},
            {"role": "assistant", "content": null, "tool_calls": []},
            {"role": "tool", "tool_call_id": "c1", "content": "sunny  and\nwarm"},
        ]));
        // 2 + 4 + 0 + 3 words, 4 messages.
        assert_eq!(prompt_tokens(&messages), 9 + 4 * TOKENS_PER_MESSAGE);
    }
}
