//! Azure OpenAI's deployment routes, so a gateway's BYOK to an Azure base
//! URL can be tested: `POST /openai/deployments/{deployment}/chat/completions`
//! and `…/embeddings`, each with `?api-version=…`.
//!
//! The front door checks come first, in Azure's shapes
//! (`{"error":{"code":"401","message"}}`):
//!
//! - the key must be in `api-key`, non-empty (401 otherwise). Azure also
//!   takes Entra ID tokens as `Authorization: Bearer`; the mock does not, so
//!   a gateway that sends its OpenAI-style header to Azure fails here.
//! - `api-version` must be in the query. Without it Azure answers 404
//!   `Resource not found` (not a 400), and so does the mock; a value that is
//!   not `YYYY-MM-DD` or `YYYY-MM-DD-preview` gets 400 `BadRequest`.
//!
//! Then [`chat`](super::chat) or [`embeddings`](super::embeddings) answers,
//! with the deployment as the model; the body's `model` is ignored.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, StatusCode, Uri};

use super::super::MockState;
use super::super::error_body::AzureError;
use super::super::query;
use super::{ModelFrom, chat, with_request_id};

/// `POST /openai/deployments/{deployment}/chat/completions?api-version=…`.
pub(crate) async fn chat_completions(
    State(state): State<Arc<MockState>>,
    Path(deployment): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let n = state.next_response_number();
    if let Err(error) = check(&headers, &uri) {
        return with_request_id(Ok(error.into_response()), n);
    }
    let result = chat::answer(&state, n, &body, ModelFrom::Deployment(&deployment)).await;
    with_request_id(result, n)
}

/// `POST /openai/deployments/{deployment}/embeddings?api-version=…`.
pub(crate) async fn embeddings(
    State(state): State<Arc<MockState>>,
    Path(deployment): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let n = state.next_response_number();
    if let Err(error) = check(&headers, &uri) {
        return with_request_id(Ok(error.into_response()), n);
    }
    let result = super::embeddings::answer(&body, ModelFrom::Deployment(&deployment)).await;
    with_request_id(result, n)
}

fn check(headers: &HeaderMap, uri: &Uri) -> Result<(), AzureError> {
    let has_key = headers
        .get("api-key")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|key| !key.trim().is_empty());
    if !has_key {
        return Err(AzureError::new(
            StatusCode::UNAUTHORIZED,
            "401",
            "Access denied due to invalid subscription key or wrong API endpoint. \
             Make sure to provide a valid key for an active subscription and use a \
             correct regional API endpoint for your resource.",
        ));
    }
    match query::param(uri, "api-version") {
        None => Err(AzureError::new(
            StatusCode::NOT_FOUND,
            "404",
            "Resource not found",
        )),
        Some(version) if !is_api_version(&version) => Err(AzureError::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "API version not supported",
        )),
        Some(_) => Ok(()),
    }
}

/// `YYYY-MM-DD`, optionally followed by `-preview`: the shape of every
/// Azure OpenAI data-plane API version.
fn is_api_version(version: &str) -> bool {
    let date = version.strip_suffix("-preview").unwrap_or(version);
    let bytes = date.as_bytes();
    bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions_are_dated() {
        for ok in ["2024-10-21", "2025-04-01-preview"] {
            assert!(is_api_version(ok), "{ok}");
        }
        for bad in [
            "",
            "latest",
            "v1",
            "2024-1-21",
            "2024-10-21-beta",
            "preview",
        ] {
            assert!(!is_api_version(bad), "{bad}");
        }
    }
}
