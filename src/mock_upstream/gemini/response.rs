//! The mock's answer as a Gemini `GenerateContentResponse`, whole or as the
//! chunks of a stream (`wire-formats.md` §3).
//!
//! Streams: one chunk per word, each candidate holding only its new text; a
//! function call arrives whole in one chunk; with `thoughts=N` a thought
//! part comes first, in its own chunk. Every chunk carries `usageMetadata`
//! with running totals, as Google sends them, so only the last chunk's is
//! the request's usage (a gateway that sums or keeps the first is wrong);
//! the last chunk also carries `finishReason`. Counts of zero are left out,
//! as proto3 JSON does.
//!
//! Pure rendering, so tests can predict every byte.

use serde_json::{Value, json};

use super::super::reply::{self, TOOL_ARGUMENT_FRAGMENTS};

/// The text of the thought part `thoughts=N` adds.
pub(super) const THOUGHT_TEXT: &str = "thinking…";

/// What the model says.
pub(super) enum Answer {
    Text(String),
    /// A call to `name` with `{"location":"Paris"}`, counted as many tokens
    /// as the OpenAI route's argument fragments so providers meter alike.
    FunctionCall {
        name: String,
    },
    /// `blocked`: no candidates, only `promptFeedback.blockReason`.
    Blocked,
}

pub(super) struct Generation {
    pub response_id: String,
    pub model: String,
    pub answer: Answer,
    pub prompt_tokens: u64,
    /// `thoughtsTokenCount`, reported apart from the candidates' tokens.
    pub thoughts: Option<u64>,
}

impl Generation {
    /// The non-streamed response body.
    pub(super) fn to_json(&self) -> Value {
        let mut parts: Vec<Value> = self.thought_part().into_iter().collect();
        let candidates_tokens = match &self.answer {
            Answer::Blocked => return self.blocked(),
            Answer::Text(text) => {
                parts.push(json!({"text": text}));
                reply::stream_pieces(text).len() as u64
            }
            Answer::FunctionCall { name } => {
                parts.push(function_call(name));
                TOOL_ARGUMENT_FRAGMENTS.len() as u64
            }
        };
        self.response(parts, true, candidates_tokens)
    }

    /// Every chunk of the stream, in order.
    pub(super) fn chunks(&self) -> Vec<Value> {
        let mut chunks: Vec<Value> = self
            .thought_part()
            .map(|part| self.response(vec![part], false, 0))
            .into_iter()
            .collect();
        match &self.answer {
            Answer::Blocked => chunks = vec![self.blocked()],
            Answer::Text(text) => {
                let pieces = reply::stream_pieces(text);
                let last = pieces.len().saturating_sub(1);
                // An empty reply still sends one chunk, to carry the finish.
                let pieces = if pieces.is_empty() { vec![""] } else { pieces };
                chunks.extend(pieces.iter().enumerate().map(|(i, piece)| {
                    let so_far = if piece.is_empty() { 0 } else { i as u64 + 1 };
                    self.response(vec![json!({"text": piece})], i == last, so_far)
                }));
            }
            Answer::FunctionCall { name } => {
                let tokens = TOOL_ARGUMENT_FRAGMENTS.len() as u64;
                chunks.push(self.response(vec![function_call(name)], true, tokens));
            }
        }
        chunks
    }

    fn thought_part(&self) -> Option<Value> {
        match self.answer {
            Answer::Blocked => None,
            _ => self
                .thoughts
                .map(|_| json!({"text": THOUGHT_TEXT, "thought": true})),
        }
    }

    /// One `GenerateContentResponse` with a single candidate holding
    /// `parts`; `last` adds the finish reason.
    fn response(&self, parts: Vec<Value>, last: bool, candidates_tokens: u64) -> Value {
        let mut candidate = json!({"content": {"role": "model", "parts": parts}, "index": 0});
        if last {
            candidate["finishReason"] = json!("STOP");
        }
        json!({
            "candidates": [candidate],
            "usageMetadata": self.usage(candidates_tokens, self.thoughts),
            "modelVersion": self.model,
            "responseId": self.response_id,
        })
    }

    fn blocked(&self) -> Value {
        json!({
            "promptFeedback": {"blockReason": "SAFETY"},
            "usageMetadata": self.usage(0, None),
            "modelVersion": self.model,
            "responseId": self.response_id,
        })
    }

    fn usage(&self, candidates: u64, thoughts: Option<u64>) -> Value {
        let thoughts = thoughts.unwrap_or(0);
        let mut usage = json!({
            "promptTokenCount": self.prompt_tokens,
            "totalTokenCount": self.prompt_tokens + candidates + thoughts,
        });
        if candidates > 0 {
            usage["candidatesTokenCount"] = json!(candidates);
        }
        if thoughts > 0 {
            usage["thoughtsTokenCount"] = json!(thoughts);
        }
        usage
    }
}

fn function_call(name: &str) -> Value {
    json!({"functionCall": {"name": name, "args": {"location": "Paris"}}})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generation(answer: Answer, thoughts: Option<u64>) -> Generation {
        Generation {
            response_id: "mock-1".into(),
            model: "gemini-mock".into(),
            answer,
            prompt_tokens: 5,
            thoughts,
        }
    }

    #[test]
    fn function_call_args_are_the_canned_arguments() {
        let call = function_call("w");
        assert_eq!(
            call["functionCall"]["args"].to_string(),
            reply::TOOL_ARGUMENTS
        );
    }

    #[test]
    fn stream_usage_is_cumulative_and_ends_like_the_whole_response() {
        let g = generation(Answer::Text("a b c".into()), Some(4));
        let chunks = g.chunks();
        assert_eq!(chunks.len(), 4);
        assert_eq!(
            chunks[0]["candidates"][0]["content"]["parts"][0]["thought"],
            true
        );
        let totals: Vec<&Value> = chunks
            .iter()
            .map(|c| &c["usageMetadata"]["totalTokenCount"])
            .collect();
        assert_eq!(totals, [&json!(9), &json!(10), &json!(11), &json!(12)]);
        assert!(
            chunks[..3]
                .iter()
                .all(|c| c["candidates"][0].get("finishReason").is_none())
        );
        let whole = g.to_json();
        assert_eq!(chunks[3]["usageMetadata"], whole["usageMetadata"]);
        assert_eq!(chunks[3]["candidates"][0]["finishReason"], "STOP");
        assert_eq!(
            whole["usageMetadata"],
            json!({"promptTokenCount": 5, "candidatesTokenCount": 3,
                   "thoughtsTokenCount": 4, "totalTokenCount": 12})
        );
    }

    #[test]
    fn empty_text_still_finishes_and_blocked_has_no_candidates() {
        let empty = generation(Answer::Text(String::new()), None).chunks();
        assert_eq!(empty.len(), 1);
        assert_eq!(empty[0]["candidates"][0]["finishReason"], "STOP");
        assert_eq!(
            empty[0]["usageMetadata"],
            json!({"promptTokenCount": 5, "totalTokenCount": 5})
        );

        let blocked = generation(Answer::Blocked, Some(3));
        assert_eq!(blocked.chunks(), vec![blocked.to_json()]);
        assert!(blocked.to_json().get("candidates").is_none());
        assert_eq!(blocked.to_json()["promptFeedback"]["blockReason"], "SAFETY");
    }
}
