//! OpenAI `chat.completion.chunk` stream shapes (wire-formats.md §1 "Streaming"):
//! the fields the translators read, borrowed from the event data, and the chunks
//! they write, with [`ChunkWriter`], which stamps every chunk of one response alike.
//!
//! Every read field is optional and `null`-tolerant: OpenAI-compatible servers
//! differ in what they leave out (`delta`, `finish_reason`, `index`, `usage`).
//!
//! The write side is `pub(crate)`: every translator that speaks chunks to an OpenAI
//! caller (`AnthropicToChat` here, `translate::gemini::GeminiToChat`) writes them
//! through it, so the chunk-stream rules live in one place.

use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::EventWriter;

// ---- read ----

#[derive(Deserialize)]
pub(super) struct Chunk<'a> {
    #[serde(borrow, default)]
    pub id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub choices: Option<Vec<Choice<'a>>>,
    #[serde(default)]
    pub usage: Option<Usage>,
    /// Any non-empty `error` makes openai-python raise, so it ends the stream.
    #[serde(default)]
    pub error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
pub(super) struct Choice<'a> {
    #[serde(default)]
    pub index: Option<u64>,
    #[serde(borrow, default)]
    pub delta: Option<Delta<'a>>,
    #[serde(borrow, default)]
    pub finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
pub(super) struct Delta<'a> {
    #[serde(borrow, default)]
    pub content: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub refusal: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub tool_calls: Option<Vec<ToolCallDelta<'a>>>,
}

#[derive(Deserialize)]
pub(super) struct ToolCallDelta<'a> {
    #[serde(default)]
    pub index: Option<u64>,
    #[serde(borrow, default)]
    pub id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub function: Option<FunctionDelta<'a>>,
}

#[derive(Deserialize)]
pub(super) struct FunctionDelta<'a> {
    #[serde(borrow, default)]
    pub name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub arguments: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
pub(super) struct Usage {
    #[serde(default)]
    pub prompt_tokens: Option<u64>,
    #[serde(default)]
    pub completion_tokens: Option<u64>,
    #[serde(default)]
    pub prompt_tokens_details: Option<PromptDetails>,
}

#[derive(Deserialize)]
pub(super) struct PromptDetails {
    #[serde(default)]
    pub cached_tokens: Option<u64>,
}

/// The message openai-python would raise for an `error` value; `None` when the
/// value is falsy (`null`, `false`, `""`, `{}`, …), which the SDK lets through.
pub(super) fn error_message(error: &serde_json::Value) -> Option<&str> {
    use serde_json::Value;
    let truthy = match error {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    };
    if !truthy {
        return None;
    }
    Some(
        error
            .get("message")
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty())
            .unwrap_or("An error occurred during streaming"),
    )
}

// ---- write ----

#[derive(Serialize)]
struct ChunkOut<'a> {
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
struct ChoiceOut<'a> {
    pub index: u32,
    pub delta: DeltaOut<'a>,
    pub finish_reason: Option<&'static str>,
}

#[derive(Serialize, Default)]
pub(crate) struct DeltaOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<[ToolCallOut<'a>; 1]>,
}

impl<'a> DeltaOut<'a> {
    pub fn text(text: &'a str) -> Self {
        DeltaOut {
            content: Some(text),
            ..DeltaOut::default()
        }
    }

    pub fn tool(tool: ToolCallOut<'a>) -> Self {
        DeltaOut {
            tool_calls: Some([tool]),
            ..DeltaOut::default()
        }
    }
}

#[derive(Serialize)]
pub(crate) struct ToolCallOut<'a> {
    /// Mandatory on every tool delta: clients key their accumulators on it.
    pub index: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    pub function: FunctionOut<'a>,
}

#[derive(Serialize)]
pub(crate) struct FunctionOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    pub arguments: &'a str,
}

