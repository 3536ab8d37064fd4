//! Gemini's Generative Language API v1beta (`wire-formats.md` §3): `POST
//! /v1beta/models/{model}:{method}` for `generateContent`,
//! `streamGenerateContent` (`?alt=sse`: SSE; without it: one JSON array),
//! `embedContent` and `batchEmbedContents`. A gateway's Gemini `base_url`
//! is the mock's root.
//!
//! - [`request`]: body checks, and what the reply depends on.
//! - [`response`]: the reply as a `GenerateContentResponse` and as chunks.
//! - [`embed`]: the two embedding methods.
//!
//! Auth first, as Google does: the key is `x-goog-api-key` or `?key=`
//! (header first). None (or blank) is 403 `PERMISSION_DENIED`, Google's
//! answer to an anonymous caller, not a 401; the key `bad` is 400
//! `INVALID_ARGUMENT` with an `API_KEY_INVALID` detail, Google's answer to
//! an unknown key. Any other key is accepted. An unknown method is a
//! Gemini-shaped 404 `NOT_FOUND`.
//!
//! SSE events are `data: <json>` ended by `\r\n\r\n`, the line ends Google
//! sends, with no `event:` line and no `[DONE]`: the stream simply ends.
//! Like the other dialects it reads only what changes the answer.

mod embed;
mod request;
mod response;

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, StatusCode, Uri};

use self::response::{Answer, Generation};
use super::MockState;
use super::directives::Directives;
use super::error_body::GeminiError;
use super::event_stream::{self, Ending};
use super::query;
use super::reply;
use super::stats::StreamGuard;

/// The key that stands for a revoked or mistyped one.
const INVALID_KEY: &str = "bad";

/// `POST /v1beta/models/{model}:{method}`; axum hands over the whole last
/// segment, since the method follows a colon, not a slash.
pub(crate) async fn models(
    State(state): State<Arc<MockState>>,
    Path(target): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let n = state.next_response_number();
    answer(&state, n, &target, &uri, &headers, &body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    GenerateContent,
    StreamGenerateContent,
    EmbedContent,
    BatchEmbedContents,
    CountTokens,
}

impl Method {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "generateContent" => Some(Self::GenerateContent),
            "streamGenerateContent" => Some(Self::StreamGenerateContent),
            "embedContent" => Some(Self::EmbedContent),
            "batchEmbedContents" => Some(Self::BatchEmbedContents),
            "countTokens" => Some(Self::CountTokens),
            _ => None,
        }
    }
}

/// How a generation is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    /// `:generateContent`: one response object.
    Whole,
    /// `:streamGenerateContent?alt=sse`: one SSE event per chunk.
    Sse,
    /// `:streamGenerateContent` without `alt=sse`: the chunks as one JSON
    /// array, still sent chunk by chunk.
    JsonArray,
}

async fn answer(
    state: &MockState,
    n: u64,
    target: &str,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, GeminiError> {
    let (model, method) = target
        .rsplit_once(':')
        .and_then(|(model, method)| {
            Some(model)
                .filter(|m| !m.is_empty())
                .zip(Method::parse(method))
        })
        .ok_or_else(|| {
            GeminiError::new(
                StatusCode::NOT_FOUND,
                format!(
                    "`models/{target}` is not a method of the mock; it serves \
                     models/{{model}}:generateContent, :streamGenerateContent, \
                     :countTokens, :embedContent and :batchEmbedContents"
                ),
            )
        })?;
    check_key(headers, uri)?;
    match method {
        Method::GenerateContent => generate(state, n, model, body, Delivery::Whole).await,
        Method::StreamGenerateContent => {
            let delivery = match query::param(uri, "alt").as_deref() {
                Some("sse") => Delivery::Sse,
                _ => Delivery::JsonArray,
            };
            generate(state, n, model, body, delivery).await
        }
        Method::EmbedContent => embed::embed_content(body).await,
        Method::BatchEmbedContents => embed::batch_embed_contents(model, body).await,
        Method::CountTokens => count_tokens(body),
    }
}

/// `:countTokens`: `{"totalTokens": N}`, N counted as for a generation's
/// `promptTokenCount`. The body is `{contents}` or `{generateContentRequest}`.
fn count_tokens(body: &[u8]) -> Result<Response, GeminiError> {
    let v: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| GeminiError::invalid(format!("Invalid JSON payload received. {e}")))?;
    let inner = match v.get("generateContentRequest") {
        Some(g) => {
            let mut g = g.clone();
            if let Some(o) = g.as_object_mut() {
                o.remove("model");
            }
            g
        }
        None => v,
    };
    let request = request::parse(inner.to_string().as_bytes())?;
    Ok(Json(serde_json::json!({"totalTokens": request.prompt_tokens})).into_response())
}

