//! `/ui`: the dashboard's page, assets, sign-in and its window onto the
//! management API. Sessions live in `crate::ui::Sessions`.
//!
//! - `POST /ui/session {"key"}` exchanges a management key for a session cookie
//!   (`HttpOnly; Secure; SameSite=Strict; Path=/ui`) and the session's CSRF token;
//!   the key itself is not kept (the session remembers its kid only).
//! - `/ui/api/{rest}` forwards to `/admin/{rest}` with the session's key as the
//!   principal: the same handlers, the same gate (scope, IP allowlist, rate limit),
//!   the same numbers. The key is looked up again on every request, so a revoked
//!   or disabled key ends its sessions.
//! - Every mutation (any method but GET/HEAD) needs `X-CSRF-Token`; every request
//!   that says where it comes from (`Origin`, `Sec-Fetch-Site`) must come from here.
//! - Every response carries the strict CSP, `nosniff`, `no-referrer`, `no-store`.

use std::net::SocketAddr;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, OriginalUri, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde_json::json;
use time::OffsetDateTime;
use tower::ServiceExt;

use crate::auth::{AuthError, Principal};
use crate::error::ApiError;
use crate::http::gate::{SessionPrincipal, request_ip};
use crate::http::middleware::RequestId;
use crate::keys::KeyKind;
use crate::state::AppState;
use crate::store::KeyStatus;
use crate::ui::{self, Session};

/// Sign-in bodies are one key: anything bigger is not one.
const SIGN_IN_MAX_BYTES: usize = 4096;

#[derive(Clone)]
struct UiState {
    app: AppState,
    /// The management routes, gated, that `/ui/api/*` forwards to.
    admin: Router,
}

/// The `/ui` routes; `admin` is the gated `/admin/*` router they forward to.
pub fn router(state: &AppState, admin: Router<AppState>) -> Router<AppState> {
    let ui_state = UiState {
        app: state.clone(),
        admin: admin
            .fallback(crate::http::public::not_found)
            .method_not_allowed_fallback(crate::http::public::method_not_allowed)
            .layer(DefaultBodyLimit::max(state.max_body_bytes()))
            .with_state(state.clone()),
    };
    Router::new()
        .route("/ui", get(page))
        .route("/ui/", get(page))
        .route("/ui/{asset}", get(asset))
        .route("/ui/session", post(sign_in).delete(sign_out))
        .route("/ui/api/{*rest}", any(forward))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(ui_state)
}

