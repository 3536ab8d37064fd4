//! What the mock reads from a `:generateContent` / `:streamGenerateContent`
//! body, and the checks Google makes before generating (`wire-formats.md`
//! §3), with Google's messages so a gateway's error relaying is tested
//! against realistic text:
//!
//! - a top-level field Google does not know (such as an OpenAI `messages`
//!   leaking through a translation) is refused, as the real API refuses
//!   unknown names; camelCase and snake_case names are both accepted;
//! - `contents` must be non-empty, every content's `parts` non-empty, every
//!   part must hold exactly one kind of data, roles must be `user` or `model`
//!   (or absent, which the API reads as `user`);
//! - a `functionResponse` needs a `name` and an object `response`; a string
//!   there is the classic translation bug, and Google's 400 for it is kept.
//!
//! Token counting matches the other dialects: the words of every text part
//! and of every `functionResponse.response` as JSON, plus 3 per content, the
//! `systemInstruction` counting as one content. (`{"result":"sunny and
//! warm"}` has as many words as `sunny and warm`, so an OpenAI tool message
//! translated that way meters the same.)

use serde::Deserialize;
use serde_json::{Map, Value};

use super::super::error_body::GeminiError;
use super::super::reply;

/// The same per-message overhead the other dialects count.
const TOKENS_PER_CONTENT: u64 = 3;

/// `GenerateContentRequest`'s fields, in both spellings Google accepts.
const KNOWN_FIELDS: [&str; 13] = [
    "model",
    "contents",
    "tools",
    "toolConfig",
    "tool_config",
    "safetySettings",
    "safety_settings",
    "systemInstruction",
    "system_instruction",
    "generationConfig",
    "generation_config",
    "cachedContent",
    "cached_content",
];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRequest {
    #[serde(default)]
    contents: Vec<RawContent>,
    #[serde(alias = "system_instruction")]
    system_instruction: Option<RawContent>,
    #[serde(default)]
    tools: Vec<Tool>,
}

#[derive(Deserialize)]
struct RawContent {
    role: Option<String>,
    #[serde(default)]
    parts: Vec<Part>,
}

/// A part: one kind of data (`text`, `inlineData`…) plus optional metadata
/// (`thought`, `thoughtSignature`) the mock ignores.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Part {
    text: Option<String>,
    #[serde(alias = "inline_data")]
    inline_data: Option<Value>,
    #[serde(alias = "file_data")]
    file_data: Option<Value>,
    #[serde(alias = "function_call")]
    function_call: Option<NamedCall>,
    #[serde(alias = "function_response")]
    function_response: Option<FunctionResponse>,
    #[serde(alias = "executable_code")]
    executable_code: Option<Value>,
    #[serde(alias = "code_execution_result")]
    code_execution_result: Option<Value>,
}

#[derive(Deserialize)]
struct NamedCall {
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct FunctionResponse {
    #[serde(default)]
    name: String,
    #[serde(default)]
    response: Value,
}

/// Tools that are not function declarations (`googleSearch`,
/// `codeExecution`…) have none and are skipped.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Tool {
    #[serde(default, alias = "function_declarations")]
    function_declarations: Vec<NamedCall>,
}

impl Part {
    fn data_kinds(&self) -> usize {
        [
            self.text.is_some(),
            self.inline_data.is_some(),
            self.file_data.is_some(),
            self.function_call.is_some(),
            self.function_response.is_some(),
            self.executable_code.is_some(),
            self.code_execution_result.is_some(),
        ]
        .into_iter()
        .filter(|&set| set)
        .count()
    }
}

impl RawContent {
    fn texts(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| p.text.as_deref())
    }

    /// Each `functionResponse.response` as compact JSON.
    fn function_responses(&self) -> Vec<String> {
        self.parts
            .iter()
            .filter_map(|p| p.function_response.as_ref())
            .map(|r| r.response.to_string())
            .collect()
    }

    fn tokens(&self) -> u64 {
        let texts: u64 = self.texts().map(reply::count_words).sum();
        let responses: u64 = self
            .function_responses()
            .iter()
            .map(|json| reply::count_words(json))
            .sum();
        texts + responses + TOKENS_PER_CONTENT
    }
}

/// The last user content, which the reply answers and directives come from.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct LastTurn {
    /// Its text parts, joined by spaces.
    pub text: String,
    /// Its `functionResponse.response` objects as JSON, in order.
    pub function_responses: Vec<String>,
}

impl LastTurn {
    /// Function responses first, then text: a gateway translating an OpenAI
    /// `tool` message puts the test's text into a response object.
    pub(super) fn directive_text(&self) -> String {
        let mut text = self.function_responses.join(" ");
        text.push(' ');
        text.push_str(&self.text);
        text
    }
}

/// A request that passed the checks Google makes before generating.
pub(super) struct GenerateRequest {
    pub first_function: Option<String>,
    pub last_turn: LastTurn,
    pub prompt_tokens: u64,
}

