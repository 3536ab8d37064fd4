//! Authentication: every accepted header, every 401 code, and the promise that a
//! malformed key never reaches the database.

use serde_json::Value;
use time::OffsetDateTime;
use tollgate::keys::{ApiKey, KeyEnv, KeyKind};

use crate::common::*;

async fn ok_with_header(gw: &Gateway, name: &str, value: &str) {
    let res = gw
        .client
        .post(gw.url("/v1/chat/completions"))
        .header(name, value)
        .json(&chat_body("gpt-4o-mini", "hello"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "key in {name}");
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Mock reply to: hello"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn key_is_accepted_in_each_documented_header() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    ok_with_header(&gw, "authorization", &format!("Bearer {key}")).await;
    ok_with_header(&gw, "x-api-key", &key).await;
    ok_with_header(&gw, "x-goog-api-key", &key).await;
    ok_with_header(&gw, "X-Tollgate-API-Key", &key).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn configured_alt_header_replaces_the_default_one() {
    let gw = Gateway::start_with(|c| c.keys.alt_header = "X-Corp-Key".into()).await;
    let key = gw.key().await;
    ok_with_header(&gw, "x-corp-key", &key).await;
    let res = gw
        .client
        .post(gw.url("/v1/chat/completions"))
        .header("X-Tollgate-API-Key", &key)
        .json(&chat_body("gpt-4o-mini", "hello"))
        .send()
        .await
        .unwrap();
    expect_error(res, 401, "missing_api_key").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_key_is_401_missing_api_key() {
    let gw = Gateway::start().await;
    let res = gw
        .client
        .post(gw.url("/v1/chat/completions"))
        .json(&chat_body("gpt-4o-mini", "hello"))
        .send()
        .await
        .unwrap();
    let body = expect_error(res, 401, "missing_api_key").await;
    assert_eq!(body["error"]["type"], "authentication_error");
    assert_eq!(
        gw.mock.stats().await["requests"],
        0,
        "nothing reached the upstream"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_wrong_scheme_and_unknown_keys_are_invalid() {
    let gw = Gateway::start().await;
    let unknown = ApiKey::generate("tg", KeyEnv::Live, KeyKind::Sk);
    for bad in ["sk-not-ours", "tg_live_sk_short_x", unknown.expose()] {
        expect_error(
            gw.chat(bad, chat_body("gpt-4o-mini", "hi")).await,
            401,
            "invalid_api_key",
        )
        .await;
    }
    let res = gw
        .client
        .post(gw.url("/v1/chat/completions"))
        .header("authorization", "Basic dXNlcjpwYXNz")
        .json(&chat_body("gpt-4o-mini", "hi"))
        .send()
        .await
        .unwrap();
    expect_error(res, 401, "invalid_api_key").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn right_kid_with_wrong_secret_is_invalid() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let parsed = ApiKey::parse("tg", &key).unwrap();
    // A correctly checksummed key for the same kid, but another secret.
    let forged = ApiKey::generate_for("tg", KeyEnv::Live, KeyKind::Sk, parsed.kid.clone());
    expect_error(
        gw.chat(forged.expose(), chat_body("gpt-4o-mini", "hi"))
            .await,
        401,
        "invalid_api_key",
    )
    .await;
    // The same secret presented as another environment fails the checksum.
    let other_env = key.replacen("_live_", "_stg_", 1);
    expect_error(
        gw.chat(&other_env, chat_body("gpt-4o-mini", "hi")).await,
        401,
        "invalid_api_key",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_checksum_is_refused_without_touching_the_database() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    // With the pool closed, any lookup would fail as a 500: a 401 proves none happened.
    gw.state().store().close().await;
    let mut tampered = key.into_bytes();
    let i = tampered.len() - 10;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    expect_error(
        gw.chat(&tampered, chat_body("gpt-4o-mini", "hi")).await,
        401,
        "invalid_api_key",
    )
    .await;
    // Control: a well-formed unknown key does need the database, and gets our 500 body.
    let unknown = ApiKey::generate("tg", KeyEnv::Live, KeyKind::Sk);
    let body = expect_error(
        gw.chat(unknown.expose(), chat_body("gpt-4o-mini", "hi"))
            .await,
        500,
        "internal_error",
    )
    .await;
    assert!(
        !body.to_string().contains("pool"),
        "internal detail leaked: {body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_key_is_401_expired() {
    let gw = Gateway::start().await;
    let mut s = spec("old");
    s.expires_at = Some(OffsetDateTime::now_utc() - time::Duration::seconds(1));
    let key = gw.issue(s).await;
    let res = gw.chat(&key, chat_body("gpt-4o-mini", "hi")).await;
    assert_eq!(res.headers()["x-should-retry"], "false");
    expect_error(res, 401, "expired_api_key").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn revoked_key_is_refused_even_when_cached() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    assert_eq!(
        gw.chat(&key, chat_body("gpt-4o-mini", "warm the cache"))
            .await
            .status(),
        200
    );
    let kid = ApiKey::parse("tg", &key).unwrap().kid;
    gw.state()
        .store()
        .revoke_key(kid.as_str(), OffsetDateTime::now_utc())
        .await
        .unwrap();
    // The change poller (100 ms in tests) evicts the cached record.
    eventually(
        std::time::Duration::from_secs(5),
        "revocation to take effect",
        || async {
            let res = gw.chat(&key, chat_body("gpt-4o-mini", "hi")).await;
            (res.status() == 401).then_some(res)
        },
    )
    .await;
    expect_error(
        gw.chat(&key, chat_body("gpt-4o-mini", "hi")).await,
        401,
        "revoked_api_key",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn disabled_account_is_401_account_disabled() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    assert_eq!(
        gw.chat(&key, chat_body("gpt-4o-mini", "hi")).await.status(),
        200
    );
    gw.state()
        .store()
        .set_account_disabled("default", true, OffsetDateTime::now_utc())
        .await
        .unwrap();
    eventually(
        std::time::Duration::from_secs(5),
        "account disable to take effect",
        || async {
            let res = gw.chat(&key, chat_body("gpt-4o-mini", "hi")).await;
            (res.status() == 401).then_some(())
        },
    )
    .await;
    expect_error(
        gw.chat(&key, chat_body("gpt-4o-mini", "hi")).await,
        401,
        "account_disabled",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_sees_the_gateway_key_never_the_callers() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    assert_eq!(
        gw.chat(&key, chat_body("gpt-4o-mini", "hi")).await.status(),
        200
    );
    let reqs = gw.mock.requests().await;
    let headers = &reqs.last().unwrap()["headers"];
    assert_eq!(headers["authorization"], format!("Bearer {UPSTREAM_KEY}"));
    assert!(
        !reqs.last().unwrap().to_string().contains(&key),
        "caller key forwarded upstream"
    );
}
