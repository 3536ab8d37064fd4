//! `POST /v1/chat/completions` (scope `chat`).

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::Response;

use crate::app::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::http::extract::RawBody;
use crate::providers::relay::{self, StreamDialect};
use crate::providers::{UpstreamError, UpstreamResponse};
use crate::routing::ProviderKind;
use crate::translate::peek::ChatPeek;

pub async fn completions(
    State(state): State<AppState>,
    principal: Principal,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let peek = ChatPeek::parse(&body)?;
    let upstreams = state.upstreams();
    let route = state
        .catalog()
        .resolve(&peek.model, |p| upstreams.has_credentials(p))
        .ok_or_else(|| ApiError::UnknownModel(peek.model.clone().into_owned()))?;
    tracing::Span::current().record("model", &*route.upstream_model);
    if !principal
        .key
        .policy
        .allows_model(&peek.model, &route.upstream_model, route.provider)
    {
        return Err(ApiError::ModelNotAllowed(peek.model.into_owned()));
    }
    let upstream = match route.provider {
        ProviderKind::OpenAi => {
            upstreams
                .openai
                .chat_completions(peek.with_model(&body, &route.upstream_model))
                .await?
        }
        other => {
            return Err(UpstreamError::Unsupported {
                provider: other,
                model: peek.model.into_owned(),
            }
            .into());
        }
    };
    Ok(relay_response(
        upstream,
        StreamDialect::OpenAi,
        upstreams.timeouts().idle_timeout,
    ))
}

/// The caller's response for a 2xx upstream answer: streamed either way, never buffered.
pub fn relay_response(
    upstream: UpstreamResponse,
    dialect: StreamDialect,
    idle: std::time::Duration,
) -> Response {
    let status = upstream.status;
    let provider = upstream.provider;
    let is_stream = upstream.is_event_stream();
    let content_type = upstream
        .content_type
        .clone()
        .unwrap_or(HeaderValue::from_static("application/json"));
    let body = if is_stream {
        Body::from_stream(relay::sse(upstream.response, provider, dialect, idle))
    } else {
        Body::from_stream(relay::passthrough(upstream.response, idle))
    };
    let mut res = Response::new(body);
    *res.status_mut() = status;
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type);
    if is_stream {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        // Tells nginx-style proxies in front of us not to buffer the stream.
        headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    }
    res
}