pub(super) fn parse(body: &[u8]) -> Result<GenerateRequest, GeminiError> {
    let fields: Map<String, Value> = serde_json::from_slice(body)
        .map_err(|e| GeminiError::invalid(format!("Invalid JSON payload received. {e}")))?;
    if let Some(unknown) = fields.keys().find(|k| !KNOWN_FIELDS.contains(&k.as_str())) {
        return Err(GeminiError::invalid(format!(
            "Invalid JSON payload received. Unknown name \"{unknown}\": Cannot find field."
        )));
    }
    let raw: RawRequest = serde_json::from_value(Value::Object(fields))
        .map_err(|e| GeminiError::invalid(format!("Invalid JSON payload received. {e}")))?;
    if raw.contents.is_empty() {
        return Err(GeminiError::invalid(
            "* GenerateContentRequest.contents: contents is not specified",
        ));
    }
    for (i, content) in raw.contents.iter().enumerate() {
        check_content(i, content)?;
    }

    let last_turn = raw
        .contents
        .iter()
        .rfind(|c| c.role.as_deref() != Some("model"))
        .map(|c| LastTurn {
            text: c.texts().collect::<Vec<_>>().join(" "),
            function_responses: c.function_responses(),
        })
        .unwrap_or_default();
    let system_tokens = raw
        .system_instruction
        .as_ref()
        .map_or(0, RawContent::tokens);
    let content_tokens: u64 = raw.contents.iter().map(RawContent::tokens).sum();
    Ok(GenerateRequest {
        first_function: raw
            .tools
            .into_iter()
            .flat_map(|t| t.function_declarations)
            .map(|f| f.name)
            .next(),
        last_turn,
        prompt_tokens: system_tokens + content_tokens,
    })
}

fn check_content(i: usize, content: &RawContent) -> Result<(), GeminiError> {
    if !matches!(content.role.as_deref(), None | Some("user" | "model")) {
        return Err(GeminiError::invalid(
            "Please use a valid role: user, model.",
        ));
    }
    if content.parts.is_empty() {
        return Err(GeminiError::invalid(format!(
            "* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty."
        )));
    }
    for (j, part) in content.parts.iter().enumerate() {
        let at = format!("GenerateContentRequest.contents[{i}].parts[{j}]");
        match part.data_kinds() {
            0 => {
                return Err(GeminiError::invalid(format!(
                    "* {at}.data: required oneof field 'data' must have one initialized field"
                )));
            }
            1 => {}
            _ => {
                return Err(GeminiError::invalid(format!(
                    "* {at}.data: oneof field 'data' is already set; a part holds one kind of data"
                )));
            }
        }
        let unnamed = part
            .function_call
            .as_ref()
            .is_some_and(|c| c.name.is_empty())
            || part
                .function_response
                .as_ref()
                .is_some_and(|r| r.name.is_empty());
        if unnamed {
            return Err(GeminiError::invalid(format!(
                "* {at}: Name cannot be empty."
            )));
        }
        if let Some(response) = part.function_response.as_ref().map(|r| &r.response)
            && !response.is_object()
        {
            return Err(GeminiError::invalid(format!(
                "Invalid value at 'contents[{i}].parts[{j}].function_response.response' \
                 (type.googleapis.com/google.protobuf.Struct), {response}"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use axum::response::IntoResponse;
    use serde_json::json;

    use super::*;

    fn parse_json(body: &Value) -> Result<GenerateRequest, GeminiError> {
        parse(body.to_string().as_bytes())
    }

    #[test]
    fn counts_system_texts_and_function_responses() -> Result<(), String> {
        let request = parse_json(&json!({
            "system_instruction": {"parts": [{"text": "be brief"}]},
            "contents": [
                {"role": "user", "parts": [{"text": "weather in Paris?"}]},
                {"role": "model", "parts": [{"functionCall": {"name": "w", "args": {"city": "Paris"}}}]},
                {"role": "user", "parts": [
                    {"functionResponse": {"name": "w", "response": {"result": "sunny and warm"}}},
                    {"text": "thanks"},
                ]},
            ],
            "tools": [{"googleSearch": {}}, {"functionDeclarations": [{"name": "w"}, {"name": "x"}]}],
        }))
        .map_err(|_| "valid request rejected")?;
        // (2 + 3) system, (3 + 3), (0 + 3), (3 + 1 + 3).
        assert_eq!(request.prompt_tokens, 21);
        assert_eq!(request.first_function.as_deref(), Some("w"));
        assert_eq!(
            request.last_turn,
            LastTurn {
                text: "thanks".into(),
                function_responses: vec![r#"{"result":"sunny and warm"}"#.into()],
            }
        );
        Ok(())
    }

    #[test]
    fn rejects_what_google_rejects() {
        let user = |parts: Value| json!({"contents": [{"role": "user", "parts": parts}]});
        let bad = [
            json!({}),
            json!({"contents": []}),
            json!({"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}),
            json!({"contents": [{"role": "user"}]}),
            user(json!([{}])),
            user(json!([{"thought": true}])),
            user(json!([{"text": "a", "inlineData": {"mimeType": "image/png", "data": ""}}])),
            user(json!([{"functionResponse": {"name": "w", "response": "sunny"}}])),
            user(json!([{"functionResponse": {"response": {}}}])),
            json!({"contents": [{"parts": [{"text": "x"}]}], "messages": []}),
            json!({"contents": "hi"}),
        ];
        for body in bad {
            let status = parse_json(&body).err().map(|e| e.into_response().status());
            assert_eq!(status, Some(http::StatusCode::BAD_REQUEST), "{body}");
        }
        assert!(parse_json(&user(json!([{"text": ""}]))).is_ok());
        assert!(parse_json(&json!({"contents": [{"parts": [{"text": "no role"}]}]})).is_ok());
    }
}
