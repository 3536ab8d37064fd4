//! The gateway and public routes, described here rather than on their handlers.
//!
//! The gateway handlers (`http::{chat, messages, embeddings, openai_only}`) take the
//! provider wire formats as bytes and read only the fields they route on, and they
//! are being refactored this week: so their operations are `#[utoipa::path]`s on
//! the empty functions below, and their bodies are the schema types here. Each
//! schema names the fields the gateway reads or requires (`model`, `messages`,
//! `stream`, …) and leaves `additionalProperties` open: everything else is the
//! provider's and passes through untouched.

use serde::Serialize;
use utoipa::ToSchema;

use super::errors::{
    GatewayErrors, GeminiErrors, GeminiModelErrors, MessagesErrors, ModelErrors, ModelsErrors,
};

/// An OpenAI chat message; `content` is a string or a list of content parts.
#[derive(Serialize, ToSchema)]
pub struct ChatMessage {
    /// `system`, `developer`, `user`, `assistant` or `tool`.
    pub role: String,
    #[schema(value_type = Value)]
    pub content: serde_json::Value,
}

/// `POST /v1/chat/completions` (OpenAI format; routed to any provider by `model`).
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]}))]
pub struct ChatCompletionRequest {
    /// A catalog id (`GET /v1/models`), `provider/id`, or an alias.
    pub model: String,
    #[schema(min_items = 1)]
    pub messages: Vec<ChatMessage>,
    /// Server-sent events instead of one JSON body.
    pub stream: Option<bool>,
}

/// `POST /v1/responses` (OpenAI's Responses API; routed to any provider by `model`).
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"model": "gpt-4o-mini", "input": "Hello", "store": false}))]
pub struct ResponsesRequest {
    pub model: String,
    /// A string, or a list of input items (messages, `function_call`,
    /// `function_call_output`).
    #[schema(value_type = Value)]
    pub input: serde_json::Value,
    pub instructions: Option<String>,
    /// Server-sent typed events instead of one JSON body.
    pub stream: Option<bool>,
}

/// An Anthropic message; `content` is a string or a list of content blocks.
#[derive(Serialize, ToSchema)]
pub struct AnthropicMessage {
    /// `user` or `assistant`.
    pub role: String,
    #[schema(value_type = Value)]
    pub content: serde_json::Value,
}

/// `POST /v1/messages` (Anthropic format; routed to any provider by `model`).
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"model": "claude-haiku-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": "Hello"}]}))]
pub struct MessagesRequest {
    pub model: String,
    #[schema(minimum = 1)]
    pub max_tokens: u32,
    #[schema(min_items = 1)]
    pub messages: Vec<AnthropicMessage>,
    /// A string or a list of text blocks.
    #[schema(value_type = Option<Value>)]
    pub system: Option<serde_json::Value>,
    pub stream: Option<bool>,
}

/// `POST /v1/embeddings` (OpenAI format).
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"model": "text-embedding-3-small", "input": "Hello"}))]
pub struct EmbeddingsRequest {
    pub model: String,
    /// A string, a list of strings, or token arrays.
    #[schema(value_type = Value)]
    pub input: serde_json::Value,
}

/// `POST /v1/completions` (OpenAI's legacy completions; OpenAI models only).
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"model": "gpt-3.5-turbo-instruct", "prompt": "Hello"}))]
pub struct CompletionsRequest {
    pub model: String,
    /// A string or a list of strings.
    #[schema(value_type = Value)]
    pub prompt: serde_json::Value,
    pub stream: Option<bool>,
}

/// `POST /v1/images/generations` (OpenAI models only).
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"model": "gpt-image-1", "prompt": "A lighthouse at dawn"}))]
pub struct ImageGenerationRequest {
    pub prompt: String,
    /// Defaults to the provider's image model.
    pub model: Option<String>,
}

/// One server-sent event of a stream (`stream: true`), as a client parses it;
/// `data` holds the provider's JSON chunk, or `[DONE]`.
#[derive(Serialize, ToSchema)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
    pub id: Option<String>,
    pub retry: Option<u64>,
}

/// The provider's response in the route's own wire format, passed through.
#[derive(Serialize, ToSchema)]
#[schema(value_type = Object)]
pub struct ProviderResponse(serde_json::Value);

/// One model of the catalog, in OpenAI's shape.
#[derive(Serialize, ToSchema)]
pub struct Model {
    pub id: String,
    /// Always `model`.
    pub object: String,
    pub created: i64,
    /// The provider serving it, or `tollgate` for an alias.
    pub owned_by: String,
}

#[derive(Serialize, ToSchema)]
pub struct ModelList {
    /// Always `list`.
    pub object: String,
    pub data: Vec<Model>,
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: String,
    pub version: String,
}

#[utoipa::path(post, path = "/v1/chat/completions", tag = "gateway",
    request_body = ChatCompletionRequest,
    responses(
        (status = 200, description = "The completion (or, with `stream`, its events)", content(
            (ProviderResponse = "application/json"),
            (SseEvent = "text/event-stream"),
        )),
        GatewayErrors,
    ))]
pub fn chat_completions() {}

#[utoipa::path(post, path = "/v1/messages", tag = "gateway",
    request_body = MessagesRequest,
    responses(
        (status = 200, description = "The message (or, with `stream`, its events)", content(
            (ProviderResponse = "application/json"),
            (SseEvent = "text/event-stream"),
        )),
        MessagesErrors,
    ))]
pub fn messages() {}