/// OpenAI's `usage`, as the usage chunk (and a whole response) carries it.
#[derive(Debug, Serialize)]
pub(crate) struct UsageOut {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    pub prompt_tokens_details: PromptDetailsOut,
    /// Only from upstreams that count reasoning apart (Gemini's thoughts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completion_tokens_details: Option<CompletionDetailsOut>,
}

#[derive(Debug, Serialize)]
pub(crate) struct PromptDetailsOut {
    pub cached_tokens: u64,
}

#[derive(Debug, Serialize)]
pub(crate) struct CompletionDetailsOut {
    pub reasoning_tokens: u64,
}

/// `{"error":{…}}`, the shape of Tollgate's OpenAI-dialect errors (DESIGN §1.5).
#[derive(Serialize)]
struct ErrorOut<'a> {
    pub error: ErrorBodyOut<'a>,
}

#[derive(Serialize)]
struct ErrorBodyOut<'a> {
    pub message: &'a str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub code: &'a str,
    pub param: Option<&'static str>,
}

/// What every chunk of one response repeats (`id`, `created`, `model`, and `usage`
/// iff the caller asked for it), and the chunks a translator writes with it.
pub(crate) struct ChunkWriter {
    /// The caller's model name, echoed on every chunk.
    model: Box<str>,
    include_usage: bool,
    created: u64,
    /// `chatcmpl-` + the upstream's id; set by the role chunk.
    id: String,
    started: bool,
}

impl ChunkWriter {
    /// `model` is the name the caller asked for; `include_usage` is the caller's
    /// `stream_options.include_usage`.
    pub fn new(model: &str, include_usage: bool) -> Self {
        let created = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        ChunkWriter {
            model: model.into(),
            include_usage,
            created,
            id: String::new(),
            started: false,
        }
    }

    /// True once the role chunk is out.
    pub fn started(&self) -> bool {
        self.started
    }

    /// Sends the role chunk once, before anything else. The stream's id is
    /// `chatcmpl-` + `upstream_id`, or a fresh one when the upstream gave none.
    pub fn start(&mut self, upstream_id: Option<&str>, out: &mut EventWriter) {
        if self.started {
            return;
        }
        self.started = true;
        self.id = match upstream_id.filter(|id| !id.is_empty()) {
            Some(id) => format!("chatcmpl-{id}"),
            None => format!("chatcmpl-{}", uuid::Uuid::new_v4().simple()),
        };
        let delta = DeltaOut {
            role: Some("assistant"),
            content: Some(""),
            tool_calls: None,
        };
        self.chunk(delta, None, out);
    }

    /// One choice-0 chunk.
    pub fn chunk(&self, delta: DeltaOut, finish: Option<&'static str>, out: &mut EventWriter) {
        let choice = ChoiceOut {
            index: 0,
            delta,
            finish_reason: finish,
        };
        self.write(&[choice], self.include_usage.then_some(None), out);
    }

    /// The clean end after the finish chunk: the usage chunk (`choices: []`) if the
    /// caller asked for it, then `data: [DONE]`.
    pub fn close(&self, usage: UsageOut, out: &mut EventWriter) {
        if self.include_usage {
            self.write(&[], Some(Some(usage)), out);
        }
        out.raw(b"data: [DONE]\n\n");
    }

    fn write(&self, choices: &[ChoiceOut], usage: Option<Option<UsageOut>>, out: &mut EventWriter) {
        out.data(&ChunkOut {
            id: &self.id,
            object: "chat.completion.chunk",
            created: self.created,
            model: &self.model,
            choices,
            usage,
        });
    }

    /// The error end: one `data: {"error":…}` and no `[DONE]`, which openai-python
    /// raises as `APIError`.
    pub fn error(code: &str, message: &str, out: &mut EventWriter) {
        out.data(&ErrorOut {
            error: ErrorBodyOut {
                message,
                kind: "upstream_error",
                code,
                param: None,
            },
        });
    }
}
