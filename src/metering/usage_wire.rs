//! The usage each provider reports, and the few fields of a stream event the
//! observer reads, as borrowed structs: serde skips everything else without
//! building a `serde_json::Value` tree, and text is borrowed from the event
//! unless it has escapes.
//!
//! Why: the observer reads the events of every metered stream that carry
//! usage (and the others' text when an estimate needs it), and the `usage` of
//! every whole answer; a `Value` per event was most of metering's
//! cost after the writer (issue 16). Leaves are lenient, as the `Value` reads
//! were: a token count that is not a non-negative integer counts as
//! [`reported_tokens`] says, a text that is not a string is no text. The shape
//! above the leaves must be the provider's: an event that is not is skipped.

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::bounds::reported_tokens;
use super::meter::TokenCounts;

/// A token count as reported: see [`reported_tokens`] (0 for anything odd).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Count(pub u64);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Count;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a token count")
            }
            fn visit_u64<E>(self, n: u64) -> Result<Count, E> {
                Ok(Count(reported_tokens(&n.into())))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Count, E> {
                Ok(Count(reported_tokens(&n.into())))
            }
            fn visit_f64<E>(self, n: f64) -> Result<Count, E> {
                Ok(Count(serde_json::Number::from_f64(n).map_or(0, |n| {
                    reported_tokens(&serde_json::Value::Number(n))
                })))
            }
            fn visit_str<E>(self, _: &str) -> Result<Count, E> {
                Ok(Count(0))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Count, E> {
                Ok(Count(0))
            }
            fn visit_unit<E>(self) -> Result<Count, E> {
                Ok(Count(0))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Count, A::Error> {
                while a.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Count(0))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Count, A::Error> {
                while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Count(0))
            }
        }
        d.deserialize_any(V)
    }
}

