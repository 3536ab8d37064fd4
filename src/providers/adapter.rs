//! `Adapter`: the one seam between the pipeline and an upstream dialect. Each
//! dialect implements it once (OpenAI-compatible, with the vendors as data;
//! Anthropic; Gemini), and `Upstreams` keeps one per provider in a table built by
//! `build`. Adding a provider that speaks a known dialect is a `ProviderKind`
//! variant; adding a dialect (as Deepgram was) is one impl here plus one arm in `build`.
//!
//! An adapter knows its URLs, auth headers and how to turn an `Operation` into a
//! request; sending, timeouts and error mapping are shared (`send`), and what the
//! caller's body becomes is the pipeline's translator table, not the adapter's.
//!
//! Credentials are resolved once per call from `Account` (gateway key or the
//! caller's BYOK key); vault keys and configured deployments become new `Account`
//! variants, handled in each adapter's one credential match.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;

use super::{
    Account, Anthropic, AnthropicHeaders, Clients, Deepgram, Gemini, GeminiMethod, OpenAi,
    OpenAiEndpoint, Upload, UpstreamError, UpstreamResponse,
};
use crate::config::Config;
use crate::domain::{Dialect, ProviderKind};
use crate::translate::deepgram::SpeechFormat;

/// What the caller asked for, in terms every dialect maps to its own endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Chat {
        stream: bool,
    },
    Completions,
    /// One input; `batch` for several (Gemini has two methods, OpenAI one).
    Embeddings {
        batch: bool,
    },
    Images,
    /// OpenAI's Responses API (`/v1/responses`); OpenAI itself only.
    Responses,
    /// `/v1/audio/transcriptions`: the body is the upload (raw audio for
    /// Deepgram, multipart for OpenAI).
    Transcription(Upload),
    /// `/v1/audio/speech`: the body is the dialect's JSON.
    Speech(SpeechFormat),
    /// Count a request's input tokens (Anthropic `count_tokens`, Gemini `countTokens`).
    CountTokens,
}

/// One upstream call: the body is already in the upstream's dialect.
pub struct Call<'a> {
    pub operation: Operation,
    /// The upstream's name for the model (an Azure deployment with BYOK).
    pub model: &'a str,
    pub body: Bytes,
    pub account: Account<'a>,
    /// Caller headers the dialect passes on (Anthropic's version and beta).
    pub headers: &'a AnthropicHeaders,
}

pub trait Adapter: Send + Sync {
    fn dialect(&self) -> Dialect;
    /// Whether the gateway's own key for this provider is configured.
    fn has_credentials(&self) -> bool;
    /// Sends `call`; a 2xx comes back as is (whole or event stream), anything
    /// else as the provider's error mapped to an `UpstreamError`.
    fn send<'a>(&'a self, call: Call<'a>)
    -> BoxFuture<'a, Result<UpstreamResponse, UpstreamError>>;
}

fn unsupported(provider: ProviderKind, call: &Call<'_>) -> UpstreamError {
    UpstreamError::Unsupported {
        provider,
        model: call.model.to_owned(),
    }
}

impl Adapter for OpenAi {
    fn dialect(&self) -> Dialect {
        Dialect::OpenAi
    }
    fn has_credentials(&self) -> bool {
        OpenAi::has_credentials(self)
    }
    fn send<'a>(
        &'a self,
        call: Call<'a>,
    ) -> BoxFuture<'a, Result<UpstreamResponse, UpstreamError>> {
        let endpoint = match call.operation {
            Operation::Chat { .. } => OpenAiEndpoint::ChatCompletions,
            Operation::Completions => OpenAiEndpoint::Completions,
            Operation::Embeddings { .. } => OpenAiEndpoint::Embeddings,
            Operation::Images => OpenAiEndpoint::ImagesGenerations,
            Operation::Responses => OpenAiEndpoint::Responses,
            Operation::Speech(_) => OpenAiEndpoint::AudioSpeech,
            Operation::Transcription(upload) => {
                return Box::pin(self.post_as(
                    OpenAiEndpoint::AudioTranscriptions,
                    call.model,
                    call.body,
                    upload.content_type,
                    call.account,
                ));
            }
            Operation::CountTokens => {
                let e = unsupported(self.kind(), &call);
                return Box::pin(async move { Err(e) });
            }
        };
        Box::pin(self.post(endpoint, call.model, call.body, call.account))
    }
}

