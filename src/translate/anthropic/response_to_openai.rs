//! Anthropic message (a response) → OpenAI `chat.completion` (wire-formats.md §5.2).

use serde_json::{Map, Value, json};

use super::TranslateError;
use super::usage::usage_to_openai;
use crate::translate::reasons;
use crate::translate::shape::{
    body, expected, item, object, opt_array, opt_str, present, req_nonempty_str, req_str,
};

/// Anthropic messages response → OpenAI chat.completion; `model` is what the caller
/// asked for. Thinking text is exposed as `message.reasoning_content`.
pub fn messages_response_to_chat(resp: &Value, model: &str) -> Result<Value, TranslateError> {
    let resp = body(resp)?;
    if let Some(kind) = opt_str(resp, "type", "")?
        && kind != "message"
    {
        return Err(expected("type", "`message`"));
    }
    let id = req_nonempty_str(resp, "id", "")?;

    let mut text = String::new();
    let mut reasoning = String::new();
    let mut tool_calls = Vec::new();
    for (i, block) in opt_array(resp, "content", "")?
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let path = item("content", i);
        let block = object(block, &path)?;
        match req_str(block, "type", &path)? {
            "text" => text.push_str(req_str(block, "text", &path)?),
            "tool_use" => {
                let call_id = req_nonempty_str(block, "id", &path)?;
                let name = req_nonempty_str(block, "name", &path)?;
                let arguments = match present(block, "input") {
                    Some(input) => input.to_string(),
                    None => "{}".to_owned(),
                };
                tool_calls.push(json!({
                    "id": call_id,
                    "type": "function",
                    "function": { "name": name, "arguments": arguments },
                }));
            }
            "thinking" => {
                reasoning.push_str(opt_str(block, "thinking", &path)?.unwrap_or_default());
            }
            // redacted_thinking, server tool blocks and future types: nothing an OpenAI
            // client can show or send back.
            _ => {}
        }
    }

    let stop_reason = opt_str(resp, "stop_reason", "")?;
    let finish_reason = match stop_reason.map(reasons::anthropic_to_openai) {
        // A turn that asks for tools must say so, or agent loops stop (§5.6).
        Some("stop") | None if !tool_calls.is_empty() => "tool_calls",
        Some(reason) => reason,
        None => "stop",
    };

    let mut message = Map::new();
    message.insert("role".into(), "assistant".into());
    let content = if text.is_empty() && !tool_calls.is_empty() {
        Value::Null
    } else {
        Value::String(text)
    };
    message.insert("content".into(), content);
    message.insert("refusal".into(), Value::Null);
    if !tool_calls.is_empty() {
        message.insert("tool_calls".into(), Value::Array(tool_calls));
    }
    if !reasoning.is_empty() {
        message.insert("reasoning_content".into(), Value::String(reasoning));
    }

    Ok(json!({
        "id": format!("chatcmpl-{id}"),
        "object": "chat.completion",
        "created": time::OffsetDateTime::now_utc().unix_timestamp(),
        "model": model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish_reason,
        }],
        "usage": usage_to_openai(present(resp, "usage"))?,
    }))
}
