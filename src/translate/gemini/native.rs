//! Gemini's own wire format from a caller (the native `/v1beta/models/{m}:…` routes)
//! → OpenAI's shapes, and OpenAI answers back into Gemini's: the reverse of the rest
//! of this module, so a google-genai caller can use any provider's model.
//!
//! - [`gemini_request_to_chat`]: `GenerateContentRequest` → chat request.
//! - [`chat_response_to_gemini`]: `chat.completion` → `GenerateContentResponse`.
//! - [`gemini_embed_to_openai`] / [`openai_embeddings_to_gemini`]: both embed methods.
//! - The stream direction is [`super::ChatToGemini`] (`native_stream`).
//!
//! # Decisions (the README copies these)
//!
//! - `contents[].role` `user` → `user`, `model` → `assistant`; `systemInstruction`
//!   → one leading `system` message. Text parts are joined in order; `inlineData`
//!   images become data-URL `image_url` parts; `functionCall` parts → `tool_calls`
//!   with ids `call_<n>`; `functionResponse` parts → `tool` messages answering the
//!   earliest unanswered call of that name.
//! - `tools[].functionDeclarations` → function tools (`parameters` or
//!   `parametersJsonSchema`; Gemini's upper-case OpenAPI `type`s lower-cased);
//!   `toolConfig.functionCallingConfig.mode` `AUTO|NONE|ANY` (+ one
//!   `allowedFunctionNames`) → `tool_choice`.
//! - `generationConfig`: `maxOutputTokens` → `max_tokens`, `stopSequences` → `stop`,
//!   `candidateCount` → `n`, `temperature`, `topP`, `seed`, `presencePenalty`,
//!   `frequencyPenalty` as sent; `responseMimeType: application/json` with
//!   `responseJsonSchema` or `responseSchema` → `response_format` `json_schema`
//!   (without a schema, `json_object`).
//! - **Dropped**: [`DROPPED_GEMINI_FIELDS`] (top level) and
//!   [`DROPPED_GENERATION_CONFIG_FIELDS`]; parts other than text, inlineData,
//!   functionCall and functionResponse (`fileData`, `executableCode`, …) are refused.

use serde_json::{Map, Value, json};

use super::TranslateError;

/// Top-level `GenerateContentRequest` fields no OpenAI chat request can express.
pub const DROPPED_GEMINI_FIELDS: &[&str] = &["safetySettings", "cachedContent", "labels"];

/// `generationConfig` fields no OpenAI chat request can express.
pub const DROPPED_GENERATION_CONFIG_FIELDS: &[&str] = &[
    "topK",
    "responseModalities",
    "speechConfig",
    "thinkingConfig",
    "mediaResolution",
    "responseLogprobs",
    "logprobs",
    "enableEnhancedCivicAnswers",
];

fn err(field: impl Into<String>, message: impl Into<String>) -> TranslateError {
    TranslateError::new(field, message)
}

/// Gemini fields are camelCase on the wire; the Python SDK may send snake_case
/// when a dict is passed as is, so both are read.
fn get<'a>(obj: &'a Map<String, Value>, camel: &str, snake: &str) -> Option<&'a Value> {
    obj.get(camel)
        .or_else(|| obj.get(snake))
        .filter(|v| !v.is_null())
}

/// The dropped fields a request carries, for the dropped-field metric.
pub fn dropped_gemini_fields(req: &Value) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = DROPPED_GEMINI_FIELDS
        .iter()
        .copied()
        .filter(|f| req.get(*f).is_some_and(|v| !v.is_null()))
        .collect();
    if let Some(cfg) = req.get("generationConfig").and_then(Value::as_object) {
        out.extend(
            DROPPED_GENERATION_CONFIG_FIELDS
                .iter()
                .copied()
                .filter(|f| cfg.get(*f).is_some_and(|v| !v.is_null())),
        );
    }
    out
}

