//! What the mock reads from a `POST /v1/messages` request, and the checks
//! the real API makes before generating (`wire-formats.md` §2): the headers
//! (in [`headers`](super::headers)), then the required `model`,
//! `max_tokens` and `messages`. Failures carry Anthropic's messages, so a
//! gateway's error relaying is tested against realistic text.
//!
//! Everything else (sampling parameters, images, `tool_choice`, thinking) is
//! accepted and ignored, like a lenient provider.

use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::Value;

use super::super::error_body::AnthropicError;
use super::super::reply;
use super::headers;

/// The same per-message overhead the OpenAI mock counts, so a request
/// translated between the two formats meters the same input tokens.
const TOKENS_PER_MESSAGE: u64 = 3;

#[derive(Deserialize)]
struct RawRequest {
    // Kept raw so a wrong type gets the field's own message, not serde's.
    #[serde(default)]
    model: Value,
    #[serde(default)]
    max_tokens: Value,
    #[serde(default)]
    messages: Value,
    system: Option<Content>,
    #[serde(default)]
    stream: bool,
    #[serde(default)]
    tools: Vec<Tool>,
}

#[derive(Deserialize)]
struct RawMessage {
    role: String,
    content: Content,
}

/// A message's `content`, a `system` prompt, or a `tool_result`'s `content`:
/// a string or an array of blocks.
#[derive(Deserialize)]
#[serde(untagged)]
enum Content {
    Text(String),
    Blocks(Vec<Block>),
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block {
    Text {
        text: String,
    },
    ToolResult {
        #[serde(default)]
        content: Option<Content>,
    },
    /// Images, documents, `tool_use`, thinking: no words the mock counts.
    #[serde(other)]
    Other,
}

/// Server tools have a `name` too; a tool without one is skipped.
#[derive(Deserialize)]
struct Tool {
    name: Option<String>,
}

impl Content {
    /// Text of the text blocks, `tool_result` contents excluded.
    fn texts(&self) -> Vec<&str> {
        match self {
            Self::Text(text) => vec![text.as_str()],
            Self::Blocks(blocks) => blocks
                .iter()
                .filter_map(|block| match block {
                    Block::Text { text } => Some(text.as_str()),
                    _ => None,
                })
                .collect(),
        }
    }

    /// Text of every `tool_result` block, or `None` if there is none.
    fn tool_result_texts(&self) -> Option<Vec<&str>> {
        let Self::Blocks(blocks) = self else {
            return None;
        };
        let mut found = false;
        let mut texts = Vec::new();
        for block in blocks {
            if let Block::ToolResult { content } = block {
                found = true;
                texts.extend(content.iter().flat_map(Self::texts));
            }
        }
        found.then_some(texts)
    }

    fn words(&self) -> u64 {
        let results = self.tool_result_texts().unwrap_or_default();
        self.texts()
            .into_iter()
            .chain(results)
            .map(reply::count_words)
            .sum()
    }
}

/// The last user message, which the reply answers and directives come from.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct LastTurn {
    /// Its text blocks, joined by spaces.
    pub text: String,
    /// Its `tool_result` contents joined by spaces, if it answers a tool call.
    pub tool_result: Option<String>,
}

impl LastTurn {
    fn of(content: &Content) -> Self {
        Self {
            text: content.texts().join(" "),
            tool_result: content.tool_result_texts().map(|texts| texts.join(" ")),
        }
    }

    /// Where directives are looked for: all of the message's text, tool
    /// results included, because a gateway translating an OpenAI `tool`
    /// message turns it into a `tool_result` and that is the text a test
    /// controls on the second leg of a tool round trip.
    pub(super) fn directive_text(&self) -> String {
        match &self.tool_result {
            Some(result) => format!("{result} {}", self.text),
            None => self.text.clone(),
        }
    }
}

pub(super) enum Delivery {
    Whole,
    Stream,
}

/// A request that passed the checks Anthropic makes before generating.
pub(super) struct MessagesRequest {
    pub model: String,
    pub delivery: Delivery,
    pub first_tool: Option<String>,
    pub last_turn: LastTurn,
    /// Words of every text, system prompt included, plus a fixed overhead
    /// per message (the system prompt counting as one).
    pub input_tokens: u64,
}

