//! `POST /v1/messages` (scope `chat`): Anthropic format in and out, served by
//! Anthropic (bytes forwarded, events untouched) or OpenAI (translated both ways).
//! Errors on this route are rendered in Anthropic's shape by the route's layer.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use crate::app::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::http::dispatch::{self, body_json, to_bytes};
use crate::http::extract::RawBody;
use crate::providers::relay::StreamDialect;
use crate::providers::{AnthropicHeaders, UpstreamError};
use crate::routing::ProviderKind;
use crate::translate::anthropic;
use crate::translate::peek::ChatPeek;
use crate::translate::stream::ChatToAnthropic;

pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let peek = ChatPeek::parse(&body)?;
    let route = dispatch::resolve(&state, &principal, &peek.model)?;
    let upstreams = state.upstreams();
    let idle = upstreams.timeouts().idle_timeout;
    match route.provider {
        ProviderKind::Anthropic => {
            let passed = AnthropicHeaders {
                version: headers.get("anthropic-version").cloned(),
                beta: headers.get("anthropic-beta").cloned(),
            };
            let upstream = upstreams
                .anthropic
                .messages(peek.with_model(&body, &route.upstream_model), &passed)
                .await?;
            Ok(dispatch::relay_response(
                upstream,
                StreamDialect::Anthropic,
                idle,
            ))
        }
        ProviderKind::OpenAi => {
            let req = body_json(&body)?;
            let translated = anthropic::messages_request_to_chat(&req, &route.upstream_model)?;
            let upstream = upstreams
                .openai
                .chat_completions(to_bytes(&translated))
                .await?;
            let model = peek.model.as_ref();
            dispatch::translated_response(
                upstream,
                Box::new(ChatToAnthropic::new(model)),
                |v| anthropic::chat_response_to_messages(v, model),
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
