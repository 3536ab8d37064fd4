//! `POST /v1/embeddings` (and Azure's deployment route to it) in OpenAI's
//! wire format (`wire-formats.md` §1): `input` as a string, strings, token
//! ids or arrays of token ids; `dimensions` (8 when absent);
//! `encoding_format` `float` (the default) or `base64`, little-endian `f32`
//! bytes, which openai-python asks for whenever the caller did not choose.
//!
//! Vectors come from [`embedding::vector`], so the same text embeds the same
//! way here and on Gemini's routes. A token-id input is embedded as its ids
//! joined by spaces. Usage counts each string's words and each id as one
//! token. Directives are read from the string inputs.

use axum::Json;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::super::directives::Directives;
use super::super::embedding::{self, DEFAULT_DIMENSIONS, MAX_DIMENSIONS};
use super::super::error_body::OpenAiError;
use super::super::event_stream;
use super::super::reply;
use super::{ModelFrom, invalid, parse_body};

/// OpenAI's limit on inputs per request.
const MAX_INPUTS: usize = 2048;

#[derive(Deserialize)]
struct EmbeddingsRequest {
    model: Option<String>,
    #[serde(default)]
    input: Value,
    dimensions: Option<i64>,
    encoding_format: Option<String>,
}

/// One input, as the mock embeds and counts it.
struct Input {
    text: String,
    tokens: u64,
    /// Token ids carry no directives.
    from_ids: bool,
}

enum Encoding {
    Float,
    Base64,
}

/// The answer to an embeddings request that passed the route's credential
/// check.
pub(super) async fn answer(
    body: &[u8],
    model_from: ModelFrom<'_>,
) -> Result<Response, OpenAiError> {
    let request: EmbeddingsRequest = parse_body(body)?;
    let model = model_from.resolve(request.model)?;
    let inputs = inputs(&request.input)?;
    let dimensions = match request.dimensions {
        None => DEFAULT_DIMENSIONS,
        Some(n) => usize::try_from(n)
            .ok()
            .filter(|n| (1..=MAX_DIMENSIONS).contains(n))
            .ok_or_else(|| {
                invalid(
                    "dimensions",
                    format!(
                        "Invalid value for 'dimensions' = {n}. \
                         Must be between 1 and {MAX_DIMENSIONS}."
                    ),
                )
            })?,
    };
    let encoding = match request.encoding_format.as_deref() {
        None | Some("float") => Encoding::Float,
        Some("base64") => Encoding::Base64,
        Some(other) => {
            return Err(invalid(
                "encoding_format",
                format!("'{other}' is not one of ['float', 'base64'] - 'encoding_format'"),
            ));
        }
    };

    let directive_text: Vec<&str> = inputs
        .iter()
        .filter(|i| !i.from_ids)
        .map(|i| i.text.as_str())
        .collect();
    let directives = Directives::parse(&directive_text.join(" "));
    if let Some(status) = directives.delay_then_status().await {
        return Err(OpenAiError::injected(status));
    }
    if directives.drop_after.is_some() {
        return Ok(Response::new(event_stream::broken_body()));
    }

    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, input)| {
            let vector = embedding::vector(&input.text, dimensions);
            let embedding = match encoding {
                Encoding::Float => json!(vector),
                Encoding::Base64 => json!(embedding::to_base64(&vector)),
            };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    let tokens: u64 = inputs.iter().map(|i| i.tokens).sum();
    Ok(Json(json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }))
    .into_response())
}

/// Every input, in order; OpenAI's 400 for an empty or mistyped `input`.
fn inputs(input: &Value) -> Result<Vec<Input>, OpenAiError> {
    let bad = || {
        invalid(
            "input",
            "'input' must be a non-empty string, array of non-empty strings, \
             array of token ids or array of token-id arrays",
        )
    };
    let items: Vec<&Value> = match input {
        Value::Null => {
            return Err(invalid("input", "Missing required parameter: 'input'.")
                .code("missing_required_parameter"));
        }
        Value::Array(items) if items.first().is_some_and(Value::is_number) => vec![input],
        Value::Array(items) => items.iter().collect(),
        single => vec![single],
    };
    if items.is_empty() || items.len() > MAX_INPUTS {
        return Err(bad());
    }
    items
        .into_iter()
        .map(|item| match item {
            Value::String(text) if !text.is_empty() => Ok(Input {
                text: text.clone(),
                tokens: reply::count_words(text),
                from_ids: false,
            }),
            Value::Array(ids) if !ids.is_empty() && ids.iter().all(Value::is_u64) => {
                let text: Vec<String> = ids.iter().map(ToString::to_string).collect();
                Ok(Input {
                    text: text.join(" "),
                    tokens: ids.len() as u64,
                    from_ids: true,
                })
            }
            _ => Err(bad()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(input: &Value) -> Result<Vec<(String, u64)>, String> {
        inputs(input)
            .map(|inputs| inputs.into_iter().map(|i| (i.text, i.tokens)).collect())
            .map_err(|_| format!("{input} rejected"))
    }

    #[test]
    fn every_input_form_is_read() {
        assert_eq!(texts(&json!("a b")), Ok(vec![("a b".into(), 2)]));
        assert_eq!(
            texts(&json!(["x", "y z"])),
            Ok(vec![("x".into(), 1), ("y z".into(), 2)])
        );
        assert_eq!(texts(&json!([5, 6, 7])), Ok(vec![("5 6 7".into(), 3)]));
        assert_eq!(
            texts(&json!([[1], [2, 3]])),
            Ok(vec![("1".into(), 1), ("2 3".into(), 2)])
        );
        for bad in [
            json!(null),
            json!(""),
            json!([]),
            json!([""]),
            json!([[]]),
            json!(["a", 1]),
            json!(3),
        ] {
            assert!(inputs(&bad).is_err(), "{bad}");
        }
    }
}
