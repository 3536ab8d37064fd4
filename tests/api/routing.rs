//! Resilient routing: deployments spread by weight, retries on other deployments,
//! cooldown, `Retry-After`, fallbacks across providers in the caller's format,
//! BYOK staying on the caller's key, and the admin and metrics views.
//!
//! Several mock instances stand for several deployments; a fault forced on one
//! instance (`PUT /_mock/fault`) takes that deployment down while the prompt, which
//! every deployment sees alike, stays clean. Hits are counted in each mock's stats
//! and journal, never timed.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use tollgate::config::{RawAlias, RawConfig, RawDeployment, RawModel};

use crate::common::*;

async fn set_fault(mock: &Mock, fault: Value) {
    let res = client()
        .put(format!("{}/_mock/fault", mock.base))
        .json(&fault)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

async fn hits(mock: &Mock) -> u64 {
    mock.stats().await["requests"].as_u64().unwrap()
}

fn deployment(name: &str, mock: &Mock, key: &str, weight: u32) -> RawDeployment {
    RawDeployment {
        name: name.into(),
        base_url: format!("{}/v1", mock.base),
        api_key: key.into(),
        weight,
        models: None,
    }
}

/// OpenAI served only by deployments `a` and `b` (no `default`).
fn two_openai_deployments(c: &mut RawConfig, a: &Mock, b: &Mock, weights: (u32, u32)) {
    c.providers.openai.api_key = String::new();
    c.providers.openai.deployments = vec![
        deployment("a", a, "key-a", weights.0),
        deployment("b", b, "key-b", weights.1),
    ];
}

fn header<'a>(res: &'a reqwest::Response, name: &str) -> &'a str {
    res.headers()
        .get(name)
        .unwrap_or_else(|| panic!("{name} missing"))
        .to_str()
        .unwrap()
}

fn model(id: &str, provider: &str, fallbacks: &[&str]) -> RawModel {
    RawModel {
        id: id.into(),
        provider: provider.into(),
        input_usd_per_mtok: 1.0,
        output_usd_per_mtok: 2.0,
        cached_input_usd_per_mtok: None,
        fallbacks: fallbacks.iter().map(|f| f.to_string()).collect(),
    }
}