/// `GenerateContentRequest` → OpenAI chat request for `model`.
pub fn gemini_request_to_chat(
    req: &Value,
    model: &str,
    stream: bool,
) -> Result<Value, TranslateError> {
    let req = req
        .as_object()
        .ok_or_else(|| err("body", "the body must be a JSON object"))?;
    let mut messages: Vec<Value> = Vec::new();
    if let Some(sys) = get(req, "systemInstruction", "system_instruction") {
        let text = parts_text(sys, "systemInstruction")?;
        if !text.is_empty() {
            messages.push(json!({"role": "system", "content": text}));
        }
    }
    let contents = req
        .get("contents")
        .and_then(Value::as_array)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            err(
                "contents",
                "`contents` must be a non-empty array of {role, parts} turns",
            )
        })?;
    // Function calls so far, (id, name, answered), to pair functionResponse parts.
    let mut calls: Vec<(String, String, bool)> = Vec::new();
    for (i, turn) in contents.iter().enumerate() {
        let path = format!("contents[{i}]");
        let role = turn.get("role").and_then(Value::as_str).unwrap_or("user");
        let parts = turn
            .get("parts")
            .and_then(Value::as_array)
            .ok_or_else(|| err(format!("{path}.parts"), "`parts` must be an array"))?;
        match role {
            "user" => user_turn(parts, &path, &mut calls, &mut messages)?,
            "model" => messages.push(model_turn(parts, &path, &mut calls)?),
            other => {
                return Err(err(
                    format!("{path}.role"),
                    format!("unknown role `{other}`; Gemini turns are `user` or `model`"),
                ));
            }
        }
    }
    let mut out = Map::new();
    out.insert("model".into(), json!(model));
    out.insert("messages".into(), Value::Array(messages));
    if stream {
        out.insert("stream".into(), json!(true));
        out.insert("stream_options".into(), json!({"include_usage": true}));
    }
    if let Some(tools) = req.get("tools").and_then(Value::as_array) {
        let fns = functions(tools)?;
        if !fns.is_empty() {
            out.insert("tools".into(), Value::Array(fns));
            if let Some(choice) = tool_choice(req)? {
                out.insert("tool_choice".into(), choice);
            }
        }
    }
    if let Some(cfg) = get(req, "generationConfig", "generation_config") {
        generation(cfg, &mut out)?;
    }
    Ok(Value::Object(out))
}

fn parts_text(content: &Value, path: &str) -> Result<String, TranslateError> {
    if let Some(s) = content.as_str() {
        return Ok(s.to_owned());
    }
    let parts = content
        .get("parts")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            err(
                format!("{path}.parts"),
                "expected {\"parts\": [{\"text\": …}]}",
            )
        })?;
    let mut text = String::new();
    for p in parts {
        if let Some(t) = p.get("text").and_then(Value::as_str) {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(t);
        }
    }
    Ok(text)
}

fn user_turn(
    parts: &[Value],
    path: &str,
    calls: &mut [(String, String, bool)],
    messages: &mut Vec<Value>,
) -> Result<(), TranslateError> {
    let mut content: Vec<Value> = Vec::new();
    for (j, p) in parts.iter().enumerate() {
        let ppath = format!("{path}.parts[{j}]");
        if let Some(t) = p.get("text").and_then(Value::as_str) {
            content.push(json!({"type": "text", "text": t}));
        } else if let Some(d) = p.get("inlineData").or_else(|| p.get("inline_data")) {
            let mime = d
                .get("mimeType")
                .or_else(|| d.get("mime_type"))
                .and_then(Value::as_str)
                .unwrap_or("application/octet-stream");
            let data = d
                .get("data")
                .and_then(Value::as_str)
                .ok_or_else(|| err(format!("{ppath}.inlineData.data"), "expected base64 data"))?;
            if !mime.starts_with("image/") {
                return Err(err(
                    format!("{ppath}.inlineData.mimeType"),
                    format!("`{mime}` cannot be sent to this model; only images are translated"),
                ));
            }
            content.push(
                json!({"type": "image_url", "image_url": {"url": format!("data:{mime};base64,{data}")}}),
            );
        } else if let Some(fr) = p
            .get("functionResponse")
            .or_else(|| p.get("function_response"))
        {
            let name = fr.get("name").and_then(Value::as_str).unwrap_or_default();
            let id = calls
                .iter_mut()
                .find(|(_, n, answered)| n == name && !answered)
                .map(|c| {
                    c.2 = true;
                    c.0.clone()
                })
                .ok_or_else(|| {
                    err(
                        format!("{ppath}.functionResponse.name"),
                        format!("no earlier functionCall named `{name}` is waiting for a response"),
                    )
                })?;
            let response = fr.get("response").cloned().unwrap_or(json!({}));
            messages
                .push(json!({"role": "tool", "tool_call_id": id, "content": response.to_string()}));
        } else {
            return Err(err(
                ppath,
                "only text, inlineData, functionCall and functionResponse parts are translated for this model",
            ));
        }
    }
    if !content.is_empty() {
        let all_text = content.iter().all(|c| c["type"] == "text");
        let value = if all_text {
            Value::String(
                content
                    .iter()
                    .filter_map(|c| c["text"].as_str())
                    .collect::<Vec<_>>()
                    .join(""),
            )
        } else {
            Value::Array(content)
        };
        messages.push(json!({"role": "user", "content": value}));
    }
    Ok(())
}

