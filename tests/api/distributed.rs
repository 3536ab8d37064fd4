//! Several gateway processes on one database and one Redis behave as one: limits,
//! concurrency caps, balances and key changes hold across instances, and a Redis
//! outage does what `[redis] on_failure` says, then recovers.
//!
//! Each test starts its own `redis-server` on a random port (so it can kill it) and
//! 2–3 `tollgate serve` processes on one shared database (the suite's backend: SQLite in `api`, PostgreSQL in `api_pg`).

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::*;

const PRICEY: &str = "pricey-model";
const PRICEY_MODEL: &str = r#"
[[models]]
id = "pricey-model"
provider = "openai"
input_usd_per_mtok = 1000.0
output_usd_per_mtok = 2000.0
"#;

/// Creates a key through instance 0's management API: (plaintext, id).
async fn create_key(cluster: &Instances, spec: Value) -> (String, String) {
    let res = cluster
        .admin_on(
            0,
            &cluster.admin_key,
            Method::POST,
            "/admin/keys",
            Some(spec),
        )
        .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    (
        body["key"].as_str().unwrap().to_owned(),
        body["id"].as_str().unwrap().to_owned(),
    )
}

/// Sends `n` chat requests at once, spread round-robin; their statuses and bodies.
async fn burst(cluster: &Instances, key: &str, body: &Value, n: usize) -> Vec<(u16, Value)> {
    let calls: Vec<_> = (0..n)
        .map(|_| {
            let url = format!("{}/v1/chat/completions", cluster.next().base);
            let req = client().post(url).bearer_auth(key).json(body);
            tokio::spawn(async move {
                let res = req.send().await.unwrap();
                let status = res.status().as_u16();
                let limit = res
                    .headers()
                    .get("x-ratelimit-limit")
                    .map(|v| v.to_str().unwrap().to_owned());
                let mut body: Value = res.json().await.unwrap_or(Value::Null);
                body["_limit_header"] = limit.into();
                (status, body)
            })
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for call in calls {
        out.push(call.await.unwrap());
    }
    out
}

fn count(results: &[(u16, Value)], status: u16) -> usize {
    results.iter().filter(|(s, _)| *s == status).count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_limit_of_l_admits_exactly_l_across_instances() {
    let cluster = Instances::start(3, "", "").await;
    let (key, _) = create_key(
        &cluster,
        json!({"name": "limited", "rate_limit": {"requests": 10, "period": "hour"}}),
    )
    .await;
    let results = burst(&cluster, &key, &chat_body("gpt-4o-mini", "hi"), 60).await;
    assert_eq!(count(&results, 200), 10, "{results:?}");
    assert_eq!(count(&results, 429), 50, "{results:?}");
    for (status, body) in &results {
        assert_eq!(body["_limit_header"], "10", "{body}");
        if *status == 429 {
            assert_eq!(body["error"]["code"], "rate_limit_exceeded", "{body}");
            assert_eq!(body["error"]["details"]["limit"], 10, "{body}");
            assert_eq!(body["error"]["details"]["remaining"], 0, "{body}");
        }
    }
    // Only the admitted ten reached the upstream.
    assert_eq!(cluster.mock.stats().await["requests"], 10);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_concurrency_cap_holds_across_instances() {
    let cluster = Instances::start(3, "", "").await;
    let (key, _) = create_key(&cluster, json!({"name": "capped", "max_concurrency": 2})).await;
    // Each admitted request holds its place for 3 s at the upstream.
    let slow = chat_body("gpt-4o-mini", "[[mock:delay_ms=3000]] hi");
    let results = burst(&cluster, &key, &slow, 12).await;
    assert_eq!(count(&results, 200), 2, "{results:?}");
    assert_eq!(count(&results, 429), 10, "{results:?}");
    for (status, body) in &results {
        if *status == 429 {
            assert_eq!(
                body["error"]["code"], "concurrency_limit_exceeded",
                "{body}"
            );
        }
    }
    assert_eq!(cluster.mock.stats().await["requests"], 2);
    // The places were given back: two at once are admitted again, on any instance.
    let fast = chat_body("gpt-4o-mini", "hi");
    eventually(
        Duration::from_secs(5),
        "the leases to be released",
        || async {
            let again = burst(&cluster, &key, &fast, 2).await;
            (count(&again, 200) == 2).then_some(())
        },
    )
    .await;
}

/// A revocation on one instance reaches the others within a second. The database
/// poll is set to ten minutes here, so only the broadcast can do it in time.
#[tokio::test(flavor = "multi_thread")]
async fn revoking_on_one_instance_refuses_the_key_on_the_others_within_a_second() {
    let cluster = Instances::start_with_env(
        3,
        "",
        "",
        &[("TOLLGATE_KEYS__REVOCATION_POLL_MS", "600000")],
    )
    .await;
    let body = chat_body("gpt-4o-mini", "hi");
    let (key, id) = create_key(&cluster, json!({"name": "doomed"})).await;
    let (mk, mk_id) = create_key(&cluster, json!({"name": "ops", "kind": "mk"})).await;
    let (cli_key, cli_id) = create_key(&cluster, json!({"name": "cli-doomed"})).await;
    // Every instance has the keys cached.
    for i in 0..3 {
        assert_eq!(cluster.chat_on(i, &key, &body).await.status(), 200);
        assert_eq!(cluster.chat_on(i, &cli_key, &body).await.status(), 200);
        let res = cluster
            .admin_on(i, &mk, Method::GET, "/admin/keys", None)
            .await;
        assert_eq!(res.status(), 200);
    }

    // An API key, revoked through instance 0's admin API.
    let res = cluster
        .admin_on(
            0,
            &cluster.admin_key,
            Method::POST,
            &format!("/admin/keys/{id}/revoke"),
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    for i in 1..3 {
        eventually(
            Duration::from_secs(1),
            "instance to refuse the revoked key",
            || async {
                let res = cluster.chat_on(i, &key, &body).await;
                (res.status() == 401).then_some(res)
            },
        )
        .await;
    }
    let err = expect_error(
        cluster.chat_on(2, &key, &body).await,
        401,
        "revoked_api_key",
    )
    .await;
    assert!(err.to_string().contains("revoked"), "{err}");

    // A management key, revoked through instance 1.
    let res = cluster
        .admin_on(
            1,
            &cluster.admin_key,
            Method::POST,
            &format!("/admin/keys/{mk_id}/revoke"),
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    for i in [0, 2] {
        eventually(
            Duration::from_secs(1),
            "instance to refuse the revoked management key",
            || async {
                let res = cluster
                    .admin_on(i, &mk, Method::GET, "/admin/keys", None)
                    .await;
                (res.status() == 401).then_some(())
            },
        )
        .await;
    }

    // From the CLI, straight on the database: it publishes the change too.
    let (ok, _, err) = cli(&cluster.config, &["keys", "revoke", &cli_id]).await;
    assert!(ok, "{err}");
    for i in 0..3 {
        eventually(
            Duration::from_secs(1),
            "instance to refuse the CLI-revoked key",
            || async {
                let res = cluster.chat_on(i, &cli_key, &body).await;
                (res.status() == 401).then_some(())
            },
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn rotation_grace_works_across_instances() {
    let cluster = Instances::start_with_env(
        2,
        "",
        "",
        &[("TOLLGATE_KEYS__REVOCATION_POLL_MS", "600000")],
    )
    .await;
    let body = chat_body("gpt-4o-mini", "hi");
    let (old, id) = create_key(&cluster, json!({"name": "rotating"})).await;
    assert_eq!(cluster.chat_on(1, &old, &body).await.status(), 200);

    // Rotated on instance 0 with an hour of grace: on instance 1 both secrets work,
    // the new one as soon as the broadcast evicted the cached record.
    let res = cluster
        .admin_on(
            0,
            &cluster.admin_key,
            Method::POST,
            &format!("/admin/keys/{id}/rotate"),
            Some(json!({"grace_period_secs": 3600})),
        )
        .await;
    assert_eq!(res.status(), 200);
    let new: String = res.json::<Value>().await.unwrap()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new, old);
    eventually(
        Duration::from_secs(1),
        "instance 1 to accept the new secret",
        || async { (cluster.chat_on(1, &new, &body).await.status() == 200).then_some(()) },
    )
    .await;
    assert_eq!(
        cluster.chat_on(1, &old, &body).await.status(),
        200,
        "the old secret is in grace"
    );

    // Rotated again with no grace: the previous secret stops everywhere.
    let res = cluster
        .admin_on(
            0,
            &cluster.admin_key,
            Method::POST,
            &format!("/admin/keys/{id}/rotate"),
            Some(json!({"grace_period_secs": 0})),
        )
        .await;
    assert_eq!(res.status(), 200);
    let newest: String = res.json::<Value>().await.unwrap()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    eventually(
        Duration::from_secs(1),
        "instance 1 to refuse the replaced secret",
        || async { (cluster.chat_on(1, &new, &body).await.status() == 401).then_some(()) },
    )
    .await;
    assert_eq!(cluster.chat_on(1, &newest, &body).await.status(), 200);
    assert_eq!(cluster.chat_on(1, &old, &body).await.status(), 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_balance_is_never_overdrawn_by_more_than_one_request_across_instances() {
    let cluster = Instances::start(3, "", PRICEY_MODEL).await;
    let admin = |method: Method, path: &'static str, body: Value| {
        cluster.admin_on(0, &cluster.admin_key, method, path, Some(body))
    };
    let res = admin(
        Method::POST,
        "/admin/accounts",
        json!({"name": "tight", "id": "tight"}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let res = admin(
        Method::PATCH,
        "/admin/accounts/tight",
        json!({"currency": "USD", "billing_mode": "prepaid"}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let (key, _) = create_key(&cluster, json!({"name": "spender", "account_id": "tight"})).await;
    let body = json!({"model": PRICEY, "max_tokens": 10, "messages": [{"role": "user", "content": "[[mock:words=10]]"}]});
    // Nothing to spend yet, on any instance.
    for i in 0..3 {
        expect_error(
            cluster.chat_on(i, &key, &body).await,
            402,
            "insufficient_balance",
        )
        .await;
    }
    let res = admin(
        Method::POST,
        "/admin/accounts/tight/credit",
        json!({"amount": "0.40"}),
    )
    .await;
    assert_eq!(res.status(), 200);

    let results = burst(&cluster, &key, &body, 60).await;
    let ok = count(&results, 200);
    assert_eq!(ok + count(&results, 402), 60, "{results:?}");
    // Each request costs ~0.026 USD and reserves ~0.046: some fit, most do not.
    assert!((1..60).contains(&ok), "some pass, some are refused: {ok}");
    assert_eq!(cluster.mock.stats().await["requests"], ok);

    // Once every charge is written, the balance is at worst one request below zero.
    let one_request_max = 6 * 1000 + 10 * 2000 + 40 * 1000;
    let store = tollgate::store::Store::open(&cluster.db.url).await.unwrap();
    let final_balance = eventually(Duration::from_secs(15), "charges to be written", || async {
        // The three refused probes and the sixty of the burst.
        if store.count_usage_events().await.unwrap() < 63 {
            return None;
        }
        Some(
            store
                .account_billing("tight")
                .await
                .unwrap()
                .unwrap()
                .balance_micro,
        )
    })
    .await;
    assert!(
        final_balance >= -one_request_max,
        "overdrawn: {final_balance}"
    );
}

async fn redis_failures(base: &str, concern: &str) -> u64 {
    let text = client()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| {
            l.starts_with("tollgate_redis_failures_total")
                && l.contains(&format!("concern=\"{concern}\""))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as u64)
        .sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_killed_mid_load_fails_closed_with_503_then_recovers() {
    let mut cluster = Instances::start(2, "on_failure = \"closed\"", "").await;
    let (key, _) = create_key(
        &cluster,
        json!({"name": "busy", "rate_limit": {"requests": 10000, "period": "minute"}}),
    )
    .await;
    let body = chat_body("gpt-4o-mini", "hi");
    for (status, _) in burst(&cluster, &key, &body, 10).await {
        assert_eq!(status, 200);
    }

    cluster.redis.kill().await;
    for i in 0..2 {
        let res = eventually(
            Duration::from_secs(10),
            "requests to be refused",
            || async {
                let res = cluster.chat_on(i, &key, &body).await;
                (res.status() == 503).then_some(res)
            },
        )
        .await;
        assert_eq!(res.headers()["retry-after"], "1");
        let err = expect_error(res, 503, "limiter_unavailable").await;
        assert!(
            err["error"]["message"].as_str().unwrap().contains("Redis"),
            "{err}"
        );
    }
    let upstream_before = cluster.mock.stats().await["requests"].as_u64().unwrap();
    let refused = burst(&cluster, &key, &body, 10).await;
    assert_eq!(count(&refused, 503), 10, "{refused:?}");
    assert_eq!(
        cluster.mock.stats().await["requests"].as_u64().unwrap(),
        upstream_before
    );
    assert!(redis_failures(&cluster.nodes[0].base, "limits").await >= 1);

    cluster.redis.restart().await;
    for i in 0..2 {
        eventually(
            Duration::from_secs(15),
            "the instance to use Redis again",
            || async { (cluster.chat_on(i, &key, &body).await.status() == 200).then_some(()) },
        )
        .await;
    }
    for (status, _) in burst(&cluster, &key, &body, 10).await {
        assert_eq!(status, 200);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_killed_mid_load_fails_open_then_limits_again() {
    let mut cluster = Instances::start(2, "on_failure = { limits = \"open\" }", "").await;
    let (key, _) = create_key(
        &cluster,
        json!({"name": "small", "rate_limit": {"requests": 3, "period": "hour"}}),
    )
    .await;
    let body = chat_body("gpt-4o-mini", "hi");
    let used = burst(&cluster, &key, &body, 5).await;
    assert_eq!(count(&used, 200), 3, "{used:?}");
    assert_eq!(count(&used, 429), 2, "{used:?}");

    // Without Redis the exhausted limit is not enforced: fail open admits.
    cluster.redis.kill().await;
    let open = burst(&cluster, &key, &body, 6).await;
    assert_eq!(count(&open, 200), 6, "{open:?}");
    for (_, body) in &open {
        assert!(
            body["_limit_header"].is_null(),
            "no limit headers without a decision: {body}"
        );
    }
    assert!(redis_failures(&cluster.nodes[0].base, "limits").await >= 1);
    assert!(redis_failures(&cluster.nodes[1].base, "limits").await >= 1);

    // The restarted Redis is empty: a fresh bucket of 3, enforced again across both.
    cluster.redis.restart().await;
    eventually(
        Duration::from_secs(15),
        "limits to be enforced again",
        || async {
            let res = cluster.chat_on(0, &key, &body).await;
            (res.status() == 200 && res.headers().contains_key("x-ratelimit-limit")).then_some(())
        },
    )
    .await;
    let after = burst(&cluster, &key, &body, 6).await;
    assert!(count(&after, 429) >= 4, "{after:?}");
    assert!(count(&after, 200) <= 2, "{after:?}");
}