/// The health of OpenAI's first deployment in `GET /admin/providers`.
async fn first_health(gw: &Gateway) -> String {
    let v: Value = gw
        .admin(reqwest::Method::GET, "/admin/providers", None)
        .await
        .json()
        .await
        .unwrap();
    let openai = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["provider"] == "openai")
        .unwrap()
        .clone();
    openai["deployments"][0]["health"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn metrics_text(gw: &Gateway) -> String {
    gw.client
        .get(gw.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_down_deployment_is_retried_elsewhere_then_cooled_down() {
    let (a, b) = (Mock::start().await, Mock::start().await);
    set_fault(&a, json!({"status": 503})).await;
    let gw = Gateway::start_with(|c| two_openai_deployments(c, &a, &b, (1, 1))).await;
    let key = gw.key().await;

    // Until the weighted pick lands on `a` once (1:1, so P(never in 60) = 2^-60).
    let mut failed_over = None;
    let mut sent_requests = 0u64;
    for i in 0..60 {
        let res = gw
            .chat(&key, chat_body("gpt-4o-mini", &format!("hello {i}")))
            .await;
        sent_requests += 1;
        assert_eq!(res.status(), 200, "every request is answered");
        let attempts = header(&res, "x-tollgate-attempts").to_owned();
        let rid = header(&res, "x-request-id").to_owned();
        let body: Value = res.json().await.unwrap();
        assert_eq!(
            body["choices"][0]["message"]["content"],
            format!("Mock reply to: hello {i}")
        );
        if hits(&a).await == 1 {
            assert_eq!(attempts, "2", "the request that met `a` was retried on `b`");
            failed_over = Some(rid);
            break;
        }
        assert_eq!(attempts, "1");
    }
    let rid = failed_over.expect("`a` was picked at least once");
    let b_before = hits(&b).await;
    for i in 0..20 {
        let res = gw
            .chat(&key, chat_body("gpt-4o-mini", &format!("later {i}")))
            .await;
        assert_eq!(res.status(), 200);
        assert_eq!(header(&res, "x-tollgate-attempts"), "1");
    }
    assert_eq!(hits(&a).await, 1, "`a` is skipped while it cools down");
    assert_eq!(hits(&b).await, b_before + 20);
    let sent = b.requests().await;
    assert!(
        sent.iter()
            .all(|r| r["headers"]["authorization"] == "Bearer key-b"),
        "each deployment sends its own key"
    );
    assert_eq!(
        a.requests().await[0]["headers"]["authorization"],
        "Bearer key-a"
    );

    // The failed try is its own usage event beside the request's.
    let rows = eventually(Duration::from_secs(10), "two usage rows", || async {
        gw.state().metering().sink.flush().await;
        let rows = gw
            .state()
            .store()
            .usage_events_for_request(&rid)
            .await
            .unwrap();
        (rows.len() == 2).then_some(rows)
    })
    .await;
    let mut statuses: Vec<u16> = rows.iter().map(|r| r.status).collect();
    statuses.sort();
    assert_eq!(statuses, [200, 503]);
    let failed = rows.iter().find(|r| r.status == 503).unwrap();
    assert_eq!(
        failed.kid,
        key.split('_').nth(3).unwrap(),
        "the caller's key"
    );
    assert_eq!(
        (
            failed.provider.as_str(),
            failed.model_served.as_str(),
            failed.charge_micro
        ),
        ("openai", "gpt-4o-mini", 0)
    );
    // Issue 15: the failed try is marked, so reports count one request per client
    // request and list the failed try apart.
    assert!(failed.failed_attempt, "{failed:?}");
    assert!(
        !rows
            .iter()
            .find(|r| r.status == 200)
            .unwrap()
            .failed_attempt
    );
    let res = gw
        .admin(reqwest::Method::GET, "/admin/usage?group_by=status", None)
        .await;
    assert_eq!(res.status(), 200);
    let report: Value = res.json().await.unwrap();
    assert_eq!(report["totals"]["requests"], sent_requests + 20);
    assert_eq!(report["totals"]["attempts_failed"], 1);
    assert_eq!(report["totals"]["errors"], 0, "every request was answered");
    let failed_group = report["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"] == "503")
        .unwrap();
    assert_eq!(
        (&failed_group["requests"], &failed_group["attempts_failed"]),
        (&json!(0), &json!(1))
    );

    // The admin view and the metrics show the cooldown; never a key.
    let res = gw
        .admin(reqwest::Method::GET, "/admin/providers", None)
        .await;
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert!(!text.contains("key-a") && !text.contains("key-b"), "{text}");
    let view: Value = serde_json::from_str(&text).unwrap();
    let openai = view["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["provider"] == "openai")
        .unwrap();
    let (da, db) = (&openai["deployments"][0], &openai["deployments"][1]);
    assert_eq!(
        (&da["name"], &da["health"]),
        (&json!("a"), &json!("cooling"))
    );
    assert!(da["cooldown_until"].is_string(), "{da}");
    assert_eq!(da["cooldowns"], 1);
    assert_eq!(da["recent_error_rate"], 1.0);
    assert_eq!(
        (&db["name"], &db["health"]),
        (&json!("b"), &json!("healthy"))
    );
    assert_eq!(db["recent_error_rate"], 0.0);
    assert_eq!(db["cooldown_until"], Value::Null);
    let metrics = metrics_text(&gw).await;
    let cooled = metrics
        .lines()
        .find(|l| {
            l.starts_with("tollgate_deployment_cooldowns_total{") && l.contains("deployment=\"a\"")
        })
        .unwrap_or_else(|| panic!("no cooldown counter in\n{metrics}"));
    assert!(cooled.ends_with(" 1"), "{cooled}");
    let health = |name: &str| {
        metrics
            .lines()
            .find(|l| {
                l.starts_with("tollgate_deployment_healthy{")
                    && l.contains(&format!("deployment=\"{name}\""))
            })
            .map(str::to_owned)
    };
    assert!(health("a").unwrap().ends_with(" 0"));
    assert!(health("b").unwrap().ends_with(" 1"));

    // An account's management key does not see the operator's deployments.
    let res = gw
        .admin(
            reqwest::Method::POST,
            "/admin/accounts",
            Some(json!({"id": "acme", "name": "Acme"})),
        )
        .await;
    assert_eq!(res.status(), 201);
    let acme_admin = gw
        .create_key(json!({"account_id": "acme", "kind": "mk"}))
        .await;
    let res = gw.get("/admin/providers", &acme_admin).await;
    expect_error(res, 403, "insufficient_permissions").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn weights_spread_traffic_within_a_binomial_bound() {
    let (a, b) = (Mock::start().await, Mock::start().await);
    let gw = Gateway::start_with(|c| two_openai_deployments(c, &a, &b, (3, 1))).await;
    let key = gw.key().await;
    const N: u64 = 400;
    let statuses: Vec<u16> = futures_util::stream::iter(0..N)
        .map(|i| {
            let (gw, key) = (&gw, &key);
            async move {
                gw.chat(key, chat_body("gpt-4o-mini", &format!("n{i}")))
                    .await
                    .status()
                    .as_u16()
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    assert!(statuses.iter().all(|s| *s == 200));
    let (ha, hb) = (hits(&a).await, hits(&b).await);
    assert_eq!(ha + hb, N, "one try each");
    // Binomial(400, 0.75): mean 300, sd 8.7; 6 sd either side never flakes.
    assert!((248..=352).contains(&ha), "a={ha} b={hb}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_short_retry_after_is_waited_out_a_long_one_is_not() {
    let gw = Gateway::start_with(|c| c.routing.cooldown_secs = 0).await;
    let key = gw.key().await;
    // One deployment: a 429 saying "retry after 1 s" is retried on it, once.
    set_fault(
        &gw.mock,
        json!({"status": 429, "retry_after": 1, "times": 1}),
    )
    .await;
    let res = gw.chat(&key, chat_body("gpt-4o-mini", "short wait")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "x-tollgate-attempts"), "2");
    assert_eq!(hits(&gw.mock).await, 2);

    // "Retry after 120 s": the gateway does not wait; the caller gets the 429.
    set_fault(
        &gw.mock,
        json!({"status": 429, "retry_after": 120, "times": 1}),
    )
    .await;
    let res = gw.chat(&key, chat_body("gpt-4o-mini", "long wait")).await;
    assert_eq!(res.headers()["retry-after"], "120");
    expect_error(res, 429, "rate_limit_exceeded").await;
    assert_eq!(hits(&gw.mock).await, 3, "not tried again");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_retry_after_moves_to_another_deployment_at_once() {
    let (a, b) = (Mock::start().await, Mock::start().await);
    set_fault(&a, json!({"status": 429, "retry_after": 120})).await;
    let gw = Gateway::start_with(|c| two_openai_deployments(c, &a, &b, (1, 1))).await;
    let key = gw.key().await;
    for i in 0..60 {
        let res = gw
            .chat(&key, chat_body("gpt-4o-mini", &format!("r{i}")))
            .await;
        assert_eq!(res.status(), 200);
        if hits(&a).await == 1 {
            assert_eq!(header(&res, "x-tollgate-attempts"), "2");
            break;
        }
    }
    assert_eq!(hits(&a).await, 1);
    for i in 0..10 {
        let res = gw
            .chat(&key, chat_body("gpt-4o-mini", &format!("s{i}")))
            .await;
        assert_eq!(header(&res, "x-tollgate-attempts"), "1");
    }
    assert_eq!(hits(&a).await, 1, "cooling for the 120 s it asked for");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_400_is_never_retried_and_5xx_stops_at_max_attempts() {
    let (a, b) = (Mock::start().await, Mock::start().await);
    let gw = Gateway::start_with(|c| two_openai_deployments(c, &a, &b, (1, 1))).await;
    let key = gw.key().await;
    let res = gw
        .chat(&key, chat_body("gpt-4o-mini", "[[mock:status=400]]"))
        .await;
    expect_error(res, 400, "invalid_request_error").await;
    assert_eq!(
        hits(&a).await + hits(&b).await,
        1,
        "a 400 is the request's fault"
    );

    // A 503 from every deployment: three tries in all, then the caller gets it.
    let res = gw
        .chat(&key, chat_body("gpt-4o-mini", "[[mock:status=503]]"))
        .await;
    expect_error(res, 503, "upstream_error").await;
    assert_eq!(hits(&a).await + hits(&b).await, 1 + 3);
    assert!(
        hits(&a).await >= 1 && hits(&b).await >= 1,
        "both deployments tried"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn streams_fail_over_before_the_first_byte_and_never_after() {
    let (a, b) = (Mock::start().await, Mock::start().await);
    set_fault(&a, json!({"status": 503})).await;
    let gw = Gateway::start_with(|c| two_openai_deployments(c, &a, &b, (1, 1))).await;
    let key = gw.key().await;
    let stream = |text: &str| {
        json!({"model": "gpt-4o-mini", "stream": true,
               "messages": [{"role": "user", "content": text}]})
    };
    let mut met_a = false;
    for i in 0..60 {
        let res = gw
            .post("/v1/chat/completions", &key, &[], stream(&format!("s{i}")))
            .await;
        assert_eq!(res.status(), 200);
        let attempts = header(&res, "x-tollgate-attempts").to_owned();
        let text = res.text().await.unwrap();
        assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
        if hits(&a).await == 1 {
            assert_eq!(attempts, "2", "failed over before any byte was sent");
            met_a = true;
            break;
        }
    }
    assert!(met_a);

    // Cut mid-stream: the caller has bytes already, so no second try.
    set_fault(&a, json!({"times": 0})).await;
    let before = hits(&a).await + hits(&b).await;
    let res = gw
        .post(
            "/v1/chat/completions",
            &key,
            &[],
            stream("[[mock:words=20]] [[mock:drop_after=3]]"),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "x-tollgate-attempts"), "1");
    let text = res.text().await.unwrap();
    assert!(text.contains("data: "), "{text}");
    assert!(!text.contains("[DONE]"), "{text}");
    assert!(
        text.contains("error"),
        "the cut is reported in-stream: {text}"
    );
    assert_eq!(hits(&a).await + hits(&b).await, before + 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_alias_falls_back_to_another_provider_in_the_openai_format() {
    let openai = Mock::start().await;
    set_fault(&openai, json!({"status": 500})).await;
    let gw = Gateway::start_with(|c| {
        c.providers.openai.base_url = format!("{}/v1", openai.base);
        c.aliases.push(RawAlias {
            id: "house".into(),
            openai: Some("gpt-4o-mini".into()),
            anthropic: None,
            gemini: None,
            fallbacks: vec!["claude-haiku-4-5".into()],
        });
    })
    .await;
    let key = gw.key().await;
    for stream in [false, true] {
        let mut body = chat_body("house", "fall back please");
        body["stream"] = json!(stream);
        let res = gw.chat(&key, body).await;
        assert_eq!(res.status(), 200);
        assert_eq!(header(&res, "x-tollgate-provider"), "anthropic");
        assert_eq!(header(&res, "x-tollgate-model"), "claude-haiku-4-5");
        if stream {
            // The openai deployment is cooling: straight to the fallback.
            assert_eq!(header(&res, "x-tollgate-attempts"), "1");
            let text = res.text().await.unwrap();
            assert!(text.contains("chat.completion.chunk"), "{text}");
            assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
        } else {
            assert_eq!(header(&res, "x-tollgate-attempts"), "2");
            let v: Value = res.json().await.unwrap();
            assert_eq!(v["object"], "chat.completion", "{v}");
            assert_eq!(
                v["choices"][0]["message"]["content"],
                "Mock reply to: fall back please"
            );
        }
    }
    assert_eq!(hits(&openai).await, 1);
    let sent = gw.mock.requests().await;
    assert!(sent.iter().all(|r| r["path"] == "/v1/messages"), "{sent:?}");
    assert_eq!(sent[0]["headers"]["x-api-key"], ANTHROPIC_UPSTREAM_KEY);
    assert_eq!(sent[0]["body"]["model"], "claude-haiku-4-5");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_model_falls_back_to_another_provider_in_the_anthropic_format() {
    let anthropic = Mock::start().await;
    set_fault(&anthropic, json!({"status": 529})).await;
    let gw = Gateway::start_with(|c| {
        c.providers.anthropic.base_url = anthropic.base.clone();
        c.models
            .push(model("claude-haiku-4-5", "anthropic", &["gpt-4o-mini"]));
    })
    .await;
    let key = gw.key().await;
    let res = gw
        .post(
            "/v1/messages",
            &key,
            &[("anthropic-version", "2023-06-01")],
            json!({"model": "claude-haiku-4-5", "max_tokens": 64,
                   "messages": [{"role": "user", "content": "hi there"}]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "x-tollgate-provider"), "openai");
    assert_eq!(header(&res, "x-tollgate-model"), "gpt-4o-mini");
    assert_eq!(header(&res, "x-tollgate-attempts"), "2");
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["type"], "message", "{v}");
    assert_eq!(v["content"][0]["text"], "Mock reply to: hi there");
    assert_eq!(hits(&anthropic).await, 1);
    let sent = gw.mock.requests().await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["path"], "/v1/chat/completions");
    assert_eq!(
        sent[0]["headers"]["authorization"],
        format!("Bearer {UPSTREAM_KEY}")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn byok_never_falls_back_nor_uses_gateway_keys() {
    let b = Mock::start().await;
    let gw = Gateway::start_with(|c| {
        c.providers.openai.deployments = vec![deployment("b", &b, "key-b", 1)];
        c.models
            .push(model("gpt-4o-mini", "openai", &["claude-haiku-4-5"]));
    })
    .await;
    set_fault(&gw.mock, json!({"status": 503})).await;
    let key = gw.key().await;
    let res = gw
        .post(
            "/v1/chat/completions",
            &key,
            &[
                ("x-byok-provider", "openai"),
                ("x-byok-api-key", "sk-caller-own"),
            ],
            chat_body("gpt-4o-mini", "mine only"),
        )
        .await;
    expect_error(res, 503, "upstream_error").await;
    let sent = gw.mock.requests().await;
    assert_eq!(sent.len(), 3, "retried on the caller's own key only");
    for r in &sent {
        assert_eq!(r["path"], "/v1/chat/completions");
        assert_eq!(r["headers"]["authorization"], "Bearer sk-caller-own");
    }
    assert_eq!(hits(&b).await, 0, "never another deployment's key");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_first_byte_moves_on_after_the_attempt_timeout() {
    let (a, b) = (Mock::start().await, Mock::start().await);
    set_fault(&a, json!({"delay_ms": 3000})).await;
    let gw = Gateway::start_with(|c| {
        two_openai_deployments(c, &a, &b, (1, 1));
        c.routing.attempt_first_byte_timeout_ms = 200;
    })
    .await;
    let key = gw.key().await;
    for i in 0..60 {
        let res = gw
            .chat(&key, chat_body("gpt-4o-mini", &format!("t{i}")))
            .await;
        assert_eq!(res.status(), 200);
        if hits(&a).await == 1 {
            assert_eq!(header(&res, "x-tollgate-attempts"), "2");
            break;
        }
    }
    assert_eq!(hits(&a).await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn routed_answers_say_what_served_them() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let res = gw.chat(&key, chat_body("openai/gpt-4o-mini", "hi")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "x-tollgate-model"), "gpt-4o-mini");
    assert_eq!(header(&res, "x-tollgate-provider"), "openai");
    assert_eq!(header(&res, "x-tollgate-attempts"), "1");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_routing_config_is_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    type Tweak = fn(&mut RawConfig);
    let cases: [(&str, Tweak); 4] = [
        ("routing.max_attempts", |c| c.routing.max_attempts = 0),
        ("routing.retry_on", |c| {
            c.routing.retry_on = vec!["4xx".into()]
        }),
        ("providers.openai.deployments[0].weight", |c| {
            c.providers.openai.deployments = vec![RawDeployment {
                name: "x".into(),
                base_url: "http://127.0.0.1:9/v1".into(),
                api_key: "k".into(),
                weight: 0,
                models: None,
            }]
        }),
        ("providers.openai.deployments[0].name", |c| {
            c.providers.openai.deployments = vec![RawDeployment {
                name: "default".into(),
                base_url: "http://127.0.0.1:9/v1".into(),
                api_key: "k".into(),
                weight: 1,
                models: None,
            }]
        }),
    ];
    for (key, tweak) in cases {
        let mut raw = base_config(dir.path(), "http://127.0.0.1:9");
        tweak(&mut raw);
        let err = tollgate::Config::from_raw(raw, dir.path().to_owned())
            .expect_err(key)
            .to_string();
        assert!(err.starts_with(key), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cooled_deployment_is_probed_once_half_open_and_healthy_again() {
    let (a, b) = (Mock::start().await, Mock::start().await);
    set_fault(&a, json!({"status": 502, "times": 1})).await;
    let gw = Gateway::start_with(|c| {
        two_openai_deployments(c, &a, &b, (1, 1));
        // A cooldown that is over at once: the next pick of `a` is its probe.
        c.routing.cooldown_secs = 0;
    })
    .await;
    let key = gw.key().await;
    let mut i = 0;
    while hits(&a).await < 1 {
        let res = gw
            .chat(&key, chat_body("gpt-4o-mini", &format!("p{i}")))
            .await;
        assert_eq!(res.status(), 200);
        i += 1;
        assert!(i < 60, "`a` never picked");
    }
    assert_eq!(first_health(&gw).await, "half_open");
    while hits(&a).await < 2 {
        let res = gw
            .chat(&key, chat_body("gpt-4o-mini", &format!("q{i}")))
            .await;
        assert_eq!(res.status(), 200);
        i += 1;
        assert!(i < 120, "`a` never probed");
    }
    assert_eq!(first_health(&gw).await, "healthy", "the probe succeeded");
}