/// A text leaf: the string, borrowed when it has no escapes; `None` for any
/// other JSON value.
#[derive(Debug, Default)]
pub struct Text<'a>(pub Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("text")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Some(Cow::Borrowed(s))))
            }
            fn visit_str<E>(self, s: &str) -> Result<Text<'a>, E> {
                Ok(Text(Some(Cow::Owned(s.to_owned()))))
            }
            fn visit_string<E>(self, s: String) -> Result<Text<'a>, E> {
                Ok(Text(Some(Cow::Owned(s))))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Text<'a>, E> {
                Ok(Text(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Text<'a>, E> {
                Ok(Text(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Text<'a>, E> {
                Ok(Text(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Text<'a>, E> {
                Ok(Text(None))
            }
            fn visit_unit<E>(self) -> Result<Text<'a>, E> {
                Ok(Text(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Text<'a>, A::Error> {
                while a.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Text<'a>, A::Error> {
                while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

impl Text<'_> {
    pub fn push_to(&self, out: &mut String) {
        if let Some(s) = &self.0 {
            out.push_str(s);
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

fn count(c: Option<Count>) -> u64 {
    c.map_or(0, |c| c.0)
}

#[derive(Debug, Default, Deserialize)]
pub struct CachedDetails {
    #[serde(default)]
    cached_tokens: Option<Count>,
}

/// OpenAI chat and completions `usage`.
#[derive(Debug, Default, Deserialize)]
pub struct OpenAiUsage {
    #[serde(default)]
    prompt_tokens: Option<Count>,
    #[serde(default)]
    completion_tokens: Option<Count>,
    #[serde(default)]
    prompt_tokens_details: Option<CachedDetails>,
}

impl OpenAiUsage {
    pub fn counts(&self) -> TokenCounts {
        TokenCounts {
            input: count(self.prompt_tokens),
            output: count(self.completion_tokens),
            cached: count(
                self.prompt_tokens_details
                    .as_ref()
                    .and_then(|d| d.cached_tokens),
            ),
        }
    }
}

/// The Responses API's `usage` and gpt-image-1's (`input_tokens` includes cached
/// tokens, as ours does).
#[derive(Debug, Default, Deserialize)]
pub struct InputOutputUsage {
    #[serde(default)]
    input_tokens: Option<Count>,
    #[serde(default)]
    output_tokens: Option<Count>,
    #[serde(default)]
    input_tokens_details: Option<CachedDetails>,
}

impl InputOutputUsage {
    pub fn counts(&self) -> TokenCounts {
        TokenCounts {
            input: count(self.input_tokens),
            output: count(self.output_tokens),
            cached: count(
                self.input_tokens_details
                    .as_ref()
                    .and_then(|d| d.cached_tokens),
            ),
        }
    }

    /// Images: only a usage that names its input tokens counts.
    pub fn image_counts(&self) -> Option<TokenCounts> {
        self.input_tokens.map(|_| self.counts())
    }
}

/// Anthropic's `usage`: `input_tokens` excludes cache reads and writes; ours
/// includes them.
#[derive(Debug, Default, Deserialize)]
pub struct AnthropicUsage {
    #[serde(default)]
    input_tokens: Option<Count>,
    #[serde(default)]
    output_tokens: Option<Count>,
    #[serde(default)]
    cache_creation_input_tokens: Option<Count>,
    #[serde(default)]
    cache_read_input_tokens: Option<Count>,
}

impl AnthropicUsage {
    pub fn counts(&self) -> TokenCounts {
        let read = count(self.cache_read_input_tokens);
        TokenCounts {
            input: count(self.input_tokens) + count(self.cache_creation_input_tokens) + read,
            output: count(self.output_tokens),
            cached: read,
        }
    }

    /// The cumulative output of a `message_delta`, if it names one.
    pub fn output(&self) -> Option<u64> {
        self.output_tokens.map(|c| c.0)
    }
}

/// Gemini's `usageMetadata`: prompt (+ tool-use prompt) in, candidates + thoughts out.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GeminiUsage {
    #[serde(default)]
    prompt_token_count: Option<Count>,
    #[serde(default)]
    tool_use_prompt_token_count: Option<Count>,
    #[serde(default)]
    candidates_token_count: Option<Count>,
    #[serde(default)]
    thoughts_token_count: Option<Count>,
    #[serde(default)]
    cached_content_token_count: Option<Count>,
}

impl GeminiUsage {
    pub fn counts(&self) -> TokenCounts {
        TokenCounts {
            input: count(self.prompt_token_count) + count(self.tool_use_prompt_token_count),
            output: count(self.candidates_token_count) + count(self.thoughts_token_count),
            cached: count(self.cached_content_token_count),
        }
    }
}

/// A whole answer's `usage` value (the bytes `UsageScanner` captured), read as
/// `parse` says; `None` for `null` or anything that is not that usage object.
pub fn parse_usage<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Option<T> {
    serde_json::from_slice::<Option<T>>(bytes).ok().flatten()
}

// Stream events: only the fields the observer reads.

#[derive(Debug, Default, Deserialize)]
pub struct ChatChunk<'a> {
    #[serde(default, borrow)]
    pub choices: Option<Vec<ChunkChoice<'a>>>,
    #[serde(default)]
    pub usage: Option<OpenAiUsage>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ChunkChoice<'a> {
    #[serde(default, borrow)]
    pub delta: Option<Delta<'a>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Delta<'a> {
    #[serde(default, borrow)]
    pub content: Text<'a>,
    #[serde(default, borrow)]
    pub tool_calls: Option<Vec<ToolCallDelta<'a>>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ToolCallDelta<'a> {
    #[serde(default, borrow)]
    pub function: Option<FunctionDelta<'a>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct FunctionDelta<'a> {
    #[serde(default, borrow)]
    pub arguments: Text<'a>,
}

impl ChatChunk<'_> {
    /// A usage-only chunk (`"choices":[]` with a `usage` object), the one the
    /// gateway may remove.
    pub fn is_usage_only(&self) -> bool {
        self.usage.is_some() && self.choices.as_ref().is_some_and(Vec::is_empty)
    }
}

/// An Anthropic stream event (`message_start`, `content_block_delta`,
/// `message_delta`, `message_stop`, …).
#[derive(Debug, Default, Deserialize)]
pub struct AnthropicEvent<'a> {
    #[serde(default, borrow, rename = "type")]
    pub kind: Text<'a>,
    #[serde(default)]
    pub message: Option<AnthropicMessage>,
    #[serde(default, borrow)]
    pub delta: Option<AnthropicDelta<'a>>,
    #[serde(default)]
    pub usage: Option<AnthropicUsage>,
}

#[derive(Debug, Default, Deserialize)]
pub struct AnthropicMessage {
    #[serde(default)]
    pub usage: Option<AnthropicUsage>,
}

#[derive(Debug, Default, Deserialize)]
pub struct AnthropicDelta<'a> {
    #[serde(default, borrow)]
    pub text: Text<'a>,
    #[serde(default, borrow)]
    pub partial_json: Text<'a>,
}

/// A Responses API stream event.
#[derive(Debug, Default, Deserialize)]
pub struct ResponsesEvent<'a> {
    #[serde(default, borrow, rename = "type")]
    pub kind: Text<'a>,
    #[serde(default, borrow)]
    pub delta: Text<'a>,
    #[serde(default)]
    pub response: Option<ResponsesBody>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ResponsesBody {
    #[serde(default)]
    pub usage: Option<InputOutputUsage>,
}

/// A Gemini `alt=sse` chunk (a `GenerateContentResponse`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GeminiChunk<'a> {
    #[serde(default, borrow)]
    pub candidates: Option<Vec<GeminiCandidate<'a>>>,
    #[serde(default)]
    pub usage_metadata: Option<GeminiUsage>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GeminiCandidate<'a> {
    #[serde(default, borrow)]
    pub content: Option<GeminiContent<'a>>,
    #[serde(default, borrow)]
    pub finish_reason: Text<'a>,
}

#[derive(Debug, Default, Deserialize)]
pub struct GeminiContent<'a> {
    #[serde(default, borrow)]
    pub parts: Option<Vec<GeminiPart<'a>>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct GeminiPart<'a> {
    #[serde(default, borrow)]
    pub text: Text<'a>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tc(input: u64, output: u64, cached: u64) -> TokenCounts {
        TokenCounts {
            input,
            output,
            cached,
        }
    }

    #[test]
    fn openai_usage_whole_and_in_a_stream_chunk() {
        let u: OpenAiUsage = parse_usage(
            br#"{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17,"prompt_tokens_details":{"cached_tokens":4,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":2}}"#,
        )
        .unwrap();
        assert_eq!(u.counts(), tc(12, 5, 4));
        assert!(parse_usage::<OpenAiUsage>(b"null").is_none());
        assert!(parse_usage::<OpenAiUsage>(b"7").is_none());

        let c: ChatChunk = serde_json::from_str(
            r#"{"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":2}}"#,
        )
        .unwrap();
        assert!(c.is_usage_only());
        assert_eq!(c.usage.unwrap().counts(), tc(7, 2, 0));

        let c: ChatChunk = serde_json::from_str(
            r#"{"choices":[{"index":0,"delta":{"content":"H\u00e9","tool_calls":[{"index":0,"function":{"arguments":"{\"a\":1}"}}]}}],"usage":null}"#,
        )
        .unwrap();
        assert!(!c.is_usage_only() && c.usage.is_none());
        let d = c.choices.unwrap().pop().unwrap().delta.unwrap();
        assert_eq!(d.content.as_str(), Some("Hé"));
        let mut args = String::new();
        for t in d.tool_calls.unwrap() {
            t.function.unwrap().arguments.push_to(&mut args);
        }
        assert_eq!(args, r#"{"a":1}"#);
    }

    #[test]
    fn text_is_borrowed_unless_escaped() {
        let c: ChatChunk =
            serde_json::from_str(r#"{"choices":[{"delta":{"content":"plain"}}]}"#).unwrap();
        let content = &c.choices.as_ref().unwrap()[0]
            .delta
            .as_ref()
            .unwrap()
            .content;
        assert!(matches!(content.0, Some(Cow::Borrowed("plain"))));
        let c: ChatChunk =
            serde_json::from_str(r#"{"choices":[{"delta":{"content":null}}]}"#).unwrap();
        assert!(
            c.choices.unwrap()[0]
                .delta
                .as_ref()
                .unwrap()
                .content
                .0
                .is_none()
        );
    }

    #[test]
    fn odd_counts_are_lenient_as_reported_tokens() {
        let u: OpenAiUsage = parse_usage(
            br#"{"prompt_tokens":12.0,"completion_tokens":-3,"prompt_tokens_details":{"cached_tokens":"4"}}"#,
        )
        .unwrap();
        assert_eq!(u.counts(), tc(12, 0, 0));
        let u: OpenAiUsage =
            parse_usage(br#"{"prompt_tokens":1e30,"completion_tokens":[1],"x":{}}"#).unwrap();
        assert_eq!(u.counts().input, crate::domain::bounds::MAX_TOKENS);
        assert_eq!(u.counts().output, 0);
    }

    #[test]
    fn anthropic_usage_adds_cache_reads_and_writes_to_input() {
        let u: AnthropicUsage = parse_usage(
            br#"{"input_tokens":10,"cache_creation_input_tokens":3,"cache_read_input_tokens":4,"output_tokens":6,"service_tier":"standard"}"#,
        )
        .unwrap();
        assert_eq!(u.counts(), tc(17, 6, 4));
        let start: AnthropicEvent = serde_json::from_str(
            r#"{"type":"message_start","message":{"id":"m","content":[],"usage":{"input_tokens":9,"output_tokens":1}}}"#,
        )
        .unwrap();
        assert_eq!(start.kind.as_str(), Some("message_start"));
        assert_eq!(start.message.unwrap().usage.unwrap().counts(), tc(9, 1, 0));
        let delta: AnthropicEvent = serde_json::from_str(
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":15}}"#,
        )
        .unwrap();
        let u = delta.usage.unwrap();
        assert_eq!((u.output(), u.counts().input), (Some(15), 0));
        let text: AnthropicEvent = serde_json::from_str(
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"x\""}}"#,
        )
        .unwrap();
        assert_eq!(text.delta.unwrap().partial_json.as_str(), Some(r#"{"x""#));
    }

    #[test]
    fn responses_and_image_usage() {
        let u: InputOutputUsage = parse_usage(
            br#"{"input_tokens":9,"input_tokens_details":{"cached_tokens":2},"output_tokens":4,"output_tokens_details":{"reasoning_tokens":1},"total_tokens":13}"#,
        )
        .unwrap();
        assert_eq!(u.counts(), tc(9, 4, 2));
        let ev: ResponsesEvent = serde_json::from_str(
            r#"{"type":"response.completed","sequence_number":9,"response":{"id":"r","output":[{"content":[]}],"usage":{"input_tokens":5,"output_tokens":6}}}"#,
        )
        .unwrap();
        assert_eq!(ev.kind.as_str(), Some("response.completed"));
        assert_eq!(ev.response.unwrap().usage.unwrap().counts(), tc(5, 6, 0));
        let ev: ResponsesEvent = serde_json::from_str(
            r#"{"type":"response.output_text.delta","delta":"Hi","item_id":"i"}"#,
        )
        .unwrap();
        assert_eq!(ev.delta.as_str(), Some("Hi"));
        let img: InputOutputUsage =
            parse_usage(br#"{"input_tokens":5,"output_tokens":272,"total_tokens":277}"#).unwrap();
        assert_eq!(img.image_counts(), Some(tc(5, 272, 0)));
        let img: InputOutputUsage = parse_usage(br#"{"output_tokens":272}"#).unwrap();
        assert_eq!(img.image_counts(), None);
    }

    #[test]
    fn gemini_usage_metadata_whole_and_in_a_chunk() {
        let u: GeminiUsage = parse_usage(
            br#"{"promptTokenCount":5,"toolUsePromptTokenCount":1,"candidatesTokenCount":2,"thoughtsTokenCount":3,"cachedContentTokenCount":2,"totalTokenCount":11}"#,
        )
        .unwrap();
        assert_eq!(u.counts(), tc(6, 5, 2));
        let c: GeminiChunk = serde_json::from_str(
            r#"{"candidates":[{"content":{"role":"model","parts":[{"text":"a"},{"functionCall":{"name":"f"}}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":2},"modelVersion":"g"}"#,
        )
        .unwrap();
        let cand = &c.candidates.as_ref().unwrap()[0];
        assert_eq!(cand.finish_reason.as_str(), Some("STOP"));
        let parts = cand.content.as_ref().unwrap().parts.as_ref().unwrap();
        assert_eq!(parts[0].text.as_str(), Some("a"));
        assert!(parts[1].text.as_str().is_none());
        assert_eq!(c.usage_metadata.unwrap().counts(), tc(4, 2, 0));
    }
}