fn model_turn(
    parts: &[Value],
    path: &str,
    calls: &mut Vec<(String, String, bool)>,
) -> Result<Value, TranslateError> {
    let mut text = String::new();
    let mut tool_calls: Vec<Value> = Vec::new();
    for (j, p) in parts.iter().enumerate() {
        if p.get("thought").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        if let Some(t) = p.get("text").and_then(Value::as_str) {
            text.push_str(t);
        } else if let Some(fc) = p.get("functionCall").or_else(|| p.get("function_call")) {
            let name = fc
                .get("name")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .ok_or_else(|| {
                    err(
                        format!("{path}.parts[{j}].functionCall.name"),
                        "a functionCall needs a name",
                    )
                })?;
            let id = fc
                .get("id")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| format!("call_{}", calls.len()));
            let args = fc.get("args").cloned().unwrap_or(json!({}));
            tool_calls.push(json!({"id": id, "type": "function",
                "function": {"name": name, "arguments": args.to_string()}}));
            calls.push((id, name.to_owned(), false));
        }
    }
    let mut msg = json!({"role": "assistant", "content": if text.is_empty() { Value::Null } else { Value::String(text) }});
    if !tool_calls.is_empty() {
        msg["tool_calls"] = Value::Array(tool_calls);
    }
    Ok(msg)
}

/// Gemini's OpenAPI-subset schema (`"type": "OBJECT"`) → JSON Schema (lower case).
pub fn schema_to_json_schema(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| {
                    let x = match (k.as_str(), x) {
                        ("type", Value::String(t)) => Value::String(t.to_ascii_lowercase()),
                        _ => schema_to_json_schema(x),
                    };
                    (k.clone(), x)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(schema_to_json_schema).collect()),
        other => other.clone(),
    }
}

fn functions(tools: &[Value]) -> Result<Vec<Value>, TranslateError> {
    let mut out = Vec::new();
    for (i, tool) in tools.iter().enumerate() {
        let Some(decls) = tool
            .get("functionDeclarations")
            .or_else(|| tool.get("function_declarations"))
            .and_then(Value::as_array)
        else {
            // googleSearch, codeExecution, …: Gemini-only tools.
            return Err(err(
                format!("tools[{i}]"),
                "only functionDeclarations tools can be translated for this model",
            ));
        };
        for d in decls {
            let name = d.get("name").and_then(Value::as_str).unwrap_or_default();
            let mut f = json!({"name": name});
            if let Some(desc) = d.get("description") {
                f["description"] = desc.clone();
            }
            let params = d
                .get("parametersJsonSchema")
                .or_else(|| d.get("parameters_json_schema"))
                .cloned()
                .or_else(|| d.get("parameters").map(schema_to_json_schema));
            f["parameters"] = params.unwrap_or(json!({"type": "object", "properties": {}}));
            out.push(json!({"type": "function", "function": f}));
        }
    }
    Ok(out)
}

