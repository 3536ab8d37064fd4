//! End users: register, log in, logout, expiry, the login brake, the JWT as an
//! end-user principal on gateway routes, and `/admin/users` + `tollgate users`.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::*;

pub const PASSWORD: &str = "correct horse battery";

/// Registers `email`; the response.
pub async fn register(gw: &Gateway, email: &str, password: &str) -> reqwest::Response {
    gw.client
        .post(gw.url("/auth/register"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

pub async fn login(gw: &Gateway, email: &str, password: &str) -> reqwest::Response {
    gw.client
        .post(gw.url("/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

/// A new user's (id, token).
pub async fn new_user(gw: &Gateway, email: &str) -> (String, String) {
    let res = register(gw, email, PASSWORD).await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    (
        body["user"]["id"].as_str().unwrap().to_owned(),
        body["token"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn register_then_login_answer_the_seed_shape() {
    let gw = Gateway::start().await;
    let res = register(&gw, "Ann@Example.org", PASSWORD).await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["user"]["email"], "ann@example.org");
    assert_eq!(body["expires_in"], 604_800);
    let id = body["user"]["id"].as_str().unwrap();
    let token = body["token"].as_str().unwrap();
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");

    // Case-insensitive email, right password.
    let res = login(&gw, "ANN@example.ORG", PASSWORD).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["user"]["id"], id);
    assert_eq!(body["user"]["email"], "ann@example.org");
    assert_eq!(body["expires_in"], 604_800);
    assert_ne!(body["token"], token, "each login is a new token");

    // The token's subject is the user: /keys answers for them.
    let res = gw.get("/keys", body["token"].as_str().unwrap()).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap(), json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_taken_email_is_409_whatever_its_case() {
    let gw = Gateway::start().await;
    new_user(&gw, "bob@example.org").await;
    let res = register(&gw, "BOB@Example.Org", "another password").await;
    let body = expect_error(res, 409, "email_taken").await;
    assert_eq!(body["error"]["type"], "conflict_error");
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_email_and_short_password_are_400() {
    let gw = Gateway::start().await;
    let body = expect_error(
        register(&gw, "not-an-email", PASSWORD).await,
        400,
        "invalid_field",
    )
    .await;
    assert_eq!(body["error"]["param"], "email");
    let body = expect_error(
        register(&gw, "c@example.org", "123456789").await,
        400,
        "invalid_field",
    )
    .await;
    assert_eq!(body["error"]["param"], "password");
    let res = gw
        .client
        .post(gw.url("/auth/register"))
        .json(&json!({"email": "c@example.org"}))
        .send()
        .await
        .unwrap();
    expect_error(res, 400, "invalid_field").await;
    // Nothing was created: the address is still free.
    assert_eq!(register(&gw, "c@example.org", PASSWORD).await.status(), 201);
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_password_and_unknown_email_get_one_identical_401() {
    let gw = Gateway::start().await;
    new_user(&gw, "dan@example.org").await;
    let wrong = expect_error(
        login(&gw, "dan@example.org", "wrong password!").await,
        401,
        "invalid_credentials",
    )
    .await;
    let unknown = expect_error(
        login(&gw, "nobody@example.org", "wrong password!").await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(wrong, unknown, "no account enumeration");
    assert_eq!(wrong["error"]["type"], "authentication_error");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_login_brake_answers_429_after_ten_failures_per_email() {
    let gw = Gateway::start().await;
    new_user(&gw, "eve@example.org").await;
    for _ in 0..10 {
        let res = login(&gw, "eve@example.org", "not the password").await;
        assert_eq!(res.status(), 401);
    }
    // Now even the right password is refused until the window passes.
    let res = login(&gw, "eve@example.org", PASSWORD).await;
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1, "Retry-After {retry}");
    expect_error(res, 429, "rate_limit_exceeded").await;
    // Per address too: ten failures for ten different emails from one address
    // brake that address for any email (per email alone is unit-tested in
    // `users::brake`, where addresses can vary).
    let gw = Gateway::start().await;
    for i in 0..10 {
        let res = login(&gw, &format!("u{i}@example.org"), "not the password").await;
        assert_eq!(res.status(), 401);
    }
    expect_error(
        login(&gw, "new@example.org", PASSWORD).await,
        429,
        "rate_limit_exceeded",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_good_login_does_not_count_against_the_brake() {
    let gw = Gateway::start().await;
    new_user(&gw, "fay@example.org").await;
    for _ in 0..12 {
        assert_eq!(login(&gw, "fay@example.org", PASSWORD).await.status(), 200);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_expires_after_jwt_ttl() {
    let gw = Gateway::start_with(|raw| raw.auth.jwt_ttl = "1s".into()).await;
    let res = register(&gw, "gus@example.org", PASSWORD).await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["expires_in"], 1);
    let token = body["token"].as_str().unwrap().to_owned();
    let gw = &gw;
    let refused = eventually(Duration::from_secs(10), "the token expires", || {
        let token = token.clone();
        async move {
            let res = gw.get("/keys", &token).await;
            (res.status() == 401).then_some(res)
        }
    })
    .await;
    expect_error(refused, 401, "invalid_token").await;
    // On a gateway route too.
    let res = gw.chat(&token, chat_body("gpt-4o-mini", "hi")).await;
    expect_error(res, 401, "invalid_token").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_revokes_the_presented_token_only() {
    let gw = Gateway::start().await;
    let (_, first) = new_user(&gw, "hal@example.org").await;
    let second: Value = login(&gw, "hal@example.org", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let second = second["token"].as_str().unwrap();
    let res = gw.post("/auth/logout", &first, &[], json!({})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["revoked"], true);
    expect_error(gw.get("/keys", &first).await, 401, "invalid_token").await;
    expect_error(
        gw.chat(&first, chat_body("gpt-4o-mini", "hi")).await,
        401,
        "invalid_token",
    )
    .await;
    assert_eq!(gw.get("/keys", second).await.status(), 200);
    // The denylist is stored: a new gateway process on the same database refuses it too.
    let rows: Vec<(String, i64)> = gw
        .state()
        .store()
        .revoked_tokens_since(0, time::OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_tokens_are_401_invalid_token_and_api_keys_are_not_login_tokens() {
    let gw = Gateway::start().await;
    let (_, token) = new_user(&gw, "ida@example.org").await;
    let mut forged = token.clone();
    forged.pop();
    forged.push(if token.ends_with('x') { 'y' } else { 'x' });
    expect_error(
        gw.chat(&forged, chat_body("gpt-4o-mini", "hi")).await,
        401,
        "invalid_token",
    )
    .await;
    expect_error(gw.get("/keys", &forged).await, 401, "invalid_token").await;
    // A token signed by another gateway (another secret) is not ours.
    let other = Gateway::start().await;
    let (_, foreign) = new_user(&other, "ida@example.org").await;
    expect_error(gw.get("/keys", &foreign).await, 401, "invalid_token").await;
    // An API key is no login token for the end-user routes.
    let key = gw.key().await;
    expect_error(gw.get("/keys", &key).await, 401, "invalid_token").await;
    let res = gw.client.get(gw.url("/keys")).send().await.unwrap();
    expect_error(res, 401, "missing_api_key").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_route_is_404_for_a_user_too() {
    let gw = Gateway::start().await;
    let (_, token) = new_user(&gw, "jay@example.org").await;
    expect_error(gw.get("/keys/x/y", &token).await, 404, "not_found").await;
    expect_error(gw.get("/auth/nowhere", &token).await, 404, "not_found").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_has_the_user_scopes_and_no_management_ones() {
    let gw = Gateway::start().await;
    let (_, token) = new_user(&gw, "kim@example.org").await;
    expect_error(
        gw.get("/admin/keys", &token).await,
        403,
        "insufficient_permissions",
    )
    .await;
    expect_error(
        gw.get("/admin/users", &token).await,
        403,
        "insufficient_permissions",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn user_rate_limit_applies_to_gateway_calls() {
    let gw = Gateway::start_with(|raw| {
        raw.auth.user_rate_limit.requests = 2;
        raw.auth.user_rate_limit.period = "hour".into();
    })
    .await;
    let (_, token) = new_user(&gw, "lou@example.org").await;
    let res = gw
        .post(
            "/keys",
            &token,
            &[],
            json!({"vendor": "openai", "label": "l", "api_key": "sk-user-own-0123456789"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    for _ in 0..2 {
        let res = gw.chat(&token, chat_body("gpt-4o-mini", "hi")).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["x-ratelimit-limit"], "2");
    }
    let res = gw.chat(&token, chat_body("gpt-4o-mini", "hi")).await;
    expect_error(res, 429, "rate_limit_exceeded").await;
    assert_eq!(
        gw.mock.stats().await["requests"],
        2,
        "the third never went upstream"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_disabled_or_deleted_users_token_stops_at_once() {
    let gw = Gateway::start().await;
    let (id, token) = new_user(&gw, "max@example.org").await;
    // Warm the user-state cache.
    assert_eq!(gw.get("/keys", &token).await.status(), 200);

    let res = gw
        .admin(
            reqwest::Method::POST,
            &format!("/admin/users/{id}/disable"),
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "disabled");
    expect_error(gw.get("/keys", &token).await, 401, "account_disabled").await;
    expect_error(
        gw.chat(&token, chat_body("gpt-4o-mini", "hi")).await,
        401,
        "account_disabled",
    )
    .await;
    // A disabled user cannot log in either (after a right password only).
    expect_error(
        login(&gw, "max@example.org", PASSWORD).await,
        401,
        "account_disabled",
    )
    .await;

    let res = gw
        .admin(
            reqwest::Method::POST,
            &format!("/admin/users/{id}/enable"),
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(gw.get("/keys", &token).await.status(), 200);

    let res = gw
        .admin(reqwest::Method::DELETE, &format!("/admin/users/{id}"), None)
        .await;
    assert_eq!(res.status(), 200);
    expect_error(gw.get("/keys", &token).await, 401, "invalid_token").await;
    expect_error(
        gw.chat(&token, chat_body("gpt-4o-mini", "hi")).await,
        401,
        "invalid_token",
    )
    .await;
    let res = gw
        .admin(reqwest::Method::GET, &format!("/admin/users/{id}"), None)
        .await;
    expect_error(res, 404, "not_found").await;
    // The email is free again.
    assert_eq!(
        register(&gw, "max@example.org", PASSWORD).await.status(),
        201
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_users_lists_and_shows_without_hashes() {
    let gw = Gateway::start().await;
    let (id, _) = new_user(&gw, "ned@example.org").await;
    let res = gw.admin(reqwest::Method::GET, "/admin/users", None).await;
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert!(!text.contains("argon2"), "{text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["object"], "list");
    assert_eq!(body["data"][0]["id"], id.as_str());
    assert_eq!(body["data"][0]["email"], "ned@example.org");
    assert_eq!(body["data"][0]["status"], "active");
    let res = gw
        .admin(reqwest::Method::GET, &format!("/admin/users/{id}"), None)
        .await;
    assert_eq!(
        res.json::<Value>().await.unwrap()["email"],
        "ned@example.org"
    );
    let res = gw
        .admin(reqwest::Method::POST, "/admin/users/nope/disable", None)
        .await;
    expect_error(res, 404, "not_found").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_lists_disables_and_deletes_users_seen_by_a_running_server() {
    let mock = Mock::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &mock.base, "");
    let server = ServerProcess::start(&config).await;
    let client = client();
    let res = client
        .post(format!("{}/auth/register", server.base))
        .json(&json!({"email": "oli@example.org", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    let id = body["user"]["id"].as_str().unwrap().to_owned();
    let token = body["token"].as_str().unwrap().to_owned();
    let keys = |token: String| {
        let client = client.clone();
        let url = format!("{}/keys", server.base);
        async move {
            client
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(keys(token.clone()).await, 200);

    let (ok, out, err) = cli(&config, &["users", "list", "--json"]).await;
    assert!(ok, "{err}");
    let list: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["email"], "oli@example.org");

    let (ok, _, err) = cli(&config, &["users", "disable", &id]).await;
    assert!(ok, "{err}");
    eventually(
        Duration::from_secs(10),
        "the server sees the CLI's disable",
        || {
            let token = token.clone();
            async { (keys(token).await == 401).then_some(()) }
        },
    )
    .await;

    let (ok, _, err) = cli(&config, &["users", "delete", &id]).await;
    assert!(ok, "{err}");
    let (ok, out, _) = cli(&config, &["users", "list", "--json"]).await;
    assert!(ok);
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), json!([]));
    let (ok, _, err) = cli(&config, &["users", "delete", &id]).await;
    assert!(!ok);
    assert!(err.contains("no user"), "{err}");
}
