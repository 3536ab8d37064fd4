//! Gemini `usageMetadata` → OpenAI `usage` (wire-formats.md §5.5, §6).
//!
//! Gemini counts thinking apart: `thoughtsTokenCount` is not inside
//! `candidatesTokenCount`, yet it is billed as output, so `completion_tokens` is their
//! sum and `completion_tokens_details.reasoning_tokens` the thoughts (clients that
//! left it out under-billed: Portkey-AI/gateway#1458, simonw/llm-gemini#75).
//! `cachedContentTokenCount` is part of `promptTokenCount`, like OpenAI's
//! `cached_tokens`. `toolUsePromptTokenCount` (input from built-in tools) is in
//! Gemini's total but not in its prompt count, so it is added to `prompt_tokens` to
//! keep `total = prompt + completion`.

use serde::Deserialize;
use serde_json::{Value, json};

use super::TranslateError;
use crate::translate::shape::{expected, opt_u64};
use crate::translate::stream::StreamUsage;
use crate::translate::stream::chat_chunks::{CompletionDetailsOut, PromptDetailsOut, UsageOut};

/// The counts of one `usageMetadata`; absent ones are `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct UsageMetadata {
    #[serde(default)]
    pub prompt_token_count: Option<u64>,
    #[serde(default)]
    pub candidates_token_count: Option<u64>,
    #[serde(default)]
    pub total_token_count: Option<u64>,
    #[serde(default)]
    pub cached_content_token_count: Option<u64>,
    #[serde(default)]
    pub thoughts_token_count: Option<u64>,
    #[serde(default)]
    pub tool_use_prompt_token_count: Option<u64>,
}

impl UsageMetadata {
    /// Reads `usageMetadata` from a response body; `None`/`null` reads as all absent.
    pub fn read(usage: Option<&Value>) -> Result<Self, TranslateError> {
        const PATH: &str = "usageMetadata";
        let usage = match usage {
            None | Some(Value::Null) => return Ok(Self::default()),
            Some(Value::Object(o)) => o,
            Some(_) => return Err(expected(PATH, "an object")),
        };
        Ok(UsageMetadata {
            prompt_token_count: opt_u64(usage, "promptTokenCount", PATH)?,
            candidates_token_count: opt_u64(usage, "candidatesTokenCount", PATH)?,
            total_token_count: opt_u64(usage, "totalTokenCount", PATH)?,
            cached_content_token_count: opt_u64(usage, "cachedContentTokenCount", PATH)?,
            thoughts_token_count: opt_u64(usage, "thoughtsTokenCount", PATH)?,
            tool_use_prompt_token_count: opt_u64(usage, "toolUsePromptTokenCount", PATH)?,
        })
    }

    fn prompt(&self) -> u64 {
        let tool_use = self.tool_use_prompt_token_count.unwrap_or(0);
        self.prompt_token_count
            .unwrap_or(0)
            .saturating_add(tool_use)
    }

    fn completion(&self) -> u64 {
        let thoughts = self.thoughts_token_count.unwrap_or(0);
        self.candidates_token_count
            .unwrap_or(0)
            .saturating_add(thoughts)
    }

    fn cached(&self) -> u64 {
        self.cached_content_token_count.unwrap_or(0)
    }

    pub fn to_openai(self) -> UsageOut {
        let (prompt, completion) = (self.prompt(), self.completion());
        UsageOut {
            prompt_tokens: prompt,
            completion_tokens: completion,
            // Gemini's total when it sent one (it is the billed figure).
            total_tokens: self
                .total_token_count
                .unwrap_or_else(|| prompt.saturating_add(completion)),
            prompt_tokens_details: PromptDetailsOut {
                cached_tokens: self.cached(),
            },
            completion_tokens_details: Some(CompletionDetailsOut {
                reasoning_tokens: self.thoughts_token_count.unwrap_or(0),
            }),
        }
    }

    /// For metering: `input` is the prompt not read from the cache.
    pub fn to_stream_usage(self) -> StreamUsage {
        StreamUsage {
            input: self.prompt().saturating_sub(self.cached()),
            output: self.completion(),
            cache_read: self.cached(),
            cache_write: 0,
        }
    }
}

/// Gemini `usageMetadata` → OpenAI `usage`. `None`/`null` reads as all zeros.
pub fn usage_to_openai(usage: Option<&Value>) -> Result<Value, TranslateError> {
    Ok(json!(UsageMetadata::read(usage)?.to_openai()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thoughts_count_as_completion_and_reasoning() {
        let gemini = json!({"promptTokenCount": 100, "candidatesTokenCount": 20,
            "thoughtsTokenCount": 300, "totalTokenCount": 420, "cachedContentTokenCount": 64});
        assert_eq!(
            usage_to_openai(Some(&gemini)).unwrap(),
            json!({"prompt_tokens": 100, "completion_tokens": 320, "total_tokens": 420,
                "prompt_tokens_details": {"cached_tokens": 64},
                "completion_tokens_details": {"reasoning_tokens": 300}})
        );
        let m = UsageMetadata::read(Some(&gemini)).unwrap();
        assert_eq!(
            m.to_stream_usage(),
            StreamUsage {
                input: 36,
                output: 320,
                cache_read: 64,
                cache_write: 0
            }
        );
    }

    #[test]
    fn tool_use_prompt_tokens_keep_the_total_whole() {
        let gemini = json!({"promptTokenCount": 10, "candidatesTokenCount": 5,
            "toolUsePromptTokenCount": 7, "totalTokenCount": 22});
        let out = usage_to_openai(Some(&gemini)).unwrap();
        assert_eq!(out["prompt_tokens"], 17);
        assert_eq!(out["total_tokens"], 22);
    }

    #[test]
    fn absent_fields_are_zero_and_bad_ones_are_named() {
        let zeros = usage_to_openai(None).unwrap();
        assert_eq!(zeros["total_tokens"], 0);
        let partial = json!({"promptTokenCount": 3});
        assert_eq!(usage_to_openai(Some(&partial)).unwrap()["total_tokens"], 3);
        let bad = json!({"thoughtsTokenCount": -1});
        assert_eq!(
            usage_to_openai(Some(&bad)).unwrap_err().field,
            "usageMetadata.thoughtsTokenCount"
        );
        assert_eq!(
            usage_to_openai(Some(&json!([]))).unwrap_err().field,
            "usageMetadata"
        );
    }
}