fn tool_choice(req: &Map<String, Value>) -> Result<Option<Value>, TranslateError> {
    let Some(cfg) = get(req, "toolConfig", "tool_config").and_then(|t| {
        t.get("functionCallingConfig")
            .or_else(|| t.get("function_calling_config"))
    }) else {
        return Ok(None);
    };
    let names: Vec<&str> = cfg
        .get("allowedFunctionNames")
        .or_else(|| cfg.get("allowed_function_names"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    Ok(match cfg.get("mode").and_then(Value::as_str) {
        None | Some("AUTO") | Some("MODE_UNSPECIFIED") => Some(json!("auto")),
        Some("NONE") => Some(json!("none")),
        Some("ANY") | Some("VALIDATED") if names.len() == 1 => {
            Some(json!({"type": "function", "function": {"name": names[0]}}))
        }
        Some("ANY") | Some("VALIDATED") => Some(json!("required")),
        Some(other) => {
            return Err(err(
                "toolConfig.functionCallingConfig.mode",
                format!("unknown mode `{other}`; use AUTO, ANY or NONE"),
            ));
        }
    })
}

fn generation(cfg: &Value, out: &mut Map<String, Value>) -> Result<(), TranslateError> {
    let Some(cfg) = cfg.as_object() else {
        return Err(err(
            "generationConfig",
            "`generationConfig` must be an object",
        ));
    };
    let copy = |camel: &str, snake: &str, to: &str, out: &mut Map<String, Value>| {
        if let Some(v) = get(cfg, camel, snake) {
            out.insert(to.into(), v.clone());
        }
    };
    copy("maxOutputTokens", "max_output_tokens", "max_tokens", out);
    copy("stopSequences", "stop_sequences", "stop", out);
    copy("candidateCount", "candidate_count", "n", out);
    copy("temperature", "temperature", "temperature", out);
    copy("topP", "top_p", "top_p", out);
    copy("seed", "seed", "seed", out);
    copy(
        "presencePenalty",
        "presence_penalty",
        "presence_penalty",
        out,
    );
    copy(
        "frequencyPenalty",
        "frequency_penalty",
        "frequency_penalty",
        out,
    );
    let mime = get(cfg, "responseMimeType", "response_mime_type").and_then(Value::as_str);
    let schema = get(cfg, "responseJsonSchema", "response_json_schema")
        .cloned()
        .or_else(|| get(cfg, "responseSchema", "response_schema").map(schema_to_json_schema));
    match (mime, schema) {
        (_, Some(schema)) => {
            out.insert(
                "response_format".into(),
                json!({"type": "json_schema", "json_schema": {"name": "response", "schema": schema}}),
            );
        }
        (Some("application/json"), None) => {
            out.insert("response_format".into(), json!({"type": "json_object"}));
        }
        _ => {}
    }
    Ok(())
}

/// OpenAI `finish_reason` → Gemini `finishReason`.
pub fn finish_to_gemini(reason: &str) -> &'static str {
    match reason {
        "length" => "MAX_TOKENS",
        "content_filter" => "SAFETY",
        _ => "STOP",
    }
}

/// OpenAI `usage` → Gemini `usageMetadata`.
pub fn usage_to_gemini(u: &Value) -> Value {
    let prompt = u.get("prompt_tokens").and_then(Value::as_u64).unwrap_or(0);
    let completion = u
        .get("completion_tokens")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let mut out = json!({
        "promptTokenCount": prompt,
        "candidatesTokenCount": completion,
        "totalTokenCount": u.get("total_tokens").and_then(Value::as_u64).unwrap_or(prompt + completion),
    });
    if let Some(c) = u
        .pointer("/prompt_tokens_details/cached_tokens")
        .and_then(Value::as_u64)
        .filter(|c| *c > 0)
    {
        out["cachedContentTokenCount"] = json!(c);
    }
    out
}

/// A `tool_calls` entry → a Gemini `functionCall` part (arguments parsed).
pub fn function_call_part(name: &str, arguments: &str) -> Value {
    let args: Value = serde_json::from_str(arguments).unwrap_or_else(|_| json!({}));
    json!({"functionCall": {"name": name, "args": args}})
}

/// OpenAI `chat.completion` → Gemini `GenerateContentResponse`.
pub fn chat_response_to_gemini(resp: &Value, model: &str) -> Result<Value, TranslateError> {
    let choices = resp
        .get("choices")
        .and_then(Value::as_array)
        .ok_or_else(|| err("choices", "expected an array of choices"))?;
    let candidates: Vec<Value> = choices
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let msg = &c["message"];
            let mut parts = Vec::new();
            if let Some(t) = msg["content"].as_str().filter(|t| !t.is_empty()) {
                parts.push(json!({"text": t}));
            }
            for tc in msg["tool_calls"].as_array().into_iter().flatten() {
                parts.push(function_call_part(
                    tc["function"]["name"].as_str().unwrap_or_default(),
                    tc["function"]["arguments"].as_str().unwrap_or("{}"),
                ));
            }
            if parts.is_empty() {
                parts.push(json!({"text": ""}));
            }
            json!({
                "content": {"role": "model", "parts": parts},
                "finishReason": finish_to_gemini(c["finish_reason"].as_str().unwrap_or("stop")),
                "index": c.get("index").and_then(Value::as_u64).unwrap_or(i as u64),
            })
        })
        .collect();
    let mut out = json!({"candidates": candidates, "modelVersion": model});
    if let Some(u) = resp.get("usage").filter(|u| u.is_object()) {
        out["usageMetadata"] = usage_to_gemini(u);
    }
    if let Some(id) = resp.get("id").and_then(Value::as_str) {
        out["responseId"] = json!(id);
    }
    Ok(out)
}

