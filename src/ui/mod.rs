//! The web dashboard served at `/ui`: its embedded assets and the server-side
//! session table. The handlers are in `http::ui`; the dashboard calls the
//! management API through `/ui/api/*`, which the handlers forward to `/admin/*`
//! with the session's management key as the principal.
//!
//! The script is a set of ES modules (no build step): `app.js` is the shell,
//! `dom.js` and `charts.js` what pages share, and each page one module with a
//! `render(root)` (plus its line in `PAGES` in `app.js`, and in [`ASSETS`]).

pub mod session;

pub use session::{Session, SessionId, Sessions};

/// The page shell; `{{csrf}}` is replaced per request (empty when signed out).
pub const INDEX_HTML: &str = include_str!("assets/index.html");

const JS: &str = "text/javascript; charset=utf-8";

/// Every asset under `/ui/<name>`: name, content type, body. A fixed table, so
/// nothing but these names is ever served (no path from the request reaches a
/// file system).
pub const ASSETS: &[(&str, &str, &str)] = &[
    ("app.js", JS, include_str!("assets/app.js")),
    ("dom.js", JS, include_str!("assets/dom.js")),
    ("charts.js", JS, include_str!("assets/charts.js")),
    ("keys.js", JS, include_str!("assets/keys.js")),
    ("usage.js", JS, include_str!("assets/usage.js")),
    ("accounts.js", JS, include_str!("assets/accounts.js")),
    ("users.js", JS, include_str!("assets/users.js")),
    ("webhooks.js", JS, include_str!("assets/webhooks.js")),
    ("alerts.js", JS, include_str!("assets/alerts.js")),
    ("providers.js", JS, include_str!("assets/providers.js")),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("assets/app.css"),
    ),
];

/// The asset called `name`: (content type, body).
pub fn asset(name: &str) -> Option<(&'static str, &'static str)> {
    ASSETS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, ctype, body)| (*ctype, *body))
}

/// The Content-Security-Policy every `/ui` response carries: no inline script or
/// style, nothing from other origins, not framed.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The session cookie's name.
pub const COOKIE: &str = "tollgate_session";
