//! The translator table: for each (caller format, upstream dialect) pair, how the
//! caller's body becomes the upstream's and how the answer comes back. The one
//! place the provider × format matrix is written down; a pair that is not here is
//! `UpstreamError::Unsupported`.

use bytes::Bytes;
use serde_json::Value;

use crate::error::ApiError;
use crate::metering::observe::BodyFormat;
use crate::providers::Operation;
use crate::providers::relay::StreamDialect;
use crate::routing::{Dialect, ProviderKind};
use crate::translate::anthropic::{self, ChatToMessagesOptions, TranslateError};
use crate::translate::gemini::{self, GeminiToChat};
use crate::translate::peek::with_stream_usage;
use crate::translate::responses::{self, ChatToResponses};
use crate::translate::stream::{AnthropicToChat, Chain, ChatToAnthropic, StreamTranslator};

/// `max_tokens` for Anthropic when an OpenAI request names none (Anthropic requires it).
pub const DEFAULT_ANTHROPIC_MAX_TOKENS: u32 = 4096;

/// The wire format a route speaks to its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallerFormat {
    OpenAiChat,
    AnthropicMessages,
    OpenAiEmbeddings,
    OpenAiCompletions,
    OpenAiImages,
    /// OpenAI's Responses API (`/v1/responses`).
    OpenAiResponses,
}

impl CallerFormat {
    /// The shape of the caller-facing body, for metering.
    pub fn body_format(self, stream: bool) -> BodyFormat {
        match (self, stream) {
            (CallerFormat::OpenAiImages, _) => BodyFormat::OpenAiImages,
            (CallerFormat::AnthropicMessages, true) => BodyFormat::AnthropicSse,
            (CallerFormat::AnthropicMessages, false) => BodyFormat::AnthropicJson,
            (CallerFormat::OpenAiEmbeddings, _) => BodyFormat::OpenAiJson,
            (CallerFormat::OpenAiResponses, true) => BodyFormat::ResponsesSse,
            (CallerFormat::OpenAiResponses, false) => BodyFormat::ResponsesJson,
            (_, true) => BodyFormat::OpenAiSse,
            (_, false) => BodyFormat::OpenAiJson,
        }
    }
}

/// What a translation sees of the request.
pub struct Ctx<'a> {
    pub body: &'a Bytes,
    /// `body` with the model replaced by the upstream's name.
    pub forwarded: Bytes,
    pub upstream_model: &'a str,
    pub stream: bool,
    /// The caller-facing stream carries OpenAI's usage chunk (`UsagePlan`).
    pub include_usage: bool,
}

/// The upstream request a translation produced.
pub struct Outbound {
    pub operation: Operation,
    pub body: Bytes,
}

/// How an upstream's 2xx answer reaches the caller.
pub enum Respond {
    /// Same dialect: bytes relayed (events checked at their boundaries).
    Relay(StreamDialect),
    /// Another dialect: event by event, or the whole answer.
    Translate {
        stream: fn(model: &str, include_usage: bool) -> Box<dyn StreamTranslator>,
        whole: fn(&Value, model: &str) -> Result<Value, TranslateError>,
    },
    /// A whole answer rebuilt with the caller's request at hand (Gemini embeddings).
    Rebuild(fn(answer: &Value, request: &[u8], model: &str) -> Result<Value, ApiError>),
}

