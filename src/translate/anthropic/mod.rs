//! OpenAI Chat Completions ⇄ Anthropic Messages, requests and responses, not streamed
//! (wire-formats.md §5.1–5.3, §5.6).
//!
//! Four pure functions over `serde_json::Value`: an OpenAI caller in front of an Anthropic
//! upstream needs [`chat_request_to_messages`] and [`messages_response_to_chat`]; an
//! Anthropic caller in front of an OpenAI-style upstream needs [`messages_request_to_chat`]
//! and [`chat_response_to_messages`]. Bodies come from callers and upstreams, so every
//! shape is checked as it is read: a bad field is a [`TranslateError`] naming its JSON
//! path (`messages[2].content`), never a panic. Nothing here does I/O or keeps state;
//! the streaming translators live in `translate::stream`, stop reasons in
//! `translate::reasons`.
//!
//! - `request_to_anthropic` / `messages_to_anthropic`: OpenAI request → Anthropic request.
//! - `request_to_openai` / `messages_to_openai`: Anthropic request → OpenAI request.
//! - `response_to_openai` / `response_to_anthropic`: the two responses.
//! - `usage`: token counts, cache fields included (§6).
//! - `media`: images and PDFs between data URLs and Anthropic `source` objects.
//! - JSON field readers (`translate::shape`) and data-URL parsing (`translate::data_url`)
//!   are shared with the other providers.
//!
//! # Decisions (the README copies these)
//!
//! - **Dropped fields.** Anything the other side cannot express is dropped on purpose:
//!   the known top-level ones are [`DROPPED_OPENAI_FIELDS`] and
//!   [`DROPPED_ANTHROPIC_FIELDS`]; unknown fields are dropped too. Inside messages:
//!   OpenAI `name` on messages, `image_url.detail`, `tools[].function.strict`; Anthropic
//!   `cache_control`, `citations`, document `context`, and all metadata except
//!   `metadata.user_id`.
//! - **Identity.** OpenAI `user` (else `safety_identifier`) ⇄ Anthropic
//!   `metadata.user_id`.
//! - **Refused, not dropped** (a [`TranslateError`], rendered as 400): `n > 1`; the
//!   deprecated `functions`/`function_call` and `role: "function"`; `input_audio` parts;
//!   `file` parts with a `file_id` or a non-PDF file; non-function tools; Anthropic
//!   server tools (`web_search_…`, `bash_…`) and block types OpenAI has no form for
//!   (`server_tool_use`, `search_result`, `container_upload`, …); tool-call arguments
//!   that are not a JSON object, in requests and in upstream responses.
//! - **System prompts.** OpenAI `system`/`developer` messages anywhere in the
//!   conversation are hoisted, in order, into Anthropic `system` text blocks. Anthropic
//!   `system` becomes one leading OpenAI `system` message, text blocks joined by a blank
//!   line.
//! - **Turns.** Same-role runs are merged for Anthropic; a run of `tool` messages and the
//!   user text after it become one `user` message, `tool_result` blocks first. Empty and
//!   whitespace-only text is dropped (Anthropic rejects it), then emptied messages. A
//!   `tool_use` left without a `tool_result` in the next user message is answered with an
//!   `is_error` result "No result was provided for this tool call." (Anthropic rejects
//!   dangling calls). A final assistant turn (a prefill) loses trailing whitespace,
//!   which Anthropic rejects. Tool-call ids are made Anthropic-safe: characters outside
//!   `[A-Za-z0-9_-]` become `_`, in `tool_use.id` and `tool_result.tool_use_id` alike.
//! - **Tools.** `parameters` ⇄ `input_schema`; a schema without `type` gets
//!   `{"type":"object","properties":{}}` filled in (Anthropic requires it). `tool_choice`
//!   `auto|required|none|{function}` ⇄ `auto|any|none|{tool}`, and
//!   `parallel_tool_calls: false` ⇄ `disable_parallel_tool_use: true`; both are dropped
//!   when the request has no tools (each API rejects them then).
//! - **Tool results to OpenAI.** Each `tool_result` becomes a `tool` message before the
//!   rest of the user turn; text blocks are joined by newlines; `is_error: true` is kept as
//!   an `Error: ` prefix (OpenAI has no flag); images in a result move to the user message
//!   that follows the tool messages.
//! - **Sampling.** `temperature` is clamped to 0–1 for Anthropic (OpenAI allows 0–2).
//!   `top_k` (not OpenAI, but sent by some clients) is forwarded to Anthropic; Anthropic
//!   `top_k` is dropped for OpenAI, which rejects it. `max_tokens` is required by
//!   Anthropic: `max_completion_tokens`, else `max_tokens`, else
//!   [`ChatToMessagesOptions::default_max_tokens`]. Anthropic `max_tokens` becomes
//!   `max_completion_tokens` (the only one OpenAI reasoning models accept).
//! - **Structured output.** `response_format` `json_schema` → Anthropic's
//!   `output_config.format` (`{type: json_schema, schema}`), and back (the beta's
//!   top-level `output_format` too). `json_object` has no Anthropic switch and is
//!   dropped (counted).
//! - **Reasoning.** `reasoning_effort` and Anthropic `thinking` are dropped (thinking
//!   needs signed thinking blocks replayed with every tool turn, which OpenAI clients
//!   cannot do). Anthropic thinking text in a response is exposed as the non-standard
//!   `message.reasoning_content` (the DeepSeek/vLLM convention); signatures and
//!   redacted thinking are dropped. OpenAI `reasoning_content` is dropped.
//! - **Responses.** Ids keep the upstream id after a prefix: `chatcmpl-msg_01…`,
//!   `msg_chatcmpl-…`. `created` is the current time. Text blocks are concatenated
//!   (citations split sentences across blocks). A response with tool calls but a
//!   `stop`/`end_turn` reason reports `tool_calls`/`tool_use`, so agent loops run the
//!   tools. An OpenAI `refusal` becomes a text block with `stop_reason: "refusal"`.
//!   Anthropic `stop_sequence` (which sequence matched) has no OpenAI field and is dropped;
//!   the other way it is `null`.
//! - **Usage.** OpenAI `prompt_tokens = input + cache_creation + cache_read`,
//!   `cached_tokens = cache_read`; back, `input = prompt − cached`,
//!   `cache_read_input_tokens = cached`, `cache_creation_input_tokens = 0`.

