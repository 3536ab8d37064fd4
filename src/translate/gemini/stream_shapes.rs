//! The stream's two sides: the Gemini `GenerateContentResponse` fields the translator
//! reads, borrowed from the event data, and the OpenAI `chat.completion.chunk`s it
//! writes, serialized without building JSON trees.
//!
//! The write side mirrors `translate::stream`'s chat chunk shapes (private to that
//! module), plus `completion_tokens_details`, which Gemini's thought tokens need.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::usage::{UsageMetadata, UsageOut};

// ---- read ----

/// One `data:` event. Every field is optional and `null`-tolerant; unknown fields
/// (`modelVersion`, `safetyRatings`, `citationMetadata`, …) are skipped.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Event<'a> {
    #[serde(borrow, default)]
    pub candidates: Option<Vec<Candidate<'a>>>,
    #[serde(borrow, default)]
    pub prompt_feedback: Option<PromptFeedback<'a>>,
    #[serde(default)]
    pub usage_metadata: Option<UsageMetadata>,
    #[serde(borrow, default)]
    pub response_id: Option<Cow<'a, str>>,
    /// `{"error":{"code","message","status"}}`: Gemini's error body, mid-stream.
    #[serde(borrow, default)]
    pub error: Option<ErrorBody<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Candidate<'a> {
    #[serde(default)]
    pub index: Option<u64>,
    #[serde(borrow, default)]
    pub content: Option<Content<'a>>,
    #[serde(borrow, default)]
    pub finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
pub(super) struct Content<'a> {
    #[serde(borrow, default)]
    pub parts: Option<Vec<Part<'a>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Part<'a> {
    #[serde(borrow, default)]
    pub text: Option<Cow<'a, str>>,
    #[serde(default)]
    pub thought: Option<bool>,
    #[serde(borrow, default)]
    pub function_call: Option<FunctionCall<'a>>,
    #[serde(borrow, default)]
    pub thought_signature: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
pub(super) struct FunctionCall<'a> {
    #[serde(borrow, default)]
    pub id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub name: Option<Cow<'a, str>>,
    /// Kept as the upstream wrote it: it becomes the `arguments` string unchanged.
    #[serde(borrow, default)]
    pub args: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PromptFeedback<'a> {
    #[serde(borrow, default)]
    pub block_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
pub(super) struct ErrorBody<'a> {
    #[serde(borrow, default)]
    pub message: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub status: Option<Cow<'a, str>>,
}

// ---- write ----

#[derive(Serialize)]
pub(super) struct ChunkOut<'a> {
    pub id: &'a str,
    pub object: &'static str,
    pub created: u64,
    pub model: &'a str,
    pub choices: &'a [ChoiceOut<'a>],
    /// Absent when the caller did not ask for usage; `null` on every chunk but the
    /// usage chunk when it did (wire-formats.md §1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Option<UsageOut>>,
}

#[derive(Serialize)]
pub(super) struct ChoiceOut<'a> {
    pub index: u32,
    pub delta: DeltaOut<'a>,
    pub finish_reason: Option<&'static str>,
}

#[derive(Serialize, Default)]
pub(super) struct DeltaOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<[ToolCallOut<'a>; 1]>,
}

/// A whole tool call in one delta: Gemini sends each `functionCall` complete.
#[derive(Serialize)]
pub(super) struct ToolCallOut<'a> {
    pub index: u32,
    pub id: &'a str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: FunctionOut<'a>,
}

#[derive(Serialize)]
pub(super) struct FunctionOut<'a> {
    pub name: &'a str,
    pub arguments: &'a str,
}

/// `{"error":{…}}`, the shape of Tollgate's OpenAI-dialect errors (DESIGN §1.5).
#[derive(Serialize)]
pub(super) struct ErrorOut<'a> {
    pub error: ErrorBodyOut<'a>,
}

#[derive(Serialize)]
pub(super) struct ErrorBodyOut<'a> {
    pub message: &'a str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub code: &'a str,
    pub param: Option<&'static str>,
}
