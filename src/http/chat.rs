//! `POST /v1/chat/completions` (scope `chat`): OpenAI format in and out, served by
//! OpenAI or a compatible vendor (bytes forwarded), Anthropic or Gemini (translated
//! both ways, streams included).

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
use crate::translate::anthropic::{self as anthropic, ChatToMessagesOptions};
use crate::translate::gemini::{self, GeminiToChat};
use crate::translate::peek::{ChatPeek, wants_stream_usage, with_stream_usage};
use crate::translate::stream::AnthropicToChat;

/// `max_tokens` for Anthropic when an OpenAI request names none (Anthropic requires it).
pub const DEFAULT_ANTHROPIC_MAX_TOKENS: u32 = 4096;

pub async fn completions(
    State(state): State<AppState>,
    principal: Principal,
    meter: Meter,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let peek = ChatPeek::parse(&body)?;
    let routed = dispatch::route(&state, &principal, &headers, Endpoint::Chat, &peek.model).await?;
    let caller_wants_usage = wants_stream_usage(&body);
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
                BodyFormat::OpenAiSse
            } else {
                BodyFormat::OpenAiJson
            },
            caller_wants_usage,
        },
    )
    .await?;
    let route = &routed.route;
    let account = routed.account();
    let upstreams = state.upstreams();
    let idle = upstreams.timeouts().idle_timeout;
    let model = peek.model.as_ref();
    match route.provider.dialect() {
        Dialect::OpenAi => {
            let mut forwarded = peek.with_model(&body, &route.upstream_model);
            if peek.stream {
                // Always ask for the usage chunk, to meter the stream; the meter
                // removes it again if the caller did not ask.
                forwarded = with_stream_usage(&forwarded);
            }
            let upstream = upstreams
                .openai(route.provider)?
                .post(
                    OpenAiEndpoint::ChatCompletions,
                    &route.upstream_model,
                    forwarded,
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
                Box::new(AnthropicToChat::new(model, true)),
                |v| anthropic::messages_response_to_chat(v, model),
                idle,
            )
            .await
        }
        Dialect::Gemini => {
            let req = body_json(&body)?;
            let upstream =
                dispatch::call_gemini(upstreams, &route.upstream_model, peek.stream, &req, account)
                    .await?;
            dispatch::translated_response(
                upstream,
                Box::new(GeminiToChat::new(model, true)),
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
