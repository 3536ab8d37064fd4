//! OpenAI Chat Completions and Embeddings → Gemini (Generative Language API v1beta)
//! and back: requests, responses and the `alt=sse` stream (wire-formats.md §3, §5.4,
//! §5.5, §5.6, §6).
//!
//! An OpenAI caller in front of a Gemini upstream needs [`chat_request_to_gemini`],
//! then [`gemini_response_to_chat`] or, streaming, [`GeminiToChat`]; for embeddings
//! [`embeddings_request_to_gemini`] and [`gemini_embeddings`]. Everything is pure: the
//! model name and the method (`:generateContent`, `:streamGenerateContent?alt=sse`,
//! `:embedContent`, `:batchEmbedContents`) go in the URL, which the provider builds.
//! Bodies come from callers and upstreams, so every shape is checked as it is read:
//! a bad field is a [`TranslateError`] naming its JSON path, never a panic.
//!
//! - `request` / `contents`: OpenAI chat request → `GenerateContentRequest`.
//! - `media`: image, file and audio parts → `inlineData`.
//! - `schema`: JSON Schema → Gemini's OpenAPI subset.
//! - `call_id`: tool-call ids that carry Gemini thought signatures.
//! - `response` / `usage`: `GenerateContentResponse` → `chat.completion`.
//! - `stream` / `stream_shapes`: the `alt=sse` stream → chunk stream.
//! - `embeddings`: both embed methods.
//! - `native` / `native_stream`: the reverse, for callers of Gemini's own routes
//!   served by another provider (Gemini request → chat, chat answer → Gemini).
//! - JSON field readers (`translate::shape`), data-URL parsing (`translate::data_url`)
//!   and the chunk shapes (`translate::stream::chat_chunks`) are shared with the other
//!   providers.
//!
//! # Decisions (the README copies these)
//!
//! - **Dropped fields.** Top-level fields Gemini cannot express are dropped on
//!   purpose: [`DROPPED_OPENAI_FIELDS_FOR_GEMINI`]; unknown fields are dropped too.
//!   Inside messages: `name`, `image_url.detail`, assistant `audio` and
//!   `reasoning_content`, `tools[].function.strict`. Embeddings: `user` is dropped and
//!   `encoding_format` is left to the caller (the response is floats).
//! - **Refused, not dropped** (a [`TranslateError`], rendered as 400): `functions`,
//!   `function_call` and `role: "function"` (deprecated); `n > 1` with `stream: true`
//!   (the stream follows one candidate); non-function tools and tool choices;
//!   `image_url` with an http(s) URL (a pure function cannot fetch it: send a base64
//!   data URL; the provider may fetch and rewrite first); uploaded `file_id`s;
//!   content part types other than text, image_url, input_audio and file (tool
//!   results: text only); tool-call arguments that are not a JSON object; a `tool` message whose `tool_call_id`
//!   matches no earlier tool call (Gemini needs the function name); a recursive
//!   `$ref` in a schema; token-id embedding inputs.
//! - **System prompts.** `system`/`developer` messages anywhere are hoisted, in order,
//!   into `systemInstruction.parts`.
//! - **Turns.** `assistant` → `model`; `tool` → `user`. Same-role runs are merged;
//!   blank text is dropped, then emptied turns, so `parts` is never empty. A run of
//!   tool results becomes one `user` turn whose `functionResponse` parts come first,
//!   in the order of the calls they answer; a call left unanswered gets
//!   `{"error": "No result was provided for this tool call."}` (Gemini rejects a
//!   count mismatch). A tool result that is a JSON object is the `response`; any
//!   other content is wrapped as `{"result": …}` (parsed JSON if it parses, else the
//!   text). `functionCall`/`functionResponse` are sent without Gemini `id`s: Gemini
//!   pairs them by name and order.
//! - **Thought signatures.** Gemini 3 rejects a replayed function call without its
//!   `thoughtSignature`. It rides in the tool-call id as `<id>__thought__<sig>`
//!   (litellm's scheme, URL-safe base64) and is restored on the way back; see
//!   `call_id`. Signatures on text parts are not kept (Gemini does not require them).
//! - **Tools.** `tools[].function` → one `{"functionDeclarations":[…]}`; schemas are
//!   cut to Gemini's subset (`schema`: local `$ref`s inlined, nullable idioms
//!   rewritten, unsupported keywords such as `$schema`, `additionalProperties`,
//!   `title` and `strict` stripped). A function without properties is sent without
//!   `parameters` (Gemini rejects an empty object schema). `tool_choice`
//!   `auto|none|required|{function}` → `AUTO|NONE|ANY|ANY + allowedFunctionNames`;
//!   dropped with the tools when there are none.
//! - **Generation.** `max_completion_tokens` ‖ `max_tokens` → `maxOutputTokens`;
//!   `stop` → `stopSequences`; `n` → `candidateCount` (each candidate becomes a
//!   choice); `temperature`, `top_p` → `topP`, `seed`, `presence_penalty`,
//!   `frequency_penalty`, and the non-OpenAI `top_k` → `topK`, all as sent (Gemini
//!   checks ranges per model). `response_format` `json_object` → `responseMimeType:
//!   application/json`; `json_schema` adds `responseSchema` (cut like tool schemas).
//! - **Responses.** `id` is `chatcmpl-` + `responseId`; `created` is now. Text parts are
//!   joined into `content` (`null` if the turn only calls tools); `thought: true`
//!   parts go to the non-standard `message.reasoning_content` (as for Anthropic), and
//!   are dropped in streams; generated images and code-execution parts are dropped.
//!   Finish reasons: `reasons::gemini_to_openai` (`STOP` → `tool_calls` when a call
//!   was made). A blocked prompt → one empty choice with `content_filter`.
//! - **Usage.** `prompt = promptTokenCount (+ toolUsePromptTokenCount)`, `completion =
//!   candidatesTokenCount + thoughtsTokenCount`, `total = totalTokenCount`,
//!   `cached_tokens = cachedContentTokenCount`, `reasoning_tokens =
//!   thoughtsTokenCount`. Embeddings report none.
//! - **Streams.** Gemini streams just close; the finish chunk, the usage chunk (if
//!   asked) and `[DONE]` are sent at EOF if a finish reason was seen, else the stream
//!   ends with an error (never a faked finish). See `stream`.

mod call_id;
mod contents;
mod embeddings;
mod media;
pub mod native;
mod native_stream;
mod request;
mod response;
mod schema;
mod stream;
mod stream_shapes;
mod usage;

#[cfg(test)]
mod tests;

pub use crate::translate::anthropic::TranslateError;
pub use embeddings::{GeminiEmbedRequest, embeddings_request_to_gemini, gemini_embeddings};
pub use native_stream::ChatToGemini;
pub use request::chat_request_to_gemini;
pub use response::gemini_response_to_chat;
pub use stream::GeminiToChat;
pub use usage::usage_to_openai;

/// Top-level OpenAI chat request fields a Gemini request cannot express; they are
/// dropped. (`model` and `stream` are honoured in the URL; `stream_options` by the
/// stream translator, which reads it from the caller's request: Gemini always
/// reports usage.)
pub const DROPPED_OPENAI_FIELDS_FOR_GEMINI: &[&str] = &[
    "audio",
    "logit_bias",
    "logprobs",
    "metadata",
    "modalities",
    "parallel_tool_calls",
    "prediction",
    "prompt_cache_key",
    "reasoning_effort",
    "safety_identifier",
    "service_tier",
    "store",
    "stream_options",
    "top_logprobs",
    "user",
    "verbosity",
    "web_search_options",
];