#[utoipa::path(post, path = "/v1/responses", tag = "gateway",
    request_body = ResponsesRequest,
    responses(
        (status = 200, description = "The response object (or, with `stream`, its typed events)", content(
            (ProviderResponse = "application/json"),
            (SseEvent = "text/event-stream"),
        )),
        GatewayErrors,
    ))]
pub fn responses() {}

#[utoipa::path(post, path = "/v1/embeddings", tag = "gateway",
    request_body = EmbeddingsRequest,
    responses(
        (status = 200, description = "The embeddings", body = ProviderResponse),
        GatewayErrors,
    ))]
pub fn embeddings() {}

#[utoipa::path(post, path = "/v1/completions", tag = "gateway",
    request_body = CompletionsRequest,
    responses(
        (status = 200, description = "The completion (or, with `stream`, its events)", content(
            (ProviderResponse = "application/json"),
            (SseEvent = "text/event-stream"),
        )),
        GatewayErrors,
    ))]
pub fn completions() {}

#[utoipa::path(post, path = "/v1/images/generations", tag = "gateway",
    request_body = ImageGenerationRequest,
    responses(
        (status = 200, description = "The generated images", body = ProviderResponse),
        GatewayErrors,
    ))]
pub fn images() {}

/// `POST /v1/messages/count_tokens` (Anthropic format): `{"input_tokens": N}`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"model": "claude-haiku-4-5", "messages": [{"role": "user", "content": "Hello"}]}))]
pub struct CountTokensRequest {
    pub model: String,
    #[schema(min_items = 1)]
    pub messages: Vec<AnthropicMessage>,
    #[schema(value_type = Option<Value>)]
    pub system: Option<serde_json::Value>,
}

/// A Gemini request (`GenerateContentRequest`, `EmbedContentRequest`,
/// `BatchEmbedContentsRequest` or `CountTokensRequest`, by method).
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"contents": [{"role": "user", "parts": [{"text": "Hello"}]}]}))]
pub struct GeminiRequest {
    #[schema(value_type = Option<Value>)]
    pub contents: Option<serde_json::Value>,
}

/// Passed through for Claude models, counted here (the metering tokenizer) for others.
#[utoipa::path(post, path = "/v1/messages/count_tokens", tag = "gateway",
    request_body = CountTokensRequest,
    responses(
        (status = 200, description = "`{\"input_tokens\": N}`", body = ProviderResponse),
        MessagesErrors,
    ))]
pub fn count_tokens() {}

/// Gemini's native methods: `rest` is `{model}:generateContent`,
/// `:streamGenerateContent?alt=sse`, `:countTokens` (scope `chat`), `:embedContent` or
/// `:batchEmbedContents` (scope `embeddings`). Key in `x-goog-api-key`.
#[utoipa::path(post, path = "/v1beta/models/{rest}", tag = "gateway",
    params(("rest" = String, Path, description = "`{model}:{method}`, e.g. `gemini-2.5-flash:generateContent`")),
    request_body = GeminiRequest,
    responses(
        (status = 200, description = "Gemini's answer (or, streaming, its events)", content(
            (ProviderResponse = "application/json"),
            (SseEvent = "text/event-stream"),
        )),
        GeminiErrors,
    ))]
pub fn gemini_v1beta() {}

/// The same methods under `/v1` (google-genai with `api_version="v1"`).
#[utoipa::path(post, path = "/v1/models/{rest}", tag = "gateway",
    params(("rest" = String, Path, description = "`{model}:{method}`")),
    request_body = GeminiRequest,
    responses(
        (status = 200, description = "Gemini's answer (or, streaming, its events)", content(
            (ProviderResponse = "application/json"),
            (SseEvent = "text/event-stream"),
        )),
        GeminiErrors,
    ))]
pub fn gemini_v1() {}

/// Public: the catalog in Gemini's list shape (`{"models": [...]}`).
#[utoipa::path(get, path = "/v1beta/models", tag = "public", security(()),
    responses((status = 200, description = "The model catalog, Gemini's shape", body = ProviderResponse), GeminiModelErrors))]
pub fn gemini_models() {}

/// Public: one model in Gemini's shape.
#[utoipa::path(get, path = "/v1beta/models/{rest}", tag = "public", security(()),
    params(("rest" = String, Path, description = "A model id")),
    responses((status = 200, description = "The model, Gemini's shape", body = ProviderResponse), GeminiModelErrors))]
pub fn gemini_model() {}

/// Public: one model in OpenAI's shape (Anthropic's with `anthropic-version`);
/// ids may hold `/` (`openai/gpt-4o-mini`).
#[utoipa::path(get, path = "/v1/models/{rest}", tag = "public", security(()),
    params(("rest" = String, Path, description = "A model id, alias or `provider/id`")),
    responses((status = 200, description = "The model", body = Model), ModelErrors))]
pub fn model() {}

/// Public; with a key, only the models that key may use.
#[utoipa::path(get, path = "/v1/models", tag = "public",
    security((), ("bearer" = []), ("x-api-key" = []), ("x-goog-api-key" = []), ("alt-header" = [])),
    responses(
        (status = 200, description = "The model catalog", body = ModelList),
        ModelsErrors,
    ))]
pub fn models() {}

#[utoipa::path(get, path = "/health", tag = "public", security(()),
    responses((status = 200, description = "The process is up", body = Health)))]
pub fn health() {}

#[utoipa::path(get, path = "/metrics", tag = "public", security(()),
    responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain", body = String)))]
pub fn metrics() {}

#[utoipa::path(get, path = "/openapi.json", tag = "public", security(()),
    responses((status = 200, description = "This document (OpenAPI 3.1)", body = Object)))]
pub fn openapi_json() {}
