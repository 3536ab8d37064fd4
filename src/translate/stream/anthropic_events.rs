//! Anthropic Messages stream events (wire-formats.md §2 "Streaming"): the fields
//! the translators read, borrowed from the event data, and the events they write.
//!
//! Read shapes are flat structs of optional fields rather than tagged enums, so an
//! unknown block or delta `type` is skipped instead of failing the stream.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

// ---- read ----

/// Any event's `type`, for events that came without an `event:` line.
#[derive(Deserialize)]
pub(super) struct TypeOnly<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Cow<'a, str>,
}

#[derive(Deserialize)]
pub(super) struct MessageStart<'a> {
    #[serde(borrow)]
    pub message: StartMessage<'a>,
}

#[derive(Deserialize)]
pub(super) struct StartMessage<'a> {
    #[serde(borrow, default)]
    pub id: Option<Cow<'a, str>>,
    #[serde(default)]
    pub usage: Option<Usage>,
}

/// `usage` of `message_start` and `message_delta`; every count is cumulative.
#[derive(Deserialize, Default)]
pub(super) struct Usage {
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub cache_creation_input_tokens: Option<u64>,
    pub cache_read_input_tokens: Option<u64>,
}

#[derive(Deserialize)]
pub(super) struct ContentBlockStart<'a> {
    pub index: u64,
    #[serde(borrow)]
    pub content_block: StartBlock<'a>,
}

#[derive(Deserialize)]
pub(super) struct StartBlock<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Cow<'a, str>,
    #[serde(borrow, default)]
    pub id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub input: Option<&'a RawValue>,
}

#[derive(Deserialize)]
pub(super) struct ContentBlockDelta<'a> {
    pub index: u64,
    #[serde(borrow)]
    pub delta: BlockDelta<'a>,
}

#[derive(Deserialize)]
pub(super) struct BlockDelta<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Cow<'a, str>,
    #[serde(borrow, default)]
    pub text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub partial_json: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
pub(super) struct MessageDelta<'a> {
    #[serde(borrow, default)]
    pub delta: Option<MessageDeltaBody<'a>>,
    #[serde(default)]
    pub usage: Option<Usage>,
}

#[derive(Deserialize)]
pub(super) struct MessageDeltaBody<'a> {
    #[serde(borrow, default)]
    pub stop_reason: Option<Cow<'a, str>>,
}

/// `event: error`. Read loosely: any shape still ends the stream as an error.
#[derive(Deserialize, Default)]
pub(super) struct ErrorEvent<'a> {
    #[serde(borrow, default)]
    pub error: Option<ErrorBody<'a>>,
}

#[derive(Deserialize, Default)]
pub(super) struct ErrorBody<'a> {
    #[serde(rename = "type", borrow, default)]
    pub kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub message: Option<Cow<'a, str>>,
}

// ---- write ----

/// One event to send an Anthropic caller. Its `event:` name is [`Outgoing::name`],
/// always equal to the `type` serde writes (the SDK routes on the name).
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum Outgoing<'a> {
    MessageStart {
        message: StartMessageOut<'a>,
    },
    ContentBlockStart {
        index: u32,
        content_block: BlockOut<'a>,
    },
    ContentBlockDelta {
        index: u32,
        delta: DeltaOut<'a>,
    },
    ContentBlockStop {
        index: u32,
    },
    MessageDelta {
        delta: MessageDeltaOut,
        usage: UsageOut,
    },
    MessageStop,
    Error {
        error: ErrorOut<'a>,
    },
}

impl Outgoing<'_> {
    pub fn name(&self) -> &'static str {
        match self {
            Outgoing::MessageStart { .. } => "message_start",
            Outgoing::ContentBlockStart { .. } => "content_block_start",
            Outgoing::ContentBlockDelta { .. } => "content_block_delta",
            Outgoing::ContentBlockStop { .. } => "content_block_stop",
            Outgoing::MessageDelta { .. } => "message_delta",
            Outgoing::MessageStop => "message_stop",
            Outgoing::Error { .. } => "error",
        }
    }
}

#[derive(Serialize)]
pub(super) struct StartMessageOut<'a> {
    pub id: &'a str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub role: &'static str,
    pub content: [(); 0],
    pub model: &'a str,
    pub stop_reason: Option<&'static str>,
    pub stop_sequence: Option<&'static str>,
    pub usage: UsageOut,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum BlockOut<'a> {
    Text {
        text: &'static str,
    },
    ToolUse {
        id: &'a str,
        name: &'a str,
        input: EmptyObject,
    },
}

/// Serializes as `{}`: a tool's input arrives as `input_json_delta` fragments.
#[derive(Serialize)]
pub(super) struct EmptyObject {}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum DeltaOut<'a> {
    TextDelta { text: &'a str },
    InputJsonDelta { partial_json: &'a str },
}

#[derive(Serialize)]
pub(super) struct MessageDeltaOut {
    pub stop_reason: &'static str,
    pub stop_sequence: Option<&'static str>,
}

#[derive(Serialize)]
pub(super) struct UsageOut {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub cache_read_input_tokens: u64,
}

#[derive(Serialize)]
pub(super) struct ErrorOut<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub message: &'a str,
}
