//! Anthropic messages request → OpenAI chat request: top-level parameters and tools
//! (wire-formats.md §5.3); the conversation itself is `messages_to_openai`.

use serde_json::{Map, Value, json};

use super::TranslateError;
use super::messages_to_openai;
use crate::translate::shape::{
    Object, body, expected, field, item, object, opt_array, opt_bool, opt_f64, opt_object, opt_str,
    opt_u64, present, req_nonempty_str, req_str,
};

/// The most `stop` sequences OpenAI's chat API accepts; more are refused (a 400
/// naming the limit), never cut silently: a dropped stop sequence changes output.
pub const MAX_OPENAI_STOP: usize = 4;

/// Anthropic messages request → OpenAI chat request for `upstream_model`. `stream` is
/// carried over; when streaming, `stream_options.include_usage` is set so usage arrives.
/// Fields OpenAI cannot express are dropped ([`super::DROPPED_ANTHROPIC_FIELDS`]).
pub fn messages_request_to_chat(
    req: &Value,
    upstream_model: &str,
) -> Result<Value, TranslateError> {
    let req = body(req)?;
    let anthropic_messages = opt_array(req, "messages", "")?
        .ok_or_else(|| expected("messages", "an array of messages"))?;
    let mut messages = Vec::with_capacity(anthropic_messages.len() + 1);
    messages.extend(messages_to_openai::system_message(present(req, "system"))?);
    messages_to_openai::convert(anthropic_messages, &mut messages)?;

    let mut out = Map::new();
    out.insert("model".into(), upstream_model.into());
    out.insert("messages".into(), Value::Array(messages));
    if let Some(max_tokens) = opt_u64(req, "max_tokens", "")? {
        // The only limit OpenAI's reasoning models accept; `max_tokens` is deprecated.
        out.insert("max_completion_tokens".into(), max_tokens.into());
    }
    if let Some(stop) = opt_array(req, "stop_sequences", "")? {
        for (i, s) in stop.iter().enumerate() {
            if !s.is_string() {
                return Err(expected(&item("stop_sequences", i), "a string"));
            }
        }
        if stop.len() > MAX_OPENAI_STOP {
            return Err(TranslateError::new(
                "stop_sequences",
                format!(
                    "{} stop sequences were sent, but OpenAI-dialect models accept at most \
                     {MAX_OPENAI_STOP}; send at most {MAX_OPENAI_STOP} for this model",
                    stop.len()
                ),
            ));
        }
        if !stop.is_empty() {
            out.insert("stop".into(), Value::Array(stop.to_vec()));
        }
    }
    for key in ["temperature", "top_p"] {
        if opt_f64(req, key, "")?.is_some()
            && let Some(value) = present(req, key)
        {
            out.insert(key.into(), value.clone());
        }
    }
    if let Some(stream) = opt_bool(req, "stream", "")? {
        out.insert("stream".into(), stream.into());
        if stream {
            out.insert("stream_options".into(), json!({ "include_usage": true }));
        }
    }
    if let Some(metadata) = opt_object(req, "metadata", "")?
        && let Some(user) = opt_str(metadata, "user_id", "metadata")?
    {
        out.insert("user".into(), user.into());
    }

    let tools = match opt_array(req, "tools", "")? {
        Some(tools) => tools
            .iter()
            .enumerate()
            .map(|(i, t)| tool(t, &item("tools", i)))
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    let choice = match opt_object(req, "tool_choice", "")? {
        Some(choice) => Some(tool_choice(choice)?),
        None => None,
    };
    // OpenAI rejects `tool_choice` and `parallel_tool_calls` without tools.
    if !tools.is_empty() {
        out.insert("tools".into(), Value::Array(tools));
        if let Some((choice, parallel)) = choice {
            out.insert("tool_choice".into(), choice);
            if !parallel {
                out.insert("parallel_tool_calls".into(), false.into());
            }
        }
    }
    if let Some(format) = anthropic_output_format(req) {
        out.insert("response_format".into(), format);
    }
    Ok(Value::Object(out))
}

/// Anthropic structured output (`output_config.format`, or the beta's top-level
/// `output_format`) `{type: json_schema, schema}` → OpenAI `response_format`.
fn anthropic_output_format(req: &Object) -> Option<Value> {
    let format = req
        .get("output_config")
        .and_then(|c| c.get("format"))
        .or_else(|| req.get("output_format"))?;
    if format.get("type").and_then(Value::as_str) != Some("json_schema") {
        return None;
    }
    let schema = format.get("schema")?.clone();
    Some(json!({
        "type": "json_schema",
        "json_schema": { "name": "output", "schema": schema },
    }))
}

/// `{"name","description","input_schema"}` →
/// `{"type":"function","function":{"name","description","parameters"}}`.
fn tool(tool: &Value, path: &str) -> Result<Value, TranslateError> {
    let tool = object(tool, path)?;
    // Client tools have no `type` or `custom`; server tools (`web_search_20250305`,
    // `bash_20250124`, …) run inside Anthropic and have no OpenAI form.
    if let Some(kind) = opt_str(tool, "type", path)?
        && kind != "custom"
    {
        return Err(TranslateError::new(
            field(path, "type"),
            format!(
                "server tool `{kind}` runs only on Anthropic models; send client tools (name, input_schema)"
            ),
        ));
    }
    let name = req_nonempty_str(tool, "name", path)?;
    let schema = match present(tool, "input_schema") {
        None => json!({ "type": "object", "properties": {} }),
        Some(schema @ Value::Object(_)) => schema.clone(),
        Some(_) => {
            return Err(expected(
                &field(path, "input_schema"),
                "a JSON Schema object",
            ));
        }
    };
    let mut function = Map::new();
    function.insert("name".into(), name.into());
    if let Some(description) = opt_str(tool, "description", path)? {
        function.insert("description".into(), description.into());
    }
    function.insert("parameters".into(), schema);
    Ok(json!({ "type": "function", "function": function }))
}

/// `{"type":"auto"|"any"|"none"}|{"type":"tool","name"}` (+`disable_parallel_tool_use`)
/// → (`auto|required|none|{function}`, whether parallel calls stay allowed).
fn tool_choice(choice: &Object) -> Result<(Value, bool), TranslateError> {
    let path = "tool_choice";
    let value = match req_str(choice, "type", path)? {
        "auto" => json!("auto"),
        "any" => json!("required"),
        "none" => json!("none"),
        "tool" => {
            let name = req_nonempty_str(choice, "name", path)?;
            json!({ "type": "function", "function": { "name": name } })
        }
        _ => {
            return Err(expected(
                "tool_choice.type",
                "`auto`, `any`, `none` or `tool`",
            ));
        }
    };
    let disable_parallel = opt_bool(choice, "disable_parallel_tool_use", path)?.unwrap_or(false);
    Ok((value, !disable_parallel))
}
