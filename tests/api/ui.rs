//! The dashboard at `/ui`: sign-in with a management key for a session cookie,
//! CSRF on every mutation, same-origin only, the strict CSP on every response,
//! sessions that end (sign-out, the key revoked), and a browser run
//! (`ui_browser`) that drives the real pages in headless Chromium.

use reqwest::Method;
use reqwest::header::{HeaderMap, SET_COOKIE};
use serde_json::{Value, json};

use crate::common::*;

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// A signed-in dashboard session: the cookie pair and the CSRF token.
pub struct UiSession {
    pub cookie: String,
    pub csrf: String,
}

pub async fn sign_in(gw: &Gateway, key: &str) -> UiSession {
    let res = gw
        .client
        .post(gw.url("/ui/session"))
        .json(&json!({"key": key}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "sign in");
    let set_cookie = res.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    UiSession {
        cookie,
        csrf: body["csrf_token"].as_str().unwrap().to_owned(),
    }
}

async fn ui_call(
    gw: &Gateway,
    method: Method,
    path: &str,
    s: &UiSession,
    csrf: Option<&str>,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = gw
        .client
        .request(method, gw.url(path))
        .header("cookie", &s.cookie);
    if let Some(t) = csrf {
        req = req.header("x-csrf-token", t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.unwrap()
}

fn assert_security_headers(h: &HeaderMap, what: &str) {
    assert_eq!(h["content-security-policy"], CSP, "{what}");
    assert_eq!(h["x-content-type-options"], "nosniff", "{what}");
    assert_eq!(h["referrer-policy"], "no-referrer", "{what}");
    assert_eq!(h["cache-control"], "no-store", "{what}");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_ui_response_carries_the_strict_csp_and_the_page_has_no_inline_script_or_style() {
    let gw = Gateway::start().await;
    for (path, ctype) in [
        ("/ui", "text/html"),
        ("/ui/app.js", "text/javascript"),
        ("/ui/app.css", "text/css"),
    ] {
        let res = gw.client.get(gw.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert_security_headers(res.headers(), path);
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(ctype),
            "{path}"
        );
    }
    let html = gw
        .client
        .get(gw.url("/ui"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"<script type="module" src="/ui/app.js"></script>"#));
    assert_eq!(
        html.matches("<script").count(),
        1,
        "one external script only"
    );
    assert!(
        !html.contains("<style") && !html.contains("style="),
        "no inline style"
    );
    assert!(
        !html.contains(" on") || !html.contains("onclick="),
        "no inline handlers"
    );
    // Signed out: no CSRF token on the page.
    assert!(html.contains(r#"<meta name="csrf-token" content="">"#));
    // Refusals under /ui carry the headers too.
    let res = gw
        .client
        .delete(gw.url("/ui/session"))
        .send()
        .await
        .unwrap();
    assert_security_headers(res.headers(), "a refusal");
    expect_error(res, 401, "invalid_token").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_sets_a_strict_session_cookie_and_never_echoes_the_key() {
    let gw = Gateway::start().await;
    let res = gw
        .client
        .post(gw.url("/ui/session"))
        .json(&json!({"key": gw.admin_key}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let cookies: Vec<String> = res
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let attrs: Vec<&str> = cookies[0].split("; ").collect();
    let (name, value) = attrs[0].split_once('=').unwrap();
    assert_eq!(name, "tollgate_session");
    assert_eq!(value.len(), 43, "256 random bits, base64url");
    for flag in [
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
        "Path=/ui",
        "Max-Age=86400",
    ] {
        assert!(attrs.contains(&flag), "{flag} in {cookies:?}");
    }
    let body = res.text().await.unwrap();
    assert!(!body.contains(&gw.admin_key), "the key is never echoed");
    assert!(!cookies[0].contains(&gw.admin_key));
    let body: Value = serde_json::from_str(&body).unwrap();
    let csrf = body["csrf_token"].as_str().unwrap();
    assert_ne!(csrf, value, "the CSRF token is not the session id");

    // The signed-in page carries this session's CSRF token, and never the key.
    let html = gw
        .client
        .get(gw.url("/ui"))
        .header("cookie", attrs[0])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(&format!(r#"<meta name="csrf-token" content="{csrf}">"#)));
    assert!(!html.contains(&gw.admin_key));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_or_non_management_key_gets_no_session() {
    let gw = Gateway::start().await;
    let mut wrong = gw.admin_key.clone();
    let last = wrong.pop().unwrap();
    wrong.push(if last == 'a' { 'b' } else { 'a' });
    for (key, status, code) in [
        (wrong.as_str(), 401, "invalid_api_key"),
        ("not-a-key", 401, "invalid_api_key"),
    ] {
        let res = gw
            .client
            .post(gw.url("/ui/session"))
            .json(&json!({"key": key}))
            .send()
            .await
            .unwrap();
        assert!(res.headers().get(SET_COOKIE).is_none(), "{key}");
        expect_error(res, status, code).await;
    }
    // A gateway (sk) key is valid but may not administer.
    let sk = gw.key().await;
    let res = gw
        .client
        .post(gw.url("/ui/session"))
        .json(&json!({"key": sk}))
        .send()
        .await
        .unwrap();
    assert!(res.headers().get(SET_COOKIE).is_none());
    expect_error(res, 403, "insufficient_permissions").await;
    // Not JSON, or the wrong shape: 400, never a session.
    let res = gw
        .client
        .post(gw.url("/ui/session"))
        .body("key=x")
        .send()
        .await
        .unwrap();
    expect_error(res, 400, "invalid_json").await;
    let res = gw
        .client
        .post(gw.url("/ui/session"))
        .json(&json!({"token": "x"}))
        .send()
        .await
        .unwrap();
    expect_error(res, 400, "invalid_field").await;
    assert!(gw.state().ui_sessions().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn mutations_need_the_csrf_token_and_reads_need_the_session() {
    let gw = Gateway::start().await;
    let s = sign_in(&gw, &gw.admin_key).await;

    // Reads work with the cookie alone, and answer what /admin answers.
    let res = ui_call(&gw, Method::GET, "/ui/api/keys?kind=mk", &s, None, None).await;
    assert_eq!(res.status(), 200);
    let via_ui: Value = res.json().await.unwrap();
    let direct: Value = gw
        .admin(Method::GET, "/admin/keys?kind=mk", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(via_ui, direct);

    // No cookie: 401 whatever else is sent.
    let res = gw
        .client
        .get(gw.url("/ui/api/keys"))
        .header("x-csrf-token", &s.csrf)
        .send()
        .await
        .unwrap();
    expect_error(res, 401, "invalid_token").await;

    // A mutation without the token, or with another one: 403, nothing created.
    let body = json!({"name": "csrf-probe"});
    for token in [None, Some("wrong"), Some("")] {
        let res = ui_call(
            &gw,
            Method::POST,
            "/ui/api/keys",
            &s,
            token,
            Some(body.clone()),
        )
        .await;
        let err = expect_error(res, 403, "csrf_failed").await;
        assert!(
            err["error"]["message"]
                .as_str()
                .unwrap()
                .contains("X-CSRF-Token")
        );
    }
    let keys: Value = gw
        .admin(Method::GET, "/admin/keys?name=csrf-probe", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(keys["data"].as_array().unwrap().len(), 0, "{keys}");

    // Another site's request is refused even with the right token.
    let res = gw
        .client
        .post(gw.url("/ui/api/keys"))
        .header("cookie", &s.cookie)
        .header("x-csrf-token", &s.csrf)
        .header("origin", "https://evil.example")
        .json(&body)
        .send()
        .await
        .unwrap();
    expect_error(res, 403, "csrf_failed").await;
    let res = gw
        .client
        .get(gw.url("/ui/api/keys"))
        .header("cookie", &s.cookie)
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    expect_error(res, 403, "csrf_failed").await;

    // With the token (and our own origin): created, and the key works.
    let res = gw
        .client
        .post(gw.url("/ui/api/keys"))
        .header("cookie", &s.cookie)
        .header("x-csrf-token", &s.csrf)
        .header("origin", gw.base.clone())
        .header("sec-fetch-site", "same-origin")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    let key = created["key"].as_str().unwrap();
    assert_eq!(
        gw.chat(key, chat_body("gpt-4o-mini", "hi")).await.status(),
        200
    );
    // The session's own CSRF token is not a key for the admin API.
    let res = gw.get("/admin/keys", &s.csrf).await;
    expect_error(res, 401, "invalid_api_key").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_ends_on_sign_out_and_when_its_key_is_revoked() {
    let gw = Gateway::start().await;
    let s = sign_in(&gw, &gw.admin_key).await;
    // Sign-out is a mutation too.
    let res = ui_call(&gw, Method::DELETE, "/ui/session", &s, None, None).await;
    expect_error(res, 403, "csrf_failed").await;
    let res = ui_call(&gw, Method::DELETE, "/ui/session", &s, Some(&s.csrf), None).await;
    assert_eq!(res.status(), 204);
    let cleared = res.headers()[SET_COOKIE].to_str().unwrap();
    assert!(cleared.starts_with("tollgate_session=;") && cleared.contains("Max-Age=0"));
    let res = ui_call(&gw, Method::GET, "/ui/api/keys", &s, None, None).await;
    expect_error(res, 401, "invalid_token").await;

    // A second management key signs in; revoking it ends its session at once.
    let mk = gw.create_key(json!({"name": "ops", "kind": "mk"})).await;
    let s2 = sign_in(&gw, &mk).await;
    assert_eq!(
        ui_call(&gw, Method::GET, "/ui/api/accounts", &s2, None, None)
            .await
            .status(),
        200
    );
    let kid = mk.split('_').nth(3).unwrap();
    let res = gw
        .admin(Method::POST, &format!("/admin/keys/{kid}/revoke"), None)
        .await;
    assert_eq!(res.status(), 200);
    let res = ui_call(&gw, Method::GET, "/ui/api/accounts", &s2, None, None).await;
    expect_error(res, 401, "revoked_api_key").await;
    // And the session is gone, not just refused once.
    let res = ui_call(&gw, Method::GET, "/ui/api/accounts", &s2, None, None).await;
    expect_error(res, 401, "invalid_token").await;
    assert!(gw.state().ui_sessions().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_ui_api_reaches_only_admin_routes_and_keeps_the_gate() {
    let gw = Gateway::start().await;
    let s = sign_in(&gw, &gw.admin_key).await;
    // Usage through the dashboard is the same report as /admin/usage.
    let q = "from=2025-01-01T00:00:00Z&to=2025-01-02T00:00:00Z&group_by=model";
    let via_ui: Value = ui_call(
        &gw,
        Method::GET,
        &format!("/ui/api/usage?{q}"),
        &s,
        None,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    let direct: Value = gw
        .get(&format!("/admin/usage?{q}"), &gw.admin_key)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(via_ui, direct);
    assert_eq!(via_ui["object"], "usage_report");
    // Bad input is the admin API's own documented error.
    let res = ui_call(
        &gw,
        Method::GET,
        "/ui/api/usage?group_by=nope",
        &s,
        None,
        None,
    )
    .await;
    expect_error(res, 400, "invalid_field").await;
    // Nothing outside /admin: the gateway routes are not reachable with a cookie.
    let res = ui_call(
        &gw,
        Method::POST,
        "/ui/api/../v1/chat/completions",
        &s,
        Some(&s.csrf),
        Some(chat_body("gpt-4o-mini", "hi")),
    )
    .await;
    assert_eq!(res.status(), 404);
    assert_eq!(gw.mock.requests().await.len(), 0, "no upstream call");
    let res = ui_call(&gw, Method::GET, "/ui/api/nope", &s, None, None).await;
    expect_error(res, 404, "not_found").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_page_module_is_served_with_the_headers_and_nothing_else_is() {
    let gw = Gateway::start().await;
    for name in [
        "dom.js",
        "charts.js",
        "keys.js",
        "usage.js",
        "accounts.js",
        "users.js",
        "webhooks.js",
        "alerts.js",
        "providers.js",
    ] {
        let res = gw
            .client
            .get(gw.url(&format!("/ui/{name}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{name}");
        assert_security_headers(res.headers(), name);
        assert_eq!(
            res.headers()["content-type"],
            "text/javascript; charset=utf-8"
        );
        let body = res.text().await.unwrap();
        assert!(body.contains("export"), "{name} is a module");
        assert!(!body.contains("innerHTML"), "{name} builds DOM nodes only");
    }
    for path in ["/ui/nope.js", "/ui/..%2Fapp.rs", "/ui/index.html"] {
        let res = gw.client.get(gw.url(path)).send().await.unwrap();
        assert_security_headers(res.headers(), path);
        expect_error(res, 404, "not_found").await;
    }
}

/// Signs in; the session, the cookie header and the body.
async fn sign_in_raw(gw: &Gateway) -> (UiSession, String, Value) {
    let res = gw
        .client
        .post(gw.url("/ui/session"))
        .json(&json!({"key": gw.admin_key}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let cookie = res.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    let s = UiSession {
        cookie: cookie.split(';').next().unwrap().to_owned(),
        csrf: body["csrf_token"].as_str().unwrap().to_owned(),
    };
    (s, cookie, body)
}

#[tokio::test(flavor = "multi_thread")]
async fn session_lifetimes_come_from_the_ui_config_and_an_expired_session_signs_out() {
    // The configured lifetimes reach the cookie and the sign-in answer.
    let gw = Gateway::start_with(|raw| {
        raw.ui.session_ttl_secs = 7200;
        raw.ui.idle_timeout_secs = 600;
    })
    .await;
    let (_, cookie, body) = sign_in_raw(&gw).await;
    assert!(cookie.contains("Max-Age=7200"), "{cookie}");
    assert_eq!(body["idle_timeout_secs"], 600);
    assert_eq!(body["max_age_secs"], 7200);

    // A one-second lifetime: however busy (every poll uses the session), it
    // ends; the API answers 401 (the page's script reloads on it) and the page
    // is the sign-in form again.
    let gw = Gateway::start_with(|raw| raw.ui.session_ttl_secs = 1).await;
    let (s, cookie, body) = sign_in_raw(&gw).await;
    assert!(cookie.contains("Max-Age=1"), "{cookie}");
    assert_eq!(
        body["idle_timeout_secs"], 1,
        "the idle timeout is capped by the lifetime"
    );
    let res = eventually(
        std::time::Duration::from_secs(15),
        "the session to expire",
        || async {
            let res = ui_call(&gw, Method::GET, "/ui/api/keys", &s, None, None).await;
            (res.status() == 401).then_some(res)
        },
    )
    .await;
    expect_error(res, 401, "invalid_token").await;
    let html = gw
        .client
        .get(gw.url("/ui"))
        .header("cookie", &s.cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"<meta name="csrf-token" content="">"#));
    assert!(!html.contains(&s.csrf));
    let res = ui_call(&gw, Method::DELETE, "/ui/session", &s, Some(&s.csrf), None).await;
    expect_error(res, 401, "invalid_token").await;
    assert!(gw.state().ui_sessions().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn session_lifetimes_must_be_positive() {
    for (ttl, idle, key) in [
        (0, 60, "ui.session_ttl_secs"),
        (60, 0, "ui.idle_timeout_secs"),
    ] {
        let mut raw = tollgate::config::RawConfig::default();
        raw.ui.session_ttl_secs = ttl;
        raw.ui.idle_timeout_secs = idle;
        let dir = tempfile::tempdir().unwrap();
        let err = tollgate::config::Config::from_raw(raw, dir.path().to_owned())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with(key) && err.contains("at least 1"), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_new_dashboard_mutation_needs_the_csrf_token() {
    let gw = Gateway::start_with(crate::webhooks::local_hooks).await;
    let s = sign_in(&gw, &gw.admin_key).await;
    let (user_id, _) = crate::users::new_user(&gw, "csrf-user@example.com").await;
    let rx = crate::webhooks::Receiver::start(0).await;
    let hook = crate::webhooks::create_hook(&gw, &rx.url, json!(["webhook.test"])).await;
    let hook_id = hook["id"].as_str().unwrap();
    let sk = gw.create_key(json!({"name": "csrf-target"})).await;
    let kid = sk.split('_').nth(3).unwrap();
    let mutations: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::PATCH,
            format!("/ui/api/keys/{kid}"),
            Some(json!({"name": "changed"})),
        ),
        (
            Method::POST,
            format!("/ui/api/keys/{kid}/rotate"),
            Some(json!({"grace_period_secs": 0})),
        ),
        (
            Method::POST,
            format!("/ui/api/users/{user_id}/disable"),
            None,
        ),
        (Method::DELETE, format!("/ui/api/users/{user_id}"), None),
        (
            Method::POST,
            "/ui/api/webhooks".into(),
            Some(json!({"url": rx.url, "events": ["*"]})),
        ),
        (
            Method::POST,
            format!("/ui/api/webhooks/{hook_id}/test"),
            None,
        ),
        (Method::DELETE, format!("/ui/api/webhooks/{hook_id}"), None),
        (
            Method::POST,
            format!("/ui/api/webhooks/{hook_id}/deliveries/nope/redeliver"),
            None,
        ),
    ];
    for (method, path, body) in &mutations {
        for token in [None, Some("wrong")] {
            let res = ui_call(&gw, method.clone(), path, &s, token, body.clone()).await;
            expect_error(res, 403, "csrf_failed").await;
        }
    }
    // Nothing changed: the key still works with its name, the user is active,
    // one webhook and no delivery.
    let key: Value = gw
        .get(&format!("/admin/keys/{kid}"), &gw.admin_key)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(key["name"], "csrf-target");
    assert_eq!(
        gw.chat(&sk, chat_body("gpt-4o-mini", "hi")).await.status(),
        200
    );
    let user: Value = gw
        .get(&format!("/admin/users/{user_id}"), &gw.admin_key)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(user["status"], "active");
    let hooks: Value = gw
        .get("/admin/webhooks", &gw.admin_key)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(hooks["data"].as_array().unwrap().len(), 1);
    let log: Value = gw
        .get(
            &format!("/admin/webhooks/{hook_id}/deliveries"),
            &gw.admin_key,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(log["data"], json!([]));
    // With the token the same calls go through (one of them, to show the path).
    let res = ui_call(
        &gw,
        Method::POST,
        &format!("/ui/api/users/{user_id}/disable"),
        &s,
        Some(&s.csrf),
        None,
    )
    .await;
    assert_eq!(res.status(), 200);
}

/// Alert rows as an evaluator writes them, for the alerts page.
async fn seed_alerts(gw: &Gateway) {
    let store = gw.state().store();
    for (kind, data) in [
        (
            "alert.auth_failures",
            json!({"key_id": "k1", "failures": 10, "window_secs": 300}),
        ),
        ("alert.new_ip", json!({"key_id": "k2", "ip": "203.0.113.9"})),
    ] {
        store
            .insert_event(&tollgate::store::NewEvent::now(kind, "default", data))
            .await
            .unwrap();
    }
}

fn f64_of(v: &Value) -> f64 {
    match v {
        Value::String(s) => s.parse().unwrap(),
        v => v.as_f64().unwrap(),
    }
}

/// The browser run: signs in, creates a key in the show-once dialog and uses it
/// (200), edits its policy, rotates it (old and new secret both work in the
/// grace period), revokes it (401), reads the usage time series and breakdown,
/// credits an account, disables an end user, registers a webhook and tests and
/// redelivers it, filters alerts, reads providers' health, and walks one keyboard
/// flow; screenshots of each page land in `target/ui-screenshots/`.
#[tokio::test(flavor = "multi_thread")]
async fn ui_browser_signs_in_creates_and_revokes_a_key_and_reads_usage() {
    protocol_only_once!();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("tests/ui/dashboard.mjs");
    assert!(
        root.join("tests/ui/node_modules/playwright-core").exists(),
        "tests/ui/node_modules is missing: run `npm ci` in tests/ui (.ci/run does)"
    );
    assert!(
        std::path::Path::new("/usr/bin/chromium").exists(),
        "/usr/bin/chromium is missing: apt-get install -y chromium chromium-driver (.ci/run does)"
    );
    let gw = Gateway::start_with(crate::webhooks::local_hooks).await;
    let rx = crate::webhooks::Receiver::start(0).await;
    let (user_id, _token) = crate::users::new_user(&gw, "browser-user@example.com").await;
    seed_alerts(&gw).await;
    let shots = root.join("target/ui-screenshots");
    let run = tokio::process::Command::new("node")
        .arg(&script)
        .env("TOLLGATE_BASE", &gw.base)
        .env("TOLLGATE_ADMIN_KEY", &gw.admin_key)
        .env("TOLLGATE_SHOTS", &shots)
        .env("TOLLGATE_HOOK_URL", &rx.url)
        .env("TOLLGATE_USER_ID", &user_id)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(std::time::Duration::from_secs(300), run)
        .await
        .expect("the browser run finishes within 5 minutes")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "browser run failed:\n{stdout}\n{stderr}"
    );
    let s: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();

    // The session: an HttpOnly, Secure, Strict cookie the page's script cannot read,
    // nothing in web storage, the key never on the page.
    assert_eq!(s["signed_in"], true);
    assert_eq!(
        s["cookie"],
        json!({"httpOnly": true, "secure": true, "sameSite": "Strict", "path": "/ui"})
    );
    assert!(
        !s["document_cookie"]
            .as_str()
            .unwrap()
            .contains("tollgate_session")
    );
    assert_eq!(s["storage_entries"], 0);
    assert_eq!(s["page_has_admin_key"], false);
    assert_eq!(s["csp_violations"], json!([]), "{s}");

    // Keyboard: Enter opens the edit dialog with focus on a labelled field, Tab
    // stays in the dialog, Escape closes it and gives focus back to Edit; every
    // form control on every page has a label.
    assert_eq!(
        s["keyboard"],
        json!({"inside": true, "label": "Scopes (comma-separated)", "tab_stays_inside": true, "focus_back_on": "edit"}),
        "{s}"
    );
    for (page, controls) in s["unlabelled"].as_object().unwrap() {
        assert_eq!(controls, &json!([]), "unlabelled controls on {page}");
    }

    // The key made in the dialog worked and was shown once.
    assert_eq!(s["chat_before"], json!({"status": 200, "code": null}));
    assert_eq!(s["key_shown_after_close"], false);
    let kid = s["kid"].as_str().unwrap();
    let key: Value = gw
        .get(&format!("/admin/keys/{kid}"), &gw.admin_key)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(key["name"], "browser-key");
    // The edit dialog's policy is the key's.
    assert_eq!(key["scopes"], json!(["chat", "embeddings"]), "{key}");
    assert_eq!(key["rate_limit"]["requests"], 100, "{key}");
    assert_eq!(key["rate_limit"]["period"], "minute", "{key}");
    assert_eq!(key["ip_allowlist"], json!(["127.0.0.1/32"]), "{key}");
    assert_eq!(key["allowed_models"], json!(["gpt-4o-mini"]), "{key}");
    let rfc = |v: &Value| {
        time::OffsetDateTime::parse(
            v.as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
    };
    assert_eq!(rfc(&key["expires_at"]), rfc(&s["expires_local"]), "{key}");
    assert!(s["policy_cell"].as_str().unwrap().contains("127.0.0.1/32"));
    // Rotated with grace: the old secret and the new one both worked, the new
    // one was shown once; revoked, the new one gets a 401.
    assert_eq!(s["chat_old_in_grace"], json!({"status": 200, "code": null}));
    assert_eq!(s["chat_new"], json!({"status": 200, "code": null}));
    assert_eq!(s["rotated_shown_after_close"], false);
    assert_eq!(
        s["chat_after"],
        json!({"status": 401, "code": "revoked_api_key"})
    );
    assert_eq!(key["status"], "revoked");
    let upstream = gw.mock.requests().await;
    assert_eq!(
        upstream.len(),
        3,
        "three chats reached the provider: {upstream:?}"
    );

    // The time series are /admin/usage's hourly report over the page's window,
    // metric by metric.
    let usage = &s["usage"];
    assert_eq!(usage["bucket"], "hour");
    let q = format!(
        "from={}&to={}&group_by=hour",
        usage["from"].as_str().unwrap(),
        usage["to"].as_str().unwrap()
    );
    let hourly: Value = gw
        .get(&format!("/admin/usage?{q}"), &gw.admin_key)
        .await
        .json()
        .await
        .unwrap();
    let groups = hourly["groups"].as_array().unwrap();
    assert!(!groups.is_empty(), "{hourly}");
    let metric = |g: &Value, m: &str| -> f64 {
        match m {
            "error_rate" => (g["error_rate"].as_f64().unwrap() * 1000.0).round() / 10.0,
            "tokens" => f64_of(&g["input_tokens"]) + f64_of(&g["output_tokens"]),
            m => f64_of(&g[m]),
        }
    };
    for m in [
        "requests",
        "error_rate",
        "auth_failures",
        "tokens",
        "cost_usd",
    ] {
        let points = usage["series"][m].as_array().unwrap();
        assert_eq!(points.len(), groups.len(), "{m}: {points:?} vs {hourly}");
        for (p, g) in points.iter().zip(groups) {
            assert_eq!(p["t"], g["key"], "{m}");
            assert_eq!(f64_of(&p["value"]), metric(g, m), "{m} at {}", g["key"]);
        }
        assert_eq!(
            f64_of(&usage["totals"][m]),
            metric(&hourly["totals"], m),
            "total {m}"
        );
    }
    assert!(metric(&hourly["totals"], "tokens") > 0.0);
    assert!(metric(&hourly["totals"], "error_rate") > 0.0, "the 401");

    // The breakdown's numbers are /admin/usage's by model.
    let report: Value = gw
        .get("/admin/usage?group_by=model", &gw.admin_key)
        .await
        .json()
        .await
        .unwrap();
    let api_bars: Vec<Value> = report["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| json!({"label": g["key"], "value": g["requests"]}))
        .collect();
    assert_eq!(s["usage_by_model"], json!(api_bars), "chart vs {report}");
    assert_eq!(s["usage_total_requests"], report["totals"]["requests"]);
    assert_eq!(s["usage_total_requests"], 4, "three 200s and the 401");
    assert_eq!(
        s["usage_total_auth_failures"],
        report["totals"]["auth_failures"]
    );

    // The credit landed, with the signed-in key as its actor, and shows in the trail.
    let credits: Value = gw
        .get("/admin/accounts/default/credits", &gw.admin_key)
        .await
        .json()
        .await
        .unwrap();
    let credit = credits["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["note"] == "browser credit")
        .unwrap_or_else(|| panic!("no credit in {credits}"));
    assert_eq!(credit["amount"], "12.500000");
    let admin_kid = gw.admin_key.split('_').nth(3).unwrap();
    assert_eq!(credit["actor"], admin_kid);
    let row = s["credit_row"].to_string();
    assert!(
        row.contains("browser credit") && row.contains("12.500000"),
        "{row}"
    );

    // The end user was listed and is disabled now.
    assert_eq!(s["users_listed"], json!([user_id]));
    let user: Value = gw
        .get(&format!("/admin/users/{user_id}"), &gw.admin_key)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(user["status"], "disabled", "{user}");

    // The webhook: its secret was shown once and is the one that signs; the test
    // delivery reached the receiver twice (delivered, then redelivered) with one
    // delivery id; the webhook is deleted.
    let secret = s["webhook_secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert_eq!(s["secret_shown_after_close"], false);
    let got = rx.all();
    assert_eq!(got.len(), 2, "{got:?}");
    for r in &got {
        assert_eq!(
            r.headers["x-tollgate-delivery"],
            s["delivery_id"].as_str().unwrap()
        );
        let sig = r.headers["x-tollgate-signature"].to_str().unwrap();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        assert!(
            crate::webhooks::verify(secret, sig, &r.body, now),
            "signed with the shown secret"
        );
        assert!(r.body.contains("webhook.test"));
    }
    let hooks: Value = gw
        .get("/admin/webhooks", &gw.admin_key)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(hooks["data"], json!([]), "deleted from the page");

    // Alerts: newest first, filtered by type and by key as the API filters.
    let alerts: Value = gw
        .get("/admin/alerts", &gw.admin_key)
        .await
        .json()
        .await
        .unwrap();
    let api_types: Vec<&Value> = alerts["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["type"])
        .collect();
    assert_eq!(s["alerts_all"], json!(api_types));
    let all = s["alerts_all"].to_string();
    assert!(
        all.contains(r#""alert.new_ip","alert.auth_failures""#),
        "{all}"
    );
    let by_type = s["alerts_by_type"].as_array().unwrap();
    assert!(!by_type.is_empty() && by_type.iter().all(|t| t == "alert.auth_failures"));
    assert_eq!(s["alerts_by_key"], json!(["alert.new_ip"]));

    // Providers' health is /admin/providers'.
    let providers: Value = gw
        .get("/admin/providers", &gw.admin_key)
        .await
        .json()
        .await
        .unwrap();
    let api_deployments: Vec<Value> = providers["data"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| {
            p["deployments"].as_array().unwrap().iter().map(|d| {
                json!({"provider": p["provider"], "name": d["name"], "health": d["health"], "recent": d["recent_requests"]})
            })
        })
        .collect();
    assert!(!api_deployments.is_empty());
    assert_eq!(s["deployments"], json!(api_deployments));

    assert_eq!(s["phone_overflow"], false, "keys usable at phone width");
    assert_eq!(
        s["phone_overflow_usage"], false,
        "usage usable at phone width"
    );
    assert_eq!(s["api_after_sign_out"], 401);
    for shot in [
        "sign-in.png",
        "keys.png",
        "key-created.png",
        "key-edit.png",
        "key-rotated.png",
        "usage.png",
        "usage-dark.png",
        "accounts.png",
        "users.png",
        "webhook-secret.png",
        "webhooks.png",
        "alerts.png",
        "providers.png",
        "keys-phone.png",
        "usage-phone.png",
    ] {
        let meta = std::fs::metadata(shots.join(shot)).unwrap();
        assert!(meta.len() > 1000, "{shot} is a real screenshot");
    }
}
