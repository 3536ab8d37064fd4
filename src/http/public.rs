//! Public endpoints: no key needed.

use axum::Json;
use axum::extract::{OriginalUri, State};
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::json;

use crate::app::AppState;
use crate::error::ApiError;

/// `GET /health`: the process is up and serving.
pub async fn health() -> impl IntoResponse {
    Json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}))
}

/// `GET /v1/models`: the catalog in OpenAI's list shape (rendered once at start).
pub async fn models(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        state.catalog().list_body(),
    )
}

pub async fn not_found(OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::NotFound(uri.path().to_owned())
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
