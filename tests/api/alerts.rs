//! Security alerts: `GET /admin/alerts` lists outbox rows, filtered, newest first,
//! and webhooks deliver them; the evaluators (auth failures, new addresses, rate
//! limits, balance, daily spend) fire each alert once per subject and window with
//! the README's payload, take thresholds from `[alerts]` and per-account
//! overrides, and put no secret in any payload.
//!
//! The evaluator handles signals in order, so [`barrier`] (an alert of its own,
//! raised after everything else was sent) proves earlier signals were handled
//! before a test counts alerts.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tollgate::keys::{ApiKey, KeyEnv, KeyKind};
use tollgate::store::NewEvent;

use crate::common::*;
use crate::webhooks::{Receiver, create_hook, local_hooks};

#[tokio::test]
async fn alerts_are_listed_filtered_and_delivered() {
    let gw = Gateway::start_with(local_hooks).await;
    let rx = Receiver::start(0).await;
    create_hook(&gw, &rx.url, json!(["alert.auth_failures"])).await;
    let store = gw.state().store();
    store
        .insert_event(&NewEvent::now(
            "alert.auth_failures",
            "default",
            json!({"key_id": "k1", "failures": 10, "window_secs": 300}),
        ))
        .await
        .unwrap();
    store
        .insert_event(&NewEvent::now(
            "alert.new_ip",
            "default",
            json!({"key_id": "k2", "ip": "203.0.113.9"}),
        ))
        .await
        .unwrap();
    store
        .insert_event(&NewEvent::now(
            "key.created",
            "default",
            json!({"key_id": "k3"}),
        ))
        .await
        .unwrap();
    let all: Value = gw
        .admin(Method::GET, "/admin/alerts", None)
        .await
        .json()
        .await
        .unwrap();
    let types: Vec<&str> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["alert.new_ip", "alert.auth_failures"],
        "newest first, alerts only"
    );
    let one: Value = gw
        .admin(
            Method::GET,
            "/admin/alerts?type=alert.auth_failures&key_id=k1",
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["data"].as_array().unwrap().len(), 1);
    assert_eq!(one["data"][0]["data"]["failures"], 10);
    let none: Value = gw
        .admin(Method::GET, "/admin/alerts?key_id=nope", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none["data"], json!([]));
    let res = gw
        .admin(Method::GET, "/admin/alerts?since=yesterday", None)
        .await;
    let body = expect_error(res, 400, "invalid_field").await;
    assert_eq!(body["error"]["param"], "since");

    let (_, ev) = rx.wait_for("alert.auth_failures").await;
    assert_eq!(ev["data"]["key_id"], "k1");
    // Only the subscribed type reached the receiver.
    eventually(Duration::from_secs(5), "the delivery", || async {
        (!rx.all().is_empty()).then_some(())
    })
    .await;
    assert!(
        rx.all()
            .iter()
            .all(|r| r.body.contains("alert.auth_failures"))
    );
}

/// Test thresholds: 3 auth failures per 5 minutes; `X-Forwarded-For` names the
/// client (the test client is the trusted proxy).
fn alerting(c: &mut tollgate::config::RawConfig) {
    local_hooks(c);
    c.alerts.auth_failures = 3;
    c.server.trusted_proxies = vec!["127.0.0.1/32".into()];
}

/// A key with the same kid as `key` and a wrong (well-formed) secret.
fn forged(key: &str) -> String {
    let kid = ApiKey::parse("tg", key).unwrap().kid;
    ApiKey::generate_for("tg", KeyEnv::Live, KeyKind::Sk, kid)
        .expose()
        .to_owned()
}

fn kid_of(key: &str) -> String {
    ApiKey::parse("tg", key).unwrap().kid.as_str().to_owned()
}

async fn key_row_id(gw: &Gateway, key: &str) -> String {
    gw.state()
        .store()
        .find_key(&kid_of(key))
        .await
        .unwrap()
        .unwrap()
        .id
}

