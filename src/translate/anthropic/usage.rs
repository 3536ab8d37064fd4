//! Token usage between dialects (wire-formats.md §5.2, §5.3, §6).
//!
//! Anthropic's `input_tokens` excludes cached input, OpenAI's `prompt_tokens` includes
//! it: the full prompt is `input + cache_creation + cache_read`, and OpenAI reports only
//! reads (`prompt_tokens_details.cached_tokens`), never writes. Public so the streaming
//! translators convert usage the same way.

use serde::Serialize;
use serde_json::{Value, json};

use super::TranslateError;
use crate::translate::shape::{Object, expected, opt_object, opt_u64};

/// OpenAI `usage` from Anthropic's four counts. Fields in alphabetical order, as a
/// `Value` would write them (`response_to_openai` writes this struct directly).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(super) struct ChatUsage {
    completion_tokens: u64,
    prompt_tokens: u64,
    prompt_tokens_details: CachedTokens,
    total_tokens: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
struct CachedTokens {
    cached_tokens: u64,
}

impl ChatUsage {
    pub(super) fn from_anthropic(
        input: u64,
        cache_creation: u64,
        cache_read: u64,
        output: u64,
    ) -> Self {
        let prompt = input
            .saturating_add(cache_creation)
            .saturating_add(cache_read);
        ChatUsage {
            completion_tokens: output,
            prompt_tokens: prompt,
            prompt_tokens_details: CachedTokens {
                cached_tokens: cache_read,
            },
            total_tokens: prompt.saturating_add(output),
        }
    }
}

/// Anthropic `usage` → OpenAI `usage`. `None`/`null` reads as all zeros.
pub fn usage_to_openai(usage: Option<&Value>) -> Result<Value, TranslateError> {
    let usage = as_object(usage)?;
    let count = |key| counted(usage, key);
    let u = ChatUsage::from_anthropic(
        count("input_tokens")?,
        count("cache_creation_input_tokens")?,
        count("cache_read_input_tokens")?,
        count("output_tokens")?,
    );
    Ok(json!({
        "prompt_tokens": u.prompt_tokens,
        "completion_tokens": u.completion_tokens,
        "total_tokens": u.total_tokens,
        "prompt_tokens_details": { "cached_tokens": u.prompt_tokens_details.cached_tokens },
    }))
}

/// OpenAI `usage` → Anthropic `usage`. `None`/`null` reads as all zeros.
pub fn usage_to_anthropic(usage: Option<&Value>) -> Result<Value, TranslateError> {
    let usage = as_object(usage)?;
    let prompt = counted(usage, "prompt_tokens")?;
    let details = match usage {
        Some(usage) => opt_object(usage, "prompt_tokens_details", "usage")?,
        None => None,
    };
    let cached = match details {
        Some(details) => opt_u64(details, "cached_tokens", "usage.prompt_tokens_details")?,
        None => None,
    }
    .unwrap_or(0);
    Ok(json!({
        "input_tokens": prompt.saturating_sub(cached),
        "output_tokens": counted(usage, "completion_tokens")?,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": cached,
    }))
}

fn as_object(usage: Option<&Value>) -> Result<Option<&Object>, TranslateError> {
    match usage {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(expected("usage", "an object")),
    }
}

fn counted(usage: Option<&Object>, key: &str) -> Result<u64, TranslateError> {
    match usage {
        Some(usage) => Ok(opt_u64(usage, key, "usage")?.unwrap_or(0)),
        None => Ok(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_reads_and_writes_count_as_prompt() {
        let anthropic = json!({"input_tokens":10,"output_tokens":5,"cache_creation_input_tokens":100,"cache_read_input_tokens":1000});
        assert_eq!(
            usage_to_openai(Some(&anthropic)).unwrap(),
            json!({"prompt_tokens":1110,"completion_tokens":5,"total_tokens":1115,"prompt_tokens_details":{"cached_tokens":1000}})
        );
    }

    #[test]
    fn cached_tokens_come_out_of_input() {
        let openai = json!({"prompt_tokens":1110,"completion_tokens":5,"total_tokens":1115,
            "prompt_tokens_details":{"cached_tokens":1000},"completion_tokens_details":{"reasoning_tokens":2}});
        assert_eq!(
            usage_to_anthropic(Some(&openai)).unwrap(),
            json!({"input_tokens":110,"output_tokens":5,"cache_creation_input_tokens":0,"cache_read_input_tokens":1000})
        );
    }

    #[test]
    fn absent_and_null_fields_are_zero_and_bad_ones_are_named() {
        let zeros = usage_to_openai(None).unwrap();
        assert_eq!(zeros["total_tokens"], 0);
        let nulls = json!({"input_tokens":3,"output_tokens":1,"cache_read_input_tokens":null});
        assert_eq!(usage_to_openai(Some(&nulls)).unwrap()["prompt_tokens"], 3);
        let details_null = json!({"prompt_tokens":3,"prompt_tokens_details":null});
        assert_eq!(
            usage_to_anthropic(Some(&details_null)).unwrap()["input_tokens"],
            3
        );
        // More cached than prompt (a buggy upstream) must not underflow.
        let odd = json!({"prompt_tokens":1,"prompt_tokens_details":{"cached_tokens":5}});
        assert_eq!(usage_to_anthropic(Some(&odd)).unwrap()["input_tokens"], 0);

        let bad = json!({"input_tokens":-1});
        assert_eq!(
            usage_to_openai(Some(&bad)).unwrap_err().field,
            "usage.input_tokens"
        );
        let bad = json!({"prompt_tokens_details":{"cached_tokens":"x"}});
        assert_eq!(
            usage_to_anthropic(Some(&bad)).unwrap_err().field,
            "usage.prompt_tokens_details.cached_tokens"
        );
        assert_eq!(
            usage_to_anthropic(Some(&json!([]))).unwrap_err().field,
            "usage"
        );
    }
}
