//! The Bastio seed's key JSON (`permissions`, `excludePermissions`, `ipWhitelist`,
//! `rateLimit`, `environment`) is accepted beside ours, on create and update, and
//! gives the key the same policy as our spelling of it.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::*;

/// The policy fields of a key as the API shows it.
fn policy(key: &Value) -> Value {
    json!({
        "env": key["env"],
        "scopes": key["scopes"],
        "ip_allowlist": key["ip_allowlist"],
        "rate_limit": key["rate_limit"],
    })
}

async fn create(gw: &Gateway, body: Value) -> Value {
    let res = gw
        .admin(Method::POST, "/admin/keys", Some(body.clone()))
        .await;
    assert_eq!(res.status(), 201, "{body}");
    res.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_seed_key_json_verbatim_makes_the_same_key_as_ours() {
    let gw = Gateway::start().await;
    let seed = create(
        &gw,
        json!({
            "name": "Seed production key",
            "permissions": ["chat_completions", "completions", "embeddings", "analytics"],
            "excludePermissions": ["analytics"],
            "ipWhitelist": ["127.0.0.1", "10.0.0.0/8"],
            "rateLimit": {"requests": 100, "period": "minute"},
            "environment": "Production"
        }),
    )
    .await;
    let ours = create(
        &gw,
        json!({
            "name": "ours",
            "scopes": ["chat", "completions", "embeddings"],
            "ip_allowlist": ["127.0.0.1", "10.0.0.0/8"],
            "rate_limit": {"requests": 100, "period": "minute", "burst": 100},
            "env": "live"
        }),
    )
    .await;
    assert_eq!(policy(&seed), policy(&ours));
    assert_eq!(seed["scopes"], json!(["chat", "completions", "embeddings"]));
    assert_eq!(
        seed["rate_limit"],
        json!({"requests": 100, "period": "minute", "burst": 100})
    );
    let key = seed["key"].as_str().unwrap();
    assert!(key.starts_with("tg_live_sk_"), "{key}");
    // And the key behaves so: chat from 127.0.0.1 works, images are not granted.
    let res = gw.chat(key, chat_body("gpt-4o-mini", "hi")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-ratelimit-limit"], "100");
    let res = gw
        .post(
            "/v1/images/generations",
            key,
            &[],
            json!({"prompt": "a cat"}),
        )
        .await;
    expect_error(res, 403, "insufficient_permissions").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn environments_are_case_insensitive_and_burst_defaults_to_requests() {
    let gw = Gateway::start().await;
    for (body, prefix) in [
        (json!({"environment": "Staging"}), "tg_stg_sk_"),
        (json!({"environment": "development"}), "tg_dev_sk_"),
        (json!({"environment": "LIVE"}), "tg_live_sk_"),
        (json!({"env": "Dev"}), "tg_dev_sk_"),
        (json!({"env": "staging"}), "tg_stg_sk_"),
    ] {
        let mut body = body;
        body["name"] = "e".into();
        let key = create(&gw, body.clone()).await;
        assert!(key["key"].as_str().unwrap().starts_with(prefix), "{body}");
    }
    // Our spelling may leave `burst` out too.
    let key = create(
        &gw,
        json!({"name": "b", "rate_limit": {"requests": 7, "period": "second"}}),
    )
    .await;
    assert_eq!(
        key["rate_limit"],
        json!({"requests": 7, "period": "second", "burst": 7})
    );
    // The list filter reads the same names.
    let res = gw
        .admin(Method::GET, "/admin/keys?env=Development", None)
        .await;
    let listed: Value = res.json().await.unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 2, "{listed}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_seed_spelling_updates_a_key() {
    let gw = Gateway::start().await;
    let key = create(&gw, json!({"name": "u", "env": "stg"})).await;
    let path = format!("/admin/keys/{}", key["id"].as_str().unwrap());
    let res = gw
        .admin(
            Method::PATCH,
            &path,
            Some(json!({
                "permissions": ["chat_completions", "embeddings", "images"],
                "excludePermissions": ["images"],
                "rateLimit": {"requests": 5, "period": "hour", "burst": 2},
                "ipWhitelist": ["192.168.0.0/16"],
                "environment": "Staging"
            })),
        )
        .await;
    assert_eq!(res.status(), 200);
    let updated: Value = res.json().await.unwrap();
    assert_eq!(updated["scopes"], json!(["chat", "embeddings"]));
    assert_eq!(
        updated["rate_limit"],
        json!({"requests": 5, "period": "hour", "burst": 2})
    );
    assert_eq!(updated["ip_allowlist"], json!(["192.168.0.0/16"]));
    // Exclusions alone take away from what the key has.
    let res = gw
        .admin(
            Method::PATCH,
            &path,
            Some(json!({"excludePermissions": ["embeddings"]})),
        )
        .await;
    let updated: Value = res.json().await.unwrap();
    assert_eq!(updated["scopes"], json!(["chat"]));
    // `rateLimit: null` clears it, as `rate_limit: null` does.
    let res = gw
        .admin(Method::PATCH, &path, Some(json!({"rateLimit": null})))
        .await;
    let updated: Value = res.json().await.unwrap();
    assert_eq!(updated["rate_limit"], Value::Null);
    // The environment is part of the key's text: it cannot change.
    let res = gw
        .admin(
            Method::PATCH,
            &path,
            Some(json!({"environment": "Production"})),
        )
        .await;
    let err = expect_error(res, 400, "invalid_field").await;
    assert_eq!(err["error"]["param"], "environment");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_seed_json_is_a_400_naming_the_field() {
    let gw = Gateway::start().await;
    let cases = [
        (
            json!({"permissions": ["chat_completions", "teleport"]}),
            "permissions",
            "teleport",
        ),
        (
            json!({"excludePermissions": ["warp"]}),
            "excludePermissions",
            "warp",
        ),
        (json!({"environment": "Prod"}), "environment", "Prod"),
        (
            json!({"scopes": ["chat"], "permissions": ["chat_completions"]}),
            "permissions",
            "not both",
        ),
        (
            json!({"ip_allowlist": [], "ipWhitelist": []}),
            "ipWhitelist",
            "not both",
        ),
        (
            json!({"rate_limit": {"requests": 1, "period": "day"}, "rateLimit": {"requests": 1, "period": "day"}}),
            "rateLimit",
            "not both",
        ),
        (
            json!({"env": "dev", "environment": "dev"}),
            "environment",
            "not both",
        ),
        (json!({"rateLimit": {"requests": 5}}), "rateLimit", "period"),
        (
            json!({"ipWhitelist": ["10.0.0.0/33"]}),
            "ipWhitelist",
            "10.0.0.0/33",
        ),
    ];
    for (mut body, field, mentions) in cases {
        body["name"] = "bad".into();
        let res = gw
            .admin(Method::POST, "/admin/keys", Some(body.clone()))
            .await;
        let err = expect_error(res, 400, "invalid_field").await;
        let param = err["error"]["param"].as_str().unwrap_or_default();
        assert!(param.starts_with(field), "{body}: param {param}");
        let message = err["error"]["message"].as_str().unwrap();
        assert!(message.contains(mentions), "{body}: {message}");
    }
}