mod media;
mod messages_to_anthropic;
mod messages_to_openai;
mod request_to_anthropic;
mod request_to_openai;
mod response_to_anthropic;
mod response_to_openai;
mod usage;

#[cfg(test)]
mod tests;

pub use request_to_anthropic::chat_request_to_messages;
pub use request_to_openai::messages_request_to_chat;
pub use response_to_anthropic::chat_response_to_messages;
pub use response_to_openai::{messages_answer_to_chat, messages_response_to_chat};
pub use usage::{usage_to_anthropic, usage_to_openai};

/// A caller's request that cannot be translated: rendered by the caller as 400
/// invalid_field. From a response translator it means the upstream sent something
/// malformed, which the caller should treat as a bad gateway.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TranslateError {
    /// JSON path of the offending field, e.g. `messages[2].content`; `body` for the whole.
    pub field: String,
    /// What was wrong and what to send instead.
    pub message: String,
}

impl TranslateError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        TranslateError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Settings for [`chat_request_to_messages`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChatToMessagesOptions {
    /// Anthropic requires `max_tokens`; used when the OpenAI request gives neither
    /// `max_tokens` nor `max_completion_tokens`.
    pub default_max_tokens: u32,
}

/// Top-level OpenAI chat request fields an Anthropic request cannot express; they are
/// dropped. (`stream_options` is honoured by the streaming translator, which reads it
/// from the caller's request: Anthropic always reports usage.)
pub const DROPPED_OPENAI_FIELDS: &[&str] = &[
    "audio",
    "frequency_penalty",
    "logit_bias",
    "logprobs",
    "metadata",
    "modalities",
    "prediction",
    "presence_penalty",
    "prompt_cache_key",
    "reasoning_effort",
    "response_format",
    "seed",
    "service_tier",
    "store",
    "stream_options",
    "top_logprobs",
    "verbosity",
    "web_search_options",
];

/// Top-level Anthropic messages request fields an OpenAI chat request cannot express;
/// they are dropped. (`metadata` keeps only `user_id`, sent as `user`.)
pub const DROPPED_ANTHROPIC_FIELDS: &[&str] = &[
    "container",
    "context_management",
    "mcp_servers",
    "service_tier",
    "thinking",
    "top_k",
];
