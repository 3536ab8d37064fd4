//! `POST /v1/responses` in OpenAI's Responses wire format: a whole `response`
//! object, or typed SSE events (`event: <type>` + `data` with `sequence_number`)
//! from `response.created` to `response.completed`; function calls with argument
//! deltas. Deterministic like the chat route: the reply echoes the last user
//! text, or names the function-call outputs the request ends with.

use std::sync::Arc;

use axum::Json;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::StatusCode;
use serde_json::{Value, json};

use super::super::MockState;
use super::super::directives::Directives;
use super::super::error_body::OpenAiError;
use super::super::event_stream::{self, Ending};
use super::super::reply::{self, TOOL_ARGUMENT_FRAGMENTS, TOOL_ARGUMENTS};
use super::super::stats::StreamGuard;
use super::{CREATED, parse_body};

const CALL_ID: &str = "call_mock_1";
/// Per input item overhead, like the chat mock's per message.
const TOKENS_PER_ITEM: u64 = 3;

enum Answer {
    Text(String),
    Call { name: String },
}

/// Texts of a message item's content (a string or parts with `text`).
fn texts(content: &Value) -> Vec<&str> {
    match content {
        Value::String(s) => vec![s.as_str()],
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect(),
        _ => Vec::new(),
    }
}

fn output_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => texts(other).join(" "),
    }
}

pub(super) async fn answer(
    state: &MockState,
    n: u64,
    body: &[u8],
) -> Result<Response, OpenAiError> {
    let request: Value = parse_body(body)?;
    let model = request
        .get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| super::invalid("model", "Missing required parameter: 'model'."))?
        .to_owned();
    let items: Vec<Value> = match request.get("input") {
        Some(Value::String(s)) => vec![json!({"role": "user", "content": s})],
        Some(Value::Array(items)) => items.clone(),
        _ => {
            return Err(OpenAiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "Missing required parameter: 'input'.",
            )
            .param("input"));
        }
    };
    let kind = |i: &Value| {
        i.get("type")
            .and_then(Value::as_str)
            .unwrap_or("message")
            .to_owned()
    };
    let answering_tools = items
        .last()
        .is_some_and(|i| kind(i) == "function_call_output");
    let last_text = if answering_tools {
        let outputs: Vec<String> = items
            .iter()
            .rev()
            .take_while(|i| kind(i) == "function_call_output")
            .map(|i| output_text(&i["output"]))
            .collect();
        outputs.into_iter().rev().collect::<Vec<_>>().join(" ")
    } else {
        items
            .iter()
            .rfind(|i| kind(i) == "message" && i["role"] == "user")
            .map(|i| texts(&i["content"]).join(" "))
            .unwrap_or_default()
    };
    let directives = Directives::parse(&last_text);
    if let Some(status) = directives.delay_then_status().await {
        return Err(OpenAiError::injected(status));
    }
    let first_tool = request
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|t| t["type"] == "function")
        .and_then(|t| t["name"].as_str())
        .map(str::to_owned);
    let (answer, output_tokens) = match first_tool {
        Some(name) if directives.tool_call => {
            (Answer::Call { name }, TOOL_ARGUMENT_FRAGMENTS.len() as u64)
        }
        _ => {
            let text = if answering_tools {
                reply::tool_result_reply_text(&last_text, &directives)
            } else {
                reply::reply_text(&last_text, &directives)
            };
            let pieces = reply::stream_pieces(&text).len() as u64;
            (Answer::Text(text), pieces)
        }
    };
    let mut input_tokens: u64 = items
        .iter()
        .map(|i| {
            let words: u64 = match kind(i).as_str() {
                "message" => texts(&i["content"])
                    .into_iter()
                    .map(reply::count_words)
                    .sum(),
                "function_call_output" => reply::count_words(&output_text(&i["output"])),
                _ => 0,
            };
            words + TOKENS_PER_ITEM
        })
        .sum();
    if let Some(instructions) = request.get("instructions").and_then(Value::as_str) {
        input_tokens += reply::count_words(instructions) + TOKENS_PER_ITEM;
    }
    let r = MockResponse {
        id: format!("resp_mock_{n}"),
        model,
        answer,
        input_tokens,
        output_tokens,
    };
    let stream = request.get("stream").and_then(Value::as_bool) == Some(true);
    if !stream {
        if directives.drop_after.is_some() {
            return Ok(Response::new(event_stream::broken_body()));
        }
        return Ok(Json(r.object("completed", true)).into_response());
    }
    let guard = StreamGuard::start(Arc::clone(&state.stats));
    let body = event_stream::body(r.events(), Ending::Complete, &directives, guard);
    Ok(event_stream::sse_response(body))
}

