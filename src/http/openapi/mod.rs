//! The OpenAPI 3.1 document served at `GET /openapi.json`, generated from the code
//! with `utoipa`: the management handlers carry their own `#[utoipa::path]` and
//! their request types derive `ToSchema`; the gateway and public routes are
//! described in [`gateway`] (their handlers are not annotated, see there), the
//! error bodies in [`errors`], the management responses in [`admin`].
//!
//! Every route the router serves must be in here: `tests/api/openapi.rs` compares
//! the document with the routes `app.rs` declares and probes, so a route added
//! without documentation fails the suite. Authentication is one global
//! requirement (any of the four ways to present a key, the alternative header
//! named as configured); public operations override it.

pub mod admin;
pub mod audio;
pub mod connections;
pub mod errors;
pub mod gateway;
pub mod users;
pub mod webhooks;

use axum::Json;
use axum::extract::State;
use utoipa::OpenApi;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};

use crate::http::admin as handlers;
use crate::state::AppState;

/// The ways to present a key (DESIGN §1.3), as security scheme names.
pub const SECURITY_SCHEMES: [&str; 4] = ["bearer", "x-api-key", "x-goog-api-key", "alt-header"];

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tollgate",
        description = "Self-hosted AI gateway: OpenAI, Anthropic and Gemini behind one endpoint, with keys, policy, routing and metering. Errors follow DESIGN §1.5: OpenAI's shape everywhere but /v1/messages, which answers in Anthropic's.",
    ),
    paths(
        gateway::health,
        gateway::models,
        gateway::metrics,
        gateway::openapi_json,
        gateway::chat_completions,
        gateway::messages,
        gateway::responses,
        gateway::embeddings,
        gateway::completions,
        gateway::images,
        audio::transcriptions,
        audio::speech,
        gateway::count_tokens,
        gateway::gemini_v1beta,
        gateway::gemini_v1,
        gateway::gemini_models,
        gateway::gemini_model,
        gateway::model,
        connections::create_connection,
        connections::list_connections,
        connections::get_connection,
        connections::delete_connection,
        connections::execute,
        connections::execute_base,
        connections::send_email,
        handlers::keys::create,
        handlers::keys::list_keys,
        handlers::keys::get,
        handlers::keys::update,
        handlers::keys::revoke,
        admin::revoke_key_post,
        handlers::keys::rotate,
        handlers::accounts::create,
        handlers::accounts::list_accounts,
        handlers::accounts::get,
        handlers::accounts::update_billing,
        handlers::accounts::disable,
        handlers::accounts::enable,
        handlers::accounts::credit,
        handlers::accounts::credits,
        handlers::account_alerts::get,
        handlers::account_alerts::put,
        handlers::providers::list,
        handlers::usage::report,
        handlers::usage::key_report,
        handlers::users::list_users,
        handlers::users::get,
        handlers::users::disable,
        handlers::users::enable,
        handlers::users::delete,
        crate::http::users::auth::register,
        crate::http::users::auth::login,
        crate::http::users::auth::logout,
        crate::http::users::keys::create,
        crate::http::users::keys::list,
        crate::http::users::keys::delete,
        crate::http::users::usage::report,
        handlers::webhooks::create,
        handlers::webhooks::list_webhooks,
        handlers::webhooks::get,
        handlers::webhooks::update,
        handlers::webhooks::delete,
        handlers::webhooks::test,
        handlers::webhooks::deliveries,
        handlers::webhooks::redeliver,
        handlers::alerts::list_alerts,
    ),
    components(schemas(
        errors::ErrorBody,
        errors::AnthropicErrorBody,
        errors::GeminiErrorBody,
    )),
    tags(
        (name = "public", description = "No key needed"),
        (name = "gateway", description = "Provider wire formats, passed through; scope per route"),
        (name = "admin", description = "Management keys (scope `admin`); an account's key reaches only its account"),
        (name = "analytics", description = "Usage reports (scope `analytics`)"),
        (name = "connections", description = "Third-party calls with injected credentials (scope `connections`)"),
        (name = "email", description = "Email over SMTP (scope `email`)"),
        (name = "users", description = "End users: register, log in, their vault of provider keys, their usage"),
    ),
)]
struct ApiDoc;

/// The document, with the alternative key header named as configured.
pub fn document(alt_header: &str) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "A Tollgate key (or an end user's JWT) in `Authorization: Bearer`",
                ))
                .build(),
        ),
    );
    let header = |name: &str, what: &str| {
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(name, what)))
    };
    components.add_security_scheme(
        "x-api-key",
        header("x-api-key", "A Tollgate key, as the Anthropic SDK sends it"),
    );
    components.add_security_scheme(
        "x-goog-api-key",
        header(
            "x-goog-api-key",
            "A Tollgate key, as the Gemini SDK sends it",
        ),
    );
    components.add_security_scheme(
        "alt-header",
        header(
            alt_header,
            "A Tollgate key in the configured `[keys] alt_header`",
        ),
    );
    doc.security = Some(
        SECURITY_SCHEMES
            .iter()
            .map(|name| SecurityRequirement::new(*name, Vec::<String>::new()))
            .collect(),
    );
    doc
}

/// `GET /openapi.json` (public). Built per call: it is small, and the alt
/// header differs between gateways in one process (tests).
pub async fn serve(State(state): State<AppState>) -> Json<utoipa::openapi::OpenApi> {
    Json(document(state.alt_header().as_str()))
}
