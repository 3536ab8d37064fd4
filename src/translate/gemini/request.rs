//! OpenAI chat request → Gemini `GenerateContentRequest`: generation settings, tools
//! and tool choice (wire-formats.md §5.5); the conversation itself is `contents`.

use crate::translate::shape::{self, ToolChoice};
use serde_json::{Map, Value, json};

use super::TranslateError;
use super::contents::{self, unsupported_tool_type};
use super::schema;
use crate::translate::shape::{
    Object, body, expected, field, item, object, opt_array, opt_bool, opt_i64, opt_number,
    opt_object, opt_str, opt_u64, present, req_nonempty_str, req_object, req_str,
};

/// OpenAI chat request → Gemini `GenerateContentRequest` body. The model goes in the
/// URL, as does streaming (`:streamGenerateContent?alt=sse`), so neither is in the
/// body. Fields Gemini cannot express are dropped
/// ([`super::DROPPED_OPENAI_FIELDS_FOR_GEMINI`]).
pub fn chat_request_to_gemini(req: &Value) -> Result<Value, TranslateError> {
    let req = body(req)?;
    refuse_what_cannot_be_dropped(req)?;

    let messages = opt_array(req, "messages", "")?
        .ok_or_else(|| expected("messages", "an array of messages"))?;
    let conversation = contents::convert(messages)?;
    if conversation.contents.is_empty() {
        return Err(TranslateError::new(
            "messages",
            "`messages` must contain at least one user or assistant message with content",
        ));
    }

    let mut out = Map::new();
    if !conversation.system.is_empty() {
        out.insert(
            "systemInstruction".into(),
            json!({ "parts": conversation.system }),
        );
    }
    out.insert("contents".into(), Value::Array(conversation.contents));

    let mut budget = schema::NodeBudget::default();
    let declarations = match opt_array(req, "tools", "")? {
        Some(tools) => tools
            .iter()
            .enumerate()
            .map(|(i, t)| function_declaration(t, &item("tools", i), &mut budget))
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    let choice = tool_config(req)?;
    // Without tools a tool choice means nothing; leave both out.
    if !declarations.is_empty() {
        out.insert(
            "tools".into(),
            json!([{ "functionDeclarations": declarations }]),
        );
        if let Some(choice) = choice {
            out.insert("toolConfig".into(), choice);
        }
    }

    let config = generation_config(req, &mut budget)?;
    if !config.is_empty() {
        out.insert("generationConfig".into(), Value::Object(config));
    }
    Ok(Value::Object(out))
}

/// Fields whose silent loss would change the answer's meaning.
fn refuse_what_cannot_be_dropped(req: &Object) -> Result<(), TranslateError> {
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
    // The stream translator follows one candidate; more would be paid for and lost.
    if opt_bool(req, "stream", "")? == Some(true) && opt_u64(req, "n", "")?.is_some_and(|n| n > 1) {
        return Err(TranslateError::new(
            "n",
            "Gemini streams are translated for one choice; send `n: 1` or `stream: false`",
        ));
    }
    Ok(())
}

fn generation_config(
    req: &Object,
    budget: &mut schema::NodeBudget,
) -> Result<Object, TranslateError> {
    let mut config = Map::new();
    if let Some(max) = max_output_tokens(req)? {
        config.insert("maxOutputTokens".into(), max.into());
    }
    if let Some(stop) = stop_sequences(req)? {
        config.insert("stopSequences".into(), stop);
    }
    match opt_u64(req, "n", "")? {
        Some(0) => return Err(expected("n", "at least 1")),
        Some(n) => {
            config.insert("candidateCount".into(), n.into());
        }
        None => {}
    }
    for (openai, gemini) in [
        ("temperature", "temperature"),
        ("top_p", "topP"),
        ("presence_penalty", "presencePenalty"),
        ("frequency_penalty", "frequencyPenalty"),
    ] {
        if let Some(value) = opt_number(req, openai, "")? {
            config.insert(gemini.into(), value.clone());
        }
    }
    // Not OpenAI, but sent by clients written for other APIs; Gemini has it.
    if let Some(top_k) = opt_u64(req, "top_k", "")? {
        config.insert("topK".into(), top_k.into());
    }
    if let Some(seed) = opt_i64(req, "seed", "")? {
        config.insert("seed".into(), seed.into());
    }
    response_format(req, &mut config, budget)?;
    Ok(config)
}

/// `max_completion_tokens` ‖ `max_tokens`; Gemini has a model default otherwise.
fn max_output_tokens(req: &Object) -> Result<Option<u64>, TranslateError> {
    for key in ["max_completion_tokens", "max_tokens"] {
        match opt_u64(req, key, "")? {
            Some(0) => return Err(expected(key, "at least 1")),
            Some(n) => return Ok(Some(n)),
            None => {}
        }
    }
    Ok(None)
}

/// `stop` (a string or an array of strings) → `stopSequences`; empty ones are dropped.
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
        .filter(|s| !s.is_empty())
        .map(Value::from)
        .collect();
    Ok((!sequences.is_empty()).then_some(Value::Array(sequences)))
}