struct MockResponse {
    id: String,
    model: String,
    answer: Answer,
    input_tokens: u64,
    output_tokens: u64,
}

impl MockResponse {
    fn item(&self, done: bool) -> Value {
        let status = if done { "completed" } else { "in_progress" };
        match &self.answer {
            Answer::Text(text) => json!({
                "type": "message", "id": format!("msg_{}", self.id), "status": status, "role": "assistant",
                "content": if done { json!([text_part(text)]) } else { json!([]) },
            }),
            Answer::Call { name } => json!({
                "type": "function_call", "id": format!("fc_{}", self.id), "call_id": CALL_ID,
                "name": name, "arguments": if done { TOOL_ARGUMENTS } else { "" }, "status": status,
            }),
        }
    }

    fn object(&self, status: &str, done: bool) -> Value {
        json!({
            "id": self.id, "object": "response", "created_at": CREATED, "status": status,
            "background": false, "error": null, "incomplete_details": null, "instructions": null,
            "max_output_tokens": null, "metadata": {}, "model": self.model,
            "output": if done { json!([self.item(true)]) } else { json!([]) },
            "parallel_tool_calls": true, "previous_response_id": null,
            "reasoning": {"effort": null, "summary": null}, "store": false, "temperature": 1.0,
            "text": {"format": {"type": "text"}}, "tool_choice": "auto", "tools": [], "top_p": 1.0,
            "truncation": "disabled",
            "usage": if done { json!({
                "input_tokens": self.input_tokens, "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": self.output_tokens, "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": self.input_tokens + self.output_tokens,
            }) } else { Value::Null },
            "user": null,
        })
    }

    fn events(&self) -> Vec<Bytes> {
        let mut events = vec![
            (
                "response.created",
                json!({"response": self.object("in_progress", false)}),
            ),
            (
                "response.in_progress",
                json!({"response": self.object("in_progress", false)}),
            ),
            (
                "response.output_item.added",
                json!({"output_index": 0, "item": self.item(false)}),
            ),
        ];
        match &self.answer {
            Answer::Text(text) => {
                let item_id = format!("msg_{}", self.id);
                let at = json!({"item_id": item_id, "output_index": 0, "content_index": 0});
                let with = |mut v: Value, extra: Value| {
                    if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
                        o.extend(e.clone());
                    }
                    v
                };
                events.push((
                    "response.content_part.added",
                    with(at.clone(), json!({"part": text_part("")})),
                ));
                for piece in reply::stream_pieces(text) {
                    events.push((
                        "response.output_text.delta",
                        with(at.clone(), json!({"delta": piece, "logprobs": []})),
                    ));
                }
                events.push((
                    "response.output_text.done",
                    with(at.clone(), json!({"text": text, "logprobs": []})),
                ));
                events.push((
                    "response.content_part.done",
                    with(at, json!({"part": text_part(text)})),
                ));
            }
            Answer::Call { name } => {
                let item_id = format!("fc_{}", self.id);
                for fragment in TOOL_ARGUMENT_FRAGMENTS {
                    events.push((
                        "response.function_call_arguments.delta",
                        json!({"item_id": item_id, "output_index": 0, "delta": fragment}),
                    ));
                }
                events.push((
                    "response.function_call_arguments.done",
                    json!({"item_id": item_id, "output_index": 0, "name": name, "arguments": TOOL_ARGUMENTS}),
                ));
            }
        }
        events.push((
            "response.output_item.done",
            json!({"output_index": 0, "item": self.item(true)}),
        ));
        events.push((
            "response.completed",
            json!({"response": self.object("completed", true)}),
        ));
        events
            .into_iter()
            .enumerate()
            .map(|(seq, (kind, mut data))| {
                data["type"] = json!(kind);
                data["sequence_number"] = json!(seq);
                Bytes::from(format!("event: {kind}\ndata: {data}\n\n"))
            })
            .collect()
    }
}

fn text_part(text: &str) -> Value {
    json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []})
}