async fn fail(gw: &Gateway, presented: &str, times: usize) {
    for _ in 0..times {
        let status = gw
            .chat(presented, chat_body("gpt-4o-mini", "hi"))
            .await
            .status();
        assert!(status == 401 || status == 429, "a refused key: {status}");
    }
}

async fn alerts_of(gw: &Gateway, kind: &str) -> Vec<Value> {
    let v: Value = gw
        .admin(
            Method::GET,
            &format!("/admin/alerts?type={kind}&limit=1000"),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    v["data"].as_array().unwrap().clone()
}

/// Waits for an alert of `kind` whose `data.subject` is `subject`.
async fn wait_alert(gw: &Gateway, kind: &str, subject: &str) -> Value {
    eventually(
        Duration::from_secs(10),
        &format!("{kind} for {subject}"),
        || async {
            alerts_of(gw, kind)
                .await
                .into_iter()
                .find(|a| a["data"]["subject"] == subject)
        },
    )
    .await
}

/// Raises an auth-failure alert for a fresh kid and waits for it: every signal
/// sent before has been evaluated once it is there.
async fn barrier(gw: &Gateway) {
    let fresh = ApiKey::generate("tg", KeyEnv::Live, KeyKind::Sk);
    fail(gw, fresh.expose(), 3).await;
    wait_alert(
        gw,
        "alert.auth_failures",
        &format!("key:{}", fresh.kid.as_str()),
    )
    .await;
}

/// No delivered body contains any of `secrets`.
fn assert_no_secret(rx: &Receiver, secrets: &[&str]) {
    for r in rx.all() {
        for s in secrets {
            assert!(!r.body.contains(s), "a secret in a payload: {}", r.body);
        }
        assert!(!r.body.contains("secret_hash"), "{}", r.body);
    }
}

#[tokio::test]
async fn auth_failures_fire_once_per_subject_and_window() {
    let gw = Gateway::start_with(alerting).await;
    let rx = Receiver::start(0).await;
    let hook = create_hook(&gw, &rx.url, json!(["alert.auth_failures"])).await;
    let key = gw.key().await;
    let bad = forged(&key);
    // Seven failures for one kid, four with nothing parseable (the address is the subject).
    fail(&gw, &bad, 7).await;
    fail(&gw, "tg_live_sk_nope", 4).await;
    barrier(&gw).await;

    let all = alerts_of(&gw, "alert.auth_failures").await;
    assert_eq!(
        all.len(),
        3,
        "the kid, the address and the barrier: {all:?}"
    );
    let by_kid = wait_alert(&gw, "alert.auth_failures", &format!("key:{}", kid_of(&key))).await;
    assert_eq!(by_kid["account_id"], "default");
    let d = &by_kid["data"];
    assert_eq!(d["key_id"], key_row_id(&gw, &key).await);
    assert_eq!(d["kid"], kid_of(&key));
    assert_eq!(d["failures"], 3);
    assert_eq!(d["threshold"], 3);
    assert_eq!(d["window_secs"], 300);
    assert_eq!(d["ip"], "127.0.0.1");
    assert!(d["window_start"].is_string(), "{d}");
    let by_ip = wait_alert(&gw, "alert.auth_failures", "ip:127.0.0.1").await;
    assert_eq!(by_ip["data"]["key_id"], Value::Null);
    assert_eq!(by_ip["data"]["kid"], Value::Null);
    assert_eq!(by_ip["data"]["failures"], 3);

    // The receiver gets each alert once, with the outbox's event id.
    eventually(Duration::from_secs(10), "three deliveries", || async {
        (rx.all().len() >= 3).then_some(())
    })
    .await;
    let mut ids: Vec<String> = rx
        .all()
        .iter()
        .map(|r| {
            let v: Value = serde_json::from_str(&r.body).unwrap();
            assert_eq!(v["type"], "alert.auth_failures");
            v["id"].as_str().unwrap().to_owned()
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3);
    assert!(ids.contains(&by_kid["id"].as_str().unwrap().to_owned()));
    assert_no_secret(&rx, &[&key, &bad, hook["secret"].as_str().unwrap()]);
}

#[tokio::test]
async fn thresholds_come_from_config_and_an_account_override() {
    let gw = Gateway::start_with(alerting).await;
    let res = gw
        .admin(
            Method::POST,
            "/admin/accounts",
            Some(json!({"name": "acme", "id": "acme"})),
        )
        .await;
    assert_eq!(res.status(), 201);
    let v: Value = gw
        .admin(Method::GET, "/admin/accounts/acme/alerts", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["effective"]["auth_failures"], 3, "from [alerts]: {v}");
    assert_eq!(v["effective"]["auth_failures_window_secs"], 300);
    assert_eq!(v["effective"]["rate_limit_near_pct"], 80);
    assert_eq!(v["overrides"]["auth_failures"], Value::Null);

    let res = gw
        .admin(
            Method::PUT,
            "/admin/accounts/acme/alerts",
            Some(json!({"rate_limit_near_pct": 0})),
        )
        .await;
    let err = expect_error(res, 400, "invalid_field").await;
    assert_eq!(err["error"]["param"], "rate_limit_near_pct");
    let res = gw
        .admin(
            Method::PUT,
            "/admin/accounts/nope/alerts",
            Some(json!({"auth_failures": 2})),
        )
        .await;
    expect_error(res, 404, "not_found").await;
    let v: Value = gw
        .admin(
            Method::PUT,
            "/admin/accounts/acme/alerts",
            Some(json!({"auth_failures": 2, "spend_daily_micro": 5000})),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["overrides"]["auth_failures"], 2, "{v}");
    assert_eq!(v["effective"]["auth_failures"], 2);
    assert_eq!(v["effective"]["spend_daily_micro"], 5000);
    assert_eq!(v["effective"]["new_ip_days"], 30, "the default stays");

    let acme = gw.create_key(json!({"account_id": "acme"})).await;
    let other = gw.key().await;
    // Two failures: an alert for acme's key (threshold 2), none for the default's (3).
    fail(&gw, &forged(&acme), 2).await;
    fail(&gw, &forged(&other), 2).await;
    barrier(&gw).await;
    let got = wait_alert(
        &gw,
        "alert.auth_failures",
        &format!("key:{}", kid_of(&acme)),
    )
    .await;
    assert_eq!(got["account_id"], "acme");
    assert_eq!(got["data"]["threshold"], 2);
    assert_eq!(got["data"]["failures"], 2);
    let others: Vec<Value> = alerts_of(&gw, "alert.auth_failures")
        .await
        .into_iter()
        .filter(|a| a["data"]["subject"] == format!("key:{}", kid_of(&other)))
        .collect();
    assert!(others.is_empty(), "below the default threshold: {others:?}");
    // An account's own listing shows only its alerts.
    let acme_only: Value = gw
        .admin(Method::GET, "/admin/alerts?account_id=acme", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(acme_only["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn rate_limit_near_and_rate_limited_fire_once_per_period() {
    let gw = Gateway::start_with(alerting).await;
    let rx = Receiver::start(0).await;
    create_hook(
        &gw,
        &rx.url,
        json!(["alert.rate_limit_near", "alert.rate_limited"]),
    )
    .await;
    let key = gw
        .create_key(json!({"rate_limit": {"requests": 5, "period": "hour", "burst": 5}}))
        .await;
    let mut remaining = Vec::new();
    let mut limited = 0;
    for _ in 0..7 {
        let res = gw.chat(&key, chat_body("gpt-4o-mini", "hi")).await;
        match res.status().as_u16() {
            200 => remaining.push(
                res.headers()["x-ratelimit-remaining"]
                    .to_str()
                    .unwrap()
                    .parse::<u32>()
                    .unwrap(),
            ),
            429 => limited += 1,
            s => panic!("status {s}"),
        }
    }
    assert_eq!((remaining.len(), limited), (5, 2), "{remaining:?}");
    barrier(&gw).await;

    let near = alerts_of(&gw, "alert.rate_limit_near").await;
    assert_eq!(near.len(), 1, "once per key and period: {near:?}");
    let d = &near[0]["data"];
    // The first request to use 80 % of the limit raised it.
    let first_near = remaining
        .iter()
        .find(|r| (5 - **r) * 100 >= 80 * 5)
        .unwrap();
    assert_eq!(d["remaining"], *first_near, "{d}");
    assert_eq!(d["limit"], 5);
    assert_eq!(d["threshold_pct"], 80);
    assert_eq!(d["period_secs"], 3600);
    assert_eq!(d["key_id"], key_row_id(&gw, &key).await);
    assert_eq!(d["kid"], kid_of(&key));
    let hit = alerts_of(&gw, "alert.rate_limited").await;
    assert_eq!(hit.len(), 1, "two 429s, one alert: {hit:?}");
    assert_eq!(hit[0]["data"]["remaining"], 0);
    assert!(hit[0]["data"]["retry_after_secs"].as_f64().unwrap() > 0.0);
    rx.wait_for("alert.rate_limited").await;
    rx.wait_for("alert.rate_limit_near").await;
    assert_no_secret(&rx, &[&key]);
}

async fn chat_from(gw: &Gateway, key: &str, ip: &str) -> u16 {
    gw.post(
        "/v1/chat/completions",
        key,
        &[("x-forwarded-for", ip)],
        chat_body("gpt-4o-mini", "hi"),
    )
    .await
    .status()
    .as_u16()
}

#[tokio::test]
async fn new_ip_fires_for_allowlisted_keys_and_keys_with_history() {
    let gw = Gateway::start_with(alerting).await;
    let rx = Receiver::start(0).await;
    create_hook(&gw, &rx.url, json!(["alert.new_ip"])).await;
    let listed = gw
        .create_key(json!({"ipWhitelist": ["203.0.113.0/24"]}))
        .await;
    let plain = gw.key().await;
    let (listed_id, plain_id) = (
        key_row_id(&gw, &listed).await,
        key_row_id(&gw, &plain).await,
    );

    // An allowlisted key's first address is new; the second use is not.
    assert_eq!(chat_from(&gw, &listed, "203.0.113.7").await, 200);
    assert_eq!(chat_from(&gw, &listed, "203.0.113.7").await, 200);
    // A key's very first address is not an alert; its second is.
    assert_eq!(chat_from(&gw, &plain, "198.51.100.1").await, 200);
    assert_eq!(chat_from(&gw, &plain, "198.51.100.2").await, 200);
    assert_eq!(chat_from(&gw, &plain, "198.51.100.2").await, 200);
    barrier(&gw).await;

    // Addresses seen yesterday and 40 days ago (`new_ip_days` is 30).
    let store = gw.state().store();
    let now = time::OffsetDateTime::now_utc();
    store
        .note_key_ip(&plain_id, "198.51.100.3", now - time::Duration::days(1))
        .await
        .unwrap();
    store
        .note_key_ip(&plain_id, "198.51.100.4", now - time::Duration::days(40))
        .await
        .unwrap();
    assert_eq!(chat_from(&gw, &plain, "198.51.100.3").await, 200);
    assert_eq!(chat_from(&gw, &plain, "198.51.100.4").await, 200);
    barrier(&gw).await;

    let mut got: Vec<(String, String, String)> = alerts_of(&gw, "alert.new_ip")
        .await
        .iter()
        .map(|a| {
            let d = &a["data"];
            (
                d["key_id"].as_str().unwrap().to_owned(),
                d["ip"].as_str().unwrap().to_owned(),
                d["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    got.sort();
    let mut want = vec![
        (
            listed_id.clone(),
            "203.0.113.7".to_owned(),
            "allowlist".to_owned(),
        ),
        (
            plain_id.clone(),
            "198.51.100.2".to_owned(),
            "history".to_owned(),
        ),
        (
            plain_id.clone(),
            "198.51.100.4".to_owned(),
            "history".to_owned(),
        ),
    ];
    want.sort();
    assert_eq!(got, want);
    let stale = alerts_of(&gw, "alert.new_ip")
        .await
        .into_iter()
        .find(|a| a["data"]["ip"] == "198.51.100.4")
        .unwrap();
    assert!(stale["data"]["last_seen_at"].is_string(), "{stale}");
    assert_eq!(stale["data"]["days"], 30);
    assert_eq!(stale["data"]["kid"], kid_of(&plain));
    eventually(Duration::from_secs(10), "three deliveries", || async {
        (rx.all().len() >= 3).then_some(())
    })
    .await;
    assert_no_secret(&rx, &[&listed, &plain]);
}

#[tokio::test]
async fn balance_low_and_spend_daily_fire_once() {
    let gw = Gateway::start_with(|c| {
        alerting(c);
        c.models.push(tollgate::config::RawModel {
            id: "pricey-model".into(),
            provider: "openai".into(),
            input_usd_per_mtok: 1000.0,
            output_usd_per_mtok: 2000.0,
            cached_input_usd_per_mtok: None,
            fallbacks: Vec::new(),
        });
    })
    .await;
    let rx = Receiver::start(0).await;
    create_hook(
        &gw,
        &rx.url,
        json!(["alert.balance_low", "alert.spend_daily"]),
    )
    .await;
    for (method, path, body) in [
        (
            Method::POST,
            "/admin/accounts",
            json!({"name": "shop", "id": "shop"}),
        ),
        (
            Method::PATCH,
            "/admin/accounts/shop",
            json!({"currency": "USD", "billing_mode": "prepaid"}),
        ),
        (
            Method::POST,
            "/admin/accounts/shop/credit",
            json!({"amount": "100.00"}),
        ),
        (
            Method::PUT,
            "/admin/accounts/shop/alerts",
            json!({"balance_low_micro": 99_999_999, "spend_daily_micro": 1}),
        ),
    ] {
        let res = gw.admin(method, path, Some(body)).await;
        assert!(
            res.status().is_success(),
            "{path}: {}",
            res.text().await.unwrap()
        );
    }
    let key = gw.create_key(json!({"account_id": "shop"})).await;
    for _ in 0..3 {
        let res = gw.chat(&key, chat_body("pricey-model", "hi")).await;
        assert_eq!(res.status(), 200);
    }
    gw.state().metering().sink.flush().await;
    barrier(&gw).await;

    let low = alerts_of(&gw, "alert.balance_low").await;
    assert_eq!(low.len(), 1, "once per crossing: {low:?}");
    assert_eq!(low[0]["account_id"], "shop");
    let d = &low[0]["data"];
    assert_eq!(d["threshold_micro"], 99_999_999);
    assert_eq!(d["currency"], "USD");
    assert!(d["balance_micro"].as_i64().unwrap() < 99_999_999, "{d}");
    assert!(d["charge_micro"].as_i64().unwrap() > 0, "{d}");
    let spend = alerts_of(&gw, "alert.spend_daily").await;
    assert_eq!(spend.len(), 1, "once per day: {spend:?}");
    let d = &spend[0]["data"];
    assert_eq!(d["threshold_micro"], 1);
    assert!(d["spend_micro"].as_i64().unwrap() > 1, "{d}");
    assert_eq!(
        d["day"],
        time::OffsetDateTime::now_utc().date().to_string(),
        "{d}"
    );
    rx.wait_for("alert.balance_low").await;
    rx.wait_for("alert.spend_daily").await;
    assert_no_secret(&rx, &[&key]);
}
