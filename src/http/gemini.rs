//! Gemini's native routes, for the google-genai SDK pointed at the gateway (key
//! in `x-goog-api-key`), under `/v1beta` and `/v1`:
//! `POST models/{model}:generateContent | :streamGenerateContent | :countTokens`
//! (scope `chat`), `:embedContent | :batchEmbedContents` (scope `embeddings`), and
//! `GET models` / `GET models/{model}` (public, Gemini's list and model shapes).
//!
//! axum cannot match a `{model}:verb` segment, so the POST routes are catch-alls
//! (`models/{*rest}`) split here at the last colon; an unknown verb is a 404.
//! Errors on these paths are rendered in Gemini's shape (`http::middleware::edge`).
//! Gemini models get the caller's bytes; other providers' models are translated
//! (`pipeline::table`, the `Gemini*` caller formats).

use axum::extract::{Path, Request, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use crate::auth::Principal;
use crate::error::ApiError;
use crate::http::extract::RawBody;
use crate::keys::Scope;
use crate::metering::meter::Meter;
use crate::pipeline::{self, CallerFormat, RouteSpec, Target};
use crate::routing::byok::Endpoint;
use crate::state::AppState;
use crate::translate::peek::Shape;

/// A Gemini method the gateway serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Generate,
    StreamGenerate,
    CountTokens,
    Embed,
    BatchEmbed,
}

impl Verb {
    fn parse(name: &str) -> Option<Verb> {
        Some(match name {
            "generateContent" => Verb::Generate,
            "streamGenerateContent" => Verb::StreamGenerate,
            "countTokens" => Verb::CountTokens,
            "embedContent" => Verb::Embed,
            "batchEmbedContents" => Verb::BatchEmbed,
            _ => return None,
        })
    }

    fn spec(self) -> RouteSpec {
        let (format, endpoint) = match self {
            Verb::Generate | Verb::StreamGenerate => {
                (CallerFormat::GeminiGenerate, Endpoint::GeminiGenerate)
            }
            Verb::CountTokens => (CallerFormat::GeminiCountTokens, Endpoint::GeminiGenerate),
            Verb::Embed => (CallerFormat::GeminiEmbed, Endpoint::GeminiEmbed),
            Verb::BatchEmbed => (CallerFormat::GeminiBatchEmbed, Endpoint::GeminiEmbed),
        };
        RouteSpec {
            format,
            endpoint,
            // Unused by `run_named`: the body is Gemini's, checked by its translators.
            shape: Shape::Messages,
        }
    }

    pub fn scope(self) -> Scope {
        match self {
            Verb::Embed | Verb::BatchEmbed => Scope::Embeddings,
            _ => Scope::Chat,
        }
    }
}

/// `models/{rest}` → (model, verb); `None` when `rest` names no known verb.
pub fn split(rest: &str) -> Option<(&str, Verb)> {
    let (model, verb) = rest.rsplit_once(':')?;
    let model = model.strip_prefix("models/").unwrap_or(model);
    Some(model).filter(|m| !m.is_empty()).zip(Verb::parse(verb))
}

/// Whether `path` is one of Gemini's native routes (for the error shape).
pub fn is_gemini_path(path: &str) -> bool {
    path.starts_with("/v1beta/")
        || path == "/v1beta"
        || path
            .strip_prefix("/v1/models/")
            .is_some_and(|rest| rest.contains(':'))
}

/// The scope of a Gemini POST, from its verb (the gate's `scope_of`). An unknown
/// verb asks for `chat`; the handler then answers 404.
pub fn scope_of(req: &Request) -> Scope {
    let path = req.uri().path();
    let rest = path
        .strip_prefix("/v1beta/models/")
        .or_else(|| path.strip_prefix("/v1/models/"))
        .unwrap_or_default();
    split(rest).map_or(Scope::Chat, |(_, v)| v.scope())
}

/// `POST …/models/{model}:{verb}`.
pub async fn call(
    State(state): State<AppState>,
    Path(rest): Path<String>,
    principal: Principal,
    meter: Meter,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let (model, verb) = split(&rest).ok_or_else(|| {
        ApiError::NotFound(format!(
            "models/{rest}: Gemini methods served are :generateContent, \
             :streamGenerateContent, :countTokens, :embedContent and :batchEmbedContents"
        ))
    })?;
    let target = Target {
        model,
        stream: verb == Verb::StreamGenerate,
    };
    pipeline::run_named(
        &state,
        &principal,
        &meter,
        &headers,
        body,
        verb.spec(),
        target,
    )
    .await
}

/// `GET /v1beta/models`: the catalog in Gemini's list shape.
pub async fn list(State(state): State<AppState>) -> impl IntoResponse {
    axum::Json(state.catalog().gemini_list())
}

/// `GET /v1beta/models/{model}`: one model in Gemini's shape, 404 if unknown.
pub async fn get(
    State(state): State<AppState>,
    Path(rest): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let id = rest.strip_prefix("models/").unwrap_or(&rest);
    state
        .catalog()
        .gemini_model(id)
        .map(axum::Json)
        .ok_or_else(|| ApiError::ResourceNotFound(unknown_model(id)))
}

pub fn unknown_model(id: &str) -> String {
    format!("model `{id}` is not in the catalog; GET /v1/models lists available ids")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_at_the_last_colon() {
        assert_eq!(
            split("gemini-2.5-flash:generateContent"),
            Some(("gemini-2.5-flash", Verb::Generate))
        );
        assert_eq!(
            split("openai/gpt-4o-mini:streamGenerateContent"),
            Some(("openai/gpt-4o-mini", Verb::StreamGenerate))
        );
        assert_eq!(split("gemini-2.5-flash:frobnicate"), None);
        assert_eq!(split(":generateContent"), None);
        assert_eq!(split("gemini-2.5-flash"), None);
        assert!(is_gemini_path("/v1beta/models/x:generateContent"));
        assert!(is_gemini_path("/v1/models/x:embedContent"));
        assert!(!is_gemini_path("/v1/models/gpt-4o"));
        assert_eq!(Verb::Embed.scope(), Scope::Embeddings);
        assert_eq!(Verb::CountTokens.scope(), Scope::Chat);
    }
}
