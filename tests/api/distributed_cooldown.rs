//! Deployment cooldowns shared through Redis: a deployment that fails on one
//! instance is skipped by the others, the admin view of every instance shows its
//! cooldown, and with Redis gone each instance falls back to its own view
//! (counted in `tollgate_redis_failures_total{concern="cooldowns"}`).
//!
//! Two `tollgate serve` processes share one database and a `redis-server` of the
//! test's own (so it can be killed). OpenAI has two deployments: `default` on the
//! instances' mock and `down`, a second mock the test forces to answer 503. Hits
//! are counted on each mock, never timed.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::*;

async fn fail_every_request(mock: &Mock) {
    let res = client()
        .put(format!("{}/_mock/fault", mock.base))
        .json(&json!({"status": 503}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

async fn hits(mock: &Mock) -> u64 {
    mock.stats().await["requests"].as_u64().unwrap()
}

/// Two instances; OpenAI's deployments `default` (healthy) and `down` (503s).
async fn two_instances_with_a_down_deployment() -> (Instances, Mock) {
    let down = Mock::start().await;
    fail_every_request(&down).await;
    let extra = format!(
        r#"
[[providers.openai.deployments]]
name = "down"
base_url = "{}/v1"
api_key = "key-down"
"#,
        down.base
    );
    (Instances::start(2, "", &extra).await, down)
}

async fn key(cluster: &Instances) -> String {
    let res = cluster
        .admin_on(
            0,
            &cluster.admin_key,
            Method::POST,
            "/admin/keys",
            Some(json!({"name": "caller"})),
        )
        .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    body["key"].as_str().unwrap().to_owned()
}

/// Chats on instance `i` until the weighted pick meets `down` once (1:1, so
/// P(never in 60) = 2^-60); every request is answered (failed over to `default`).
async fn until_down_is_met(cluster: &Instances, i: usize, key: &str, down: &Mock) {
    for n in 0..60 {
        let res = cluster
            .chat_on(i, key, &chat_body("gpt-4o-mini", &format!("hello {n}")))
            .await;
        assert_eq!(res.status(), 200, "every request is answered");
        if hits(down).await == 1 {
            return;
        }
    }
    panic!("`down` was never picked");
}

/// `down`'s entry in instance `i`'s `GET /admin/providers`.
async fn down_view(cluster: &Instances, i: usize) -> Value {
    let res = cluster
        .admin_on(i, &cluster.admin_key, Method::GET, "/admin/providers", None)
        .await;
    assert_eq!(res.status(), 200);
    let view: Value = res.json().await.unwrap();
    view["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["provider"] == "openai")
        .and_then(|p| {
            p["deployments"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["name"] == "down")
                .cloned()
        })
        .expect("openai's `down` deployment is listed")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deployment_that_failed_on_one_instance_is_skipped_by_the_other() {
    let (cluster, down) = two_instances_with_a_down_deployment().await;
    let key = key(&cluster).await;
    until_down_is_met(&cluster, 0, &key, &down).await;

    // Instance 1 never called `down`, yet its admin view shows the cooldown.
    let seen = eventually(
        Duration::from_secs(10),
        "instance 1 to see the cooldown",
        || async {
            let d = down_view(&cluster, 1).await;
            (d["health"] == "cooling").then_some(d)
        },
    )
    .await;
    assert!(seen["cooldown_until"].is_string(), "{seen}");
    assert_eq!(seen["cooldowns"], 1, "{seen}");
    assert_eq!(
        seen["recent_requests"], 0,
        "the error rate is per instance: {seen}"
    );
    assert_eq!(down_view(&cluster, 0).await["health"], "cooling");

    // Instance 1 sends nothing to `down` while it cools (without the shared state
    // it would pick it about every other request).
    let healthy_before = hits(&cluster.mock).await;
    for n in 0..20 {
        let res = cluster
            .chat_on(1, &key, &chat_body("gpt-4o-mini", &format!("later {n}")))
            .await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["x-tollgate-attempts"], "1");
    }
    assert_eq!(hits(&down).await, 1, "`down` is skipped on instance 1 too");
    assert_eq!(hits(&cluster.mock).await, healthy_before + 20);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_redis_each_instance_falls_back_to_its_own_cooldowns() {
    let (mut cluster, down) = two_instances_with_a_down_deployment().await;
    let key = key(&cluster).await;
    cluster.redis.kill().await;

    until_down_is_met(&cluster, 0, &key, &down).await;
    for n in 0..20 {
        let res = cluster
            .chat_on(0, &key, &chat_body("gpt-4o-mini", &format!("later {n}")))
            .await;
        assert_eq!(res.status(), 200);
    }
    assert_eq!(
        hits(&down).await,
        1,
        "instance 0 cools `down` in its own state"
    );
    assert_eq!(down_view(&cluster, 0).await["health"], "cooling");

    let metrics = client()
        .get(format!("{}/metrics", cluster.nodes[0].base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let failures = metrics
        .lines()
        .find(|l| {
            l.starts_with("tollgate_redis_failures_total{") && l.contains("concern=\"cooldowns\"")
        })
        .unwrap_or_else(|| panic!("no cooldown failures counted in\n{metrics}"));
    let n: f64 = failures.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(n >= 1.0, "{failures}");
}
