//! The web dashboard served at `/ui`: its embedded assets and the server-side
//! session table. The handlers are in `http::ui`; the dashboard calls the
//! management API through `/ui/api/*`, which the handlers forward to `/admin/*`
//! with the session's management key as the principal.
//!
//! Pages live in `assets/app.js` (one `PAGES` entry each), so a page is a small
//! addition there and nothing here.

pub mod session;

pub use session::{SESSION_IDLE, SESSION_MAX, Session, SessionId, Sessions};

/// The page shell; `{{csrf}}` is replaced per request (empty when signed out).
pub const INDEX_HTML: &str = include_str!("assets/index.html");
/// The dashboard's one script (an ES module, no build step).
pub const APP_JS: &str = include_str!("assets/app.js");
/// The dashboard's one stylesheet (light and dark via `prefers-color-scheme`).
pub const APP_CSS: &str = include_str!("assets/app.css");

/// The Content-Security-Policy every `/ui` response carries: no inline script or
/// style, nothing from other origins, not framed.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The session cookie's name.
pub const COOKIE: &str = "tollgate_session";
