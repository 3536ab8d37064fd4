//! OpenAI's Responses API (`POST /v1/responses`) ⇄ OpenAI chat completions, so a
//! Responses caller can use any model the chat translators reach (Anthropic,
//! Gemini, OpenAI-compatible vendors). OpenAI models get the caller's bytes instead.
//!
//! - `request`: a Responses request → a chat request ([`responses_request_to_chat`]).
//! - `response`: a chat completion → a `response` object ([`chat_response_to_responses`]).
//! - `stream`: chat chunks → typed Responses events ([`ChatToResponses`]).
//!
//! # Decisions (the README copies these)
//!
//! - **Stateless.** `previous_response_id`, `conversation`, `prompt` (stored
//!   templates), `background: true` and `item_reference` items are refused with a
//!   400 naming the field, for every model: the gateway keeps no responses.
//! - **Mapped.** `instructions` → a leading system message; `input` string → one user
//!   message; message items (roles user/assistant/system/developer) with
//!   `input_text`/`output_text`/`refusal` parts → text parts, `input_image` with
//!   `image_url` → `image_url` parts, `input_file` with `file_data` → `file` parts;
//!   `function_call` items → assistant `tool_calls` (consecutive calls are one
//!   turn); `function_call_output` → `tool` messages; function tools →
//!   chat function tools; `tool_choice`; `text.format` json_schema / json_object →
//!   `response_format`; `max_output_tokens` → `max_completion_tokens`;
//!   `reasoning.effort` → `reasoning_effort`; `temperature`, `top_p`,
//!   `parallel_tool_calls`, `metadata`, `user`, `safety_identifier` as is.
//! - **Refused.** Built-in tools ([`BUILT_IN_TOOLS`]: web search, file search,
//!   computer use, code interpreter, …) and their input items; `file_id` images
//!   and files; non-text function-call outputs.
//! - **Dropped** (counted in `tollgate_translation_dropped_fields_total`):
//!   [`DROPPED_RESPONSES_FIELDS`], `text.verbosity`, `reasoning.summary`, and
//!   `reasoning` input items.
//! - **Answers.** Ids keep the upstream's after a prefix (`resp_`, `msg_`, `fc_`);
//!   `reasoning_content` becomes a `reasoning` item with a summary; `length` →
//!   status `incomplete` with `max_output_tokens`, `content_filter` likewise. The
//!   response object does not echo the request's settings (tools, temperature, …):
//!   it carries their defaults.

mod request;
mod response;
mod stream;

#[cfg(test)]
mod tests;

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

pub use request::{check_stateless, responses_request_to_chat};
pub use response::chat_response_to_responses;
pub use stream::ChatToResponses;

/// A Responses request as chat, with the fields it had to drop.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponsesToChat {
    pub chat: Value,
    pub dropped: Vec<&'static str>,
}

/// Tool types (prefixes) OpenAI runs itself; refused for other models by name.
pub const BUILT_IN_TOOLS: &[&str] = &[
    "web_search",
    "file_search",
    "computer_use",
    "computer",
    "code_interpreter",
    "image_generation",
    "local_shell",
    "shell",
    "mcp",
    "custom",
    "apply_patch",
];

/// Top-level Responses fields chat cannot express; dropped for non-OpenAI models.
pub const DROPPED_RESPONSES_FIELDS: &[&str] = &[
    "include",
    "max_tool_calls",
    "prompt_cache_key",
    "prompt_cache_retention",
    "service_tier",
    "store",
    "stream_options",
    "top_logprobs",
    "truncation",
];

/// The `response` object's fixed fields, `in_progress` with no output yet.
pub(crate) fn response_object(id: &str, model: &str, created: Option<u64>) -> Value {
    let created = created.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    });
    json!({
        "id": id,
        "object": "response",
        "created_at": created,
        "status": "in_progress",
        "background": false,
        "error": null,
        "incomplete_details": null,
        "instructions": null,
        "max_output_tokens": null,
        "metadata": {},
        "model": model,
        "output": [],
        "parallel_tool_calls": true,
        "previous_response_id": null,
        "reasoning": {"effort": null, "summary": null},
        "store": false,
        "temperature": null,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": null,
        "truncation": "disabled",
        "usage": null,
        "user": null,
    })
}

/// Chat `usage` as Responses `usage` (input includes cached tokens in both).
pub(crate) fn usage_from_chat(u: &Value) -> Value {
    let input = u["prompt_tokens"].as_u64().unwrap_or(0);
    let output = u["completion_tokens"].as_u64().unwrap_or(0);
    json!({
        "input_tokens": input,
        "input_tokens_details": {
            "cached_tokens": u.pointer("/prompt_tokens_details/cached_tokens").and_then(Value::as_u64).unwrap_or(0),
        },
        "output_tokens": output,
        "output_tokens_details": {
            "reasoning_tokens": u.pointer("/completion_tokens_details/reasoning_tokens").and_then(Value::as_u64).unwrap_or(0),
        },
        "total_tokens": u["total_tokens"].as_u64().unwrap_or(input + output),
    })
}
