//! `POST /v1/embeddings` (scope `embeddings`): OpenAI format, served by OpenAI
//! (bytes forwarded) or Gemini (`embedContent` / `batchEmbedContents`).
//!
//! The official openai Python SDK asks for `encoding_format: "base64"` when the
//! caller names none, and decodes strings as little-endian f32; so whenever base64
//! was asked for we encode Gemini's floats that way.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::http::dispatch::{self, Billing, MAX_TRANSLATED_BODY, body_json, to_bytes};
use crate::http::extract::RawBody;
use crate::metering::meter::Meter;
use crate::metering::observe::BodyFormat;
use crate::providers::relay::StreamDialect;
use crate::providers::{GeminiMethod, OpenAiEndpoint, UpstreamError};
use crate::routing::Dialect;
use crate::routing::byok::Endpoint;
use crate::translate::gemini::{self, GeminiEmbedRequest};
use crate::translate::peek::{ChatPeek, Shape};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Float,
    Base64,
}

pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    meter: Meter,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let peek = ChatPeek::parse_as(&body, Shape::Input)?;
    let routed = dispatch::route(
        &state,
        &principal,
        &headers,
        Endpoint::Embeddings,
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
            streamed: false,
            format: BodyFormat::OpenAiJson,
            caller_wants_usage: true,
        },
    )
    .await?;
    let route = &routed.route;
    let upstreams = state.upstreams();
    match route.provider.dialect() {
        Dialect::OpenAi => {
            let upstream = upstreams
                .openai(route.provider)?
                .post(
                    OpenAiEndpoint::Embeddings,
                    &route.upstream_model,
                    peek.with_model(&body, &route.upstream_model),
                    routed.account(),
                )
                .await?;
            Ok(dispatch::relay_response(
                upstream,
                StreamDialect::OpenAi,
                upstreams.timeouts().idle_timeout,
            ))
        }
        Dialect::Gemini => {
            let req = body_json(&body)?;
            let encoding = match req.get("encoding_format") {
                None | Some(Value::Null) => Encoding::Float,
                Some(v) if v == "float" => Encoding::Float,
                Some(v) if v == "base64" => Encoding::Base64,
                Some(_) => {
                    return Err(ApiError::invalid_field(
                        "encoding_format",
                        "`encoding_format` must be \"float\" or \"base64\"",
                    ));
                }
            };
            let model_path = format!("models/{}", route.upstream_model);
            let (method, payload) = match gemini::embeddings_request_to_gemini(&req, &model_path)? {
                GeminiEmbedRequest::Single(v) => (GeminiMethod::Embed, v),
                GeminiEmbedRequest::Batch(v) => (GeminiMethod::BatchEmbed, v),
            };
            let upstream = upstreams
                .gemini
                .call(
                    method,
                    &route.upstream_model,
                    to_bytes(&payload),
                    routed.account(),
                )
                .await?;
            let provider = upstream.provider;
            let answer = upstream.json(MAX_TRANSLATED_BODY).await?;
            let vectors =
                gemini::gemini_embeddings(&answer).map_err(|e| UpstreamError::Protocol {
                    provider,
                    detail: format!("cannot read the embeddings: {e}"),
                })?;
            let tokens = estimate_tokens(&req);
            let data: Vec<Value> = vectors
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    json!({"object": "embedding", "index": i, "embedding": encode(v, encoding)})
                })
                .collect();
            Ok(Json(json!({
                "object": "list",
                "data": data,
                "model": peek.model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }))
            .into_response())
        }
        Dialect::Anthropic | Dialect::Deepgram => Err(UpstreamError::Unsupported {
            provider: route.provider,
            model: peek.model.into_owned(),
        }
        .into()),
    }
}

fn encode(v: &[f32], encoding: Encoding) -> Value {
    match encoding {
        Encoding::Float => json!(v),
        Encoding::Base64 => {
            let bytes: Vec<u8> = v.iter().flat_map(|f| f.to_le_bytes()).collect();
            Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
        }
    }
}

/// Gemini reports no token usage for embeddings: estimate ~4 characters a token.
fn estimate_tokens(req: &Value) -> u64 {
    fn chars(v: &Value) -> usize {
        match v {
            Value::String(s) => s.chars().count(),
            Value::Array(a) => a.iter().map(chars).sum(),
            _ => 0,
        }
    }
    let n = req.get("input").map(chars).unwrap_or(0);
    n.div_ceil(4).max(1) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_is_little_endian_f32() {
        let v = [1.0f32, -0.5, 0.25];
        let Value::String(b64) = encode(&v, Encoding::Base64) else {
            panic!("string expected")
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        let back: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        assert_eq!(back, v);
    }
}