pub struct Translation {
    pub request: fn(&Ctx<'_>) -> Result<Outbound, ApiError>,
    pub respond: Respond,
    /// Pass the caller's `anthropic-version` / `anthropic-beta` upstream.
    pub pass_anthropic_headers: bool,
}

/// The table entry for `provider`: as [`translation`] by its dialect, except that
/// a Responses request to OpenAI itself is passed through (OpenAI-compatible
/// vendors speak only chat, so theirs is translated).
pub fn translation_for(format: CallerFormat, provider: ProviderKind) -> Option<Translation> {
    if format == CallerFormat::OpenAiResponses && provider == ProviderKind::OpenAi {
        return Some(Translation {
            request: forward_responses,
            respond: Respond::Relay(StreamDialect::OpenAi),
            pass_anthropic_headers: false,
        });
    }
    translation(format, provider.dialect())
}

/// The table. Adding a route is a `CallerFormat` and its rows; adding a dialect
/// is its column.
pub fn translation(format: CallerFormat, dialect: Dialect) -> Option<Translation> {
    use CallerFormat as F;
    let t = |request, respond| Translation {
        request,
        respond,
        pass_anthropic_headers: false,
    };
    Some(match (format, dialect) {
        (F::OpenAiChat, Dialect::OpenAi) => t(forward_chat, Respond::Relay(StreamDialect::OpenAi)),
        (F::OpenAiChat, Dialect::Anthropic) => t(
            chat_to_anthropic,
            Respond::Translate {
                stream: |m, u| Box::new(AnthropicToChat::new(m, u)),
                whole: anthropic::messages_response_to_chat,
            },
        ),
        (F::OpenAiChat, Dialect::Gemini) => t(
            chat_to_gemini,
            Respond::Translate {
                stream: |m, u| Box::new(GeminiToChat::new(m, u)),
                whole: gemini::gemini_response_to_chat,
            },
        ),
        (F::AnthropicMessages, Dialect::Anthropic) => Translation {
            request: |c| {
                Ok(Outbound {
                    operation: Operation::Chat { stream: c.stream },
                    body: c.forwarded.clone(),
                })
            },
            respond: Respond::Relay(StreamDialect::Anthropic),
            pass_anthropic_headers: true,
        },
        (F::AnthropicMessages, Dialect::OpenAi) => t(
            |c| {
                let chat = anthropic::messages_request_to_chat(&json(c.body)?, c.upstream_model)?;
                Ok(Outbound {
                    operation: Operation::Chat { stream: c.stream },
                    body: to_bytes(&chat),
                })
            },
            Respond::Translate {
                stream: |m, _| Box::new(ChatToAnthropic::new(m)),
                whole: anthropic::chat_response_to_messages,
            },
        ),
        (F::AnthropicMessages, Dialect::Gemini) => t(
            |c| {
                let chat = anthropic::messages_request_to_chat(&json(c.body)?, c.upstream_model)?;
                Ok(Outbound {
                    operation: Operation::Chat { stream: c.stream },
                    body: to_bytes(&gemini::chat_request_to_gemini(&chat)?),
                })
            },
            Respond::Translate {
                stream: |m, _| {
                    Box::new(Chain::new(
                        Box::new(GeminiToChat::new(m, true)),
                        Box::new(ChatToAnthropic::new(m)),
                    ))
                },
                whole: |v, m| {
                    let chat = gemini::gemini_response_to_chat(v, m)?;
                    anthropic::chat_response_to_messages(&chat, m)
                },
            },
        ),
        (F::OpenAiEmbeddings, Dialect::OpenAi) => t(
            |c| forward(c, Operation::Embeddings { batch: false }),
            Respond::Relay(StreamDialect::OpenAi),
        ),
        (F::OpenAiEmbeddings, Dialect::Gemini) => t(
            super::embeddings::to_gemini,
            Respond::Rebuild(super::embeddings::from_gemini),
        ),
        (F::OpenAiCompletions, Dialect::OpenAi) => t(
            |c| {
                let body = if c.include_usage {
                    with_stream_usage(&c.forwarded)
                } else {
                    c.forwarded.clone()
                };
                Ok(Outbound {
                    operation: Operation::Completions,
                    body,
                })
            },
            Respond::Relay(StreamDialect::OpenAi),
        ),
        (F::OpenAiImages, Dialect::OpenAi) => t(
            |c| forward(c, Operation::Images),
            Respond::Relay(StreamDialect::OpenAi),
        ),
        (F::OpenAiResponses, Dialect::OpenAi) => t(
            |c| {
                Ok(Outbound {
                    operation: Operation::Chat { stream: c.stream },
                    body: to_bytes(&responses_to_chat(c)?),
                })
            },
            Respond::Translate {
                stream: |m, _| Box::new(ChatToResponses::new(m)),
                whole: responses::chat_response_to_responses,
            },
        ),
        (F::OpenAiResponses, Dialect::Anthropic) => t(
            |c| {
                let chat = responses_to_chat(c)?;
                let translated = anthropic::chat_request_to_messages(
                    &chat,
                    c.upstream_model,
                    &ChatToMessagesOptions {
                        default_max_tokens: DEFAULT_ANTHROPIC_MAX_TOKENS,
                    },
                )?;
                Ok(Outbound {
                    operation: Operation::Chat { stream: c.stream },
                    body: to_bytes(&translated),
                })
            },
            Respond::Translate {
                stream: |m, _| {
                    Box::new(Chain::new(
                        Box::new(AnthropicToChat::new(m, true)),
                        Box::new(ChatToResponses::new(m)),
                    ))
                },
                whole: |v, m| {
                    let chat = anthropic::messages_response_to_chat(v, m)?;
                    responses::chat_response_to_responses(&chat, m)
                },
            },
        ),
        (F::OpenAiResponses, Dialect::Gemini) => t(
            |c| {
                let chat = responses_to_chat(c)?;
                Ok(Outbound {
                    operation: Operation::Chat { stream: c.stream },
                    body: to_bytes(&gemini::chat_request_to_gemini(&chat)?),
                })
            },
            Respond::Translate {
                stream: |m, _| {
                    Box::new(Chain::new(
                        Box::new(GeminiToChat::new(m, true)),
                        Box::new(ChatToResponses::new(m)),
                    ))
                },
                whole: |v, m| {
                    let chat = gemini::gemini_response_to_chat(v, m)?;
                    responses::chat_response_to_responses(&chat, m)
                },
            },
        ),
        _ => return None,
    })
}

/// A Responses request to OpenAI: the caller's bytes (model renamed), after the
/// stateless check every Responses request gets.
fn forward_responses(c: &Ctx<'_>) -> Result<Outbound, ApiError> {
    if let Some(body) = json(c.body)?.as_object() {
        responses::check_stateless(body)?;
    }
    Ok(Outbound {
        operation: Operation::Responses,
        body: c.forwarded.clone(),
    })
}

/// A Responses request as chat, each dropped field counted.
fn responses_to_chat(c: &Ctx<'_>) -> Result<Value, ApiError> {
    let out = responses::responses_request_to_chat(&json(c.body)?, c.upstream_model)?;
    for field in out.dropped {
        metrics::counter!(
            "tollgate_translation_dropped_fields_total",
            "route" => "/v1/responses",
            "field" => field,
        )
        .increment(1);
    }
    Ok(out.chat)
}

fn forward(c: &Ctx<'_>, operation: Operation) -> Result<Outbound, ApiError> {
    Ok(Outbound {
        operation,
        body: c.forwarded.clone(),
    })
}

fn forward_chat(c: &Ctx<'_>) -> Result<Outbound, ApiError> {
    let body = if c.stream && c.include_usage {
        with_stream_usage(&c.forwarded)
    } else {
        c.forwarded.clone()
    };
    Ok(Outbound {
        operation: Operation::Chat { stream: c.stream },
        body,
    })
}

fn chat_to_anthropic(c: &Ctx<'_>) -> Result<Outbound, ApiError> {
    let translated = anthropic::chat_request_to_messages(
        &json(c.body)?,
        c.upstream_model,
        &ChatToMessagesOptions {
            default_max_tokens: DEFAULT_ANTHROPIC_MAX_TOKENS,
        },
    )?;
    Ok(Outbound {
        operation: Operation::Chat { stream: c.stream },
        body: to_bytes(&translated),
    })
}

fn chat_to_gemini(c: &Ctx<'_>) -> Result<Outbound, ApiError> {
    let translated = gemini::chat_request_to_gemini(&json(c.body)?)?;
    Ok(Outbound {
        operation: Operation::Chat { stream: c.stream },
        body: to_bytes(&translated),
    })
}

/// The caller's body as JSON (already checked to be an object by the peek).
pub fn json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::InvalidJson(e.to_string()))
}

/// A translated body. Serializing a `Value` cannot fail (string keys only).
pub fn to_bytes(v: &Value) -> Bytes {
    Bytes::from(v.to_string())
}
