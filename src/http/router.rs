//! The gateway's routes and the layer stack every request passes through (read it
//! top to bottom: panics caught, secrets marked sensitive, request id and trace,
//! edge limits, body limit, then the routes). Gateway routes get the meter (outside,
//! sees every request) and the gate (inside, decides who may do what).

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::HeaderName;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;

use crate::http::gate::{self, Gate};
use crate::http::{
    admin, chat, embeddings, messages, metering, middleware, openai_only, public, responses,
};
use crate::keys::Scope;
use crate::state::AppState;

/// Every route of the gateway, with its layers, on `state`.
pub fn router(state: &AppState) -> Router {
    let sensitive: Vec<HeaderName> = vec![
        axum::http::header::AUTHORIZATION,
        HeaderName::from_static("x-api-key"),
        HeaderName::from_static("x-goog-api-key"),
        HeaderName::from_static("x-byok-api-key"),
        state.alt_header().clone(),
    ];
    let gated = |scope: Scope| {
        from_fn_with_state(
            Gate {
                state: state.clone(),
                scope,
            },
            gate::guard,
        )
    };
    // Gateway routes: the meter (outside) sees every request, refused or not;
    // the gate (inside) decides who may do what.
    let metered = state.config().usage.enabled;
    let gateway = |path: &str, route: axum::routing::MethodRouter<AppState>, scope| {
        let router = Router::new().route(path, route).route_layer(gated(scope));
        if metered {
            router.layer(from_fn_with_state(state.clone(), metering::meter))
        } else {
            router
        }
    };
    let messages_routes = gateway("/v1/messages", post(messages::create), Scope::Chat);
    let admin_routes = Router::new()
        .route(
            "/admin/keys",
            post(admin::keys::create).get(admin::keys::list_keys),
        )
        .route(
            "/admin/keys/{id}",
            get(admin::keys::get)
                .patch(admin::keys::update)
                .delete(admin::keys::revoke),
        )
        .route("/admin/keys/{id}/revoke", post(admin::keys::revoke))
        .route("/admin/keys/{id}/rotate", post(admin::keys::rotate))
        .route(
            "/admin/accounts",
            post(admin::accounts::create).get(admin::accounts::list_accounts),
        )
        .route(
            "/admin/accounts/{id}",
            get(admin::accounts::get).patch(admin::accounts::update_billing),
        )
        .route(
            "/admin/accounts/{id}/disable",
            post(admin::accounts::disable),
        )
        .route("/admin/accounts/{id}/enable", post(admin::accounts::enable))
        .route("/admin/accounts/{id}/credit", post(admin::accounts::credit))
        .route(
            "/admin/accounts/{id}/credits",
            get(admin::accounts::credits),
        )
        .route_layer(gated(Scope::Admin));
    // Analytics: management keys across accounts, `analytics` keys for their own.
    let analytics_routes = Router::new()
        .route("/admin/usage", get(admin::usage::report))
        .route("/admin/keys/{id}/usage", get(admin::usage::key_report))
        .route_layer(gated(Scope::Analytics));
    // With `[metrics] listen`, /metrics lives on its own listener only.
    let metrics_here = state.config().metrics.listen.is_none();
    let public_routes = Router::new()
        .route("/health", get(public::health))
        .route("/v1/models", get(public::models))
        .route("/openapi.json", get(crate::http::openapi::serve));
    let public_routes = if metrics_here {
        public_routes.route("/metrics", get(public::metrics))
    } else {
        public_routes
    };
    public_routes
        .merge(gateway(
            "/v1/chat/completions",
            post(chat::completions),
            Scope::Chat,
        ))
        .merge(messages_routes)
        .merge(gateway(
            "/v1/responses",
            post(responses::create),
            Scope::Chat,
        ))
        .merge(gateway(
            "/v1/embeddings",
            post(embeddings::create),
            Scope::Embeddings,
        ))
        .merge(gateway(
            "/v1/completions",
            post(openai_only::completions),
            Scope::Completions,
        ))
        .merge(gateway(
            "/v1/images/generations",
            post(openai_only::images),
            Scope::Images,
        ))
        // The dashboard forwards `/ui/api/*` to the same gated admin routes.
        .merge(crate::http::ui::router(
            state,
            admin_routes.clone().merge(analytics_routes.clone()),
        ))
        .merge(admin_routes)
        .merge(analytics_routes)
        .fallback(public::not_found)
        .method_not_allowed_fallback(public::method_not_allowed)
        // Outside the routes and fallbacks, so every refusal under /v1/messages
        // (404 and 405 included) takes Anthropic's shape.
        .layer(axum::middleware::from_fn(messages::anthropic_errors))
        .layer(
            ServiceBuilder::new()
                .layer(CatchPanicLayer::custom(middleware::panic_response))
                .layer(SetSensitiveRequestHeadersLayer::new(sensitive))
                .layer(axum::middleware::from_fn(middleware::trace_request))
                .layer(from_fn_with_state(state.clone(), middleware::edge_limits))
                .layer(DefaultBodyLimit::max(state.max_body_bytes())),
        )
        .with_state(state.clone())
}

/// `/metrics` alone, for its own listener (`[metrics] listen`).
pub fn metrics_router(state: &AppState) -> Router {
    Router::new()
        .route("/metrics", get(public::metrics))
        .fallback(public::not_found)
        .method_not_allowed_fallback(public::method_not_allowed)
        .layer(
            ServiceBuilder::new()
                .layer(CatchPanicLayer::custom(middleware::panic_response))
                .layer(axum::middleware::from_fn(middleware::trace_request))
                .layer(from_fn_with_state(state.clone(), middleware::edge_limits)),
        )
        .with_state(state.clone())
}
