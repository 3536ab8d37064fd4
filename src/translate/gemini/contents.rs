//! OpenAI `messages` → Gemini `systemInstruction` + `contents` (wire-formats.md §5.5,
//! §5.6).
//!
//! Gemini knows `user` and `model` turns and is strict about function calls: a turn
//! answering calls must hold exactly one `functionResponse` per `functionCall` of the
//! turn before, or it is a 400 ("the number of function response parts is equal to
//! the number of function call parts"). So: system/developer messages are hoisted;
//! a run of `tool` messages becomes one `user` turn whose responses follow the call
//! order, with calls nobody answered given an error response; same-role runs are
//! merged; blank text is dropped, then emptied turns, so no `parts` is ever empty.

use crate::translate::shape::map_content;
use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::TranslateError;
use super::call_id;
use super::media::{audio_part, file_part, image_part};
use crate::translate::shape::{
    Object, expected, field, is_blank, item, object, opt_array, opt_str, present, req_nonempty_str,
    req_object, req_str,
};

/// The response given for a function call the conversation never answered.
const UNANSWERED_CALL: &str = "No result was provided for this tool call.";

/// Gemini's side of an OpenAI conversation.
pub(super) struct Conversation {
    /// `systemInstruction.parts`, in order of appearance.
    pub system: Vec<Value>,
    /// `user`/`model` contents, never two of the same role in a row.
    pub contents: Vec<Value>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    User,
    Model,
}

enum Part {
    Plain(Value),
    /// A `functionCall` part, the OpenAI id of its call, and the function's name.
    Call {
        id: String,
        name: String,
        part: Value,
    },
    /// A `functionResponse` part answering the call with this OpenAI id.
    Response {
        id: String,
        part: Value,
    },
}

impl Part {
    fn into_value(self) -> Value {
        match self {
            Part::Plain(part) | Part::Call { part, .. } | Part::Response { part, .. } => part,
        }
    }
}

struct Turn {
    role: Role,
    parts: Vec<Part>,
}

pub(super) fn convert(messages: &[Value]) -> Result<Conversation, TranslateError> {
    let mut system = Vec::new();
    let mut turns: Vec<Turn> = Vec::new();
    // OpenAI tool results name only the call id; Gemini wants the function name.
    let mut call_names: HashMap<String, String> = HashMap::new();
    for (i, message) in messages.iter().enumerate() {
        let path = item("messages", i);
        let obj = object(message, &path)?;
        match req_str(obj, "role", &path)? {
            "system" | "developer" => system.extend(text_parts(obj, &path)?),
            "user" => push(&mut turns, Role::User, user_parts(obj, &path)?),
            "assistant" => {
                let parts = model_parts(obj, &path)?;
                for part in &parts {
                    if let Part::Call { id, name, .. } = part {
                        call_names.insert(id.clone(), name.clone());
                    }
                }
                push(&mut turns, Role::Model, parts);
            }
            "tool" => {
                let response = function_response(obj, &path, &call_names)?;
                push(&mut turns, Role::User, vec![response]);
            }
            "function" => {
                return Err(TranslateError::new(
                    field(&path, "role"),
                    "`function` messages are deprecated and cannot be translated; \
                     send `tool` messages with a `tool_call_id`",
                ));
            }
            other => {
                return Err(TranslateError::new(
                    field(&path, "role"),
                    format!(
                        "unknown role `{other}`; use system, developer, user, assistant or tool"
                    ),
                ));
            }
        }
    }
    answer_in_call_order(&mut turns);
    // Gemini wants the conversation to open with a user turn (a function call must
    // follow one): an assistant-first conversation gets a placeholder before it.
    if turns.first().is_some_and(|t| t.role == Role::Model) {
        turns.insert(
            0,
            Turn {
                role: Role::User,
                parts: vec![Part::Plain(
                    json!({ "text": crate::translate::LEADING_USER_TURN }),
                )],
            },
        );
    }
    let contents = turns
        .into_iter()
        .map(|turn| {
            let role = match turn.role {
                Role::User => "user",
                Role::Model => "model",
            };
            let parts: Vec<Value> = turn.parts.into_iter().map(Part::into_value).collect();
            json!({ "role": role, "parts": parts })
        })
        .collect();
    Ok(Conversation { system, contents })
}

