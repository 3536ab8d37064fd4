//! The translator table: for each (caller format, upstream dialect) pair, how the
//! caller's body becomes the upstream's and how the answer comes back. The one
//! place the provider × format matrix is written down; a pair that is not here is
//! `UpstreamError::Unsupported`.

use bytes::Bytes;
use serde_json::Value;

use crate::error::ApiError;
use crate::metering::observe::BodyFormat;
use crate::providers::Operation;
use crate::providers::UpstreamError;
use crate::providers::relay::StreamDialect;
use crate::routing::{Dialect, ProviderKind};
use crate::translate::answer::{AnswerError, via_value};
use crate::translate::anthropic::{self, ChatToMessagesOptions};
use crate::translate::gemini::{self, ChatToGemini, GeminiToChat, native};
use crate::translate::peek::{StreamUsage, with_stream_usage};
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
    /// Gemini's `:generateContent` / `:streamGenerateContent` (model in the path).
    GeminiGenerate,
    /// Gemini's `:embedContent`.
    GeminiEmbed,
    /// Gemini's `:batchEmbedContents`.
    GeminiBatchEmbed,
    /// Gemini's `:countTokens`: passed to Gemini, else counted here.
    GeminiCountTokens,
    /// Anthropic's `/v1/messages/count_tokens`: passed to Anthropic, else counted here.
    AnthropicCountTokens,
}

impl CallerFormat {
    /// The shape of the caller-facing body, for metering.
    pub fn body_format(self, stream: bool) -> BodyFormat {
        match (self, stream) {
            (CallerFormat::OpenAiImages, _) => BodyFormat::OpenAiImages,
            (CallerFormat::GeminiGenerate, true) => BodyFormat::GeminiSse,
            (CallerFormat::GeminiGenerate, false)
            | (CallerFormat::GeminiEmbed | CallerFormat::GeminiBatchEmbed, _) => {
                BodyFormat::GeminiJson
            }
            (CallerFormat::GeminiCountTokens | CallerFormat::AnthropicCountTokens, _) => {
                BodyFormat::Opaque
            }
            (CallerFormat::AnthropicMessages, true) => BodyFormat::AnthropicSse,
            (CallerFormat::AnthropicMessages, false) => BodyFormat::AnthropicJson,
            (CallerFormat::OpenAiEmbeddings, _) => BodyFormat::OpenAiJson,
            (CallerFormat::OpenAiResponses, true) => BodyFormat::ResponsesSse,
            (CallerFormat::OpenAiResponses, false) => BodyFormat::ResponsesJson,
            (_, true) => BodyFormat::OpenAiSse,
            (_, false) => BodyFormat::OpenAiJson,
        }
    }

    /// Token counting: free upstream, so not metered or held for.
    pub fn is_count(self) -> bool {
        matches!(
            self,
            CallerFormat::GeminiCountTokens | CallerFormat::AnthropicCountTokens
        )
    }
}

