//! The gateway's routes and the layer stack every request passes through (read it
//! top to bottom: secrets marked sensitive, the edge (CORS, request id and trace,
//! edge limits, error dialect), panics caught, body limit, then the routes). Gateway routes get the meter (outside,
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
use crate::http::middleware::Edge;
use crate::http::{
    admin, audio, chat, connections, email, embeddings, gemini, messages, metering, middleware,
    openai_only, public, responses, users,
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
                scope_of: None,
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
    let messages_routes =
        gateway("/v1/messages", post(messages::create), Scope::Chat).merge(gateway(
            "/v1/messages/count_tokens",
            post(messages::count_tokens),
            Scope::Chat,
        ));
    // Gemini's native POSTs: the scope follows the `:verb` (gemini::scope_of).
    let gemini_gate = from_fn_with_state(
        Gate {
            state: state.clone(),
            scope: Scope::Chat,
            scope_of: Some(gemini::scope_of),
        },
        gate::guard,
    );
    let gemini_routes = Router::new()
        .route("/v1beta/models/{*rest}", post(gemini::call))
        .route("/v1/models/{*rest}", post(gemini::call))
        .route_layer(gemini_gate);
    let gemini_routes = if metered {
        gemini_routes.layer(from_fn_with_state(state.clone(), metering::meter))
    } else {
        gemini_routes
    };
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
        .route(
            "/admin/accounts/{id}/alerts",
            get(admin::account_alerts::get).put(admin::account_alerts::put),
        )
        .route("/admin/accounts/{id}/enable", post(admin::accounts::enable))
        .route("/admin/accounts/{id}/credit", post(admin::accounts::credit))
        .route(
            "/admin/accounts/{id}/credits",
            get(admin::accounts::credits),
        )
        .route("/admin/providers", get(admin::providers::list))
        .route("/admin/users", get(admin::users::list_users))
        .route(
            "/admin/users/{id}",
            get(admin::users::get).delete(admin::users::delete),
        )
        .route("/admin/users/{id}/disable", post(admin::users::disable))
        .route("/admin/users/{id}/enable", post(admin::users::enable))
        .route(
            "/admin/webhooks",
            post(admin::webhooks::create).get(admin::webhooks::list_webhooks),
        )
        .route(
            "/admin/webhooks/{id}",
            get(admin::webhooks::get)
                .patch(admin::webhooks::update)
                .delete(admin::webhooks::delete),
        )
        .route("/admin/webhooks/{id}/test", post(admin::webhooks::test))
        .route(
            "/admin/webhooks/{id}/deliveries",
            get(admin::webhooks::deliveries),
        )
        .route(
            "/admin/webhooks/{id}/deliveries/{delivery_id}/redeliver",
            post(admin::webhooks::redeliver),
        )
        .route("/admin/alerts", get(admin::alerts::list_alerts))
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
        .route("/v1/models/{*rest}", get(public::model))
        .route("/v1beta/models", get(gemini::list))
        .route("/v1beta/models/{*rest}", get(gemini::get))
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
        .merge(gemini_routes)
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
        .merge(gateway(
            "/v1/audio/transcriptions",
            post(audio::transcriptions),
            Scope::Audio,
        ))
        .merge(gateway(
            "/v1/audio/speech",
            post(audio::speech),
            Scope::Audio,
        ))
        .merge(gateway(
            "/v1/connections",
            post(connections::create).get(connections::list),
            Scope::Connections,
        ))
        .merge(gateway(
            "/v1/connections/{id}",
            get(connections::get).delete(connections::delete),
            Scope::Connections,
        ))
        .merge(gateway(
            "/v1/execute/{name}/{*path}",
            post(connections::execute),
            Scope::Connections,
        ))
        .merge(gateway(
            "/v1/execute/{name}",
            post(connections::execute),
            Scope::Connections,
        ))
        .merge(gateway("/v1/email/send", post(email::send), Scope::Email))
        // End users: register and login are public (the login brake guards them);
        // the others authenticate a login token themselves (`users::LoggedIn`).
        .route("/auth/register", post(users::auth::register))
        .route("/auth/login", post(users::auth::login))
        .route("/auth/logout", post(users::auth::logout))
        .route("/keys", post(users::keys::create).get(users::keys::list))
        .route("/keys/{id}", axum::routing::delete(users::keys::delete))
        .route("/usage", get(users::usage::report))
        // The dashboard forwards `/ui/api/*` to the same gated admin routes.
        .merge(crate::http::ui::router(
            state,
            admin_routes.clone().merge(analytics_routes.clone()),
        ))
        .merge(admin_routes)
        .merge(analytics_routes)
        .fallback(public::not_found)
        .method_not_allowed_fallback(public::method_not_allowed)
        // Outside the routes and fallbacks, so every refusal (404 and 405
        // included) gets the request id, the log line and its route's dialect.
        .layer(
            ServiceBuilder::new()
                .layer(SetSensitiveRequestHeadersLayer::new(sensitive))
                .layer(from_fn_with_state(
                    Edge {
                        state: state.clone(),
                        cors: true,
                    },
                    middleware::edge,
                ))
                .layer(CatchPanicLayer::custom(middleware::panic_response))
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
                .layer(from_fn_with_state(
                    Edge {
                        state: state.clone(),
                        cors: false,
                    },
                    middleware::edge,
                ))
                .layer(CatchPanicLayer::custom(middleware::panic_response)),
        )
        .with_state(state.clone())
}
