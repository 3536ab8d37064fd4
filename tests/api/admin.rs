//! The management API: who may call it, key and account administration, rotation
//! without downtime, and the bootstrap management key.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn admin_routes_need_a_management_key() {
    let gw = Gateway::start().await;
    let sk = gw.key().await;
    let calls: [(Method, &str); 6] = [
        (Method::GET, "/admin/keys"),
        (Method::POST, "/admin/keys"),
        (Method::GET, "/admin/keys/x"),
        (Method::POST, "/admin/keys/x/rotate"),
        (Method::GET, "/admin/accounts"),
        (Method::POST, "/admin/accounts/default/disable"),
    ];
    for (method, path) in calls {
        let res = gw
            .client
            .request(method.clone(), gw.url(path))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        expect_error(res, 401, "missing_api_key").await;
        let res = gw
            .client
            .request(method.clone(), gw.url(path))
            .bearer_auth("tg_live_mk_x")
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        expect_error(res, 401, "invalid_api_key").await;
        let res = gw
            .client
            .request(method.clone(), gw.url(path))
            .bearer_auth(&sk)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        let err = expect_error(res, 403, "insufficient_permissions").await;
        assert!(
            err["error"]["message"]
                .as_str()
                .unwrap()
                .contains("`admin`"),
            "{method} {path}"
        );
    }
    // And a management key is not a gateway key.
    expect_error(
        gw.chat(&gw.admin_key, chat_body("gpt-4o-mini", "hi")).await,
        403,
        "insufficient_permissions",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn create_shows_the_key_once_and_get_list_never_do() {
    let gw = Gateway::start().await;
    let res = gw
        .admin(Method::POST, "/admin/keys", Some(json!({"name": "svc-a", "env": "stg", "rate_limit": {"requests": 5, "period": "minute", "burst": 2}})))
        .await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("tg_stg_sk_"));
    assert_eq!(
        created["rate_limit"],
        json!({"requests": 5, "period": "minute", "burst": 2})
    );
    assert_eq!(
        gw.chat(&key, chat_body("gpt-4o-mini", "hi")).await.status(),
        200
    );

    let id = created["id"].as_str().unwrap();
    let got: Value = gw
        .admin(Method::GET, &format!("/admin/keys/{id}"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["kid"], created["kid"]);
    assert!(got.get("key").is_none());
    let list_text = gw
        .admin(Method::GET, "/admin/keys", None)
        .await
        .text()
        .await
        .unwrap();
    assert!(!list_text.contains(&key));
    assert!(!list_text.contains("hash"), "{list_text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn list_filters_by_env_status_and_name() {
    let gw = Gateway::start().await;
    gw.create_key(json!({"name": "billing-live", "env": "live"}))
        .await;
    gw.create_key(json!({"name": "billing-dev", "env": "dev"}))
        .await;
    let revoked = gw
        .create_key(json!({"name": "old-dev", "env": "dev"}))
        .await;
    let kid = revoked.split('_').nth(3).unwrap();
    assert_eq!(
        gw.admin(Method::POST, &format!("/admin/keys/{kid}/revoke"), None)
            .await
            .status(),
        200
    );

    let names = |v: Value| -> Vec<String> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let dev: Value = gw
        .admin(Method::GET, "/admin/keys?env=dev", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(names(dev), ["billing-dev", "old-dev"]);
    let active_dev: Value = gw
        .admin(Method::GET, "/admin/keys?env=dev&status=active", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(names(active_dev), ["billing-dev"]);
    let billing: Value = gw
        .admin(Method::GET, "/admin/keys?name=BILLING&kind=sk", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(names(billing), ["billing-live", "billing-dev"]);
    let revoked: Value = gw
        .admin(Method::GET, "/admin/keys?status=revoked", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(names(revoked), ["old-dev"]);
    let err = gw.admin(Method::GET, "/admin/keys?env=prod", None).await;
    expect_error(err, 400, "invalid_field").await;
    let err = gw.admin(Method::GET, "/admin/keys?colour=red", None).await;
    expect_error(err, 400, "invalid_field").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn update_policy_and_revoke_take_effect_on_the_next_request() {
    let gw = Gateway::start().await;
    let key = gw.create_key(json!({"name": "svc"})).await;
    let kid = key.split('_').nth(3).unwrap().to_owned();
    assert_eq!(
        gw.chat(&key, chat_body("gpt-4o-mini", "hi")).await.status(),
        200
    );

    let res = gw
        .admin(
            Method::PATCH,
            &format!("/admin/keys/{kid}"),
            Some(json!({"scopes": ["embeddings"], "name": "svc-2"})),
        )
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["name"], "svc-2");
    expect_error(
        gw.chat(&key, chat_body("gpt-4o-mini", "hi")).await,
        403,
        "insufficient_permissions",
    )
    .await;

    let res = gw.admin(Method::PATCH, &format!("/admin/keys/{kid}"), Some(json!({"scopes": ["chat"], "rate_limit": {"requests": 1, "period": "hour", "burst": 1}}))).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        gw.chat(&key, chat_body("gpt-4o-mini", "hi")).await.status(),
        200
    );
    expect_error(
        gw.chat(&key, chat_body("gpt-4o-mini", "hi")).await,
        429,
        "rate_limit_exceeded",
    )
    .await;
    // null clears the limit
    let res = gw
        .admin(
            Method::PATCH,
            &format!("/admin/keys/{kid}"),
            Some(json!({"rate_limit": null})),
        )
        .await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["rate_limit"], Value::Null);
    assert_eq!(
        gw.chat(&key, chat_body("gpt-4o-mini", "hi")).await.status(),
        200
    );

    let res = gw
        .admin(Method::DELETE, &format!("/admin/keys/{kid}"), None)
        .await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "revoked");
    expect_error(
        gw.chat(&key, chat_body("gpt-4o-mini", "hi")).await,
        401,
        "revoked_api_key",
    )
    .await;
    let res = gw
        .admin(Method::POST, &format!("/admin/keys/{kid}/rotate"), None)
        .await;
    expect_error(res, 409, "key_revoked").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rotation_keeps_the_old_secret_for_the_grace_period_then_stops_it() {
    let gw = Gateway::start().await;
    let old = gw
        .create_key(
            json!({"name": "rotating", "scopes": ["chat"], "allowed_models": ["gpt-4o-mini"]}),
        )
        .await;
    let kid = old.split('_').nth(3).unwrap().to_owned();
    let res = gw
        .admin(
            Method::POST,
            &format!("/admin/keys/{kid}/rotate"),
            Some(json!({"grace_period_secs": 2})),
        )
        .await;
    assert_eq!(res.status(), 200);
    let rotated: Value = res.json().await.unwrap();
    let new = rotated["key"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert_eq!(rotated["kid"], kid.as_str(), "same key id");
    assert_eq!(
        rotated["allowed_models"],
        json!(["gpt-4o-mini"]),
        "same policy"
    );
    assert!(rotated["previous_secret_valid_until"].is_string());

    assert_eq!(
        gw.chat(&old, chat_body("gpt-4o-mini", "old"))
            .await
            .status(),
        200
    );
    assert_eq!(
        gw.chat(&new, chat_body("gpt-4o-mini", "new"))
            .await
            .status(),
        200
    );
    eventually(
        Duration::from_secs(10),
        "the grace period to end",
        || async {
            let res = gw.chat(&old, chat_body("gpt-4o-mini", "old")).await;
            (res.status() == 401).then_some(())
        },
    )
    .await;
    expect_error(
        gw.chat(&old, chat_body("gpt-4o-mini", "old")).await,
        401,
        "invalid_api_key",
    )
    .await;
    assert_eq!(
        gw.chat(&new, chat_body("gpt-4o-mini", "new"))
            .await
            .status(),
        200
    );

    // Zero grace: the old secret stops at once.
    let res = gw
        .admin(
            Method::POST,
            &format!("/admin/keys/{kid}/rotate"),
            Some(json!({"grace_period_secs": 0})),
        )
        .await;
    let newer = res.json::<Value>().await.unwrap()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    expect_error(
        gw.chat(&new, chat_body("gpt-4o-mini", "x")).await,
        401,
        "invalid_api_key",
    )
    .await;
    assert_eq!(
        gw.chat(&newer, chat_body("gpt-4o-mini", "x"))
            .await
            .status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn disabling_an_account_stops_all_its_keys() {
    let gw = Gateway::start().await;
    let res = gw
        .admin(
            Method::POST,
            "/admin/accounts",
            Some(json!({"name": "Acme", "id": "acme"})),
        )
        .await;
    assert_eq!(res.status(), 201);
    let key = gw.create_key(json!({"account_id": "acme"})).await;
    let other = gw.key().await;
    assert_eq!(
        gw.chat(&key, chat_body("gpt-4o-mini", "hi")).await.status(),
        200
    );

    let res = gw
        .admin(Method::POST, "/admin/accounts/acme/disable", None)
        .await;
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "disabled");
    expect_error(
        gw.chat(&key, chat_body("gpt-4o-mini", "hi")).await,
        401,
        "account_disabled",
    )
    .await;
    assert_eq!(
        gw.chat(&other, chat_body("gpt-4o-mini", "hi"))
            .await
            .status(),
        200,
        "other accounts unaffected"
    );

    gw.admin(Method::POST, "/admin/accounts/acme/enable", None)
        .await;
    assert_eq!(
        gw.chat(&key, chat_body("gpt-4o-mini", "hi")).await.status(),
        200
    );

    let dup = gw
        .admin(
            Method::POST,
            "/admin/accounts",
            Some(json!({"name": "Acme again", "id": "acme"})),
        )
        .await;
    expect_error(dup, 409, "account_exists").await;
    let missing = gw
        .admin(Method::POST, "/admin/accounts/nope/disable", None)
        .await;
    expect_error(missing, 404, "not_found").await;
    let list: Value = gw
        .admin(Method::GET, "/admin/accounts", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_admin_input_gets_400_naming_the_field() {
    let gw = Gateway::start().await;
    let cases = [
        (json!({"name": "x", "scopes": ["chat", "root"]}), "scopes"),
        (json!({"name": "x", "env": "prod"}), "env"),
        (
            json!({"name": "x", "rate_limit": {"requests": 0, "period": "minute", "burst": 1}}),
            "policy",
        ),
        (
            json!({"name": "x", "rate_limit": {"requests": 5, "period": "fortnight", "burst": 1}}),
            "rate_limit.period",
        ),
        (
            json!({"name": "x", "ip_allowlist": ["10.0.0.0/33"]}),
            "ip_allowlist",
        ),
        (json!({"name": "x", "scopes": ["admin"]}), "policy"),
        (json!({"name": "x", "colour": "red"}), "colour"),
        (json!({"name": 5}), "name"),
        (json!({"name": "x", "account_id": "nope"}), "account_id"),
        (json!({"name": ""}), "name"),
        (json!({"name": "x", "max_concurrency": 0}), "policy"),
    ];
    for (body, field) in cases {
        let res = gw
            .admin(Method::POST, "/admin/keys", Some(body.clone()))
            .await;
        let err = expect_error(res, 400, "invalid_field").await;
        let param = err["error"]["param"].as_str().unwrap_or_default();
        assert!(
            param.starts_with(field) || field.starts_with(param) && !param.is_empty(),
            "{body}: param {param:?}, {err}"
        );
    }
    let res = gw
        .client
        .post(gw.url("/admin/keys"))
        .bearer_auth(&gw.admin_key)
        .body("{nope")
        .send()
        .await
        .unwrap();
    expect_error(res, 400, "invalid_json").await;
    expect_error(
        gw.admin(Method::GET, "/admin/keys/does-not-exist", None)
            .await,
        404,
        "not_found",
    )
    .await;
    let res = gw
        .admin(
            Method::POST,
            "/admin/keys/does-not-exist/rotate",
            Some(json!({"grace_period_secs": 99999999})),
        )
        .await;
    expect_error(res, 400, "invalid_field").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn first_serve_prints_a_management_key_or_adopts_the_env_one() {
    let mock = Mock::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &mock.base, "");
    let server = ServerProcess::start(&config).await;
    let printed = server
        .startup_output
        .split_whitespace()
        .find(|w| w.starts_with("tg_live_mk_"))
        .unwrap_or_else(|| panic!("no management key printed: {}", server.startup_output))
        .to_owned();
    let client = client();
    let res = client
        .get(format!("{}/admin/keys", server.base))
        .bearer_auth(&printed)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    drop(server);
    // Second start on the same database: no new key.
    let server = ServerProcess::start(&config).await;
    assert!(
        !server.startup_output.contains("_mk_"),
        "{}",
        server.startup_output
    );
    drop(server);

    // A fresh database with a key chosen by the operator.
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &mock.base, "");
    let chosen = tollgate::keys::ApiKey::generate(
        "tg",
        tollgate::keys::KeyEnv::Live,
        tollgate::keys::KeyKind::Mk,
    );
    let server = ServerProcess::start_with_env(
        &config,
        &[("TOLLGATE_BOOTSTRAP_ADMIN_KEY", chosen.expose())],
    )
    .await;
    assert!(
        !server.startup_output.contains(chosen.expose()),
        "the operator's key is not echoed"
    );
    let res = client
        .get(format!("{}/admin/keys", server.base))
        .bearer_auth(chosen.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn last_used_at_is_recorded_without_a_write_per_request() {
    let gw = Gateway::start().await;
    let key = gw.create_key(json!({"name": "used"})).await;
    let kid = key.split('_').nth(3).unwrap().to_owned();
    let before: Value = gw
        .admin(Method::GET, &format!("/admin/keys/{kid}"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(before["last_used_at"], Value::Null);
    for _ in 0..5 {
        assert_eq!(
            gw.chat(&key, chat_body("gpt-4o-mini", "hi")).await.status(),
            200
        );
    }
    // The coalesced writer flushes every few seconds.
    let after = eventually(
        Duration::from_secs(15),
        "last_used_at to be written",
        || async {
            let v: Value = gw
                .admin(Method::GET, &format!("/admin/keys/{kid}"), None)
                .await
                .json()
                .await
                .unwrap();
            v["last_used_at"].is_string().then_some(v)
        },
    )
    .await;
    let used = time::OffsetDateTime::parse(
        after["last_used_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let created = time::OffsetDateTime::parse(
        after["created_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!(used >= created);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expiry_past_the_calendar_is_a_400_not_a_500() {
    let gw = Gateway::start().await;
    for secs in [u64::MAX, i64::MAX as u64, 400_000_000_000] {
        let res = gw
            .admin(
                Method::POST,
                "/admin/keys",
                Some(json!({"name": "far", "expires_in_secs": secs})),
            )
            .await;
        let err = expect_error(res, 400, "invalid_field").await;
        assert_eq!(err["error"]["param"], "expires_in_secs", "{secs}");
    }
}
