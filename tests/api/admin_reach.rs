//! How far a management key reaches: a key owned by an account manages that
//! account only (another account's resources are 404, naming another account or
//! doing a global act is 403); the operator's keys, and `admin:global` ones,
//! manage every account.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::*;

/// A key made by the bootstrap (global) key: (id, kid, plaintext).
async fn make_key(gw: &Gateway, spec: Value) -> (String, String, String) {
    let res = gw.admin(Method::POST, "/admin/keys", Some(spec)).await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    (
        body["id"].as_str().unwrap().to_owned(),
        body["kid"].as_str().unwrap().to_owned(),
        body["key"].as_str().unwrap().to_owned(),
    )
}

async fn call(
    gw: &Gateway,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = gw.client.request(method, gw.url(path)).bearer_auth(key);
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.unwrap()
}

async fn two_accounts(gw: &Gateway) {
    for id in ["acme", "globex"] {
        let res = gw
            .admin(
                Method::POST,
                "/admin/accounts",
                Some(json!({"id": id, "name": id})),
            )
            .await;
        assert_eq!(res.status(), 201);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_account_management_key_cannot_touch_other_accounts() {
    let gw = Gateway::start().await;
    two_accounts(&gw).await;
    let (_, _, acme_mk) = make_key(
        &gw,
        json!({"name": "acme-admin", "kind": "mk", "account_id": "acme"}),
    )
    .await;
    let (acme_sk_id, _, _) = make_key(&gw, json!({"name": "acme-app", "account_id": "acme"})).await;
    let (globex_id, globex_kid, globex_key) =
        make_key(&gw, json!({"name": "globex-app", "account_id": "globex"})).await;
    let bootstrap_kid = gw.admin_key.split('_').nth(3).unwrap().to_owned();

    // Another account's resources, by id or kid: "not found", like a missing id.
    let not_found: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("/admin/keys/{globex_id}"), None),
        (Method::GET, format!("/admin/keys/{globex_kid}"), None),
        (
            Method::PATCH,
            format!("/admin/keys/{globex_id}"),
            Some(json!({"name": "mine now"})),
        ),
        (Method::DELETE, format!("/admin/keys/{globex_id}"), None),
        (
            Method::POST,
            format!("/admin/keys/{globex_kid}/revoke"),
            None,
        ),
        (
            Method::POST,
            format!("/admin/keys/{globex_id}/rotate"),
            Some(json!({})),
        ),
        (Method::GET, format!("/admin/keys/{globex_id}/usage"), None),
        // The operator's own (global) key is not the account's to see or rotate.
        (Method::GET, format!("/admin/keys/{bootstrap_kid}"), None),
        (
            Method::POST,
            format!("/admin/keys/{bootstrap_kid}/rotate"),
            Some(json!({})),
        ),
        (Method::GET, "/admin/accounts/globex".into(), None),
        (Method::GET, "/admin/accounts/globex/credits".into(), None),
        (Method::GET, "/admin/accounts/default".into(), None),
    ];
    for (method, path, body) in not_found {
        let res = call(&gw, &acme_mk, method.clone(), &path, body).await;
        expect_error(res, 404, "not_found").await;
    }

    // Global acts, and naming another account in a body or filter: 403.
    let forbidden: Vec<(Method, &str, Option<Value>)> = vec![
        (
            Method::POST,
            "/admin/accounts",
            Some(json!({"name": "initech"})),
        ),
        (
            Method::POST,
            "/admin/accounts/globex/credit",
            Some(json!({"amount": "5.00"})),
        ),
        (
            Method::POST,
            "/admin/accounts/acme/credit",
            Some(json!({"amount": "5.00"})),
        ),
        (Method::POST, "/admin/accounts/globex/disable", None),
        (Method::POST, "/admin/accounts/acme/disable", None),
        (Method::POST, "/admin/accounts/globex/enable", None),
        (
            Method::PATCH,
            "/admin/accounts/acme",
            Some(json!({"billing_mode": "postpaid"})),
        ),
        (Method::GET, "/admin/keys?account_id=globex", None),
        (Method::GET, "/admin/keys?account_id=nonexistent", None),
        (Method::GET, "/admin/usage?account_id=globex", None),
        (
            Method::POST,
            "/admin/keys",
            Some(json!({"name": "x", "account_id": "globex"})),
        ),
        (
            Method::POST,
            "/admin/keys",
            Some(json!({"name": "x", "account_id": "default"})),
        ),
        (
            Method::POST,
            "/admin/keys",
            Some(json!({"name": "x", "kind": "mk", "scopes": ["admin", "admin:global"]})),
        ),
        (
            Method::PATCH,
            "/admin/keys/placeholder",
            Some(json!({"scopes": ["chat", "admin:global"]})),
        ),
    ];
    for (method, path, body) in forbidden {
        let path = path.replace("placeholder", &acme_sk_id);
        let res = call(&gw, &acme_mk, method.clone(), &path, body).await;
        expect_error(res, 403, "insufficient_permissions").await;
    }

    // Nothing of globex changed: its key still works, its account is enabled, unfunded.
    let res = gw.chat(&globex_key, chat_body("gpt-4o-mini", "hi")).await;
    assert_eq!(res.status(), 200);
    let globex: Value = gw
        .admin(Method::GET, "/admin/accounts/globex", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(globex["status"], "active");
    assert_eq!(globex["name"], "globex");
    let credits: Value = gw
        .admin(Method::GET, "/admin/accounts/globex/credits", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(credits["data"], json!([]));
    let key: Value = gw
        .admin(Method::GET, &format!("/admin/keys/{globex_id}"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (key["name"].as_str(), key["status"].as_str()),
        (Some("globex-app"), Some("active"))
    );

    // Within its own account it administers as before.
    let listed: Value = call(&gw, &acme_mk, Method::GET, "/admin/keys", None)
        .await
        .json()
        .await
        .unwrap();
    let accounts: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["account_id"].as_str().unwrap())
        .collect();
    assert_eq!(accounts, ["acme", "acme"], "{listed}");
    let res = call(
        &gw,
        &acme_mk,
        Method::GET,
        "/admin/keys?account_id=acme",
        None,
    )
    .await;
    assert_eq!(res.status(), 200);
    let listed: Value = call(&gw, &acme_mk, Method::GET, "/admin/accounts", None)
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["acme"]);
    let res = call(&gw, &acme_mk, Method::GET, "/admin/accounts/acme", None).await;
    assert_eq!(res.status(), 200);
    let res = call(
        &gw,
        &acme_mk,
        Method::POST,
        "/admin/keys",
        Some(json!({"name": "acme-new"})),
    )
    .await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    assert_eq!(
        created["account_id"], "acme",
        "a new key lands in the caller's account"
    );
    let res = call(
        &gw,
        &acme_mk,
        Method::DELETE,
        &format!("/admin/keys/{acme_sk_id}"),
        None,
    )
    .await;
    assert_eq!(res.status(), 200);
    let report: Value = call(&gw, &acme_mk, Method::GET, "/admin/usage", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(report["account_id"], "acme");
}

#[tokio::test(flavor = "multi_thread")]
async fn global_management_keys_still_reach_every_account() {
    let gw = Gateway::start().await;
    two_accounts(&gw).await;
    let (globex_id, _, globex_key) =
        make_key(&gw, json!({"name": "g", "account_id": "globex"})).await;
    // The bootstrap key (operator's account) and an acme key holding admin:global.
    let (_, _, acme_global) = make_key(
        &gw,
        json!({"name": "acme-global", "kind": "mk", "account_id": "acme", "scopes": ["admin", "analytics", "admin:global"]}),
    )
    .await;
    for admin in [gw.admin_key.clone(), acme_global] {
        let res = call(
            &gw,
            &admin,
            Method::GET,
            &format!("/admin/keys/{globex_id}"),
            None,
        )
        .await;
        assert_eq!(res.status(), 200);
        let res = call(
            &gw,
            &admin,
            Method::GET,
            "/admin/keys?account_id=globex",
            None,
        )
        .await;
        let listed: Value = res.json().await.unwrap();
        assert_eq!(listed["data"].as_array().unwrap().len(), 1, "{listed}");
        let res = call(
            &gw,
            &admin,
            Method::POST,
            "/admin/accounts/globex/credit",
            Some(json!({"amount": "1.50"})),
        )
        .await;
        assert_eq!(res.status(), 200);
        let res = call(
            &gw,
            &admin,
            Method::GET,
            "/admin/usage?account_id=globex",
            None,
        )
        .await;
        assert_eq!(res.status(), 200);
        let res = call(
            &gw,
            &admin,
            Method::POST,
            "/admin/accounts/globex/disable",
            None,
        )
        .await;
        assert_eq!(res.status(), 200);
        expect_error(
            gw.chat(&globex_key, chat_body("gpt-4o-mini", "hi")).await,
            401,
            "account_disabled",
        )
        .await;
        let res = call(
            &gw,
            &admin,
            Method::POST,
            "/admin/accounts/globex/enable",
            None,
        )
        .await;
        assert_eq!(res.status(), 200);
    }
    let globex: Value = gw
        .admin(Method::GET, "/admin/accounts/globex", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(globex["balance"], "3.000000", "{globex}");
    // admin:global is for management keys only.
    let res = gw
        .admin(
            Method::POST,
            "/admin/keys",
            Some(json!({"name": "x", "scopes": ["chat", "admin:global"]})),
        )
        .await;
    expect_error(res, 400, "invalid_field").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn names_are_limited_to_256_printable_characters() {
    let gw = Gateway::start().await;
    let long = "n".repeat(257);
    let cases = [
        ("/admin/keys", json!({"name": long})),
        ("/admin/keys", json!({"name": "line\nbreak"})),
        ("/admin/keys", json!({"name": "bell\u{7}"})),
        ("/admin/accounts", json!({"name": long})),
        ("/admin/accounts", json!({"name": "esc\u{1b}[2J"})),
    ];
    for (path, body) in cases {
        let res = gw.admin(Method::POST, path, Some(body.clone())).await;
        let err = expect_error(res, 400, "invalid_field").await;
        assert_eq!(err["error"]["param"], "name", "{path} {body}");
    }
    let exactly = "é".repeat(256);
    let res = gw
        .admin(Method::POST, "/admin/keys", Some(json!({"name": exactly})))
        .await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["name"], exactly);
    let id = created["id"].as_str().unwrap();
    let res = gw
        .admin(
            Method::PATCH,
            &format!("/admin/keys/{id}"),
            Some(json!({"name": "tab\there"})),
        )
        .await;
    let err = expect_error(res, 400, "invalid_field").await;
    assert_eq!(err["error"]["param"], "name");

    // The CLI applies the same rule.
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &gw.mock.base, "");
    let (ok, _, err) = cli(&config, &["keys", "create", "--name", &long]).await;
    assert!(!ok && err.contains("256"), "{err}");
    let (ok, _, err) = cli(&config, &["keys", "create", "--name", "a\nb"]).await;
    assert!(!ok && err.contains("control characters"), "{err}");
    let (ok, _, err) = cli(&config, &["accounts", "create", "--name", &long]).await;
    assert!(!ok && err.contains("256"), "{err}");
    let (ok, out, err) = cli(&config, &["keys", "create", "--name", &exactly, "--json"]).await;
    assert!(ok, "{err}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["name"],
        exactly
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_makes_global_management_keys_with_admin_global() {
    let mock = Mock::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &mock.base, "");
    let (ok, _, err) = cli(
        &config,
        &["accounts", "create", "--name", "acme", "--id", "acme"],
    )
    .await;
    assert!(ok, "{err}");
    let create = |scopes: &'static str| {
        let config = config.clone();
        async move {
            let mut args = vec!["--kind", "mk", "--account", "acme"];
            if !scopes.is_empty() {
                args.extend(["--scopes", scopes]);
            }
            cli_create_key(&config, &args).await
        }
    };
    let scoped = create("").await;
    let global = create("admin,analytics,admin:global").await;
    let server = ServerProcess::start(&config).await;
    let accounts = |key: String| {
        let url = format!("{}/admin/accounts", server.base);
        async move {
            let res = client().get(url).bearer_auth(key).send().await.unwrap();
            assert_eq!(res.status(), 200);
            let body: Value = res.json().await.unwrap();
            let mut ids: Vec<String> = body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["id"].as_str().unwrap().to_owned())
                .collect();
            ids.sort();
            ids
        }
    };
    assert_eq!(accounts(scoped).await, ["acme"]);
    assert_eq!(accounts(global).await, ["acme", "default"]);
}