/// Appends to the last turn when the role repeats; empty part lists add nothing.
fn push(turns: &mut Vec<Turn>, role: Role, parts: Vec<Part>) {
    if parts.is_empty() {
        return;
    }
    match turns.last_mut() {
        Some(last) if last.role == role => last.parts.extend(parts),
        _ => turns.push(Turn { role, parts }),
    }
}

/// Each user turn after a model turn with calls gets its `functionResponse` parts
/// first, in call order, one per call: an answer missing from the conversation gets
/// an error response (Gemini rejects a count mismatch). Responses to older calls
/// keep their place after those, then the rest of the turn. A final model turn is
/// left alone: nobody has answered it yet.
fn answer_in_call_order(turns: &mut [Turn]) {
    for i in 1..turns.len() {
        let (before, after) = turns.split_at_mut(i);
        let (Some(model), Some(user)) = (before.last(), after.first_mut()) else {
            continue;
        };
        if model.role != Role::Model {
            continue;
        }
        let calls: Vec<(&str, &str)> = model
            .parts
            .iter()
            .filter_map(|p| match p {
                Part::Call { id, name, .. } => Some((id.as_str(), name.as_str())),
                _ => None,
            })
            .collect();
        if calls.is_empty() {
            continue;
        }
        let (mut responses, others): (Vec<Part>, Vec<Part>) = std::mem::take(&mut user.parts)
            .into_iter()
            .partition(|p| matches!(p, Part::Response { .. }));
        let mut ordered = Vec::with_capacity(calls.len() + responses.len() + others.len());
        for (call_id, name) in calls {
            let answer = responses
                .iter()
                .position(|p| matches!(p, Part::Response { id, .. } if id == call_id));
            ordered.push(match answer {
                Some(at) => responses.remove(at),
                None => Part::Plain(json!({ "functionResponse": {
                    "name": name,
                    "response": { "error": UNANSWERED_CALL },
                }})),
            });
        }
        ordered.extend(responses);
        ordered.extend(others);
        user.parts = ordered;
    }
}

/// `content` of a system/developer message: a string or text parts → text parts.
fn text_parts(obj: &Object, path: &str) -> Result<Vec<Value>, TranslateError> {
    content_parts(obj, path, |part, kind, part_path| match kind {
        "text" => Ok(text_part(req_str(part, "text", part_path)?)),
        _ => Err(unsupported_part(part_path, kind, "text")),
    })
}

fn user_parts(obj: &Object, path: &str) -> Result<Vec<Part>, TranslateError> {
    let parts = content_parts(obj, path, |part, kind, part_path| {
        let media = match kind {
            "text" => return Ok(text_part(req_str(part, "text", part_path)?)),
            "image_url" => image_part(part, part_path)?,
            "input_audio" => audio_part(part, part_path)?,
            "file" => file_part(part, part_path)?,
            _ => {
                return Err(unsupported_part(
                    part_path,
                    kind,
                    "text, image_url, input_audio or file",
                ));
            }
        };
        Ok(Some(media))
    })?;
    Ok(parts.into_iter().map(Part::Plain).collect())
}

/// An assistant message: its text (or refusal), then one `functionCall` per tool call.
fn model_parts(obj: &Object, path: &str) -> Result<Vec<Part>, TranslateError> {
    if present(obj, "function_call").is_some() {
        return Err(TranslateError::new(
            field(path, "function_call"),
            "`function_call` is deprecated and cannot be translated; send `tool_calls`",
        ));
    }
    let mut parts: Vec<Part> = content_parts(obj, path, |part, kind, part_path| match kind {
        "text" => Ok(text_part(req_str(part, "text", part_path)?)),
        "refusal" => Ok(text_part(req_str(part, "refusal", part_path)?)),
        _ => Err(unsupported_part(part_path, kind, "text or refusal")),
    })?
    .into_iter()
    .map(Part::Plain)
    .collect();
    if parts.is_empty()
        && let Some(refusal) = opt_str(obj, "refusal", path)?
        && let Some(part) = text_part(refusal)
    {
        parts.push(Part::Plain(part));
    }
    let calls_path = field(path, "tool_calls");
    for (j, call) in opt_array(obj, "tool_calls", path)?
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        parts.push(function_call(call, &item(&calls_path, j))?);
    }
    Ok(parts)
}

