//! OpenAI `messages` → Anthropic `system` + `messages`.
//!
//! Anthropic knows only `user` and `assistant` turns and is strict about them, so this
//! is where the §5.6 pitfalls are handled: system/developer messages are hoisted, tool
//! results are grouped into one user turn ahead of its text, same-role runs are merged,
//! blank text is dropped, and tool calls left unanswered get an error result.

use crate::translate::shape::map_content;
use serde_json::{Map, Value, json};

use super::TranslateError;
use super::media::{file_part_to_block, image_part_to_block};
use crate::translate::shape::{
    Object, expected, field, is_blank, item, object, opt_array, opt_str, present, req_nonempty_str,
    req_object, req_str, text_block,
};

/// The answer given for a tool call the conversation never answered.
const UNANSWERED_TOOL_CALL: &str = "No result was provided for this tool call.";

/// Anthropic's side of an OpenAI conversation.
pub(super) struct Conversation {
    /// `system` text blocks, in order of appearance.
    pub system: Vec<Value>,
    /// Alternating `user`/`assistant` messages.
    pub messages: Vec<Value>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    User,
    Assistant,
}

impl Role {
    fn wire(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

struct Turn {
    role: Role,
    blocks: Vec<Value>,
}

pub(super) fn convert(messages: &[Value]) -> Result<Conversation, TranslateError> {
    let mut system = Vec::new();
    let mut turns: Vec<Turn> = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        let path = item("messages", i);
        let obj = object(message, &path)?;
        match req_str(obj, "role", &path)? {
            "system" | "developer" => system.extend(text_only(obj, &path)?),
            "user" => push(&mut turns, Role::User, user_blocks(obj, &path)?),
            "assistant" => push(&mut turns, Role::Assistant, assistant_blocks(obj, &path)?),
            "tool" => push(&mut turns, Role::User, vec![tool_result(obj, &path)?]),
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
    answer_unanswered_tool_calls(&mut turns);
    trim_prefill(&mut turns);
    // Anthropic requires the first message to be the user's; a conversation that
    // opens with an assistant turn (a greeting, a resumed transcript) gets a
    // placeholder user turn before it instead of a 400.
    if turns.first().is_some_and(|t| t.role == Role::Assistant) {
        turns.insert(
            0,
            Turn {
                role: Role::User,
                blocks: vec![
                    json!({ "type": "text", "text": crate::translate::LEADING_USER_TURN }),
                ],
            },
        );
    }
    let messages = turns
        .into_iter()
        .map(|mut turn| {
            // Anthropic wants tool results before anything else in a user turn; the sort
            // is stable, so results keep their order and so does the text.
            turn.blocks.sort_by_key(|b| !is_tool_result(b));
            json!({ "role": turn.role.wire(), "content": turn.blocks })
        })
        .collect();
    Ok(Conversation { system, messages })
}

/// Appends to the last turn when the role repeats; empty block lists add nothing.
fn push(turns: &mut Vec<Turn>, role: Role, blocks: Vec<Value>) {
    if blocks.is_empty() {
        return;
    }
    match turns.last_mut() {
        Some(last) if last.role == role => last.blocks.extend(blocks),
        _ => turns.push(Turn { role, blocks }),
    }
}

fn is_tool_result(block: &Value) -> bool {
    block.get("type").and_then(Value::as_str) == Some("tool_result")
}

/// `content` of a system/developer/tool message: a string or text parts → text blocks.
fn text_only(obj: &Object, path: &str) -> Result<Vec<Value>, TranslateError> {
    content_blocks(obj, path, |part, kind, part_path| match kind {
        "text" => Ok(nonblank_text(req_str(part, "text", part_path)?)),
        _ => Err(unsupported_part(part_path, kind, "text")),
    })
}

fn user_blocks(obj: &Object, path: &str) -> Result<Vec<Value>, TranslateError> {
    content_blocks(obj, path, |part, kind, part_path| match kind {
        "text" => Ok(nonblank_text(req_str(part, "text", part_path)?)),
        "image_url" => image_part_to_block(part, part_path).map(Some),
        "file" => file_part_to_block(part, part_path).map(Some),
        _ => Err(unsupported_part(part_path, kind, "text, image_url or file")),
    })
}

fn assistant_blocks(obj: &Object, path: &str) -> Result<Vec<Value>, TranslateError> {
    if present(obj, "function_call").is_some() {
        return Err(TranslateError::new(
            field(path, "function_call"),
            "`function_call` is deprecated and cannot be translated; send `tool_calls`",
        ));
    }
    let mut blocks = content_blocks(obj, path, |part, kind, part_path| match kind {
        "text" => Ok(nonblank_text(req_str(part, "text", part_path)?)),
        "refusal" => Ok(nonblank_text(req_str(part, "refusal", part_path)?)),
        _ => Err(unsupported_part(part_path, kind, "text or refusal")),
    })?;
    if blocks.is_empty()
        && let Some(refusal) = opt_str(obj, "refusal", path)?
        && let Some(block) = nonblank_text(refusal)
    {
        blocks.push(block);
    }
    let calls_path = field(path, "tool_calls");
    for (j, call) in opt_array(obj, "tool_calls", path)?
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        blocks.push(tool_use(call, &item(&calls_path, j))?);
    }
    Ok(blocks)
}

/// `{"id","type":"function","function":{"name","arguments"}}` → `tool_use`.
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
    Ok(json!({ "type": "tool_use", "id": tool_id(id), "name": name, "input": input }))
}

/// Tool-call arguments (a JSON string) → the `input` object; blank means no arguments.
pub(super) fn parse_arguments(arguments: &str, path: &str) -> Result<Value, TranslateError> {
    if arguments.trim().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    match serde_json::from_str::<Value>(arguments) {
        Ok(input @ Value::Object(_)) => Ok(input),
        Ok(_) => Err(expected(path, "a JSON object encoded as a string")),
        Err(e) => Err(TranslateError::new(
            path,
            format!("`{path}` is not valid JSON ({e}); send the arguments as a JSON object string"),
        )),
    }
}

/// `{"role":"tool","tool_call_id","content"}` → `tool_result`. Blank content is left
/// out (Anthropic rejects empty text; `content` is optional there).
fn tool_result(obj: &Object, path: &str) -> Result<Value, TranslateError> {
    let id = req_nonempty_str(obj, "tool_call_id", path)?;
    let mut result = Map::new();
    result.insert("type".into(), "tool_result".into());
    result.insert("tool_use_id".into(), tool_id(id).into());
    let content = match present(obj, "content") {
        Some(Value::String(s)) if !is_blank(s) => Some(Value::String(s.clone())),
        Some(Value::String(_)) | None => None,
        Some(_) => Some(text_only(obj, path)?)
            .filter(|blocks| !blocks.is_empty())
            .map(Value::Array),
    };
    if let Some(content) = content {
        result.insert("content".into(), content);
    }
    Ok(Value::Object(result))
}

/// [`map_content`] with this translator's text blocks.
fn content_blocks(
    obj: &Object,
    path: &str,
    part: impl Fn(&Object, &str, &str) -> Result<Option<Value>, TranslateError>,
) -> Result<Vec<Value>, TranslateError> {
    map_content(obj, path, nonblank_text, part)
}

fn nonblank_text(text: &str) -> Option<Value> {
    (!is_blank(text)).then(|| text_block(text))
}

fn unsupported_part(path: &str, kind: &str, allowed: &str) -> TranslateError {
    TranslateError::new(
        field(path, "type"),
        format!(
            "content part type `{kind}` cannot be sent to an Anthropic model here; use {allowed}"
        ),
    )
}

pub(super) fn unsupported_tool_type(path: &str, kind: &str) -> TranslateError {
    TranslateError::new(
        path,
        format!("tool type `{kind}` has no Anthropic equivalent; only `function` tools translate"),
    )
}

/// Anthropic tool ids match `^[a-zA-Z0-9_-]+$`; other upstreams' ids may not (litellm
/// packs base64 into them). The mapping is deterministic, so calls and results agree.
fn tool_id(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A final assistant turn is a prefill, and Anthropic rejects one whose text ends in
/// whitespace ("final assistant content cannot end with trailing whitespace").
fn trim_prefill(turns: &mut [Turn]) {
    if let Some(last) = turns.last_mut()
        && last.role == Role::Assistant
        && let Some(Value::Object(block)) = last.blocks.last_mut()
        && let Some(Value::String(text)) = block.get_mut("text")
    {
        text.truncate(text.trim_end().len());
    }
}

/// Anthropic rejects a `tool_use` with no `tool_result` in the next user turn
/// (litellm#16525): answer each such call with an error result. A trailing assistant
/// turn (a prefill) is left alone.
fn answer_unanswered_tool_calls(turns: &mut [Turn]) {
    for i in 1..turns.len() {
        let (before, after) = turns.split_at_mut(i);
        let (Some(assistant), Some(user)) = (before.last(), after.first_mut()) else {
            continue;
        };
        if assistant.role != Role::Assistant {
            continue;
        }
        let answered: Vec<&str> = user
            .blocks
            .iter()
            .filter(|b| is_tool_result(b))
            .filter_map(|b| b.get("tool_use_id").and_then(Value::as_str))
            .collect();
        let missing: Vec<Value> = assistant
            .blocks
            .iter()
            .filter(|b| b.get("type").and_then(Value::as_str) == Some("tool_use"))
            .filter_map(|b| b.get("id").and_then(Value::as_str))
            .filter(|id| !answered.contains(id))
            .map(|id| {
                json!({
                    "type": "tool_result",
                    "tool_use_id": id,
                    "content": UNANSWERED_TOOL_CALL,
                    "is_error": true,
                })
            })
            .collect();
        user.blocks.extend(missing);
    }
}
