//! Anthropic `system` + `messages` → OpenAI `messages` (wire-formats.md §5.3).
//!
//! A user turn may hold `tool_result` blocks; OpenAI wants each as its own `tool`
//! message right after the assistant's calls, so they are emitted first and the rest of
//! the turn follows as one `user` message.

use serde_json::{Map, Value, json};

use super::TranslateError;
use super::media::{document_block_to_part, image_block_to_part};
use crate::translate::shape::{
    Object, expected, field, item, object, opt_bool, present, req_nonempty_str, req_str,
};

/// Anthropic `system` (a string or text blocks) → one OpenAI system message.
pub(super) fn system_message(system: Option<&Value>) -> Result<Option<Value>, TranslateError> {
    let text = match system {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(blocks)) => {
            let mut texts = Vec::with_capacity(blocks.len());
            for (i, block) in blocks.iter().enumerate() {
                let path = item("system", i);
                let block = object(block, &path)?;
                match req_str(block, "type", &path)? {
                    "text" => texts.push(req_str(block, "text", &path)?),
                    other => return Err(unsupported_block(&path, other)),
                }
            }
            texts.join("\n\n")
        }
        Some(_) => return Err(expected("system", "a string or an array of text blocks")),
    };
    Ok((!text.is_empty()).then(|| json!({ "role": "system", "content": text })))
}

/// Anthropic messages → OpenAI messages, appended to `out`.
pub(super) fn convert(messages: &[Value], out: &mut Vec<Value>) -> Result<(), TranslateError> {
    for (i, message) in messages.iter().enumerate() {
        let path = item("messages", i);
        let obj = object(message, &path)?;
        let role = req_str(obj, "role", &path)?;
        // Claude Code sends `system`-role messages inside `messages`; Anthropic's
        // own API tolerates them in places, so they become system content here
        // (OpenAI takes system messages anywhere; Gemini hoists them).
        if role == "system" || role == "developer" {
            out.extend(system_message(present(obj, "content"))?);
            continue;
        }
        let content_path = field(&path, "content");
        let blocks = match present(obj, "content") {
            Some(Value::String(text)) => {
                out.push(json!({ "role": role_checked(role, &path)?, "content": text }));
                continue;
            }
            Some(Value::Array(blocks)) => blocks,
            _ => {
                return Err(expected(
                    &content_path,
                    "a string or an array of content blocks",
                ));
            }
        };
        match role {
            "user" => user(blocks, &content_path, out)?,
            "assistant" => out.extend(assistant(blocks, &content_path)?),
            _ => return Err(bad_role(&path, role)),
        }
    }
    Ok(())
}

fn role_checked<'a>(role: &'a str, path: &str) -> Result<&'a str, TranslateError> {
    match role {
        "user" | "assistant" => Ok(role),
        _ => Err(bad_role(path, role)),
    }
}

fn bad_role(path: &str, role: &str) -> TranslateError {
    TranslateError::new(
        field(path, "role"),
        format!("unknown role `{role}`; Anthropic messages are `user` or `assistant`"),
    )
}

/// One user turn: `tool` messages for its results first, then its other content.
fn user(blocks: &[Value], path: &str, out: &mut Vec<Value>) -> Result<(), TranslateError> {
    let mut parts = Vec::new();
    for (j, block) in blocks.iter().enumerate() {
        let block_path = item(path, j);
        let block = object(block, &block_path)?;
        match req_str(block, "type", &block_path)? {
            "text" => {
                let text = req_str(block, "text", &block_path)?;
                if !text.is_empty() {
                    parts.push(json!({ "type": "text", "text": text }));
                }
            }
            "image" => parts.push(image_block_to_part(block, &block_path)?),
            "document" => parts.push(document_block_to_part(block, &block_path)?),
            "tool_result" => out.push(tool_message(block, &block_path, &mut parts)?),
            // Only meaningful in assistant turns; nothing to send.
            "thinking" | "redacted_thinking" => {}
            other => return Err(unsupported_block(&block_path, other)),
        }
    }
    let content = match parts.as_slice() {
        [] => return Ok(()),
        [only] if only.get("type").and_then(Value::as_str) == Some("text") => {
            only.get("text").cloned().unwrap_or_default()
        }
        _ => Value::Array(parts),
    };
    out.push(json!({ "role": "user", "content": content }));
    Ok(())
}

/// `tool_result` → `{"role":"tool","tool_call_id","content"}`. OpenAI tool messages hold
/// text only, so images go to `user_parts`, the user message that follows.
fn tool_message(
    block: &Object,
    path: &str,
    user_parts: &mut Vec<Value>,
) -> Result<Value, TranslateError> {
    let id = req_nonempty_str(block, "tool_use_id", path)?;
    let content_path = field(path, "content");
    let text = match present(block, "content") {
        None => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => {
            let mut texts = Vec::with_capacity(items.len());
            for (k, inner) in items.iter().enumerate() {
                let inner_path = item(&content_path, k);
                let inner = object(inner, &inner_path)?;
                match req_str(inner, "type", &inner_path)? {
                    "text" => texts.push(req_str(inner, "text", &inner_path)?),
                    "image" => user_parts.push(image_block_to_part(inner, &inner_path)?),
                    other => return Err(unsupported_block(&inner_path, other)),
                }
            }
            texts.join("\n")
        }
        Some(_) => {
            return Err(expected(
                &content_path,
                "a string or an array of content blocks",
            ));
        }
    };
    // OpenAI has no error flag on tool messages; the model still needs to know.
    let text = match opt_bool(block, "is_error", path)? {
        Some(true) if text.is_empty() => "Error".to_owned(),
        Some(true) => format!("Error: {text}"),
        _ => text,
    };
    Ok(json!({ "role": "tool", "tool_call_id": id, "content": text }))
}

/// One assistant turn: text concatenated, `tool_use` → `tool_calls`; thinking dropped.
/// `None` when nothing is left (OpenAI rejects an assistant message with neither).
fn assistant(blocks: &[Value], path: &str) -> Result<Option<Value>, TranslateError> {
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for (j, block) in blocks.iter().enumerate() {
        let block_path = item(path, j);
        let block = object(block, &block_path)?;
        match req_str(block, "type", &block_path)? {
            "text" => text.push_str(req_str(block, "text", &block_path)?),
            "tool_use" => {
                let id = req_nonempty_str(block, "id", &block_path)?;
                let name = req_nonempty_str(block, "name", &block_path)?;
                let arguments = match present(block, "input") {
                    Some(input @ Value::Object(_)) => input.to_string(),
                    None => "{}".to_owned(),
                    Some(_) => return Err(expected(&field(&block_path, "input"), "an object")),
                };
                tool_calls.push(json!({
                    "id": id,
                    "type": "function",
                    "function": { "name": name, "arguments": arguments },
                }));
            }
            "thinking" | "redacted_thinking" => {}
            other => return Err(unsupported_block(&block_path, other)),
        }
    }
    if text.is_empty() && tool_calls.is_empty() {
        return Ok(None);
    }
    let mut message = Map::new();
    message.insert("role".into(), "assistant".into());
    let content = if text.is_empty() {
        Value::Null
    } else {
        Value::String(text)
    };
    message.insert("content".into(), content);
    if !tool_calls.is_empty() {
        message.insert("tool_calls".into(), Value::Array(tool_calls));
    }
    Ok(Some(Value::Object(message)))
}

fn unsupported_block(path: &str, kind: &str) -> TranslateError {
    TranslateError::new(
        field(path, "type"),
        format!("content block type `{kind}` cannot be sent to an OpenAI model"),
    )
}