impl Adapter for Anthropic {
    fn dialect(&self) -> Dialect {
        Dialect::Anthropic
    }
    fn has_credentials(&self) -> bool {
        Anthropic::has_credentials(self)
    }
    fn send<'a>(
        &'a self,
        call: Call<'a>,
    ) -> BoxFuture<'a, Result<UpstreamResponse, UpstreamError>> {
        match call.operation {
            Operation::Chat { .. } => {
                Box::pin(self.messages(call.body, call.headers, call.account))
            }
            Operation::CountTokens => {
                Box::pin(self.count_tokens(call.body, call.headers, call.account))
            }
            _ => {
                let e = unsupported(ProviderKind::Anthropic, &call);
                Box::pin(async move { Err(e) })
            }
        }
    }
}

impl Adapter for Gemini {
    fn dialect(&self) -> Dialect {
        Dialect::Gemini
    }
    fn has_credentials(&self) -> bool {
        Gemini::has_credentials(self)
    }
    fn send<'a>(
        &'a self,
        call: Call<'a>,
    ) -> BoxFuture<'a, Result<UpstreamResponse, UpstreamError>> {
        let method = match call.operation {
            Operation::Chat { stream: false } => GeminiMethod::Generate,
            Operation::Chat { stream: true } => GeminiMethod::StreamGenerate,
            Operation::Embeddings { batch: false } => GeminiMethod::Embed,
            Operation::Embeddings { batch: true } => GeminiMethod::BatchEmbed,
            Operation::CountTokens => GeminiMethod::CountTokens,
            Operation::Completions
            | Operation::Images
            | Operation::Responses
            | Operation::Transcription(_)
            | Operation::Speech(_) => {
                let e = unsupported(ProviderKind::Gemini, &call);
                return Box::pin(async move { Err(e) });
            }
        };
        Box::pin(self.call(method, call.model, call.body, call.account))
    }
}

impl Adapter for Deepgram {
    fn dialect(&self) -> Dialect {
        Dialect::Deepgram
    }
    fn has_credentials(&self) -> bool {
        Deepgram::has_credentials(self)
    }
    fn send<'a>(
        &'a self,
        call: Call<'a>,
    ) -> BoxFuture<'a, Result<UpstreamResponse, UpstreamError>> {
        match call.operation {
            Operation::Transcription(upload) => {
                Box::pin(self.listen(call.model, upload, call.body, call.account))
            }
            Operation::Speech(format) => {
                Box::pin(self.speak(call.model, format, call.body, call.account))
            }
            _ => {
                let e = unsupported(ProviderKind::Deepgram, &call);
                Box::pin(async move { Err(e) })
            }
        }
    }
}

/// The adapter table entry for `provider`: which implementation serves its
/// dialect.
pub(super) fn build(
    provider: ProviderKind,
    clients: &Clients,
    config: &Config,
    first_byte: Duration,
) -> Option<Arc<dyn Adapter>> {
    let cfg = config.provider(provider);
    match provider.dialect() {
        Dialect::OpenAi => Some(Arc::new(OpenAi::new(provider, clients, cfg, first_byte))),
        Dialect::Anthropic => Some(Arc::new(Anthropic::new(clients, cfg, first_byte))),
        Dialect::Gemini => Some(Arc::new(Gemini::new(clients, cfg, first_byte))),
        Dialect::Deepgram => Some(Arc::new(Deepgram::new(clients, cfg, first_byte))),
    }
}
