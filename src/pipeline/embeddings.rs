//! OpenAI embeddings served by Gemini (`embedContent` / `batchEmbedContents`).
//!
//! The official openai Python SDK asks for `encoding_format: "base64"` when the
//! caller names none, and decodes strings as little-endian f32; so whenever base64
//! was asked for we encode Gemini's floats that way. Gemini reports no token usage
//! for embeddings, so the answer carries an estimate (~4 characters a token).

use base64::Engine;
use serde_json::{Value, json};

use super::table::{Ctx, Outbound, json, to_bytes};
use crate::error::ApiError;
use crate::providers::{Operation, UpstreamError};
use crate::routing::ProviderKind;
use crate::translate::gemini::{self, GeminiEmbedRequest};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Float,
    Base64,
}

fn encoding(req: &Value) -> Result<Encoding, ApiError> {
    match req.get("encoding_format") {
        None | Some(Value::Null) => Ok(Encoding::Float),
        Some(v) if v == "float" => Ok(Encoding::Float),
        Some(v) if v == "base64" => Ok(Encoding::Base64),
        Some(_) => Err(ApiError::invalid_field(
            "encoding_format",
            "`encoding_format` must be \"float\" or \"base64\"",
        )),
    }
}

pub fn to_gemini(c: &Ctx<'_>) -> Result<Outbound, ApiError> {
    let req = json(c.body)?;
    encoding(&req)?;
    let model_path = format!("models/{}", c.upstream_model);
    let (batch, payload) = match gemini::embeddings_request_to_gemini(&req, &model_path)? {
        GeminiEmbedRequest::Single(v) => (false, v),
        GeminiEmbedRequest::Batch(v) => (true, v),
    };
    Ok(Outbound {
        operation: Operation::Embeddings { batch },
        body: to_bytes(&payload),
    })
}

/// Gemini's `batchEmbedContents` accepts at most this many requests per call.
pub const GEMINI_MAX_BATCH: usize = 100;

/// A `batchEmbedContents` body over [`GEMINI_MAX_BATCH`] requests, cut into bodies
/// of at most that many, in order; `None` when it fits in one call.
pub fn split_batch(body: &[u8]) -> Option<Vec<bytes::Bytes>> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let requests = v.get("requests")?.as_array()?;
    if requests.len() <= GEMINI_MAX_BATCH {
        return None;
    }
    Some(
        requests
            .chunks(GEMINI_MAX_BATCH)
            .map(|chunk| to_bytes(&json!({ "requests": chunk })))
            .collect(),
    )
}

/// The answers of the split calls as one `batchEmbedContents` answer: their
/// `embeddings` concatenated in the order the calls were made.
pub fn join_batches(answers: &[Value]) -> Result<Value, ApiError> {
    let mut all = Vec::new();
    for a in answers {
        let part = a
            .get("embeddings")
            .and_then(Value::as_array)
            .ok_or_else(|| UpstreamError::Protocol {
                provider: ProviderKind::Gemini,
                detail: "a batchEmbedContents answer has no `embeddings` array".into(),
            })?;
        all.extend(part.iter().cloned());
    }
    Ok(json!({ "embeddings": all }))
}

pub fn from_gemini(answer: &Value, request: &[u8], model: &str) -> Result<Value, ApiError> {
    let req = json(request)?;
    let encoding = encoding(&req)?;
    let vectors = gemini::gemini_embeddings(answer).map_err(|e| UpstreamError::Protocol {
        provider: ProviderKind::Gemini,
        detail: format!("cannot read the embeddings: {e}"),
    })?;
    let tokens = estimate_tokens(&req);
    let data: Vec<Value> = vectors
        .iter()
        .enumerate()
        .map(|(i, v)| json!({"object": "embedding", "index": i, "embedding": encode(v, encoding)}))
        .collect();
    Ok(json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }))
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
    fn batches_over_100_are_split_in_order_and_joined() {
        let requests: Vec<Value> = (0..250)
            .map(|i| json!({"content": {"parts": [{"text": i.to_string()}]}}))
            .collect();
        let body = serde_json::to_vec(&json!({"requests": requests})).unwrap();
        let parts = split_batch(&body).unwrap();
        assert_eq!(parts.len(), 3);
        let sizes: Vec<usize> = parts
            .iter()
            .map(|p| {
                serde_json::from_slice::<Value>(p).unwrap()["requests"]
                    .as_array()
                    .unwrap()
                    .len()
            })
            .collect();
        assert_eq!(sizes, [100, 100, 50]);
        let first: Value = serde_json::from_slice(&parts[1]).unwrap();
        assert_eq!(first["requests"][0]["content"]["parts"][0]["text"], "100");
        let small = serde_json::to_vec(&json!({"requests": [{"content": {}}]})).unwrap();
        assert!(split_batch(&small).is_none());
        let joined = join_batches(&[
            json!({"embeddings": [{"values": [1.0]}]}),
            json!({"embeddings": [{"values": [2.0]}, {"values": [3.0]}]}),
        ])
        .unwrap();
        assert_eq!(joined["embeddings"].as_array().unwrap().len(), 3);
        assert_eq!(joined["embeddings"][2]["values"][0], 3.0);
    }

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
