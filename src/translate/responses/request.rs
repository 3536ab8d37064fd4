//! A Responses API request → an OpenAI chat completions request, for upstreams that
//! speak chat (and, through the chat translators, Anthropic and Gemini).

use serde_json::{Map, Value, json};

use super::{BUILT_IN_TOOLS, DROPPED_RESPONSES_FIELDS, ResponsesToChat};
use crate::translate::anthropic::TranslateError;

type Object = Map<String, Value>;

/// Fields that need state the gateway does not keep, or features only OpenAI runs.
const REFUSED: &[(&str, &str)] = &[
    (
        "previous_response_id",
        "the gateway is stateless and keeps no responses: send the full conversation in `input` instead of `previous_response_id`",
    ),
    (
        "conversation",
        "the gateway is stateless and keeps no conversations: send the full conversation in `input`",
    ),
    (
        "prompt",
        "stored prompt templates live in an OpenAI project and cannot be used with this model: send the prompt text in `instructions` or `input`",
    ),
];

/// The caller's Responses request as a chat request for `upstream_model`.
pub fn responses_request_to_chat(
    request: &Value,
    upstream_model: &str,
) -> Result<ResponsesToChat, TranslateError> {
    let body = request
        .as_object()
        .ok_or_else(|| TranslateError::new("body", "the body must be a JSON object"))?;
    check_stateless(body)?;
    if body.get("background").and_then(Value::as_bool) == Some(true) {
        return Err(TranslateError::new(
            "background",
            "`background: true` needs stored responses, which the gateway does not keep; send the request without it",
        ));
    }
    let mut out = Object::new();
    out.insert("model".into(), Value::String(upstream_model.to_owned()));
    let mut messages = Vec::new();
    if let Some(instructions) = present(body, "instructions") {
        let text = instructions
            .as_str()
            .ok_or_else(|| expected("instructions", "a string"))?;
        if !text.is_empty() {
            messages.push(json!({"role": "system", "content": text}));
        }
    }
    let mut dropped: Vec<&'static str> = Vec::new();
    match present(body, "input") {
        Some(Value::String(text)) => messages.push(json!({"role": "user", "content": text})),
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                input_item(item, &format!("input[{i}]"), &mut messages, &mut dropped)?;
            }
        }
        Some(_) => return Err(expected("input", "a string or an array of input items")),
        None => return Err(TranslateError::new("input", "`input` is required")),
    }
    if messages.is_empty() {
        return Err(TranslateError::new(
            "input",
            "`input` holds no message the model can read; send at least one message",
        ));
    }
    out.insert("messages".into(), Value::Array(messages));

    if let Some(tools) = present(body, "tools") {
        let tools = tools
            .as_array()
            .ok_or_else(|| expected("tools", "an array"))?;
        let mut chat_tools = Vec::with_capacity(tools.len());
        for (i, tool) in tools.iter().enumerate() {
            let path = format!("tools[{i}]");
            // A namespace groups function tools (Codex CLI sends them): its
            // functions are offered one by one, under their own names.
            if tool.get("type").and_then(Value::as_str) == Some("namespace") {
                let inner = tool.get("tools").and_then(Value::as_array).ok_or_else(|| {
                    expected(&format!("{path}.tools"), "an array of function tools")
                })?;
                for (j, t) in inner.iter().enumerate() {
                    chat_tools.push(function_tool(t, &format!("{path}.tools[{j}]"))?);
                }
                continue;
            }
            chat_tools.push(function_tool(tool, &path)?);
        }
        if !chat_tools.is_empty() {
            out.insert("tools".into(), Value::Array(chat_tools));
        }
    }
    if let Some(choice) = present(body, "tool_choice") {
        out.insert("tool_choice".into(), tool_choice(choice)?);
    }
    if let Some(v) = present(body, "parallel_tool_calls") {
        out.insert("parallel_tool_calls".into(), v.clone());
    }
    if let Some(text) = present(body, "text") {
        let text = text
            .as_object()
            .ok_or_else(|| expected("text", "an object"))?;
        if let Some(format) = present(text, "format")
            && let Some(rf) = response_format(format)?
        {
            out.insert("response_format".into(), rf);
        }
        if present(text, "verbosity").is_some() {
            dropped.push("text.verbosity");
        }
    }
    if let Some(max) = present(body, "max_output_tokens") {
        if !max.is_u64() {
            return Err(expected("max_output_tokens", "a positive integer"));
        }
        out.insert("max_completion_tokens".into(), max.clone());
    }
    if let Some(reasoning) = present(body, "reasoning") {
        let reasoning = reasoning
            .as_object()
            .ok_or_else(|| expected("reasoning", "an object"))?;
        if let Some(effort) = present(reasoning, "effort") {
            out.insert("reasoning_effort".into(), effort.clone());
        }
        if present(reasoning, "summary").is_some()
            || present(reasoning, "generate_summary").is_some()
        {
            dropped.push("reasoning.summary");
        }
    }
    for key in [
        "temperature",
        "top_p",
        "metadata",
        "user",
        "safety_identifier",
    ] {
        if let Some(v) = present(body, key) {
            out.insert(key.into(), v.clone());
        }
    }
    let stream = body.get("stream").and_then(Value::as_bool) == Some(true);
    if stream {
        out.insert("stream".into(), Value::Bool(true));
        out.insert("stream_options".into(), json!({"include_usage": true}));
    }
    for key in DROPPED_RESPONSES_FIELDS {
        if present(body, key).is_some() {
            dropped.push(key);
        }
    }
    Ok(ResponsesToChat {
        chat: Value::Object(out),
        dropped,
    })
}

