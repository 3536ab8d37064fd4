//! Anthropic message (a response) → OpenAI `chat.completion` (wire-formats.md §5.2).
//!
//! Two readings of one translation. [`messages_answer_to_chat`] is the pipeline's: the
//! answer's bytes are read into borrowed typed structs (strings borrowed unless
//! escaped, tool input kept as the upstream's raw JSON text) and the chat completion is
//! written from typed structs straight into the response bytes, with no `Value` tree
//! either side. [`messages_response_to_chat`] reads a `Value` and names the path of a
//! bad field; it serves the chained translators (Anthropic → chat → Responses or
//! Gemini) and is what the typed path falls back to for any answer it does not read
//! exactly alike (a malformed one, a duplicate key), so errors and odd answers come
//! out as before. `tests::fuzz` checks the two agree, byte for byte.
//!
//! The typed structs declare their fields in alphabetical order: that is the order a
//! `Value` (a `BTreeMap`) serializes, so the typed answer is byte-identical to the one
//! the `Value` path gives. Cost: `bench/RESULTS.md`, section `translate`.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use super::TranslateError;
use super::usage::{ChatUsage, usage_to_openai};
use crate::translate::answer::{self, AnswerError};
use crate::translate::map_only::MapOnly;
use crate::translate::reasons;
use crate::translate::shape::{
    body, expected, item, object, opt_array, opt_str, present, req_nonempty_str, req_str,
};

/// Anthropic messages response → OpenAI chat.completion; `model` is what the caller
/// asked for. Thinking text is exposed as `message.reasoning_content`.
pub fn messages_response_to_chat(resp: &Value, model: &str) -> Result<Value, TranslateError> {
    let resp = body(resp)?;
    if let Some(kind) = opt_str(resp, "type", "")?
        && kind != "message"
    {
        return Err(expected("type", "`message`"));
    }
    let id = req_nonempty_str(resp, "id", "")?;

    let mut text = String::new();
    let mut reasoning = String::new();
    let mut tool_calls = Vec::new();
    for (i, block) in opt_array(resp, "content", "")?
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let path = item("content", i);
        let block = object(block, &path)?;
        match req_str(block, "type", &path)? {
            "text" => text.push_str(req_str(block, "text", &path)?),
            "tool_use" => {
                let call_id = req_nonempty_str(block, "id", &path)?;
                let name = req_nonempty_str(block, "name", &path)?;
                let arguments = match present(block, "input") {
                    Some(input) => input.to_string(),
                    None => "{}".to_owned(),
                };
                tool_calls.push(json!({
                    "id": call_id,
                    "type": "function",
                    "function": { "name": name, "arguments": arguments },
                }));
            }
            "thinking" => {
                reasoning.push_str(opt_str(block, "thinking", &path)?.unwrap_or_default());
            }
            // redacted_thinking, server tool blocks and future types: nothing an OpenAI
            // client can show or send back.
            _ => {}
        }
    }

    let stop_reason = opt_str(resp, "stop_reason", "")?;
    let finish_reason = finish_reason(stop_reason, !tool_calls.is_empty());

    let mut message = Map::new();
    message.insert("role".into(), "assistant".into());
    let content = if text.is_empty() && !tool_calls.is_empty() {
        Value::Null
    } else {
        Value::String(text)
    };
    message.insert("content".into(), content);
    message.insert("refusal".into(), Value::Null);
    if !tool_calls.is_empty() {
        message.insert("tool_calls".into(), Value::Array(tool_calls));
    }
    if !reasoning.is_empty() {
        message.insert("reasoning_content".into(), Value::String(reasoning));
    }

    Ok(json!({
        "id": format!("chatcmpl-{id}"),
        "object": "chat.completion",
        "created": time::OffsetDateTime::now_utc().unix_timestamp(),
        "model": model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish_reason,
        }],
        "usage": usage_to_openai(present(resp, "usage"))?,
    }))
}

/// The OpenAI `finish_reason` for an Anthropic `stop_reason`.
fn finish_reason(stop_reason: Option<&str>, has_tool_calls: bool) -> &'static str {
    match stop_reason.map(reasons::anthropic_to_openai) {
        // A turn that asks for tools must say so, or agent loops stop (§5.6).
        Some("stop") | None if has_tool_calls => "tool_calls",
        Some(reason) => reason,
        None => "stop",
    }
}

/// Anthropic messages answer (bytes) → OpenAI chat.completion (bytes); `model` is what
/// the caller asked for. Same answer as [`messages_response_to_chat`], without the
/// `Value` trees.
pub fn messages_answer_to_chat(answer: &[u8], model: &str) -> Result<Vec<u8>, AnswerError> {
    messages_answer_to_chat_at(
        answer,
        model,
        time::OffsetDateTime::now_utc().unix_timestamp(),
    )
}

/// [`messages_answer_to_chat`] with `created` given.
pub(super) fn messages_answer_to_chat_at(
    answer: &[u8],
    model: &str,
    created: i64,
) -> Result<Vec<u8>, AnswerError> {
    if let Some(out) = typed_answer_to_chat(answer, model, created) {
        return Ok(out);
    }
    let value: Value = serde_json::from_slice(answer).map_err(AnswerError::NotJson)?;
    let mut chat = messages_response_to_chat(&value, model).map_err(AnswerError::Untranslatable)?;
    chat["created"] = created.into();
    answer::to_vec(&chat)
}

