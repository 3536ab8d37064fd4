//! OpenAI `chat.completion` → Anthropic message (wire-formats.md §5.3).

use serde_json::{Value, json};

use super::TranslateError;
use super::messages_to_anthropic::{parse_arguments, unsupported_tool_type};
use super::usage::usage_to_anthropic;
use crate::translate::reasons;
use crate::translate::shape::{
    body, expected, field, is_blank, item, object, opt_array, opt_str, present, req_nonempty_str,
    req_object, req_str, text_block,
};

/// OpenAI chat.completion → Anthropic message; `model` is what the caller asked for.
/// Only the first choice is read (requests never ask for more). Tool-call arguments that
/// are not a JSON object are an error: Anthropic `input` cannot hold them.
pub fn chat_response_to_messages(resp: &Value, model: &str) -> Result<Value, TranslateError> {
    let resp = body(resp)?;
    let id = req_nonempty_str(resp, "id", "")?;
    let choice = opt_array(resp, "choices", "")?
        .and_then(<[Value]>::first)
        .ok_or_else(|| expected("choices", "an array with at least one choice"))?;
    let choice = object(choice, "choices[0]")?;
    let message = req_object(choice, "message", "choices[0]")?;
    let path = "choices[0].message";

    let mut content = Vec::new();
    match present(message, "content") {
        None => {}
        Some(Value::String(text)) => content.extend(nonblank(text)),
        // Some OpenAI-compatible servers answer with content parts.
        Some(Value::Array(parts)) => {
            let parts_path = field(path, "content");
            for (j, part) in parts.iter().enumerate() {
                let part_path = item(&parts_path, j);
                let part = object(part, &part_path)?;
                match req_str(part, "type", &part_path)? {
                    "text" => content.extend(nonblank(req_str(part, "text", &part_path)?)),
                    "refusal" => content.extend(nonblank(req_str(part, "refusal", &part_path)?)),
                    _ => {}
                }
            }
        }
        Some(_) => return Err(expected(&field(path, "content"), "a string or null")),
    }
    let refusal = opt_str(message, "refusal", path)?.filter(|r| !is_blank(r));
    content.extend(refusal.and_then(nonblank));

    let calls_path = field(path, "tool_calls");
    let mut has_tool_use = false;
    for (j, call) in opt_array(message, "tool_calls", path)?
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        content.push(tool_use(call, &item(&calls_path, j))?);
        has_tool_use = true;
    }

    let finish_reason = opt_str(choice, "finish_reason", "choices[0]")?.filter(|r| !r.is_empty());
    let stop_reason = match finish_reason.map(reasons::openai_to_anthropic) {
        _ if refusal.is_some() => "refusal",
        // A turn that asks for tools must say so, or agent loops stop (§5.6).
        Some("end_turn") | None if has_tool_use => "tool_use",
        Some(reason) => reason,
        None => "end_turn",
    };

    Ok(json!({
        "id": format!("msg_{id}"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": null,
        "usage": usage_to_anthropic(present(resp, "usage"))?,
    }))
}

fn nonblank(text: &str) -> Option<Value> {
    (!is_blank(text)).then(|| text_block(text))
}

/// Ids pass through unchanged: the client sends them back to us, not to Anthropic.
fn tool_use(call: &Value, path: &str) -> Result<Value, TranslateError> {
    let call = object(call, path)?;
    if let Some(kind) = opt_str(call, "type", path)?
        && kind != "function"
    {
        return Err(unsupported_tool_type(&field(path, "type"), kind));
    }
    let id = req_nonempty_str(call, "id", path)?;
    let function_path = field(path, "function");
    let function = req_object(call, "function", path)?;
    let name = req_nonempty_str(function, "name", &function_path)?;
    let arguments = opt_str(function, "arguments", &function_path)?.unwrap_or_default();
    let input = parse_arguments(arguments, &field(&function_path, "arguments"))?;
    Ok(json!({ "type": "tool_use", "id": id, "name": name, "input": input }))
}