/// `response_format` `json_object` / `json_schema` → `responseMimeType` (+
/// `responseSchema`); `text` is the default.
fn response_format(
    req: &Object,
    config: &mut Object,
    budget: &mut schema::NodeBudget,
) -> Result<(), TranslateError> {
    let Some(format) = opt_object(req, "response_format", "")? else {
        return Ok(());
    };
    match req_str(format, "type", "response_format")? {
        "text" => {}
        "json_object" => {
            config.insert("responseMimeType".into(), "application/json".into());
        }
        "json_schema" => {
            config.insert("responseMimeType".into(), "application/json".into());
            let spec = req_object(format, "json_schema", "response_format")?;
            if let Some(schema) = present(spec, "schema") {
                let path = "response_format.json_schema.schema";
                object(schema, path)?;
                config.insert(
                    "responseSchema".into(),
                    schema::to_gemini(schema, path, budget)?,
                );
            }
        }
        other => {
            return Err(TranslateError::new(
                "response_format.type",
                format!(
                    "response format `{other}` cannot be sent to a Gemini model; \
                     use text, json_object or json_schema"
                ),
            ));
        }
    }
    Ok(())
}

/// `{"type":"function","function":{"name","description","parameters"}}` →
/// `{"name","description","parameters"}`, the schema cut to Gemini's subset.
fn function_declaration(
    tool: &Value,
    path: &str,
    budget: &mut schema::NodeBudget,
) -> Result<Value, TranslateError> {
    let tool = object(tool, path)?;
    if let Some(kind) = opt_str(tool, "type", path)?
        && kind != "function"
    {
        return Err(unsupported_tool_type(&field(path, "type"), kind));
    }
    let function_path = field(path, "function");
    let function = req_object(tool, "function", path)?;
    let mut out = Map::new();
    out.insert(
        "name".into(),
        req_nonempty_str(function, "name", &function_path)?.into(),
    );
    if let Some(description) = opt_str(function, "description", &function_path)? {
        out.insert("description".into(), description.into());
    }
    if let Some(parameters) = present(function, "parameters") {
        let parameters_path = field(&function_path, "parameters");
        object(parameters, &parameters_path)
            .map_err(|_| expected(&parameters_path, "a JSON Schema object"))?;
        let parameters = schema::to_gemini(parameters, &parameters_path, budget)?;
        // Gemini rejects an object schema without properties; no parameters is
        // said by leaving the field out.
        if !schema::is_empty_object(&parameters) {
            out.insert("parameters".into(), parameters);
        }
    }
    Ok(Value::Object(out))
}

/// `auto|none|required|{"type":"function","function":{"name"}}` →
/// `toolConfig.functionCallingConfig` `AUTO|NONE|ANY|ANY + allowedFunctionNames`.
fn tool_config(req: &Object) -> Result<Option<Value>, TranslateError> {
    let Some(choice) = shape::tool_choice(req, "a Gemini model")? else {
        return Ok(None);
    };
    let config = match choice {
        ToolChoice::Auto => json!({ "mode": "AUTO" }),
        ToolChoice::None => json!({ "mode": "NONE" }),
        ToolChoice::Required => json!({ "mode": "ANY" }),
        ToolChoice::Function(name) => json!({ "mode": "ANY", "allowedFunctionNames": [name] }),
    };
    Ok(Some(json!({ "functionCallingConfig": config })))
}