/// The typed reading: `None` for an answer it does not read exactly as
/// [`messages_response_to_chat`] does (then that one decides).
pub(super) fn typed_answer_to_chat(answer: &[u8], model: &str, created: i64) -> Option<Vec<u8>> {
    let MapOnly(message) = serde_json::from_slice::<MapOnly<Message<'_>>>(answer).ok()?;
    let chat = message.into_chat(model, created)?;
    // Answers are mostly their text: this is the size of the translation, roughly.
    let mut out = Vec::with_capacity(answer.len() + 128);
    serde_json::to_writer(&mut out, &chat).ok()?;
    Some(out)
}

/// A string, borrowed from the answer unless it has escapes.
#[derive(Deserialize)]
#[serde(transparent)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

/// The fields of an Anthropic message the translation reads; the rest are skipped.
#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow, rename = "type")]
    kind: Option<Text<'a>>,
    #[serde(borrow)]
    id: Option<Text<'a>>,
    #[serde(borrow)]
    content: Option<Vec<MapOnly<Block<'a>>>>,
    #[serde(borrow)]
    stop_reason: Option<Text<'a>>,
    usage: Option<MapOnly<Usage>>,
}

/// A content block: the fields of every type the translation reads, flat (an
/// internally tagged enum would buffer each block and cannot hold a `RawValue`).
#[derive(Deserialize)]
struct Block<'a> {
    #[serde(borrow, rename = "type")]
    kind: Text<'a>,
    #[serde(borrow)]
    text: Option<Text<'a>>,
    #[serde(borrow)]
    id: Option<Text<'a>>,
    #[serde(borrow)]
    name: Option<Text<'a>>,
    #[serde(borrow)]
    input: Option<&'a RawValue>,
    #[serde(borrow)]
    thinking: Option<Text<'a>>,
}

/// Anthropic `usage`; absent and `null` counts read as zero.
#[derive(Deserialize)]
struct Usage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
}

impl<'a> Message<'a> {
    /// The chat completion, or `None` where [`messages_response_to_chat`] would fail.
    fn into_chat(self, model: &'a str, created: i64) -> Option<ChatCompletion<'a>> {
        if self.kind.as_ref().is_some_and(|k| k.0 != "message") {
            return None;
        }
        let id = nonempty(self.id)?;
        let mut text = Cow::Borrowed("");
        let mut reasoning = Cow::Borrowed("");
        let mut tool_calls = Vec::new();
        for MapOnly(block) in self.content.unwrap_or_default() {
            match &*block.kind.0 {
                "text" => append(&mut text, block.text?.0),
                "tool_use" => tool_calls.push(ToolCall {
                    id: nonempty(block.id)?,
                    function: Function {
                        name: nonempty(block.name)?,
                        arguments: block.input.map_or("{}", RawValue::get),
                    },
                    kind: "function",
                }),
                "thinking" => {
                    if let Some(thinking) = block.thinking {
                        append(&mut reasoning, thinking.0);
                    }
                }
                // As in `messages_response_to_chat`: nothing an OpenAI client can use.
                _ => {}
            }
        }
        let finish_reason = finish_reason(
            self.stop_reason.as_ref().map(|s| &*s.0),
            !tool_calls.is_empty(),
        );
        let usage = self.usage.map(|MapOnly(u)| u);
        let count = |read: fn(&Usage) -> Option<u64>| usage.as_ref().and_then(read).unwrap_or(0);
        Some(ChatCompletion {
            choices: [Choice {
                finish_reason,
                index: 0,
                logprobs: (),
                message: ChatMessage {
                    content: (!text.is_empty() || tool_calls.is_empty()).then_some(text),
                    reasoning_content: (!reasoning.is_empty()).then_some(reasoning),
                    refusal: (),
                    role: "assistant",
                    tool_calls,
                },
            }],
            created,
            id: Prefixed("chatcmpl-", id),
            model,
            object: "chat.completion",
            usage: ChatUsage::from_anthropic(
                count(|u| u.input_tokens),
                count(|u| u.cache_creation_input_tokens),
                count(|u| u.cache_read_input_tokens),
                count(|u| u.output_tokens),
            ),
        })
    }
}

fn nonempty(s: Option<Text<'_>>) -> Option<Cow<'_, str>> {
    s.map(|s| s.0).filter(|s| !s.is_empty())
}

/// Concatenates without copying the first piece.
fn append<'a>(to: &mut Cow<'a, str>, piece: Cow<'a, str>) {
    if to.is_empty() {
        *to = piece;
    } else {
        to.to_mut().push_str(&piece);
    }
}

// The answer. Fields in alphabetical order: see the module doc.

#[derive(Serialize)]
struct ChatCompletion<'a> {
    choices: [Choice<'a>; 1],
    created: i64,
    id: Prefixed<'a>,
    model: &'a str,
    object: &'static str,
    usage: ChatUsage,
}

#[derive(Serialize)]
struct Choice<'a> {
    finish_reason: &'static str,
    index: u32,
    logprobs: (),
    message: ChatMessage<'a>,
}

#[derive(Serialize)]
struct ChatMessage<'a> {
    content: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_content: Option<Cow<'a, str>>,
    refusal: (),
    role: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<ToolCall<'a>>,
}

#[derive(Serialize)]
struct ToolCall<'a> {
    function: Function<'a>,
    id: Cow<'a, str>,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
struct Function<'a> {
    /// The upstream's JSON text of `input`, as it wrote it.
    arguments: &'a str,
    name: Cow<'a, str>,
}

/// `prefix` then the id, written as one JSON string without building it first.
struct Prefixed<'a>(&'static str, Cow<'a, str>);

impl Serialize for Prefixed<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{}{}", self.0, self.1))
    }
}