/// The answer of a count route whose model's provider cannot count (counted here
/// with the metering tokenizer): `None` when the provider counts itself.
pub fn local_count(format: CallerFormat, dialect: Dialect) -> Option<fn(u64) -> Value> {
    match (format, dialect) {
        (CallerFormat::GeminiCountTokens, Dialect::Gemini)
        | (CallerFormat::AnthropicCountTokens, Dialect::Anthropic) => None,
        (CallerFormat::GeminiCountTokens, _) => Some(|n| serde_json::json!({"totalTokens": n})),
        (CallerFormat::AnthropicCountTokens, _) => Some(|n| serde_json::json!({"input_tokens": n})),
        _ => None,
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
    /// What the caller's `stream_options` said, read by the peek.
    pub stream_usage: StreamUsage,
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
    /// Another dialect: event by event, or the whole answer (its bytes in, the
    /// caller's bytes out; [`via_value`] for translators that work on a `Value`).
    Translate {
        stream: fn(model: &str, include_usage: bool) -> Box<dyn StreamTranslator>,
        whole: fn(answer: &[u8], model: &str) -> Result<Vec<u8>, AnswerError>,
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
                whole: anthropic::messages_answer_to_chat,
            },
        ),
        (F::OpenAiChat, Dialect::Gemini) => t(
            chat_to_gemini,
            Respond::Translate {
                stream: |m, u| Box::new(GeminiToChat::new(m, u)),
                whole: |a, m| via_value(a, m, gemini::gemini_response_to_chat),
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
                let req = json(c.body)?;
                count_dropped(
                    "openai",
                    &present_fields(&req, anthropic::DROPPED_ANTHROPIC_FIELDS),
                );
                let chat = anthropic::messages_request_to_chat(&req, c.upstream_model)?;
                Ok(Outbound {
                    operation: Operation::Chat { stream: c.stream },
                    body: to_bytes(&chat),
                })
            },
            Respond::Translate {
                stream: |m, _| Box::new(ChatToAnthropic::new(m)),
                whole: |a, m| via_value(a, m, anthropic::chat_response_to_messages),
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
                whole: |a, m| {
                    via_value(a, m, |v, m| {
                        let chat = gemini::gemini_response_to_chat(v, m)?;
                        anthropic::chat_response_to_messages(&chat, m)
                    })
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
                    with_stream_usage(&c.forwarded, c.stream_usage)
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
                whole: |a, m| via_value(a, m, responses::chat_response_to_responses),
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
                whole: |a, m| {
                    via_value(a, m, |v, m| {
                        let chat = anthropic::messages_response_to_chat(v, m)?;
                        responses::chat_response_to_responses(&chat, m)
                    })
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
                whole: |a, m| {
                    via_value(a, m, |v, m| {
                        let chat = gemini::gemini_response_to_chat(v, m)?;
                        responses::chat_response_to_responses(&chat, m)
                    })
                },
            },
        ),
        (F::GeminiGenerate, Dialect::Gemini) => t(
            |c| forward(c, Operation::Chat { stream: c.stream }),
            Respond::Relay(StreamDialect::Gemini),
        ),
        (F::GeminiGenerate, Dialect::OpenAi) => t(
            |c| {
                let chat = gemini_to_chat(c)?;
                Ok(Outbound {
                    operation: Operation::Chat { stream: c.stream },
                    body: to_bytes(&chat),
                })
            },
            Respond::Translate {
                stream: |m, _| Box::new(ChatToGemini::new(m)),
                whole: |a, m| via_value(a, m, native::chat_response_to_gemini),
            },
        ),
        (F::GeminiGenerate, Dialect::Anthropic) => t(
            |c| {
                let chat = gemini_to_chat(c)?;
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
                        Box::new(ChatToGemini::new(m)),
                    ))
                },
                whole: |a, m| {
                    via_value(a, m, |v, m| {
                        let chat = anthropic::messages_response_to_chat(v, m)?;
                        native::chat_response_to_gemini(&chat, m)
                    })
                },
            },
        ),
        (F::GeminiEmbed, Dialect::Gemini) => t(
            |c| forward(c, Operation::Embeddings { batch: false }),
            Respond::Relay(StreamDialect::Gemini),
        ),
        (F::GeminiBatchEmbed, Dialect::Gemini) => t(
            |c| forward(c, Operation::Embeddings { batch: true }),
            Respond::Relay(StreamDialect::Gemini),
        ),
        (F::GeminiEmbed, Dialect::OpenAi) => t(
            |c| gemini_embed_to_openai(c, false),
            Respond::Rebuild(|v, _, _| openai_embeddings_to_gemini(v, false)),
        ),
        (F::GeminiBatchEmbed, Dialect::OpenAi) => t(
            |c| gemini_embed_to_openai(c, true),
            Respond::Rebuild(|v, _, _| openai_embeddings_to_gemini(v, true)),
        ),
        (F::GeminiCountTokens, Dialect::Gemini) => t(
            |c| forward(c, Operation::CountTokens),
            Respond::Relay(StreamDialect::Gemini),
        ),
        (F::AnthropicCountTokens, Dialect::Anthropic) => Translation {
            request: |c| forward(c, Operation::CountTokens),
            respond: Respond::Relay(StreamDialect::Anthropic),
            pass_anthropic_headers: true,
        },
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
    count_dropped("chat", &out.dropped);
    Ok(out.chat)
}

/// Counts the caller's fields a translation to `target` dropped, one by one, in
/// `tollgate_translation_dropped_fields_total{target, field}` (README lists them).
pub fn count_dropped(target: &'static str, fields: &[&'static str]) {
    for field in fields {
        metrics::counter!(
            "tollgate_translation_dropped_fields_total",
            "target" => target,
            "field" => *field
        )
        .increment(1);
    }
}

/// The names in `list` that `req` carries (not null).
fn present_fields(req: &Value, list: &[&'static str]) -> Vec<&'static str> {
    list.iter()
        .copied()
        .filter(|f| req.get(*f).is_some_and(|v| !v.is_null()))
        .collect()
}

fn gemini_to_chat(c: &Ctx<'_>) -> Result<Value, ApiError> {
    let req = json(c.body)?;
    count_dropped("openai", &native::dropped_gemini_fields(&req));
    Ok(native::gemini_request_to_chat(
        &req,
        c.upstream_model,
        c.stream,
    )?)
}

fn gemini_embed_to_openai(c: &Ctx<'_>, batch: bool) -> Result<Outbound, ApiError> {
    let body = native::gemini_embed_to_openai(&json(c.body)?, c.upstream_model, batch)?;
    Ok(Outbound {
        operation: Operation::Embeddings { batch },
        body: to_bytes(&body),
    })
}

fn openai_embeddings_to_gemini(v: &Value, batch: bool) -> Result<Value, ApiError> {
    native::openai_embeddings_to_gemini(v, batch).map_err(|e| {
        UpstreamError::Protocol {
            provider: crate::routing::ProviderKind::OpenAi,
            detail: format!("cannot read the embeddings: {}", e.message),
        }
        .into()
    })
}

fn forward(c: &Ctx<'_>, operation: Operation) -> Result<Outbound, ApiError> {
    Ok(Outbound {
        operation,
        body: c.forwarded.clone(),
    })
}

fn forward_chat(c: &Ctx<'_>) -> Result<Outbound, ApiError> {
    let body = if c.stream && c.include_usage {
        with_stream_usage(&c.forwarded, c.stream_usage)
    } else {
        c.forwarded.clone()
    };
    Ok(Outbound {
        operation: Operation::Chat { stream: c.stream },
        body,
    })
}

fn chat_to_anthropic(c: &Ctx<'_>) -> Result<Outbound, ApiError> {
    let req = json(c.body)?;
    count_dropped(
        "anthropic",
        &present_fields(&req, anthropic::DROPPED_OPENAI_FIELDS),
    );
    let translated = anthropic::chat_request_to_messages(
        &req,
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
    let req = json(c.body)?;
    count_dropped(
        "gemini",
        &present_fields(&req, gemini::DROPPED_OPENAI_FIELDS_FOR_GEMINI),
    );
    let translated = gemini::chat_request_to_gemini(&req)?;
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
