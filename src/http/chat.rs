//! `POST /v1/chat/completions` (scope `chat`): OpenAI format in and out, served by
//! OpenAI (bytes forwarded) or Anthropic (translated both ways, streams included).

use axum::extract::State;
use axum::response::Response;

use crate::app::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::http::dispatch::{self, body_json, to_bytes, wants_usage};
use crate::http::extract::RawBody;
use crate::providers::relay::StreamDialect;
use crate::providers::{AnthropicHeaders, UpstreamError};
use crate::routing::ProviderKind;
use crate::translate::anthropic::{self as anthropic, ChatToMessagesOptions};
use crate::translate::peek::ChatPeek;
use crate::translate::stream::AnthropicToChat;

/// `max_tokens` for Anthropic when an OpenAI request names none (Anthropic requires it).
pub const DEFAULT_ANTHROPIC_MAX_TOKENS: u32 = 4096;

pub async fn completions(
    State(state): State<AppState>,
    principal: Principal,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let peek = ChatPeek::parse(&body)?;
    let route = dispatch::resolve(&state, &principal, &peek.model)?;
    let upstreams = state.upstreams();
    let idle = upstreams.timeouts().idle_timeout;
    match route.provider {
        ProviderKind::OpenAi => {
            let upstream = upstreams
                .openai
                .chat_completions(peek.with_model(&body, &route.upstream_model))
                .await?;
            Ok(dispatch::relay_response(
                upstream,
                StreamDialect::OpenAi,
                idle,
            ))
        }
        ProviderKind::Anthropic => {
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
                .messages(to_bytes(&translated), &AnthropicHeaders::default())
                .await?;
            let model = peek.model.as_ref();
            dispatch::translated_response(
                upstream,
                Box::new(AnthropicToChat::new(model, wants_usage(&req))),
                |v| anthropic::messages_response_to_chat(v, model),
                idle,
            )
            .await
        }
        other => Err(UpstreamError::Unsupported {
            provider: other,
            model: peek.model.into_owned(),
        }
        .into()),
    }
}
