//! Public endpoints: no key needed.

use axum::Json;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use serde_json::json;
use time::OffsetDateTime;

use crate::auth::presented_key;
use crate::error::ApiError;
use crate::routing::catalog::ListShape;
use crate::state::AppState;

/// `GET /health`: the process is up and serving.
pub async fn health() -> impl IntoResponse {
    Json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}))
}

/// The list shape a caller of `/v1/models` reads: Anthropic's when it sends
/// `anthropic-version` (the Anthropic SDK always does), Gemini's when it sends its
/// key in `x-goog-api-key` (google-genai with `api_version="v1"`), else OpenAI's.
fn list_shape(headers: &HeaderMap) -> ListShape {
    if headers.contains_key("anthropic-version") {
        ListShape::Anthropic
    } else if headers.contains_key("x-goog-api-key") {
        ListShape::Gemini
    } else {
        ListShape::OpenAi
    }
}

/// `GET /v1/models/{id}`: one model in OpenAI's shape (Anthropic's with
/// `anthropic-version`); ids may hold `/` (`openai/gpt-4o-mini`). Unknown: 404.
pub async fn model(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    state
        .catalog()
        .model_object(&id, list_shape(&headers))
        .map(Json)
        .ok_or_else(|| ApiError::ResourceNotFound(crate::http::gemini::unknown_model(&id)))
}

/// `GET /v1/models`: the catalog in OpenAI's list shape (Anthropic's when the
/// caller sends `anthropic-version`). Without a key, everything (rendered once at
/// start); with one, only what that key may use. A key that is presented but
/// invalid is refused, as anywhere else.
pub async fn models(
    State(state): State<AppState>,
    req: axum::extract::Request,
) -> Result<impl IntoResponse, ApiError> {
    let shape = list_shape(req.headers());
    let body = match presented_key(req.headers(), state.alt_header())? {
        None if shape == ListShape::OpenAi => state.catalog().list_body(),
        None => state.catalog().render_list_as(shape, |_, _| true),
        Some(key) => {
            let client = crate::http::gate::request_ip(&state, &req);
            let principal = state
                .auth()
                .authenticate(key, client, OffsetDateTime::now_utc())
                .await?;
            let key = &principal.key;
            let unrestricted = key.policy.allowed_models.is_empty()
                && key.policy.allowed_providers.is_empty()
                && !state.config().keys.env_models.contains_key(&key.env);
            if unrestricted && shape == ListShape::OpenAi {
                state.catalog().list_body()
            } else if unrestricted {
                state.catalog().render_list_as(shape, |_, _| true)
            } else {
                state.catalog().render_list_as(shape, |provider, id| {
                    crate::policy::admit::model_allowed(
                        &state.config().keys.env_models,
                        key,
                        id,
                        id,
                        provider,
                    )
                })
            }
        }
    };
    Ok(([(header::CONTENT_TYPE, "application/json")], body))
}

pub async fn not_found(OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::NotFound(uri.path().to_owned())
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// `GET /metrics`: Prometheus text exposition. With `[metrics] bearer_token`, only
/// for `Authorization: Bearer <token>`; anything else is a 401 `invalid_token`.
pub async fn metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    if let Some(token) = &state.config().metrics.bearer_token {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !token_matches(presented, token.expose()) {
            return Err(ApiError::MetricsToken);
        }
    }
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::telemetry::render_metrics(),
    ))
}

/// Constant-time comparison; hashing both sides first keeps the token's length
/// out of the timing too.
fn token_matches(presented: &str, token: &str) -> bool {
    use sha2::{Digest, Sha256};
    use subtle::ConstantTimeEq;
    let a = Sha256::digest(presented.as_bytes());
    let b = Sha256::digest(token.as_bytes());
    a.as_slice().ct_eq(b.as_slice()).into()
}
