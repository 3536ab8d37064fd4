//! Gemini `GenerateContentResponse` → OpenAI `chat.completion` (wire-formats.md §3,
//! §5.4, §5.5).

use serde_json::{Map, Value, json};

use super::TranslateError;
use super::call_id;
use super::usage::usage_to_openai;
use crate::translate::reasons;
use crate::translate::shape::{
    Object, body, expected, field, item, object, opt_array, opt_bool, opt_object, opt_str, opt_u64,
    present, req_nonempty_str,
};

/// Gemini `GenerateContentResponse` → OpenAI `chat.completion`; `model` is what the
/// caller asked for. Each candidate becomes a choice (`n` → `candidateCount`). A
/// prompt Gemini blocked (no candidates, `promptFeedback.blockReason`) becomes one
/// empty choice with `finish_reason: "content_filter"`.
pub fn gemini_response_to_chat(resp: &Value, model: &str) -> Result<Value, TranslateError> {
    let resp = body(resp)?;
    if let Some(error) = present(resp, "error") {
        let message = error
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("no message");
        return Err(TranslateError::new(
            "error",
            format!("the upstream answered with an error instead of a response: {message}"),
        ));
    }
    let candidates = opt_array(resp, "candidates", "")?.unwrap_or_default();
    let choices = if candidates.is_empty() {
        if block_reason(resp)?.is_none() {
            return Err(expected(
                "candidates",
                "a non-empty array, or absent with a `promptFeedback.blockReason`",
            ));
        }
        vec![choice(0, Map::new(), "content_filter")]
    } else {
        candidates
            .iter()
            .enumerate()
            .map(|(i, c)| candidate_to_choice(c, i, &item("candidates", i)))
            .collect::<Result<_, _>>()?
    };
    let id = match opt_str(resp, "responseId", "")?.filter(|id| !id.is_empty()) {
        Some(id) => format!("chatcmpl-{id}"),
        None => format!("chatcmpl-{}", uuid::Uuid::new_v4().simple()),
    };
    Ok(json!({
        "id": id,
        "object": "chat.completion",
        "created": time::OffsetDateTime::now_utc().unix_timestamp(),
        "model": model,
        "choices": choices,
        "usage": usage_to_openai(present(resp, "usageMetadata"))?,
    }))
}

/// `promptFeedback.blockReason`, if Gemini refused the prompt.
fn block_reason(resp: &Object) -> Result<Option<&str>, TranslateError> {
    match opt_object(resp, "promptFeedback", "")? {
        Some(feedback) => {
            Ok(opt_str(feedback, "blockReason", "promptFeedback")?.filter(|r| !r.is_empty()))
        }
        None => Ok(None),
    }
}

/// One candidate → one choice: text parts joined into `content`, thought parts into
/// `reasoning_content`, `functionCall` parts into `tool_calls`.
fn candidate_to_choice(
    candidate: &Value,
    position: usize,
    path: &str,
) -> Result<Value, TranslateError> {
    let candidate = object(candidate, path)?;
    let index = opt_u64(candidate, "index", path)?.unwrap_or(position as u64);
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut tool_calls = Vec::new();
    let content_path = field(path, "content");
    let parts = match opt_object(candidate, "content", path)? {
        Some(content) => opt_array(content, "parts", &content_path)?.unwrap_or_default(),
        None => &[],
    };
    let parts_path = field(&content_path, "parts");
    for (j, part) in parts.iter().enumerate() {
        let part_path = item(&parts_path, j);
        let part = object(part, &part_path)?;
        if let Some(call) = opt_object(part, "functionCall", &part_path)? {
            tool_calls.push(tool_call(call, part, &part_path)?);
        } else if let Some(t) = opt_str(part, "text", &part_path)? {
            if opt_bool(part, "thought", &part_path)? == Some(true) {
                reasoning.push_str(t);
            } else {
                text.push_str(t);
            }
        }
        // inlineData (generated images), executableCode, codeExecutionResult and
        // future part types: nothing a chat completion message can hold.
    }
    let had_tool_call = !tool_calls.is_empty();
    let finish_reason = match opt_str(candidate, "finishReason", path)? {
        Some(reason) if !reason.is_empty() => reasons::gemini_to_openai(reason, had_tool_call),
        // Absent means the turn ended without saying why; calls still must run.
        _ if had_tool_call => "tool_calls",
        _ => "stop",
    };
    let mut message = Map::new();
    let content = if text.is_empty() && had_tool_call {
        Value::Null
    } else {
        Value::String(text)
    };
    message.insert("content".into(), content);
    if had_tool_call {
        message.insert("tool_calls".into(), Value::Array(tool_calls));
    }
    if !reasoning.is_empty() {
        message.insert("reasoning_content".into(), Value::String(reasoning));
    }
    Ok(choice(index, message, finish_reason))
}

/// `{"functionCall":{"id"?,"name","args"},"thoughtSignature"?}` → an OpenAI tool call.
fn tool_call(call: &Object, part: &Object, path: &str) -> Result<Value, TranslateError> {
    let call_path = field(path, "functionCall");
    let name = req_nonempty_str(call, "name", &call_path)?;
    let arguments = match present(call, "args") {
        None => "{}".to_owned(),
        Some(args @ Value::Object(_)) => args.to_string(),
        Some(_) => return Err(expected(&field(&call_path, "args"), "an object")),
    };
    let id = call_id::for_call(
        opt_str(call, "id", &call_path)?,
        opt_str(part, "thoughtSignature", path)?,
    );
    Ok(json!({
        "id": id,
        "type": "function",
        "function": { "name": name, "arguments": arguments },
    }))
}

/// A choice around `message` (which holds `content` and maybe `tool_calls`).
fn choice(index: u64, mut message: Map<String, Value>, finish_reason: &str) -> Value {
    message.insert("role".into(), "assistant".into());
    message
        .entry("content")
        .or_insert_with(|| Value::String(String::new()));
    message.insert("refusal".into(), Value::Null);
    json!({
        "index": index,
        "message": message,
        "logprobs": null,
        "finish_reason": finish_reason,
    })
}
