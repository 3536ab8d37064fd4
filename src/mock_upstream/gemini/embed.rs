//! `:embedContent` and `:batchEmbedContents` (`wire-formats.md` §3):
//! `{"content":{"parts":[{"text"}]},"outputDimensionality"?}` →
//! `{"embedding":{"values"}}`, and `{"requests":[…]}` →
//! `{"embeddings":[{"values"}]}` in order. No usage, as Google sends none.
//!
//! A content's text parts, joined by spaces, are embedded with
//! [`embedding::vector`], so `"hello"` here and `input: "hello"` on OpenAI's
//! route give the same values. As the real API requires, every batch
//! request names its model, and it must be the URL's (`models/{model}`); a
//! batch holds at most 100 requests. Directives are read from all the texts.

use axum::Json;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::super::directives::Directives;
use super::super::embedding::{self, DEFAULT_DIMENSIONS, MAX_DIMENSIONS};
use super::super::error_body::GeminiError;
use super::super::event_stream;

/// Google's limit on requests per batch.
const MAX_BATCH: usize = 100;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EmbedRequest {
    model: Option<String>,
    content: Option<Content>,
    #[serde(alias = "output_dimensionality")]
    output_dimensionality: Option<i64>,
}

#[derive(Deserialize)]
struct Content {
    #[serde(default)]
    parts: Vec<TextPart>,
}

#[derive(Deserialize)]
struct TextPart {
    text: Option<String>,
}

#[derive(Deserialize)]
struct BatchRequest {
    #[serde(default)]
    requests: Vec<EmbedRequest>,
}

/// One text to embed, and how long its vector is.
struct Embeddable {
    text: String,
    dimensions: usize,
}

/// `POST /v1beta/models/{model}:embedContent`.
pub(super) async fn embed_content(body: &[u8]) -> Result<Response, GeminiError> {
    let request: EmbedRequest = parse(body)?;
    let item = Embeddable::of(&request, "EmbedContentRequest")?;
    if let Some(response) = directed(&[&item]).await? {
        return Ok(response);
    }
    let values = embedding::vector(&item.text, item.dimensions);
    Ok(Json(json!({"embedding": {"values": values}})).into_response())
}

/// `POST /v1beta/models/{model}:batchEmbedContents`.
pub(super) async fn batch_embed_contents(
    model: &str,
    body: &[u8],
) -> Result<Response, GeminiError> {
    let batch: BatchRequest = parse(body)?;
    if batch.requests.is_empty() {
        return Err(GeminiError::invalid(
            "* BatchEmbedContentsRequest.requests: requests is not specified",
        ));
    }
    if batch.requests.len() > MAX_BATCH {
        return Err(GeminiError::invalid(format!(
            "* BatchEmbedContentsRequest.requests: at most {MAX_BATCH} requests can be in one batch"
        )));
    }
    let expected = format!("models/{model}");
    let mut items = Vec::with_capacity(batch.requests.len());
    for (i, request) in batch.requests.iter().enumerate() {
        let at = format!("BatchEmbedContentsRequest.requests[{i}]");
        match request.model.as_deref() {
            Some(named) if named == expected => {}
            Some(named) => {
                return Err(GeminiError::invalid(format!(
                    "* {at}.model: `{named}` does not match `{expected}`, the model in the URL"
                )));
            }
            None => {
                return Err(GeminiError::invalid(format!(
                    "* {at}.model: model is not specified; use `{expected}`"
                )));
            }
        }
        items.push(Embeddable::of(request, &at)?);
    }
    let refs: Vec<&Embeddable> = items.iter().collect();
    if let Some(response) = directed(&refs).await? {
        return Ok(response);
    }
    let embeddings: Vec<Value> = items
        .iter()
        .map(|item| json!({"values": embedding::vector(&item.text, item.dimensions)}))
        .collect();
    Ok(Json(json!({"embeddings": embeddings})).into_response())
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, GeminiError> {
    serde_json::from_slice(body)
        .map_err(|e| GeminiError::invalid(format!("Invalid JSON payload received. {e}")))
}

/// Applies the directives in `items`' texts: the delay, then an injected
/// status as `Err`, or a cut connection as `Ok(Some(_))`.
async fn directed(items: &[&Embeddable]) -> Result<Option<Response>, GeminiError> {
    let texts: Vec<&str> = items.iter().map(|i| i.text.as_str()).collect();
    let directives = Directives::parse(&texts.join(" "));
    if let Some(status) = directives.delay_then_status().await {
        return Err(GeminiError::injected(status));
    }
    Ok(directives
        .drop_after
        .map(|_| Response::new(event_stream::broken_body())))
}

impl Embeddable {
    /// `at` names the request in error messages, as Google's do.
    fn of(request: &EmbedRequest, at: &str) -> Result<Self, GeminiError> {
        let content = request.content.as_ref().ok_or_else(|| {
            GeminiError::invalid(format!("* {at}.content: content is not specified"))
        })?;
        if content.parts.is_empty() {
            return Err(GeminiError::invalid(format!(
                "* {at}.content.parts: contents.parts must not be empty."
            )));
        }
        let texts: Vec<&str> = content
            .parts
            .iter()
            .filter_map(|p| p.text.as_deref())
            .collect();
        let dimensions = match request.output_dimensionality {
            None => DEFAULT_DIMENSIONS,
            Some(n) => usize::try_from(n)
                .ok()
                .filter(|n| (1..=MAX_DIMENSIONS).contains(n))
                .ok_or_else(|| {
                    GeminiError::invalid(format!(
                        "* {at}.output_dimensionality: {n} is out of range; \
                         use 1 to {MAX_DIMENSIONS}"
                    ))
                })?,
        };
        Ok(Self {
            text: texts.join(" "),
            dimensions,
        })
    }
}
