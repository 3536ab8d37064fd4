//! `POST /v1/chat/completions` (scope `chat`): OpenAI format in and out, served by
//! OpenAI or a compatible vendor (bytes forwarded), Anthropic or Gemini (translated
//! both ways, streams included).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use crate::app::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::http::dispatch::{self, body_json, to_bytes, wants_usage};
use crate::http::extract::RawBody;
use crate::providers::relay::StreamDialect;
use crate::providers::{AnthropicHeaders, GeminiMethod, OpenAiEndpoint, UpstreamError};
use crate::routing::Dialect;
use crate::routing::byok::Endpoint;
use crate::translate::anthropic::{self as anthropic, ChatToMessagesOptions};
use crate::translate::gemini::{self, GeminiToChat};
use crate::translate::peek::ChatPeek;
use crate::translate::stream::AnthropicToChat;

/// `max_tokens` for Anthropic when an OpenAI request names none (Anthropic requires it).
pub const DEFAULT_ANTHROPIC_MAX_TOKENS: u32 = 4096;

pub async fn completions(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let peek = ChatPeek::parse(&body)?;
    let routed = dispatch::route(&state, &principal, &headers, Endpoint::Chat, &peek.model).await?;
    let route = &routed.route;
    let account = routed.account();
    let upstreams = state.upstreams();
    let idle = upstreams.timeouts().idle_timeout;
    let model = peek.model.as_ref();
    match route.provider.dialect() {
        Dialect::OpenAi => {
            let upstream = upstreams
                .openai(route.provider)?
                .post(
                    OpenAiEndpoint::ChatCompletions,
                    &route.upstream_model,
                    peek.with_model(&body, &route.upstream_model),
                    account,
                )
                .await?;
            Ok(dispatch::relay_response(
                upstream,
                StreamDialect::OpenAi,
                idle,
            ))
        }
        Dialect::Anthropic => {
            let req = body_json(&body)?;
            let translated = anthropic::chat_request_to_messages(
                &req,
                &route.upstream_model,
                &ChatToMessagesOptions {
                    default_max_tokens: DEFAULT_ANTHROPIC_MAX_TOKENS,
                },
            )?;
            let upstream = upstreams
                .anthropic
                .messages(to_bytes(&translated), &AnthropicHeaders::default(), account)
                .await?;
            dispatch::translated_response(
                upstream,
                Box::new(AnthropicToChat::new(model, wants_usage(&req))),
                |v| anthropic::messages_response_to_chat(v, model),
                idle,
            )
            .await
        }
        Dialect::Gemini => {
            let req = body_json(&body)?;
            let translated = gemini::chat_request_to_gemini(&req)?;
            let method = if peek.stream {
                GeminiMethod::StreamGenerate
            } else {
                GeminiMethod::Generate
            };
            let upstream = upstreams
                .gemini
                .call(
                    method,
                    &route.upstream_model,
                    to_bytes(&translated),
                    account,
                )
                .await?;
            dispatch::translated_response(
                upstream,
                Box::new(GeminiToChat::new(model, wants_usage(&req))),
                |v| gemini::gemini_response_to_chat(v, model),
                idle,
            )
            .await
        }
        Dialect::Deepgram => Err(UpstreamError::Unsupported {
            provider: route.provider,
            model: peek.model.into_owned(),
        }
        .into()),
    }
}