/// 400 for the fields that need stored state. Shared with the OpenAI passthrough.
pub fn check_stateless(body: &Object) -> Result<(), TranslateError> {
    for (key, message) in REFUSED {
        if present(body, key).is_some() {
            return Err(TranslateError::new(*key, *message));
        }
    }
    Ok(())
}

fn present<'a>(obj: &'a Object, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

fn expected(path: &str, what: &str) -> TranslateError {
    TranslateError::new(path, format!("`{path}` must be {what}"))
}

fn str_field<'a>(obj: &'a Object, key: &str, path: &str) -> Result<&'a str, TranslateError> {
    present(obj, key)
        .and_then(Value::as_str)
        .ok_or_else(|| expected(&format!("{path}.{key}"), "a string"))
}

/// One input item, appended to `messages` (function calls join the assistant turn
/// before them).
fn input_item(
    item: &Value,
    path: &str,
    messages: &mut Vec<Value>,
    dropped: &mut Vec<&'static str>,
) -> Result<(), TranslateError> {
    let obj = item
        .as_object()
        .ok_or_else(|| expected(path, "an input item object"))?;
    let kind = present(obj, "type")
        .and_then(Value::as_str)
        .unwrap_or("message");
    match kind {
        "message" => {
            let role = str_field(obj, "role", path)?;
            let role = match role {
                "user" | "assistant" | "system" | "developer" => role,
                other => {
                    return Err(TranslateError::new(
                        format!("{path}.role"),
                        format!("unknown role `{other}`; use user, assistant, system or developer"),
                    ));
                }
            };
            let content = message_content(
                present(obj, "content").ok_or_else(|| {
                    TranslateError::new(format!("{path}.content"), "`content` is required")
                })?,
                &format!("{path}.content"),
                role,
            )?;
            messages.push(json!({"role": role, "content": content}));
        }
        "function_call" => {
            let call_id = str_field(obj, "call_id", path)?;
            let name = str_field(obj, "name", path)?;
            let arguments = present(obj, "arguments")
                .and_then(Value::as_str)
                .unwrap_or("{}");
            let call = json!({
                "id": call_id,
                "type": "function",
                "function": {"name": name, "arguments": arguments},
            });
            // Consecutive calls (and the assistant text before them) are one turn.
            match messages.last_mut() {
                Some(last) if last["role"] == "assistant" && last.get("tool_calls").is_some() => {
                    if let Some(calls) = last["tool_calls"].as_array_mut() {
                        calls.push(call);
                    }
                }
                Some(last) if last["role"] == "assistant" => {
                    last["tool_calls"] = json!([call]);
                }
                _ => messages.push(json!({
                    "role": "assistant",
                    "content": null,
                    "tool_calls": [call],
                })),
            }
        }
        "function_call_output" => {
            let call_id = str_field(obj, "call_id", path)?;
            let output = match present(obj, "output") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Array(parts)) => {
                    let mut texts = Vec::new();
                    for (j, part) in parts.iter().enumerate() {
                        let p = format!("{path}.output[{j}]");
                        match part.get("type").and_then(Value::as_str) {
                            Some("input_text" | "output_text") => texts.push(
                                part.get("text")
                                    .and_then(Value::as_str)
                                    .ok_or_else(|| expected(&format!("{p}.text"), "a string"))?
                                    .to_owned(),
                            ),
                            _ => {
                                return Err(TranslateError::new(
                                    p,
                                    "only text parts can be sent as a function call output to this model",
                                ));
                            }
                        }
                    }
                    texts.join("\n")
                }
                Some(_) => return Err(expected(&format!("{path}.output"), "a string")),
                None => String::new(),
            };
            messages.push(json!({"role": "tool", "tool_call_id": call_id, "content": output}));
        }
        // Reasoning items replay a model's hidden state; only OpenAI can read them.
        "reasoning" => dropped.push("input.reasoning"),
        "item_reference" => {
            return Err(TranslateError::new(
                path,
                "the gateway is stateless and keeps no items: send the item itself instead of an `item_reference`",
            ));
        }
        other => {
            return Err(TranslateError::new(
                format!("{path}.type"),
                format!(
                    "input items of type `{other}` come from OpenAI's built-in tools and cannot be sent to this model; send messages, function_call and function_call_output items"
                ),
            ));
        }
    }
    Ok(())
}

