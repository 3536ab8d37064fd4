//! Key policy on the gateway routes: scopes, allowed models and providers, rate
//! limits (exact under concurrency), concurrency caps, IP allowlists (v4, v6,
//! trusted proxies and spoofed X-Forwarded-For).

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_key_without_the_chat_scope_gets_403_naming_it() {
    let gw = Gateway::start().await;
    let key = gw.create_key(json!({"scopes": ["embeddings"]})).await;
    let err = expect_error(
        gw.chat(&key, chat_body("gpt-4o-mini", "hi")).await,
        403,
        "insufficient_permissions",
    )
    .await;
    assert_eq!(err["error"]["type"], "permission_error");
    assert!(
        err["error"]["message"].as_str().unwrap().contains("`chat`"),
        "{err}"
    );
    assert_eq!(gw.mock.stats().await["requests"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn new_keys_get_gateway_scopes_but_not_admin_or_analytics() {
    let gw = Gateway::start().await;
    let res = gw
        .client
        .post(gw.url("/admin/keys"))
        .bearer_auth(&gw.admin_key)
        .json(&json!({"name": "plain"}))
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    let scopes: Vec<&str> = body["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(
        scopes,
        [
            "chat",
            "completions",
            "embeddings",
            "images",
            "audio",
            "connections",
            "email"
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn allowed_models_and_providers_are_enforced() {
    let gw = Gateway::start().await;
    let key = gw
        .create_key(json!({"allowed_models": ["gpt-4o-mini"]}))
        .await;
    assert_eq!(
        gw.chat(&key, chat_body("gpt-4o-mini", "hi")).await.status(),
        200
    );
    // The alias resolves to an allowed model, so it is allowed too.
    assert_eq!(
        gw.chat(&key, chat_body("tollgate-chat-fast", "hi"))
            .await
            .status(),
        200
    );
    let err = expect_error(
        gw.chat(&key, chat_body("gpt-4o", "hi")).await,
        403,
        "model_not_allowed",
    )
    .await;
    assert_eq!(err["error"]["param"], "model");

    let key = gw
        .create_key(json!({"allowed_providers": ["anthropic"]}))
        .await;
    expect_error(
        gw.chat(&key, chat_body("gpt-4o-mini", "hi")).await,
        403,
        "model_not_allowed",
    )
    .await;
    assert_eq!(gw.mock.stats().await["requests"], 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limit_headers_count_down_and_429_has_the_documented_body() {
    let gw = Gateway::start().await;
    let key = gw
        .create_key(json!({"rate_limit": {"requests": 3, "period": "hour", "burst": 3}}))
        .await;
    for remaining in [2, 1, 0] {
        let res = gw.chat(&key, chat_body("gpt-4o-mini", "hi")).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["x-ratelimit-limit"], "3");
        assert_eq!(
            res.headers()["x-ratelimit-remaining"],
            remaining.to_string().as_str()
        );
        let reset: u64 = res.headers()["x-ratelimit-reset"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(reset > 1_700_000_000, "unix seconds: {reset}");
    }
    let res = gw.chat(&key, chat_body("gpt-4o-mini", "hi")).await;
    assert_eq!(res.status(), 429);
    let retry_after: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // One request per 20 minutes refills: the next slot is at most that far away.
    assert!((1..=1200).contains(&retry_after), "{retry_after}");
    assert_eq!(res.headers()["x-ratelimit-remaining"], "0");
    let err = expect_error(res, 429, "rate_limit_exceeded").await;
    assert_eq!(err["error"]["type"], "rate_limit_error");
    let details = &err["error"]["details"];
    assert_eq!(details["limit"], 3);
    assert_eq!(details["remaining"], 0);
    let reset = details["resetTime"].as_str().unwrap();
    time::OffsetDateTime::parse(reset, &time::format_description::well_known::Rfc3339)
        .expect("RFC 3339");
    assert_eq!(
        gw.mock.stats().await["requests"],
        3,
        "the refused request never went upstream"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn with_limit_l_and_many_concurrent_requests_exactly_l_succeed() {
    const L: usize = 25;
    const N: usize = 200;
    let gw = Gateway::start().await;
    let key = gw
        .create_key(json!({"rate_limit": {"requests": L, "period": "day", "burst": L}}))
        .await;
    let gw = std::sync::Arc::new(gw);
    let tasks: Vec<_> = (0..N)
        .map(|_| {
            let gw = gw.clone();
            let key = key.clone();
            tokio::spawn(async move {
                gw.chat(&key, chat_body("gpt-4o-mini", "hi"))
                    .await
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut ok = 0;
    let mut limited = 0;
    for t in tasks {
        match t.await.unwrap() {
            200 => ok += 1,
            429 => limited += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(ok, L);
    assert_eq!(limited, N - L);
    assert_eq!(gw.mock.stats().await["requests"], L as u64);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrency_cap_counts_streams_until_they_end() {
    let gw = Gateway::start().await;
    let key = gw.create_key(json!({"max_concurrency": 2})).await;
    let slow = json!({"model": "gpt-4o-mini", "stream": true,
        "messages": [{"role": "user", "content": "[[mock:words=40]] [[mock:chunk_delay_ms=25]]"}]});
    let a = gw.chat(&key, slow.clone()).await;
    let b = gw.chat(&key, slow.clone()).await;
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (200, 200));
    let res = gw.chat(&key, chat_body("gpt-4o-mini", "third")).await;
    assert!(res.headers().contains_key("retry-after"));
    expect_error(res, 429, "concurrency_limit_exceeded").await;
    // Reading one stream to its end frees its slot.
    let mut body = a.bytes_stream();
    while let Some(chunk) = body.next().await {
        chunk.unwrap();
    }
    drop(body);
    let res = eventually(Duration::from_secs(5), "a freed slot", || async {
        let res = gw.chat(&key, chat_body("gpt-4o-mini", "fourth")).await;
        (res.status() == 200).then_some(res)
    })
    .await;
    assert_eq!(res.status(), 200);
    drop(b);
}

#[tokio::test(flavor = "multi_thread")]
async fn ip_allowlist_allows_listed_v4_and_refuses_others() {
    let gw = Gateway::start().await;
    let inside = gw
        .create_key(json!({"ip_allowlist": ["10.0.0.0/8", "127.0.0.1"]}))
        .await;
    let outside = gw
        .create_key(json!({"ip_allowlist": ["10.0.0.0/8", "192.0.2.0/24"]}))
        .await;
    assert_eq!(
        gw.chat(&inside, chat_body("gpt-4o-mini", "hi"))
            .await
            .status(),
        200
    );
    let err = expect_error(
        gw.chat(&outside, chat_body("gpt-4o-mini", "hi")).await,
        403,
        "ip_not_allowed",
    )
    .await;
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("127.0.0.1")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ip_allowlist_matches_ipv6_cidrs() {
    let gw = Gateway::start_on("[::1]:0", |_| {}).await;
    let inside = gw.create_key(json!({"ip_allowlist": ["::1/128"]})).await;
    let outside = gw
        .create_key(json!({"ip_allowlist": ["2001:db8::/32", "127.0.0.1"]}))
        .await;
    assert!(gw.base.starts_with("http://[::1]:"), "{}", gw.base);
    assert_eq!(
        gw.chat(&inside, chat_body("gpt-4o-mini", "hi"))
            .await
            .status(),
        200
    );
    expect_error(
        gw.chat(&outside, chat_body("gpt-4o-mini", "hi")).await,
        403,
        "ip_not_allowed",
    )
    .await;
}

async fn chat_with_xff(gw: &Gateway, key: &str, xff: &str) -> reqwest::Response {
    gw.client
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(key)
        .header("x-forwarded-for", xff)
        .json(&chat_body("gpt-4o-mini", "hi"))
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn spoofed_x_forwarded_for_from_an_untrusted_peer_is_ignored() {
    let gw = Gateway::start().await; // no trusted proxies
    let key = gw
        .create_key(json!({"ip_allowlist": ["203.0.113.0/24"]}))
        .await;
    let res = chat_with_xff(&gw, &key, "203.0.113.9").await;
    expect_error(res, 403, "ip_not_allowed").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn behind_a_trusted_proxy_the_right_most_untrusted_address_counts() {
    let gw = Gateway::start_with(|c| {
        c.server.trusted_proxies = vec!["127.0.0.1/32".into(), "10.0.0.0/8".into()]
    })
    .await;
    let key = gw
        .create_key(json!({"ip_allowlist": ["203.0.113.0/24"]}))
        .await;
    assert_eq!(chat_with_xff(&gw, &key, "203.0.113.9").await.status(), 200);
    // A client can prepend anything; the proxy appends the real address last.
    assert_eq!(
        chat_with_xff(&gw, &key, "198.51.100.1, 203.0.113.9, 10.1.2.3")
            .await
            .status(),
        200
    );
    let res = chat_with_xff(&gw, &key, "203.0.113.9, 198.51.100.1").await;
    expect_error(res, 403, "ip_not_allowed").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn environments_can_be_confined_to_some_models() {
    let gw = Gateway::start_with(|c| {
        c.keys.env_models.insert(
            "dev".into(),
            vec!["gpt-4o-mini".into(), "anthropic/*".into()],
        );
    })
    .await;
    let dev = gw.create_key(json!({"env": "dev"})).await;
    let live = gw.create_key(json!({"env": "live"})).await;
    assert_eq!(
        gw.chat(&dev, chat_body("gpt-4o-mini", "hi")).await.status(),
        200
    );
    assert_eq!(
        gw.chat(&dev, chat_body("claude-haiku-4-5", "hi"))
            .await
            .status(),
        200
    );
    let err = expect_error(
        gw.chat(&dev, chat_body("gpt-4o", "hi")).await,
        403,
        "model_not_allowed",
    )
    .await;
    assert_eq!(err["error"]["param"], "model");
    assert_eq!(
        gw.chat(&live, chat_body("gpt-4o", "hi")).await.status(),
        200,
        "other environments are not confined"
    );
    let listed: Value = gw.get("/v1/models", &dev).await.json().await.unwrap();
    let ids: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert!(
        ids.contains(&"gpt-4o-mini") && ids.contains(&"claude-haiku-4-5"),
        "{ids:?}"
    );
    assert!(
        !ids.contains(&"gpt-4o"),
        "/v1/models follows env_models: {ids:?}"
    );
}
