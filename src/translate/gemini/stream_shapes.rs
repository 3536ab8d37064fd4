//! The Gemini `GenerateContentResponse` fields the stream translator reads, borrowed
//! from the event data. The OpenAI `chat.completion.chunk`s it writes are
//! `translate::stream::chat_chunks`, shared with the other chunk-writing translators.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::usage::UsageMetadata;

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
