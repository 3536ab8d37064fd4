//! The failed-authentication brake: forged keys (right checksum, unknown kid) from one
//! client address cost at most `auth_failure_limit` store lookups, then 429 with
//! `Retry-After`, while other addresses and cached valid keys are unaffected, and the
//! brake lets go once its period refills. Store lookups are counted by the key cache.

use std::time::Duration;

use serde_json::Value;
use tollgate::keys::{ApiKey, KeyEnv, KeyKind};

use crate::common::*;

const ATTACKER: &str = "203.0.113.7";
const NEIGHBOUR: &str = "198.51.100.9";

fn forged() -> String {
    ApiKey::generate("tg", KeyEnv::Live, KeyKind::Sk)
        .expose()
        .to_owned()
}

/// Behind a trusted proxy (the test client on 127.0.0.1), so `X-Forwarded-For`
/// names the client address.
async fn gateway(limit: u32, period: &str) -> Gateway {
    let period = period.to_owned();
    Gateway::start_with(move |c| {
        c.server.trusted_proxies = vec!["127.0.0.1/32".into()];
        c.keys.auth_failure_limit = limit;
        c.keys.auth_failure_period = period;
    })
    .await
}

async fn chat_from(gw: &Gateway, key: &str, ip: &str) -> reqwest::Response {
    gw.post(
        "/v1/chat/completions",
        key,
        &[("x-forwarded-for", ip)],
        chat_body("gpt-4o-mini", "hi"),
    )
    .await
}

fn lookups(gw: &Gateway) -> u64 {
    gw.state().auth().cache().store_lookups()
}

async fn expect_braked(res: reqwest::Response) -> Value {
    let retry_after: u64 = res
        .headers()
        .get("retry-after")
        .expect("Retry-After on a braked request")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1, "{retry_after}");
    let body = expect_error(res, 429, "rate_limit_exceeded").await;
    assert_eq!(body["error"]["type"], "rate_limit_error", "{body}");
    assert_eq!(body["error"]["details"]["remaining"], 0, "{body}");
    body
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_keys_cost_at_most_n_lookups_then_429_and_others_are_unaffected() {
    let gw = gateway(5, "hour").await;
    let cached = gw.key().await;
    assert_eq!(chat_from(&gw, &cached, ATTACKER).await.status(), 200);
    let uncached = gw.key().await;
    let before = lookups(&gw);

    for i in 0..5 {
        let res = chat_from(&gw, &forged(), ATTACKER).await;
        expect_error(res, 401, "invalid_api_key").await;
        assert_eq!(
            lookups(&gw),
            before + i + 1,
            "each forged kid is one lookup"
        );
    }
    for _ in 0..30 {
        expect_braked(chat_from(&gw, &forged(), ATTACKER).await).await;
    }
    assert_eq!(
        lookups(&gw),
        before + 5,
        "braked requests never reach the store"
    );

    // A braked address learns nothing: a cached kid with a wrong secret, and a valid
    // key that would need a lookup, look like any forged key.
    let (prefix, _) = cached.rsplit_once('_').unwrap();
    let wrong_secret = ApiKey::generate_for(
        "tg",
        KeyEnv::Live,
        KeyKind::Sk,
        tollgate::keys::KeyId::parse(prefix.rsplit('_').next().unwrap()).unwrap(),
    );
    expect_braked(chat_from(&gw, wrong_secret.expose(), ATTACKER).await).await;
    expect_braked(chat_from(&gw, &uncached, ATTACKER).await).await;
    // The valid key in use keeps working, even from the braked address, also once
    // its record has left the cache (TTL, a change seen by the poller).
    assert_eq!(chat_from(&gw, &cached, ATTACKER).await.status(), 200);
    let kid = tollgate::keys::KeyId::parse(prefix.rsplit('_').next().unwrap()).unwrap();
    gw.state().auth().cache().invalidate(&kid).await;
    let lookups_now = lookups(&gw);
    assert_eq!(chat_from(&gw, &cached, ATTACKER).await.status(), 200);
    assert_eq!(lookups(&gw), lookups_now + 1, "it was looked up again");

    // Another address has its own budget: a valid key that needs a lookup works,
    // and its forged keys are plain 401s.
    let res = chat_from(&gw, &uncached, NEIGHBOUR).await;
    let status = res.status();
    assert_eq!(status, 200, "{}", res.text().await.unwrap());
    expect_error(
        chat_from(&gw, &forged(), NEIGHBOUR).await,
        401,
        "invalid_api_key",
    )
    .await;

    let metrics = gw
        .client
        .get(gw.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("tollgate_auth_braked_total"), "{metrics}");
    assert!(metrics.contains("tollgate_key_lookups_total"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_forged_keys_still_cost_at_most_n_lookups() {
    let gw = gateway(5, "hour").await;
    let before = lookups(&gw);
    let attempts = (0..40).map(|_| {
        let gw = &gw;
        async move { chat_from(gw, &forged(), ATTACKER).await.status().as_u16() }
    });
    let statuses = futures_util::future::join_all(attempts).await;
    let refused = statuses.iter().filter(|s| **s == 401).count();
    let braked = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((refused, braked), (5, 35), "{statuses:?}");
    assert_eq!(lookups(&gw), before + 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_brake_lets_go_once_the_period_refills() {
    let gw = gateway(3, "second").await;
    // Forged keys until braked: faster than one per 333 ms, so this ends quickly.
    let mut braked = false;
    for _ in 0..100 {
        let res = chat_from(&gw, &forged(), ATTACKER).await;
        if res.status() == 429 {
            let body = expect_braked(res).await;
            assert!(
                body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("failed authentications"),
                "{body}"
            );
            braked = true;
            break;
        }
        expect_error(res, 401, "invalid_api_key").await;
    }
    assert!(braked, "the brake engaged");
    // A valid key that needs a lookup gets through again once a token is back.
    let key = gw.key().await;
    eventually(Duration::from_secs(10), "the brake to let go", || async {
        (chat_from(&gw, &key, ATTACKER).await.status() == 200).then_some(())
    })
    .await;
}

/// A service starting up sends its first requests with a new key all at once. They
/// miss the cache together and share one store query, so they cost one brake token
/// between them, not one each: none of them is braked, however many there are.
#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_first_requests_with_a_new_valid_key_is_never_braked() {
    let gw = gateway(5, "hour").await;
    let key = gw.key().await;
    let before = lookups(&gw);
    let burst =
        futures_util::future::join_all((0..60).map(|_| chat_from(&gw, &key, ATTACKER))).await;
    let statuses: Vec<u16> = burst.iter().map(|r| r.status().as_u16()).collect();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert!(
        lookups(&gw) - before <= 2,
        "the burst shares its store query: {} lookups",
        lookups(&gw) - before
    );
    // The brake is untouched: forged keys from the same address still get their
    // full allowance of 401s before the first 429.
    for _ in 0..5 {
        expect_error(
            chat_from(&gw, &forged(), ATTACKER).await,
            401,
            "invalid_api_key",
        )
        .await;
    }
    expect_braked(chat_from(&gw, &forged(), ATTACKER).await).await;
}
