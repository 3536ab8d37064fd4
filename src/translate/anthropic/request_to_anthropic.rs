//! OpenAI chat request → Anthropic messages request: the top-level parameters and tools
//! (wire-formats.md §5.1); the conversation itself is `messages_to_anthropic`.

use crate::translate::shape::{self, ToolChoice};
use serde_json::{Map, Value, json};

use super::messages_to_anthropic::{self, unsupported_tool_type};
use super::{ChatToMessagesOptions, TranslateError};
use crate::translate::shape::{
    Object, body, expected, field, item, number, object, opt_array, opt_bool, opt_f64, opt_str,
    opt_u64, present, req_nonempty_str, req_object,
};

/// OpenAI chat request → Anthropic messages request for `upstream_model` (the `stream`
/// flag is carried over). Fields Anthropic cannot express are dropped
/// ([`super::DROPPED_OPENAI_FIELDS`]).
pub fn chat_request_to_messages(
    req: &Value,
    upstream_model: &str,
    opts: &ChatToMessagesOptions,
) -> Result<Value, TranslateError> {
    let req = body(req)?;
    refuse_what_cannot_be_dropped(req)?;

    let messages = opt_array(req, "messages", "")?
        .ok_or_else(|| expected("messages", "an array of messages"))?;
    let conversation = messages_to_anthropic::convert(messages)?;
    if conversation.messages.is_empty() {
        return Err(TranslateError::new(
            "messages",
            "`messages` must contain at least one user or assistant message with content",
        ));
    }

    let mut out = Map::new();
    out.insert("model".into(), upstream_model.into());
    out.insert("max_tokens".into(), max_tokens(req, opts)?.into());
    if !conversation.system.is_empty() {
        out.insert("system".into(), Value::Array(conversation.system));
    }
    out.insert("messages".into(), Value::Array(conversation.messages));
    if let Some(stop) = stop_sequences(req)? {
        out.insert("stop_sequences".into(), stop);
    }
    if let Some(t) = opt_f64(req, "temperature", "")? {
        // OpenAI allows 0–2, Anthropic 0–1.
        let clamped = t.clamp(0.0, 1.0);
        let value = match present(req, "temperature") {
            Some(original) if clamped == t => original.clone(),
            _ => number(clamped),
        };
        out.insert("temperature".into(), value);
    }
    if opt_f64(req, "top_p", "")?.is_some()
        && let Some(top_p) = present(req, "top_p")
    {
        out.insert("top_p".into(), top_p.clone());
    }
    if let Some(top_k) = opt_u64(req, "top_k", "")? {
        out.insert("top_k".into(), top_k.into());
    }
    if let Some(stream) = opt_bool(req, "stream", "")? {
        out.insert("stream".into(), stream.into());
    }
    let user = match opt_str(req, "user", "")? {
        Some(user) => Some(user),
        None => opt_str(req, "safety_identifier", "")?,
    };
    if let Some(user) = user {
        out.insert("metadata".into(), json!({ "user_id": user }));
    }

    let tools = match opt_array(req, "tools", "")? {
        Some(tools) => tools
            .iter()
            .enumerate()
            .map(|(i, t)| tool(t, &item("tools", i)))
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    let choice = tool_choice(req)?;
    let parallel = opt_bool(req, "parallel_tool_calls", "")?;
    // Without tools, a tool choice means nothing and Anthropic rejects it.
    if !tools.is_empty() {
        out.insert("tools".into(), Value::Array(tools));
        let mut choice = choice;
        if parallel == Some(false) {
            let choice = choice.get_or_insert_with(|| json!({ "type": "auto" }));
            if let Some(c) = choice.as_object_mut()
                && c.get("type").and_then(Value::as_str) != Some("none")
            {
                c.insert("disable_parallel_tool_use".into(), true.into());
            }
        }
        if let Some(choice) = choice {
            out.insert("tool_choice".into(), choice);
        }
    }
    if let Some(format) = structured_output(req) {
        out.insert("output_config".into(), json!({ "format": format }));
    }
    Ok(Value::Object(out))
}

/// OpenAI `response_format: {type: json_schema, json_schema: {schema}}` → Anthropic
/// structured output's `output_config.format` (`{type: json_schema, schema}`).
/// `json_object` has no Anthropic switch and stays dropped.
fn structured_output(req: &Object) -> Option<Value> {
    let rf = req.get("response_format")?;
    if rf.get("type").and_then(Value::as_str) != Some("json_schema") {
        return None;
    }
    let schema = rf.get("json_schema")?.get("schema")?.clone();
    Some(json!({ "type": "json_schema", "schema": schema }))
}

/// Fields whose silent loss would change the answer's meaning.
fn refuse_what_cannot_be_dropped(req: &Object) -> Result<(), TranslateError> {
    match opt_u64(req, "n", "")? {
        None | Some(1) => {}
        Some(_) => {
            return Err(TranslateError::new(
                "n",
                "Anthropic models return one choice; send `n: 1` or leave it out",
            ));
        }
    }
    for legacy in ["functions", "function_call"] {
        if present(req, legacy).is_some() {
            return Err(TranslateError::new(
                legacy,
                format!(
                    "`{legacy}` is deprecated and cannot be translated; send `tools` and `tool_choice`"
                ),
            ));
        }
    }
    Ok(())
}

/// `max_completion_tokens` ‖ `max_tokens` ‖ the configured default: Anthropic requires one.
fn max_tokens(req: &Object, opts: &ChatToMessagesOptions) -> Result<u64, TranslateError> {
    for key in ["max_completion_tokens", "max_tokens"] {
        match opt_u64(req, key, "")? {
            Some(0) => return Err(expected(key, "at least 1")),
            Some(n) => return Ok(n),
            None => {}
        }
    }
    Ok(u64::from(opts.default_max_tokens))
}

/// `stop` (a string or up to 4 strings) → `stop_sequences`; blank entries are dropped
/// (Anthropic rejects whitespace-only sequences).
fn stop_sequences(req: &Object) -> Result<Option<Value>, TranslateError> {
    let sequences: Vec<&str> = match present(req, "stop") {
        None => return Ok(None),
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, s)| {
                s.as_str()
                    .ok_or_else(|| expected(&item("stop", i), "a string"))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(expected("stop", "a string or an array of strings")),
    };
    let sequences: Vec<Value> = sequences
        .into_iter()
        .filter(|s| !s.trim().is_empty())
        .map(Value::from)
        .collect();
    Ok((!sequences.is_empty()).then_some(Value::Array(sequences)))
}

/// `{"type":"function","function":{"name","description","parameters"}}` →
/// `{"name","description","input_schema"}`.
fn tool(tool: &Value, path: &str) -> Result<Value, TranslateError> {
    let tool = object(tool, path)?;
    if let Some(kind) = opt_str(tool, "type", path)?
        && kind != "function"
    {
        return Err(unsupported_tool_type(&field(path, "type"), kind));
    }
    let function_path = field(path, "function");
    let function = req_object(tool, "function", path)?;
    let name = req_nonempty_str(function, "name", &function_path)?;
    let mut schema = match present(function, "parameters") {
        None => Map::new(),
        Some(Value::Object(schema)) => schema.clone(),
        Some(_) => {
            return Err(expected(
                &field(&function_path, "parameters"),
                "a JSON Schema object",
            ));
        }
    };
    // Anthropic requires `input_schema.type`; OpenAI accepts `{}` for "no parameters".
    if !schema.contains_key("type") {
        schema.insert("type".into(), "object".into());
        schema
            .entry("properties")
            .or_insert_with(|| Value::Object(Map::new()));
    }
    let mut out = Map::new();
    out.insert("name".into(), name.into());
    if let Some(description) = opt_str(function, "description", &function_path)? {
        out.insert("description".into(), description.into());
    }
    out.insert("input_schema".into(), Value::Object(schema));
    Ok(Value::Object(out))
}

/// `auto|required|none|{"type":"function","function":{"name"}}` →
/// `{"type":"auto"|"any"|"none"}|{"type":"tool","name"}`.
fn tool_choice(req: &Object) -> Result<Option<Value>, TranslateError> {
    Ok(
        shape::tool_choice(req, "an Anthropic model")?.map(|choice| match choice {
            ToolChoice::Auto => json!({ "type": "auto" }),
            ToolChoice::Required => json!({ "type": "any" }),
            ToolChoice::None => json!({ "type": "none" }),
            ToolChoice::Function(name) => json!({ "type": "tool", "name": name }),
        }),
    )
}