pub(super) fn validate(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<MessagesRequest, AnthropicError> {
    headers::check(headers)?;
    let raw: RawRequest = serde_json::from_slice(body).map_err(|e| {
        invalid(if e.is_data() {
            format!("Invalid request body: {e}")
        } else {
            format!("There was an error parsing the body of your request: {e}")
        })
    })?;
    let model = match raw.model {
        Value::String(model) if !model.is_empty() => model,
        Value::Null => return Err(invalid("model: Field required")),
        _ => return Err(invalid("model: Input should be a non-empty string")),
    };
    match &raw.max_tokens {
        Value::Null => return Err(invalid("max_tokens: Field required")),
        max if max.as_u64().is_some_and(|n| n >= 1) => {}
        _ => {
            return Err(invalid(
                "max_tokens: Input should be an integer greater than or equal to 1",
            ));
        }
    }
    let messages = parse_messages(raw.messages)?;

    let last_turn = messages
        .iter()
        .rfind(|m| m.role == "user")
        .map(|m| LastTurn::of(&m.content))
        .unwrap_or_default();
    let system_tokens = raw
        .system
        .as_ref()
        .map_or(0, |system| system.words() + TOKENS_PER_MESSAGE);
    let message_tokens: u64 = messages
        .iter()
        .map(|m| m.content.words() + TOKENS_PER_MESSAGE)
        .sum();
    Ok(MessagesRequest {
        model,
        delivery: if raw.stream {
            Delivery::Stream
        } else {
            Delivery::Whole
        },
        first_tool: raw.tools.into_iter().find_map(|t| t.name),
        last_turn,
        input_tokens: system_tokens + message_tokens,
    })
}

struct Message {
    role: String,
    content: Content,
}

fn parse_messages(messages: Value) -> Result<Vec<Message>, AnthropicError> {
    let messages = match messages {
        Value::Null => return Err(invalid("messages: Field required")),
        Value::Array(messages) if messages.is_empty() => {
            return Err(invalid("messages: at least one message is required"));
        }
        Value::Array(messages) => messages,
        _ => return Err(invalid("messages: Input should be a valid list")),
    };
    messages
        .into_iter()
        .enumerate()
        .map(|(i, message)| {
            let RawMessage { role, content } = serde_json::from_value(message)
                .map_err(|e| invalid(format!("messages.{i}: {e}")))?;
            if role != "user" && role != "assistant" {
                return Err(invalid(format!(
                    "messages.{i}.role: Input should be 'user' or 'assistant'; \
                     a system prompt goes in the top-level `system` field"
                )));
            }
            Ok(Message { role, content })
        })
        .collect()
}

fn invalid(message: impl Into<std::borrow::Cow<'static, str>>) -> AnthropicError {
    AnthropicError::new(StatusCode::BAD_REQUEST, message)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn headers() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-api-key", http::HeaderValue::from_static("sk-ant-test"));
        headers.insert(
            "anthropic-version",
            http::HeaderValue::from_static("2023-06-01"),
        );
        headers
    }

    fn parse(body: &Value) -> Result<MessagesRequest, AnthropicError> {
        validate(&headers(), body.to_string().as_bytes())
    }

    /// The status a rejection would be answered with, if any.
    fn rejection(headers: &HeaderMap, body: &[u8]) -> Option<StatusCode> {
        use axum::response::IntoResponse;
        validate(headers, body)
            .err()
            .map(|error| error.into_response().status())
    }

    #[test]
    fn counts_system_and_every_text_including_tool_results() -> Result<(), String> {
        let request = parse(&json!({
            "model": "claude-mock", "max_tokens": 10,
            "system": [{"type": "text", "text": "be brief"}],
            "messages": [
                {"role": "user", "content": "weather in Paris?"},
                {"role": "assistant", "content": [
                    {"type": "text", "text": "Let me check."},
                    {"type": "tool_use", "id": "t1", "name": "w", "input": {"city": "Paris"}},
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "t1", "content": "sunny"},
                    {"type": "tool_result", "tool_use_id": "t2",
                     "content": [{"type": "text", "text": "warm too"}]},
                    {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}},
                    {"type": "text", "text": "thanks"},
                ]},
            ],
        }))
        .map_err(|_| "valid request rejected")?;
        // (2 + 3) system, (3 + 3), (3 + 3), (4 + 3).
        assert_eq!(request.input_tokens, 24);
        assert_eq!(
            request.last_turn,
            LastTurn {
                text: "thanks".into(),
                tool_result: Some("sunny warm too".into()),
            }
        );
        assert_eq!(request.last_turn.directive_text(), "sunny warm too thanks");
        Ok(())
    }

    #[test]
    fn plain_last_turn_has_no_tool_result() -> Result<(), String> {
        let request = parse(&json!({
            "model": "m", "max_tokens": 1,
            "messages": [{"role": "user", "content": [
                {"type": "text", "text": "a"}, {"type": "text", "text": "b"},
            ]}],
        }))
        .map_err(|_| "valid request rejected")?;
        assert_eq!(request.last_turn.text, "a b");
        assert_eq!(request.last_turn.tool_result, None);
        assert_eq!(request.input_tokens, 2 + TOKENS_PER_MESSAGE);
        Ok(())
    }

    #[test]
    fn rejects_what_the_real_api_rejects() {
        let ok =
            json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]});
        assert_eq!(rejection(&headers(), ok.to_string().as_bytes()), None);
        for (field, bad) in [
            ("model", Value::Null),
            ("model", json!(7)),
            ("model", json!("")),
            ("max_tokens", Value::Null),
            ("max_tokens", json!(0)),
            ("max_tokens", json!(-1)),
            ("max_tokens", json!(2.5)),
            ("max_tokens", json!("5")),
            ("messages", Value::Null),
            ("messages", json!([])),
            ("messages", json!("hi")),
            ("messages", json!([{"role": "system", "content": "x"}])),
            ("messages", json!([{"role": "user"}])),
        ] {
            let mut body = ok.clone();
            body[field] = bad.clone();
            assert_eq!(
                rejection(&headers(), body.to_string().as_bytes()),
                Some(StatusCode::BAD_REQUEST),
                "{field} = {bad}"
            );
        }
    }
}
