//! An OpenAI chat completion → a Responses API `response` object.

use serde_json::{Value, json};

use super::{response_object, usage_from_chat};
use crate::translate::anthropic::TranslateError;

/// The chat completion `answer` as the `response` object a Responses caller expects,
/// naming `model` (the caller's).
pub fn chat_response_to_responses(answer: &Value, model: &str) -> Result<Value, TranslateError> {
    let choice = answer
        .pointer("/choices/0")
        .ok_or_else(|| TranslateError::new("choices", "the answer has no choices"))?;
    let message = choice
        .get("message")
        .filter(|m| m.is_object())
        .ok_or_else(|| TranslateError::new("choices[0].message", "the answer has no message"))?;
    let base = answer
        .get("id")
        .and_then(Value::as_str)
        .map(|id| id.trim_start_matches("chatcmpl-").to_owned())
        .unwrap_or_else(|| "gateway".to_owned());
    let mut output = Vec::new();
    if let Some(reasoning) = message
        .get("reasoning_content")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        output.push(json!({
            "type": "reasoning",
            "id": format!("rs_{base}"),
            "summary": [{"type": "summary_text", "text": reasoning}],
        }));
    }
    let text = message.get("content").and_then(Value::as_str).unwrap_or("");
    let refusal = message.get("refusal").and_then(Value::as_str);
    if !text.is_empty() || refusal.is_some() {
        let part = match refusal {
            Some(r) if text.is_empty() => json!({"type": "refusal", "refusal": r}),
            _ => json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []}),
        };
        output.push(json!({
            "type": "message",
            "id": format!("msg_{base}"),
            "status": "completed",
            "role": "assistant",
            "content": [part],
        }));
    }
    for (i, call) in message
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let path = format!("choices[0].message.tool_calls[{i}]");
        let function = call
            .get("function")
            .ok_or_else(|| TranslateError::new(&path, "a tool call has no function"))?;
        let name = function
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| TranslateError::new(&path, "a tool call has no name"))?;
        let call_id = call
            .get("id")
            .and_then(Value::as_str)
            .map_or_else(|| format!("call_{base}_{i}"), str::to_owned);
        output.push(json!({
            "type": "function_call",
            "id": format!("fc_{call_id}"),
            "call_id": call_id,
            "name": name,
            "arguments": function.get("arguments").and_then(Value::as_str).unwrap_or("{}"),
            "status": "completed",
        }));
    }
    let finish = choice.get("finish_reason").and_then(Value::as_str);
    let incomplete = match finish {
        Some("length") => Some("max_output_tokens"),
        Some("content_filter") => Some("content_filter"),
        _ => None,
    };
    let created = answer.get("created").and_then(Value::as_u64);
    let mut response = response_object(&format!("resp_{base}"), model, created);
    response["status"] = json!(if incomplete.is_some() {
        "incomplete"
    } else {
        "completed"
    });
    if let Some(reason) = incomplete {
        response["incomplete_details"] = json!({"reason": reason});
    }
    response["output"] = Value::Array(output);
    response["usage"] = answer
        .get("usage")
        .map(usage_from_chat)
        .unwrap_or(Value::Null);
    Ok(response)
}