async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(ui::CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// `GET /ui`: the page shell; signed in, it carries the CSRF token in a meta tag.
async fn page(State(ui): State<UiState>, headers: HeaderMap) -> Response {
    let csrf = live_session(&ui, &headers)
        .map(|(_, s)| s.csrf)
        .unwrap_or_default();
    let html = ui::INDEX_HTML.replace("{{csrf}}", &csrf);
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

/// `GET /ui/<name>`: one of the embedded scripts or the stylesheet.
async fn asset(Path(name): Path<String>) -> Result<Response, ApiError> {
    let (ctype, body) =
        ui::asset(&name).ok_or_else(|| ApiError::NotFound(format!("/ui/{name}")))?;
    Ok(([(header::CONTENT_TYPE, ctype)], body).into_response())
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    key: String,
}

/// `POST /ui/session {"key"}`: a management key in, a session cookie out.
async fn sign_in(State(ui): State<UiState>, req: Request) -> Result<Response, ApiError> {
    same_origin(req.headers())?;
    let client = request_ip(&ui.app, &req);
    let body = axum::body::to_bytes(req.into_body(), SIGN_IN_MAX_BYTES)
        .await
        .map_err(|_| ApiError::BodyTooLarge(SIGN_IN_MAX_BYTES))?;
    let SignIn { key } = serde_json::from_slice(&body).map_err(|e| {
        if e.is_data() {
            ApiError::invalid_field(
                "key",
                format!("send {{\"key\": \"<management key>\"}}: {e}"),
            )
        } else {
            ApiError::InvalidJson(e.to_string())
        }
    })?;
    let principal = ui
        .app
        .auth()
        .authenticate(key.trim(), client, OffsetDateTime::now_utc())
        .await
        .inspect_err(|e| {
            metrics::counter!("tollgate_auth_failures_total", "code" => e.code()).increment(1);
        })?;
    if principal.key.kind != KeyKind::Mk {
        return Err(ApiError::MissingScope(crate::keys::Scope::Admin));
    }
    let (id, session) = ui
        .app
        .ui_sessions()
        .create(principal.key.kid.clone(), Instant::now());
    let max_age = ui.app.ui_sessions().lifetimes().1.as_secs();
    let cookie = format!(
        "{}={}; HttpOnly; Secure; SameSite=Strict; Path=/ui; Max-Age={max_age}",
        ui::COOKIE,
        id.as_str()
    );
    let mut res = axum::Json(json!({
        "object": "ui_session",
        "kid": principal.key.kid.as_str(),
        "csrf_token": session.csrf,
        "idle_timeout_secs": ui.app.ui_sessions().lifetimes().0.as_secs(),
        "max_age_secs": max_age,
    }))
    .into_response();
    set_cookie(&mut res, &cookie)?;
    Ok(res)
}

/// `DELETE /ui/session`: signs out (CSRF token required).
async fn sign_out(State(ui): State<UiState>, headers: HeaderMap) -> Result<Response, ApiError> {
    same_origin(&headers)?;
    let (id, session) = live_session(&ui, &headers).ok_or_else(no_session)?;
    csrf(&headers, &session)?;
    ui.app.ui_sessions().remove(&id);
    let mut res = StatusCode::NO_CONTENT.into_response();
    let cookie = format!(
        "{}=; HttpOnly; Secure; SameSite=Strict; Path=/ui; Max-Age=0",
        ui::COOKIE
    );
    set_cookie(&mut res, &cookie)?;
    Ok(res)
}

/// `/ui/api/{rest}` → `/admin/{rest}`, as the session's management key.
async fn forward(State(ui): State<UiState>, req: Request) -> Result<Response, ApiError> {
    same_origin(req.headers())?;
    let (id, session) = live_session(&ui, req.headers()).ok_or_else(no_session)?;
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        csrf(req.headers(), &session)?;
    }
    let principal = session_principal(&ui.app, &id, &session).await?;
    let rest = req
        .uri()
        .path()
        .strip_prefix("/ui/api/")
        .unwrap_or_default()
        .to_owned();
    let target = match req.uri().query() {
        Some(q) => format!("/admin/{rest}?{q}"),
        None => format!("/admin/{rest}"),
    };
    let target = target
        .parse::<Uri>()
        .map_err(|_| ApiError::NotFound(req.uri().path().to_owned()))?;
    // A fresh request, so this route's own path parameters do not reach the
    // admin routes; it keeps what they read: the peer, the request id, the URI.
    let (parts, body) = req.into_parts();
    let mut inner = Request::new(body);
    *inner.method_mut() = parts.method;
    *inner.uri_mut() = target;
    *inner.version_mut() = parts.version;
    *inner.headers_mut() = parts.headers;
    // The admin routes see no cookie and no CSRF token: only the principal.
    let headers = inner.headers_mut();
    headers.remove(header::COOKIE);
    headers.remove("x-csrf-token");
    let ext = inner.extensions_mut();
    if let Some(peer) = parts.extensions.get::<ConnectInfo<SocketAddr>>() {
        ext.insert(*peer);
    }
    if let Some(id) = parts.extensions.get::<RequestId>() {
        ext.insert(id.clone());
    }
    if let Some(uri) = parts.extensions.get::<OriginalUri>() {
        ext.insert(uri.clone());
    }
    ext.insert(SessionPrincipal(principal));
    let req = inner;
    let res = match ui.admin.oneshot(req).await {
        Ok(res) => res,
        Err(never) => match never {},
    };
    Ok(res.map(Body::new))
}

/// The session's key, looked up again: a key revoked, expired, disabled or no
/// longer a management key ends the session (401).
async fn session_principal(
    app: &AppState,
    id: &str,
    session: &Session,
) -> Result<Principal, ApiError> {
    let now = OffsetDateTime::now_utc();
    let cached = app
        .auth()
        .cache()
        .load(&session.kid)
        .await
        .map_err(ApiError::internal)?;
    let refused = match &cached {
        None => Some(AuthError::Invalid),
        Some(c) => match c.record.status(now) {
            KeyStatus::Revoked => Some(AuthError::Revoked),
            KeyStatus::Expired => Some(AuthError::Expired),
            KeyStatus::Active if c.record.account_disabled => Some(AuthError::AccountDisabled),
            KeyStatus::Active if c.record.kind != KeyKind::Mk => Some(AuthError::Invalid),
            KeyStatus::Active => None,
        },
    };
    match (refused, cached) {
        (None, Some(c)) => {
            app.auth().cache().mark_used(&c, now);
            Ok(Principal {
                key: c.record.clone(),
                caller: crate::auth::Caller::Key,
            })
        }
        (refused, _) => {
            app.ui_sessions().remove(id);
            Err(ApiError::Auth(refused.unwrap_or(AuthError::Invalid)))
        }
    }
}

fn no_session() -> ApiError {
    ApiError::UiSession
}

/// The session named by the request's cookie, if live (cookie value, session).
fn live_session(ui: &UiState, headers: &HeaderMap) -> Option<(String, Session)> {
    let id = cookie_value(headers, ui::COOKIE)?;
    let session = ui.app.ui_sessions().get(&id, Instant::now())?;
    Some((id, session))
}

fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

fn csrf(headers: &HeaderMap, session: &Session) -> Result<(), ApiError> {
    let presented = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if session.csrf_matches(presented) {
        Ok(())
    } else {
        Err(ApiError::CrossSite(
            "this change needs the session's `X-CSRF-Token` header (the dashboard sends it from its page); reload /ui and retry",
        ))
    }
}

/// Refuses what the browser says comes from another site: `Sec-Fetch-Site`
/// other than `same-origin`/`none`, or an `Origin` whose host is not ours.
fn same_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    let refused = ApiError::CrossSite(
        "requests to /ui must come from the dashboard's own origin (Origin / Sec-Fetch-Site)",
    );
    if let Some(site) = headers.get("sec-fetch-site") {
        let site = site.to_str().unwrap_or_default();
        if site != "same-origin" && site != "none" {
            return Err(refused);
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        let origin_host = origin
            .to_str()
            .ok()
            .and_then(|o| o.split_once("://"))
            .map(|(_, rest)| rest.trim_end_matches('/'));
        match (origin_host, host) {
            (Some(o), Some(h)) if o.eq_ignore_ascii_case(h) => {}
            _ => return Err(refused),
        }
    }
    Ok(())
}

fn set_cookie(res: &mut Response, cookie: &str) -> Result<(), ApiError> {
    let value = HeaderValue::from_str(cookie).map_err(ApiError::internal)?;
    res.headers_mut().insert(header::SET_COOKIE, value);
    Ok(())
}
