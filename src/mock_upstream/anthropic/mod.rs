//! `POST /v1/messages` in Anthropic's real wire format (`wire-formats.md`
//! §2): `message` objects, named SSE event streams, `tool_use` blocks, the
//! in-stream `event: error`, and Anthropic's error bodies (shaped in
//! `error_body`). A gateway's Anthropic `base_url` is the mock's root.
//!
//! - [`headers`]: key and `anthropic-version` checks.
//! - [`request`]: body checks, and what the reply depends on.
//! - [`message`]: the reply as a `message` and as stream events.
//!
//! Like the OpenAI mock it reads only what changes the answer; it must not
//! grow gateway logic.

mod headers;
mod message;
mod request;

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue};

use self::message::{Answer, Event, Reply};
use self::request::Delivery;
use super::MockState;
use super::directives::Directives;
use super::error_body::{AnthropicError, REQUEST_ID};
use super::event_stream::{self, Ending};
use super::reply;
use super::stats::StreamGuard;

/// `POST /v1/messages`.
pub(crate) async fn messages(
    State(state): State<Arc<MockState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let n = state.next_response_number();
    let request_id = format!("req_mock_{n}");
    let mut response = match answer(&state, n, &headers, &body).await {
        Ok(response) => response,
        Err(error) => error.request_id(request_id.clone()).into_response(),
    };
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// `POST /v1/messages/count_tokens`: `{"input_tokens": N}`, N counted as for a
/// message's `usage.input_tokens` (`max_tokens` is not required here).
pub(crate) async fn count_tokens(headers: HeaderMap, body: Bytes) -> Response {
    let mut v: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return AnthropicError::new(
                http::StatusCode::BAD_REQUEST,
                format!("There was an error parsing the body of your request: {e}"),
            )
            .into_response();
        }
    };
    if let Some(o) = v.as_object_mut() {
        o.entry("max_tokens").or_insert(serde_json::json!(1));
        o.remove("stream");
    }
    match request::validate(&headers, v.to_string().as_bytes()) {
        Ok(r) => Json(serde_json::json!({"input_tokens": r.input_tokens})).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn answer(
    state: &MockState,
    n: u64,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, AnthropicError> {
    let request = request::validate(headers, body)?;
    let directives = Directives::parse(&request.last_turn.directive_text());

    if let Some(status) = directives.delay_then_status().await {
        return Err(AnthropicError::injected(status));
    }

    let answer = match request.first_tool {
        Some(name) if directives.tool_call => Answer::ToolUse { name },
        _ => Answer::Text(match &request.last_turn.tool_result {
            Some(result) => reply::tool_result_reply_text(result, &directives),
            None => reply::reply_text(&request.last_turn.text, &directives),
        }),
    };
    let reply = Reply {
        id: format!("msg_mock_{n}"),
        model: request.model,
        answer,
        input_tokens: request.input_tokens,
    };

    match request.delivery {
        Delivery::Whole if directives.drop_after.is_some() => {
            return Ok(Response::new(event_stream::broken_body()));
        }
        // `stream_error` only means something in a stream; a whole message
        // that fails is a `status=529`.
        Delivery::Whole => return Ok(Json(reply.to_json()).into_response()),
        Delivery::Stream => {}
    }
    let mut events = reply.stream_events();
    let ending = if directives.stream_error {
        message::fail_after_first_delta(&mut events);
        Ending::Failed
    } else {
        Ending::Complete
    };
    let frames = events.iter().map(Event::to_frame).collect();
    let guard = StreamGuard::start(Arc::clone(&state.stats));
    let body = event_stream::body(frames, ending, &directives, guard);
    Ok(event_stream::sse_response(body))
}