/// One `embedContent` body's text (its parts joined).
fn embed_text(req: &Value, path: &str) -> Result<String, TranslateError> {
    let content = req
        .get("content")
        .ok_or_else(|| err(format!("{path}.content"), "missing `content`"))?;
    parts_text(content, &format!("{path}.content"))
}

/// `embedContent` (`batch: false`) or `batchEmbedContents` body → OpenAI embeddings.
pub fn gemini_embed_to_openai(
    req: &Value,
    model: &str,
    batch: bool,
) -> Result<Value, TranslateError> {
    let (input, dims) = if batch {
        let requests = req
            .get("requests")
            .and_then(Value::as_array)
            .filter(|r| !r.is_empty())
            .ok_or_else(|| err("requests", "`requests` must be a non-empty array"))?;
        let texts = requests
            .iter()
            .enumerate()
            .map(|(i, r)| embed_text(r, &format!("requests[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        let dims = requests[0]
            .get("outputDimensionality")
            .and_then(Value::as_u64);
        (json!(texts), dims)
    } else {
        let dims = req.get("outputDimensionality").and_then(Value::as_u64);
        (json!(embed_text(req, "body")?), dims)
    };
    let mut out = json!({"model": model, "input": input, "encoding_format": "float"});
    if let Some(d) = dims {
        out["dimensions"] = json!(d);
    }
    Ok(out)
}

/// OpenAI embeddings answer → `embedContent` (`batch: false`) or
/// `batchEmbedContents` answer.
pub fn openai_embeddings_to_gemini(resp: &Value, batch: bool) -> Result<Value, TranslateError> {
    let mut data: Vec<&Value> = resp
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| err("data", "expected an array of embeddings"))?
        .iter()
        .collect();
    data.sort_by_key(|d| d.get("index").and_then(Value::as_u64).unwrap_or(0));
    let mut values = Vec::with_capacity(data.len());
    for (i, d) in data.iter().enumerate() {
        let v = d.get("embedding").filter(|e| e.is_array()).ok_or_else(|| {
            err(
                format!("data[{i}].embedding"),
                "expected an array of floats",
            )
        })?;
        values.push(json!({"values": v}));
    }
    if batch {
        Ok(json!({"embeddings": values}))
    } else {
        values
            .into_iter()
            .next()
            .map(|v| json!({"embedding": v}))
            .ok_or_else(|| err("data", "the upstream returned no embedding"))
    }
}