/// `{"id","type":"function","function":{"name","arguments"}}` → `functionCall`, with
/// the thought signature the id carries (see `call_id`).
fn function_call(call: &Value, path: &str) -> Result<Part, TranslateError> {
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
    let args = parse_arguments(arguments, &field(&function_path, "arguments"))?;
    let mut part = Map::new();
    part.insert("functionCall".into(), json!({ "name": name, "args": args }));
    if let Some(signature) = call_id::signature(id) {
        part.insert("thoughtSignature".into(), signature.into());
    }
    Ok(Part::Call {
        id: id.to_owned(),
        name: name.to_owned(),
        part: Value::Object(part),
    })
}

/// Tool-call arguments (a JSON string) → the `args` object; blank means no arguments.
fn parse_arguments(arguments: &str, path: &str) -> Result<Value, TranslateError> {
    if arguments.trim().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    match serde_json::from_str::<Value>(arguments) {
        Ok(args @ Value::Object(_)) => Ok(args),
        Ok(_) => Err(expected(path, "a JSON object encoded as a string")),
        Err(e) => Err(TranslateError::new(
            path,
            format!("`{path}` is not valid JSON ({e}); send the arguments as a JSON object string"),
        )),
    }
}

/// `{"role":"tool","tool_call_id","content"}` → `functionResponse{name,response}`.
/// `response` must be an object: content that parses as a JSON object is sent as it
/// is; anything else (other JSON, plain text) is wrapped as `{"result": …}`.
fn function_response(
    obj: &Object,
    path: &str,
    call_names: &HashMap<String, String>,
) -> Result<Part, TranslateError> {
    let id = req_nonempty_str(obj, "tool_call_id", path)?;
    let Some(name) = call_names.get(id) else {
        return Err(TranslateError::new(
            field(path, "tool_call_id"),
            format!(
                "`{}` `{id}` matches no tool call of an earlier assistant message; \
                 Gemini needs the called function's name, so send the assistant message \
                 with its `tool_calls` first",
                field(path, "tool_call_id")
            ),
        ));
    };
    let text = match present(obj, "content") {
        None => String::new(),
        Some(Value::String(s)) => s.clone(),
        // Text parts, joined by newlines (no other part type fits a function result).
        Some(_) => {
            let texts = content_parts(obj, path, |part, kind, part_path| match kind {
                "text" => Ok(Some(Value::from(req_str(part, "text", part_path)?))),
                _ => Err(unsupported_part(part_path, kind, "text")),
            })?;
            let texts: Vec<&str> = texts.iter().filter_map(Value::as_str).collect();
            texts.join("\n")
        }
    };
    let response = match serde_json::from_str::<Value>(&text) {
        Ok(object @ Value::Object(_)) => object,
        Ok(other) => json!({ "result": other }),
        Err(_) => json!({ "result": text }),
    };
    Ok(Part::Response {
        id: id.to_owned(),
        part: json!({ "functionResponse": { "name": name, "response": response } }),
    })
}

/// [`map_content`] with this translator's text blocks.
fn content_parts(
    obj: &Object,
    path: &str,
    part: impl Fn(&Object, &str, &str) -> Result<Option<Value>, TranslateError>,
) -> Result<Vec<Value>, TranslateError> {
    map_content(obj, path, text_part, part)
}

/// `{"text":…}`, or nothing for blank text (Gemini rejects empty text parts).
fn text_part(text: &str) -> Option<Value> {
    (!is_blank(text)).then(|| json!({ "text": text }))
}

fn unsupported_part(path: &str, kind: &str, allowed: &str) -> TranslateError {
    TranslateError::new(
        field(path, "type"),
        format!("content part type `{kind}` cannot be sent to a Gemini model here; use {allowed}"),
    )
}

pub(super) fn unsupported_tool_type(path: &str, kind: &str) -> TranslateError {
    TranslateError::new(
        path,
        format!("tool type `{kind}` has no Gemini equivalent; only `function` tools translate"),
    )
}
