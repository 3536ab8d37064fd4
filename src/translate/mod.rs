//! Pure functions over wire formats: no I/O, no shared state.
//!
//! - `peek`: reads the few fields routing needs from an OpenAI-style body without
//!   parsing the rest, and swaps the model name in place when routing renames it.
//! - `limits`: the request limits (schema depth and nodes, tools, messages), checked
//!   when a body is peeked so no translator recursion or copy grows without bound.
//! - `reasons`: stop/finish reasons between dialects.
//! - `answer`: the signature of whole-answer translators (bytes in, bytes out) and
//!   the adapter for the ones that work on a `Value`.
//! - `map_only`: derived structs read from JSON objects only, for typed fast paths
//!   that must refuse what the `Value` translators refuse.
//! - `anthropic`: OpenAI chat ⇄ Anthropic messages, requests and responses.
//! - `deepgram`: Deepgram listen results in OpenAI's transcription formats, and
//!   OpenAI speech formats as Deepgram encodings.
//! - `gemini`: OpenAI chat and embeddings ⇄ Gemini generateContent / embedContent.
//! - `responses`: OpenAI's Responses API ⇄ OpenAI chat, requests, answers and streams.
//! - `sse`: an incremental server-sent-events parser.
//! - `stream`: streaming translators between dialects, event by event.
//! - `shape`: typed reads of JSON fields with path-naming errors, for every provider.
//! - `data_url`: `data:` URLs and the URLs and data of OpenAI media parts, for every
//!   provider.
//! - `arbitrary_json` (tests only): proptest strategies for the providers' fuzz tests.

pub mod answer;
pub mod anthropic;
#[cfg(test)]
mod arbitrary_json;
mod data_url;
pub mod deepgram;
pub mod gemini;
pub mod limits;
mod map_only;
pub mod peek;
pub mod reasons;
pub mod responses;
mod shape;
pub mod sse;
pub mod stream;

/// The user turn put before a conversation that opens with an assistant turn,
/// for upstreams (Anthropic, Gemini) that require the user to speak first.
pub const LEADING_USER_TURN: &str = "(conversation start)";
