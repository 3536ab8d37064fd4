//! OpenAI embeddings ⇄ Gemini `embedContent` / `batchEmbedContents`
//! (wire-formats.md §3 "Embeddings", §5.5).
//!
//! One string goes to `:embedContent`; an array of strings (even of one) goes to
//! `:batchEmbedContents`, whose every request names the model again. Gemini embeds
//! text only, so token-id inputs are refused. Gemini reports no token usage for
//! embeddings; the caller estimates it (wire-formats.md §6).

use serde_json::{Map, Value, json};

use super::TranslateError;
use crate::translate::shape::{body, expected, field, item, object, opt_array, opt_u64, present};

/// A Gemini embeddings request body and the method it is for.
#[derive(Debug, Clone, PartialEq)]
pub enum GeminiEmbedRequest {
    /// For `models/{model}:embedContent`.
    Single(Value),
    /// For `models/{model}:batchEmbedContents`.
    Batch(Value),
}

/// OpenAI embeddings request → a Gemini embed body. `model_path` is the upstream
/// model as Gemini names it (`models/gemini-embedding-001`), needed inside each batch
/// request. `dimensions` → `outputDimensionality`; `encoding_format` is left to the
/// caller (the translated response is floats), `user` is dropped.
pub fn embeddings_request_to_gemini(
    req: &Value,
    model_path: &str,
) -> Result<GeminiEmbedRequest, TranslateError> {
    let req = body(req)?;
    let dimensions = match opt_u64(req, "dimensions", "")? {
        Some(0) => return Err(expected("dimensions", "at least 1")),
        other => other,
    };
    let request = |text: &str, model: Option<&str>| {
        let mut out = Map::new();
        if let Some(model) = model {
            out.insert("model".into(), model.into());
        }
        out.insert("content".into(), json!({ "parts": [{ "text": text }] }));
        if let Some(dimensions) = dimensions {
            out.insert("outputDimensionality".into(), dimensions.into());
        }
        Value::Object(out)
    };
    match present(req, "input") {
        Some(Value::String(text)) => {
            nonempty(text, "input")?;
            Ok(GeminiEmbedRequest::Single(request(text, None)))
        }
        Some(Value::Array(inputs)) if !inputs.is_empty() => {
            let requests = inputs
                .iter()
                .enumerate()
                .map(|(i, input)| {
                    let path = item("input", i);
                    match input {
                        Value::String(text) => {
                            nonempty(text, &path)?;
                            Ok(request(text, Some(model_path)))
                        }
                        Value::Number(_) | Value::Array(_) => Err(token_ids()),
                        _ => Err(expected(&path, "a string")),
                    }
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(GeminiEmbedRequest::Batch(json!({ "requests": requests })))
        }
        _ => Err(expected(
            "input",
            "a non-empty string or a non-empty array of strings",
        )),
    }
}

fn nonempty(text: &str, path: &str) -> Result<(), TranslateError> {
    if text.is_empty() {
        Err(expected(path, "a non-empty string"))
    } else {
        Ok(())
    }
}

/// Always named `input`: the fix is the same whichever element it was.
fn token_ids() -> TranslateError {
    TranslateError::new(
        "input",
        "Gemini embedding models take text only; send `input` as a string or an array \
         of strings, not token ids",
    )
}

/// A Gemini embed response (`{"embedding":{"values"}}` or
/// `{"embeddings":[{"values"}]}`) → the vectors, in input order.
pub fn gemini_embeddings(resp: &Value) -> Result<Vec<Vec<f32>>, TranslateError> {
    let resp = body(resp)?;
    if let Some(embedding) = present(resp, "embedding") {
        return Ok(vec![values(embedding, "embedding")?]);
    }
    match opt_array(resp, "embeddings", "")? {
        Some(embeddings) => embeddings
            .iter()
            .enumerate()
            .map(|(i, e)| values(e, &item("embeddings", i)))
            .collect(),
        None => Err(expected(
            "body",
            "an object with `embedding` or `embeddings`",
        )),
    }
}

/// `{"values":[…]}` → the floats.
fn values(embedding: &Value, path: &str) -> Result<Vec<f32>, TranslateError> {
    let embedding = object(embedding, path)?;
    let values_path = field(path, "values");
    let values = opt_array(embedding, "values", path)?
        .ok_or_else(|| expected(&values_path, "an array of numbers"))?;
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            v.as_f64()
                // Embedding components are small; f32 is what OpenAI sends.
                .map(|x| x as f32)
                .ok_or_else(|| expected(&item(&values_path, i), "a number"))
        })
        .collect()
}
