//! OpenAI endpoints forwarded as they are to OpenAI-dialect providers:
//! `POST /v1/completions` (scope `completions`) and `POST /v1/images/generations`
//! (scope `images`). Neither has a translation to other providers, nor BYOK.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use crate::app::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::http::dispatch::{self, Billing};
use crate::http::extract::RawBody;
use crate::metering::meter::Meter;
use crate::metering::observe::BodyFormat;
use crate::providers::relay::StreamDialect;
use crate::providers::{OpenAiEndpoint, UpstreamError};
use crate::routing::Dialect;
use crate::routing::byok::Endpoint;
use crate::translate::peek::{ChatPeek, Shape, wants_stream_usage, with_stream_usage};

pub async fn completions(
    State(state): State<AppState>,
    principal: Principal,
    meter: Meter,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    forward(
        &state,
        &principal,
        &meter,
        &headers,
        &body,
        Shape::Prompt,
        Endpoint::Completions,
        OpenAiEndpoint::Completions,
    )
    .await
}

pub async fn images(
    State(state): State<AppState>,
    principal: Principal,
    meter: Meter,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    forward(
        &state,
        &principal,
        &meter,
        &headers,
        &body,
        Shape::ImagePrompt,
        Endpoint::Images,
        OpenAiEndpoint::ImagesGenerations,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn forward(
    state: &AppState,
    principal: &Principal,
    meter: &Meter,
    headers: &HeaderMap,
    body: &bytes::Bytes,
    shape: Shape,
    endpoint: Endpoint,
    upstream_endpoint: OpenAiEndpoint,
) -> Result<Response, ApiError> {
    let peek = ChatPeek::parse_as(body, shape)?;
    let routed = dispatch::route(state, principal, headers, endpoint, &peek.model).await?;
    let route = &routed.route;
    if route.provider.dialect() != Dialect::OpenAi {
        return Err(UpstreamError::Unsupported {
            provider: route.provider,
            model: peek.model.into_owned(),
        }
        .into());
    }
    let format = match (upstream_endpoint, peek.stream) {
        (OpenAiEndpoint::ImagesGenerations, _) => BodyFormat::Opaque,
        (_, true) => BodyFormat::OpenAiSse,
        (_, false) => BodyFormat::OpenAiJson,
    };
    dispatch::bill(
        state,
        principal,
        &routed,
        &peek.model,
        Billing {
            meter,
            body,
            streamed: peek.stream,
            format,
            caller_wants_usage: wants_stream_usage(body),
        },
    )
    .await?;
    let mut forwarded = peek.with_model(body, &route.upstream_model);
    if format == BodyFormat::OpenAiSse {
        forwarded = with_stream_usage(&forwarded);
    }
    let upstreams = state.upstreams();
    let upstream = upstreams
        .openai(route.provider)?
        .post(
            upstream_endpoint,
            &route.upstream_model,
            forwarded,
            routed.account(),
        )
        .await?;
    Ok(dispatch::relay_response(
        upstream,
        StreamDialect::OpenAi,
        upstreams.timeouts().idle_timeout,
    ))
}