/// Message content: a string, or input/output parts as chat content parts.
fn message_content(content: &Value, path: &str, role: &str) -> Result<Value, TranslateError> {
    let parts = match content {
        Value::String(s) => return Ok(Value::String(s.clone())),
        Value::Array(parts) => parts,
        _ => return Err(expected(path, "a string or an array of content parts")),
    };
    let mut out = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let obj = part
            .as_object()
            .ok_or_else(|| expected(&p, "a content part object"))?;
        match present(obj, "type").and_then(Value::as_str).unwrap_or("") {
            "input_text" | "output_text" | "text" => {
                let text = str_field(obj, "text", &p)?;
                out.push(json!({"type": "text", "text": text}));
            }
            "refusal" => {
                let text = str_field(obj, "refusal", &p)?;
                out.push(json!({"type": "text", "text": text}));
            }
            "input_image" if role == "user" => {
                let Some(url) = present(obj, "image_url").and_then(Value::as_str) else {
                    return Err(TranslateError::new(
                        format!("{p}.image_url"),
                        "send images as `image_url` (an https or data: URL); uploaded `file_id`s live in an OpenAI project and cannot be used with this model",
                    ));
                };
                let mut image = json!({"url": url});
                if let Some(detail) = present(obj, "detail") {
                    image["detail"] = detail.clone();
                }
                out.push(json!({"type": "image_url", "image_url": image}));
            }
            "input_file" if role == "user" => {
                let Some(data) = present(obj, "file_data").and_then(Value::as_str) else {
                    return Err(TranslateError::new(
                        format!("{p}.file_data"),
                        "send files inline as `file_data` (a data: URL); `file_id` and `file_url` cannot be used with this model",
                    ));
                };
                let mut file = json!({"file_data": data});
                if let Some(name) = present(obj, "filename") {
                    file["filename"] = name.clone();
                }
                out.push(json!({"type": "file", "file": file}));
            }
            other => {
                return Err(TranslateError::new(
                    format!("{p}.type"),
                    format!(
                        "content parts of type `{other}` cannot be sent in a {role} message to this model; use input_text (and input_image or input_file in user messages)"
                    ),
                ));
            }
        }
    }
    Ok(Value::Array(out))
}

/// A Responses function tool as a chat tool; built-in tools are refused by name.
fn function_tool(tool: &Value, path: &str) -> Result<Value, TranslateError> {
    let obj = tool
        .as_object()
        .ok_or_else(|| expected(path, "a tool object"))?;
    let kind = present(obj, "type")
        .and_then(Value::as_str)
        .unwrap_or("function");
    if kind != "function" {
        let known = BUILT_IN_TOOLS.iter().any(|b| kind.starts_with(b));
        let what = if known {
            "is one of OpenAI's built-in tools, which only OpenAI models run"
        } else {
            "is not a function tool"
        };
        return Err(TranslateError::new(
            format!("{path}.type"),
            format!(
                "tool type `{kind}` {what}; this model accepts only `function` tools. Remove it or use an OpenAI model"
            ),
        ));
    }
    let name = str_field(obj, "name", path)?;
    let mut function = json!({"name": name});
    for key in ["description", "parameters", "strict"] {
        if let Some(v) = present(obj, key) {
            function[key] = v.clone();
        }
    }
    Ok(json!({"type": "function", "function": function}))
}

fn tool_choice(choice: &Value) -> Result<Value, TranslateError> {
    match choice {
        Value::String(s) if matches!(s.as_str(), "auto" | "none" | "required") => {
            Ok(choice.clone())
        }
        Value::Object(obj) if obj.get("type").and_then(Value::as_str) == Some("function") => {
            let name = str_field(obj, "name", "tool_choice")?;
            Ok(json!({"type": "function", "function": {"name": name}}))
        }
        _ => Err(TranslateError::new(
            "tool_choice",
            "`tool_choice` must be \"auto\", \"none\", \"required\" or {\"type\":\"function\",\"name\":…} for this model",
        )),
    }
}

/// `text.format` as chat's `response_format`; `text` is the default and needs none.
fn response_format(format: &Value) -> Result<Option<Value>, TranslateError> {
    let obj = format
        .as_object()
        .ok_or_else(|| expected("text.format", "an object"))?;
    match present(obj, "type").and_then(Value::as_str) {
        Some("text") => Ok(None),
        Some("json_object") => Ok(Some(json!({"type": "json_object"}))),
        Some("json_schema") => {
            let name = str_field(obj, "name", "text.format")?;
            let schema = present(obj, "schema")
                .ok_or_else(|| expected("text.format.schema", "a JSON schema object"))?;
            let mut js = json!({"name": name, "schema": schema});
            for key in ["strict", "description"] {
                if let Some(v) = present(obj, key) {
                    js[key] = v.clone();
                }
            }
            Ok(Some(json!({"type": "json_schema", "json_schema": js})))
        }
        _ => Err(TranslateError::new(
            "text.format.type",
            "`text.format.type` must be text, json_object or json_schema",
        )),
    }
}
