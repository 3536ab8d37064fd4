//! `POST /v1/messages` (scope `chat`): Anthropic format in and out, served by
//! Anthropic (bytes forwarded, events untouched), OpenAI-dialect providers
//! (translated both ways) or Gemini (through the OpenAI shapes).
//! Errors on this route are rendered in Anthropic's shape by the route's layer.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use crate::app::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::http::dispatch::{self, Billing, body_json, to_bytes};
use crate::http::extract::RawBody;
use crate::metering::meter::Meter;
use crate::metering::observe::BodyFormat;
use crate::providers::relay::StreamDialect;
use crate::providers::{AnthropicHeaders, OpenAiEndpoint, UpstreamError};
use crate::routing::Dialect;
use crate::routing::byok::Endpoint;
use crate::translate::anthropic;
use crate::translate::gemini::{self, GeminiToChat};
use crate::translate::peek::ChatPeek;
use crate::translate::stream::{Chain, ChatToAnthropic};

pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    meter: Meter,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let peek = ChatPeek::parse(&body)?;
    let routed = dispatch::route(
        &state,
        &principal,
        &headers,
        Endpoint::Messages,
        &peek.model,
    )
    .await?;
    dispatch::bill(
        &state,
        &principal,
        &routed,
        &peek.model,
        Billing {
            meter: &meter,
            body: &body,
            streamed: peek.stream,
            format: if peek.stream {
                BodyFormat::AnthropicSse
            } else {
                BodyFormat::AnthropicJson
            },
            caller_wants_usage: true,
        },
    )
    .await?;
    let route = &routed.route;
    let account = routed.account();
    let upstreams = state.upstreams();
    let idle = upstreams.timeouts().idle_timeout;
    let model = peek.model.as_ref();
    match route.provider.dialect() {
        Dialect::Anthropic => {
            let passed = AnthropicHeaders {
                version: headers.get("anthropic-version").cloned(),
                beta: headers.get("anthropic-beta").cloned(),
            };
            let upstream = upstreams
                .anthropic
                .messages(
                    peek.with_model(&body, &route.upstream_model),
                    &passed,
                    account,
                )
                .await?;
            Ok(dispatch::relay_response(
                upstream,
                StreamDialect::Anthropic,
                idle,
            ))
        }
        Dialect::OpenAi => {
            let req = body_json(&body)?;
            let translated = anthropic::messages_request_to_chat(&req, &route.upstream_model)?;
            let upstream = upstreams
                .openai(route.provider)?
                .post(
                    OpenAiEndpoint::ChatCompletions,
                    &route.upstream_model,
                    to_bytes(&translated),
                    account,
                )
                .await?;
            dispatch::translated_response(
                upstream,
                Box::new(ChatToAnthropic::new(model)),
                |v| anthropic::chat_response_to_messages(v, model),
                idle,
            )
            .await
        }
        Dialect::Gemini => {
            let req = body_json(&body)?;
            let chat = anthropic::messages_request_to_chat(&req, &route.upstream_model)?;
            let upstream = dispatch::call_gemini(
                upstreams,
                &route.upstream_model,
                peek.stream,
                &chat,
                account,
            )
            .await?;
            dispatch::translated_response(
                upstream,
                Box::new(Chain::new(
                    Box::new(GeminiToChat::new(model, true)),
                    Box::new(ChatToAnthropic::new(model)),
                )),
                |v| {
                    let chat = gemini::gemini_response_to_chat(v, model)?;
                    anthropic::chat_response_to_messages(&chat, model)
                },
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