fn check_key(headers: &HeaderMap, uri: &Uri) -> Result<(), GeminiError> {
    let key = match headers.get("x-goog-api-key") {
        Some(value) => Some(String::from_utf8_lossy(value.as_bytes()).into_owned()),
        None => query::param(uri, "key"),
    };
    match key.as_deref().map(str::trim) {
        None | Some("") => Err(GeminiError::new(
            StatusCode::FORBIDDEN,
            "Method doesn't allow unregistered callers (callers without established \
             identity). Please use API Key or other form of API consumer identity to \
             call this API.",
        )),
        Some(INVALID_KEY) => Err(GeminiError::api_key_invalid()),
        Some(_) => Ok(()),
    }
}

async fn generate(
    state: &MockState,
    n: u64,
    model: &str,
    body: &[u8],
    delivery: Delivery,
) -> Result<Response, GeminiError> {
    let request = request::parse(body)?;
    let turn = &request.last_turn;
    let directives = Directives::parse(&turn.directive_text());
    if let Some(status) = directives.delay_then_status().await {
        return Err(GeminiError::injected(status));
    }

    let answer = match request.first_function {
        _ if directives.blocked => Answer::Blocked,
        Some(name) if directives.tool_call => Answer::FunctionCall { name },
        _ => Answer::Text(match turn.function_responses.first() {
            Some(json) => reply::function_response_reply_text(json, &directives),
            None => reply::reply_text(&turn.text, &directives),
        }),
    };
    let generation = Generation {
        response_id: format!("mock-{n}"),
        model: model.to_owned(),
        answer,
        prompt_tokens: request.prompt_tokens,
        thoughts: directives.thoughts,
    };

    let frames: Vec<Bytes> = match delivery {
        Delivery::Whole if directives.drop_after.is_some() => {
            return Ok(Response::new(event_stream::broken_body()));
        }
        Delivery::Whole => return Ok(Json(generation.to_json()).into_response()),
        Delivery::Sse => generation
            .chunks()
            .iter()
            .map(|chunk| Bytes::from(format!("data: {chunk}\r\n\r\n")))
            .collect(),
        Delivery::JsonArray => json_array_frames(&generation.chunks()),
    };
    let guard = StreamGuard::start(Arc::clone(&state.stats));
    let body = event_stream::body(frames, Ending::Complete, &directives, guard);
    if delivery == Delivery::Sse {
        return Ok(event_stream::sse_response(body));
    }
    let mut response = Response::new(body);
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

/// `[`, the chunks separated by `,\r\n`, `]`, one chunk per frame, so the
/// array streams (and `drop_after` cuts it) the way Google's does.
fn json_array_frames(chunks: &[serde_json::Value]) -> Vec<Bytes> {
    let last = chunks.len().saturating_sub(1);
    chunks
        .iter()
        .enumerate()
        .map(|(i, chunk)| {
            let open = if i == 0 { "[" } else { ",\r\n" };
            let close = if i == last { "]" } else { "" };
            Bytes::from(format!("{open}{chunk}{close}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    #[test]
    fn array_frames_concatenate_to_the_chunks() -> Result<(), serde_json::Error> {
        let chunks = vec![json!({"a": 1}), json!({"b": 2}), json!({"c": 3})];
        let frames = json_array_frames(&chunks);
        assert_eq!(frames.len(), 3);
        let joined: Vec<u8> = frames.concat();
        assert_eq!(
            serde_json::from_slice::<Value>(&joined)?,
            Value::Array(chunks)
        );
        let one = json_array_frames(&[json!(1)]);
        assert_eq!(one, [Bytes::from_static(b"[1]")]);
        Ok(())
    }

    #[test]
    fn methods_follow_the_last_colon() {
        assert_eq!(
            Method::parse("generateContent"),
            Some(Method::GenerateContent)
        );
        assert_eq!(Method::parse("GenerateContent"), None);
        assert_eq!(Method::parse("countTokens"), Some(Method::CountTokens));
        assert_eq!(Method::parse("frobnicate"), None);
    }
}
