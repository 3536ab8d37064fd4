//! Metering: a usage row per request with exact charges per key type and currency,
//! 402 before the upstream is called, no overdraw under concurrency, streams
//! billed for what was delivered, nothing lost on SIGTERM, /metrics, analytics.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};
use tollgate::config::RawModel;
use tollgate::metering::UsageEvent;

use crate::common::*;

/// A model priced so that costs are whole micro-USD: 1000 / 2000 USD per Mtok,
/// i.e. 1000 µUSD per input token and 2000 per output token.
const PRICEY: &str = "pricey-model";

async fn start() -> Gateway {
    Gateway::start_with(|c| {
        c.models.push(RawModel {
            id: PRICEY.into(),
            provider: "openai".into(),
            input_usd_per_mtok: 1000.0,
            output_usd_per_mtok: 2000.0,
            cached_input_usd_per_mtok: None,
            fallbacks: Vec::new(),
        });
        c.billing
            .exchange_rates
            .insert("TRY".into(), "34.25".into());
    })
    .await
}

/// The usage row(s) written for a request, once the writer has flushed.
async fn usage(gw: &Gateway, request_id: &str) -> Vec<UsageEvent> {
    eventually(
        Duration::from_secs(10),
        "the usage row to be written",
        || async {
            let rows = gw
                .state()
                .store()
                .usage_events_for_request(request_id)
                .await
                .unwrap();
            (!rows.is_empty()).then_some(rows)
        },
    )
    .await
}

fn request_id(res: &reqwest::Response) -> String {
    res.headers()["x-request-id"].to_str().unwrap().to_owned()
}

async fn account(gw: &Gateway, id: &str, currency: &str, mode: &str) {
    let res = gw
        .admin(
            Method::POST,
            "/admin/accounts",
            Some(json!({"name": id, "id": id})),
        )
        .await;
    assert_eq!(res.status(), 201);
    let res = gw
        .admin(
            Method::PATCH,
            &format!("/admin/accounts/{id}"),
            Some(json!({"currency": currency, "billing_mode": mode})),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
}

async fn balance(gw: &Gateway, id: &str) -> String {
    let v: Value = gw
        .admin(Method::GET, &format!("/admin/accounts/{id}"), None)
        .await
        .json()
        .await
        .unwrap();
    v["balance"].as_str().unwrap().to_owned()
}

/// round half away from zero of n / d, for positive n.
fn div_round(n: i128, d: i128) -> i64 {
    ((n + d / 2) / d) as i64
}

#[tokio::test(flavor = "multi_thread")]
async fn charge_arithmetic_for_each_key_type_and_currency() {
    let gw = start().await;
    account(&gw, "acme-try", "TRY", "postpaid").await;
    account(&gw, "acme-usd", "USD", "postpaid").await;
    let cases = [
        ("user", None, "acme-try", 5000u32, Some(34_250_000i128)),
        ("project", Some(1234u32), "acme-try", 1234, Some(34_250_000)),
        ("partner_project", None, "acme-usd", 5000, None),
        ("partner_customer", None, "acme-usd", 3000, None),
    ];
    for (key_type, markup, account_id, bps, rate) in cases {
        let mut spec = json!({"account_id": account_id, "key_type": key_type});
        if let Some(m) = markup {
            spec["markup_bps"] = m.into();
        }
        let key = gw.create_key(spec).await;
        let res = gw
            .chat(&key, chat_body(PRICEY, "count these five words"))
            .await;
        assert_eq!(res.status(), 200);
        let rid = request_id(&res);
        let body: Value = res.json().await.unwrap();
        let input = body["usage"]["prompt_tokens"].as_i64().unwrap();
        let output = body["usage"]["completion_tokens"].as_i64().unwrap();
        let rows = usage(&gw, &rid).await;
        assert_eq!(rows.len(), 1);
        let ev = &rows[0];
        assert_eq!(
            (ev.input_tokens, ev.output_tokens),
            (input, output),
            "{key_type}"
        );
        assert_eq!(ev.usage_source, tollgate::metering::UsageSource::Reported);
        let cost = input * 1000 + output * 2000;
        assert_eq!(ev.cost_micro_usd, Some(cost), "{key_type}");
        let expected = match rate {
            Some(r) => div_round(
                cost as i128 * (10_000 + bps as i128) * r,
                10_000 * 1_000_000,
            ),
            None => div_round(cost as i128 * (10_000 + bps as i128), 10_000),
        };
        assert_eq!(ev.charge_micro, expected, "{key_type}");
        assert_eq!(ev.currency, if rate.is_some() { "TRY" } else { "USD" });
        assert_eq!(ev.account_id, account_id);
        assert_eq!(ev.model_served, PRICEY);
        assert_eq!(ev.provider, "openai");
        assert!(!ev.byok && !ev.streamed);
    }
    // Postpaid balances run negative by exactly what was charged.
    eventually(Duration::from_secs(5), "balances to be written", || async {
        (balance(&gw, "acme-usd").await != "0.000000").then_some(())
    })
    .await;
    assert!(balance(&gw, "acme-usd").await.starts_with('-'));
}

#[tokio::test(flavor = "multi_thread")]
async fn every_request_is_recorded_including_refusals() {
    let gw = start().await;
    let res = gw
        .chat("tg_live_sk_bad", chat_body("gpt-4o-mini", "hi"))
        .await;
    let rid = request_id(&res);
    assert_eq!(res.status(), 401);
    let ev = &usage(&gw, &rid).await[0];
    assert_eq!(ev.status, 401);
    assert_eq!(ev.error_code, "invalid_api_key");
    assert_eq!(ev.account_id, "");
    assert_eq!(ev.endpoint, "/v1/chat/completions");

    let key = gw.key().await;
    let res = gw
        .client
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(&key)
        .header("x-user-id", "user-7")
        .header("x-session-id", "sess-1")
        .header("x-app-version", "2.3.4")
        .json(&chat_body("gpt-4o-mini", "[[mock:status=503]]"))
        .send()
        .await
        .unwrap();
    let rid = request_id(&res);
    assert_eq!(res.status(), 503);
    let ev = &usage(&gw, &rid).await[0];
    assert_eq!((ev.status, ev.error_code.as_str()), (503, "upstream_error"));
    assert_eq!(ev.charge_micro, 0, "a failed request is not charged");
    assert_eq!(
        (
            ev.user_id.as_str(),
            ev.session_id.as_str(),
            ev.app_version.as_str()
        ),
        ("user-7", "sess-1", "2.3.4")
    );
    assert_eq!(ev.client_ip, "127.0.0.1");
    assert_eq!(ev.model_requested, "gpt-4o-mini");
}

#[tokio::test(flavor = "multi_thread")]
async fn prepaid_without_balance_is_402_before_the_upstream() {
    let gw = start().await;
    account(&gw, "prepaid", "USD", "prepaid").await;
    let key = gw.create_key(json!({"account_id": "prepaid"})).await;
    let res = gw.chat(&key, chat_body(PRICEY, "hi")).await;
    assert_eq!(res.headers()["x-should-retry"], "false");
    let err = expect_error(res, 402, "insufficient_balance").await;
    assert_eq!(err["error"]["type"], "insufficient_quota");
    assert_eq!(
        gw.mock.stats().await["requests"],
        0,
        "nothing was sent upstream"
    );

    let res = gw
        .admin(
            Method::POST,
            "/admin/accounts/prepaid/credit",
            Some(json!({"amount": "100.00", "note": "top-up"})),
        )
        .await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["balance"], "100.000000");
    assert_eq!(gw.chat(&key, chat_body(PRICEY, "hi")).await.status(), 200);
    let credits: Value = gw
        .admin(Method::GET, "/admin/accounts/prepaid/credits", None)
        .await
        .json()
        .await
        .unwrap();
    let c = &credits["data"][0];
    assert_eq!(c["amount"], "100.000000");
    assert_eq!(c["note"], "top-up");
    assert!(
        c["actor"].as_str().unwrap().len() == 12,
        "the management key's kid: {c}"
    );
    let res = gw
        .admin(
            Method::POST,
            "/admin/accounts/prepaid/credit",
            Some(json!({"amount": "1.2345678"})),
        )
        .await;
    expect_error(res, 400, "invalid_field").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_requests_never_overdraw_by_more_than_one_request() {
    let gw = std::sync::Arc::new(start().await);
    account(&gw, "tight", "USD", "prepaid").await;
    let key = gw.create_key(json!({"account_id": "tight"})).await;
    // One request: ~6 input tokens and max 10 output → well under 0.05 USD; the
    // reservation (body bytes / 4 + 10 output tokens) is a bit more.
    let body = json!({"model": PRICEY, "max_tokens": 10, "messages": [{"role": "user", "content": "[[mock:words=10]]"}]});
    let probe = gw.chat(&key, body.clone()).await;
    expect_error(probe, 402, "insufficient_balance").await;
    gw.admin(
        Method::POST,
        "/admin/accounts/tight/credit",
        Some(json!({"amount": "0.40"})),
    )
    .await;
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let gw = gw.clone();
            let key = key.clone();
            let body = body.clone();
            tokio::spawn(async move { gw.chat(&key, body).await.status().as_u16() })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            200 => ok += 1,
            402 => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert!((1..50).contains(&ok), "some pass, some are refused: {ok}");
    // Once every charge is written, the balance is at worst one request below zero.
    let one_request_max = 6 * 1000 + 10 * 2000 + 40 * 1000;
    let final_balance = eventually(Duration::from_secs(10), "charges to be written", || async {
        let n = gw.state().store().count_usage_events().await.unwrap();
        if n < 51 {
            return None;
        }
        let b = gw
            .state()
            .store()
            .account_billing("tight")
            .await
            .unwrap()
            .unwrap();
        Some(b.balance_micro)
    })
    .await;
    assert!(
        final_balance >= -one_request_max,
        "overdrawn: {final_balance}"
    );
}

/// Regression (hardening #8): the mock's chat ignores `max_tokens`, as some
/// upstreams do. Each request reserves 5 output tokens but gets 200; before the
/// cap, every admitted request overdrew by ~0.4 USD.
#[tokio::test(flavor = "multi_thread")]
async fn an_upstream_ignoring_max_tokens_cannot_overdraw_a_prepaid_balance() {
    let gw = std::sync::Arc::new(start().await);
    account(&gw, "tiny", "USD", "prepaid").await;
    let key = gw.create_key(json!({"account_id": "tiny"})).await;
    gw.admin(
        Method::POST,
        "/admin/accounts/tiny/credit",
        Some(json!({"amount": "0.20"})),
    )
    .await;
    let body = json!({"model": PRICEY, "max_tokens": 5,
        "messages": [{"role": "user", "content": "[[mock:words=200]]"}]});
    let body_len = serde_json::to_vec(&body).unwrap().len() as i64;
    let tasks: Vec<_> = (0..300)
        .map(|_| {
            let gw = gw.clone();
            let key = key.clone();
            let body = body.clone();
            tokio::spawn(async move { gw.chat(&key, body).await.status().as_u16() })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            200 => ok += 1,
            402 => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert!((1..300).contains(&ok), "some pass, some are refused: {ok}");
    // One request's reservation: body bytes / 4 input tokens and 5 output tokens,
    // with at most the default 50 % markup.
    let one_reservation = ((body_len + 3) / 4 * 1000 + 5 * 2000) * 3 / 2;
    let final_balance = eventually(Duration::from_secs(30), "charges to be written", || async {
        let n = gw.state().store().count_usage_events().await.unwrap();
        if n < 300 {
            return None;
        }
        let b = gw
            .state()
            .store()
            .account_billing("tiny")
            .await
            .unwrap()
            .unwrap();
        Some(b.balance_micro)
    })
    .await;
    assert!(
        final_balance >= -one_reservation,
        "overdrawn past one reservation ({one_reservation}): {final_balance}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_cut_by_the_client_is_billed_once_for_what_was_delivered() {
    let gw = start().await;
    let key = gw.key().await;
    let body = json!({"model": PRICEY, "stream": true,
        "messages": [{"role": "user", "content": "[[mock:words=300]] [[mock:chunk_delay_ms=20]]"}]});
    let res = gw.chat(&key, body).await;
    let rid = request_id(&res);
    let mut stream = res.bytes_stream();
    let mut received = 0;
    while received < 5 {
        stream.next().await.unwrap().unwrap();
        received += 1;
    }
    drop(stream);
    let rows = usage(&gw, &rid).await;
    // Everything the request recorded is committed after the barrier: a second
    // row for the same request would be a bug.
    gw.state().metering().sink.flush().await;
    let rows_again = gw
        .state()
        .store()
        .usage_events_for_request(&rid)
        .await
        .unwrap();
    assert_eq!(rows_again.len(), 1, "billed once");
    let ev = &rows[0];
    assert!(ev.streamed);
    assert_eq!(ev.usage_source, tollgate::metering::UsageSource::Estimated);
    assert!(
        ev.output_tokens > 0 && ev.output_tokens < 300,
        "delivered only: {}",
        ev.output_tokens
    );
    assert_eq!(
        ev.cost_micro_usd,
        Some(ev.input_tokens * 1000 + ev.output_tokens * 2000)
    );
    assert!(ev.charge_micro >= 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn complete_streams_use_reported_usage_and_hide_the_chunk_unless_asked() {
    let gw = start().await;
    let key = gw.key().await;
    let body = json!({"model": PRICEY, "stream": true, "messages": [{"role": "user", "content": "a b c"}]});
    let res = gw.chat(&key, body.clone()).await;
    let rid = request_id(&res);
    let text = res.text().await.unwrap();
    assert!(
        !text.contains("\"choices\":[]"),
        "usage chunk not asked for: {text}"
    );
    assert!(text.trim_end().ends_with("data: [DONE]"));
    let ev = &usage(&gw, &rid).await[0];
    assert_eq!(ev.usage_source, tollgate::metering::UsageSource::Reported);
    assert!(ev.output_tokens > 0);
    let sent = gw.mock.requests().await;
    assert_eq!(
        sent.last().unwrap()["body"]["stream_options"]["include_usage"],
        true
    );

    let mut asked = body;
    asked["stream_options"] = json!({"include_usage": true});
    let text = gw.chat(&key, asked).await.text().await.unwrap();
    assert!(text.contains("\"choices\":[]"), "asked for: {text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn byok_usage_is_recorded_but_not_charged() {
    let gw = start().await;
    let key = gw.key().await;
    let res = gw
        .post(
            "/v1/chat/completions",
            &key,
            &[("x-byok-provider", "openai"), ("x-byok-api-key", "sk-mine")],
            chat_body(PRICEY, "hi"),
        )
        .await;
    let rid = request_id(&res);
    assert_eq!(res.status(), 200);
    let ev = &usage(&gw, &rid).await[0];
    assert!(ev.byok);
    assert!(ev.cost_micro_usd.is_some_and(|c| c > 0));
    assert_eq!(ev.charge_micro, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_expose_the_named_series() {
    let gw = start().await;
    let key = gw
        .create_key(json!({"rate_limit": {"requests": 1, "period": "hour", "burst": 1}}))
        .await;
    gw.chat(&key, chat_body("gpt-4o-mini", "hi")).await;
    gw.chat(&key, chat_body("gpt-4o-mini", "hi")).await;
    gw.chat("tg_live_sk_nope", chat_body("gpt-4o-mini", "hi"))
        .await;
    let text = eventually(Duration::from_secs(5), "metrics", || async {
        let t = gw
            .client
            .get(gw.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        t.contains("tollgate_usage_written_total").then_some(t)
    })
    .await;
    for series in [
        "tollgate_requests_total{",
        "tollgate_request_duration_seconds_bucket",
        "tollgate_upstream_ttfb_seconds_bucket",
        "tollgate_tokens_total{direction=\"input\"}",
        "tollgate_spend_micro_usd_total",
        "tollgate_rate_limited_total{limit=\"rate\"}",
        "tollgate_auth_failures_total{code=\"invalid_api_key\"}",
        "tollgate_usage_queue_depth",
        "tollgate_usage_written_total",
    ] {
        assert!(text.contains(series), "missing {series} in:\n{text}");
    }
    assert!(text.contains("status=\"429\""), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn analytics_groupings_match_the_events_written() {
    let gw = start().await;
    let key = gw.key().await;
    for _ in 0..3 {
        assert_eq!(
            gw.chat(&key, chat_body("gpt-4o-mini", "hi")).await.status(),
            200
        );
    }
    assert_eq!(gw.chat(&key, chat_body(PRICEY, "hi")).await.status(), 200);
    assert_eq!(
        gw.chat(&key, chat_body(PRICEY, "[[mock:status=500]]"))
            .await
            .status(),
        500
    );
    gw.chat("tg_live_sk_nope", chat_body("gpt-4o-mini", "hi"))
        .await;
    // The 500 is tried `[routing] max_attempts` (3) times; each failed try that
    // another follows is its own event (`pipeline::attempts`): 6 requests, 8 rows,
    // and reports count the requests, with the 2 failed tries apart (issue 15).
    eventually(Duration::from_secs(10), "eight events", || async {
        (gw.state().store().count_usage_events().await.unwrap() >= 8).then_some(())
    })
    .await;
    let by_model: Value = gw
        .admin(Method::GET, "/admin/usage?group_by=model", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_model["totals"]["requests"], 6, "{by_model}");
    assert_eq!(by_model["totals"]["attempts_failed"], 2, "{by_model}");
    assert_eq!(by_model["totals"]["auth_failures"], 1);
    assert_eq!(by_model["totals"]["errors"], 2);
    let groups = by_model["groups"].as_array().unwrap();
    let count = |k: &str| {
        groups
            .iter()
            .find(|g| g["key"] == k)
            .map(|g| g["requests"].as_u64().unwrap())
    };
    assert_eq!(count("gpt-4o-mini"), Some(3));
    assert_eq!(count(PRICEY), Some(2));
    let pricey = groups.iter().find(|g| g["key"] == PRICEY).unwrap();
    assert_eq!(pricey["attempts_failed"], 2);
    let by_status: Value = gw
        .admin(Method::GET, "/admin/usage?group_by=status", None)
        .await
        .json()
        .await
        .unwrap();
    let s = by_status["groups"].as_array().unwrap();
    let status = |k: &str| {
        s.iter()
            .find(|g| g["key"] == k)
            .map(|g| g["requests"].as_u64().unwrap())
    };
    assert_eq!(
        (status("200"), status("500"), status("401")),
        (Some(4), Some(1), Some(1))
    );
    let failed = s.iter().find(|g| g["key"] == "500").unwrap();
    assert_eq!(failed["attempts_failed"], 2);
    assert_eq!(by_model["top_client_ips"][0]["ip"], "127.0.0.1");

    let kid = key.split('_').nth(3).unwrap();
    let mine: Value = gw
        .admin(Method::GET, &format!("/admin/keys/{kid}/usage"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["totals"]["requests"], 5);
    assert_eq!(mine["totals"]["attempts_failed"], 2);
    // An sk key needs the analytics scope, and then sees only its own account.
    let res = gw.get("/admin/usage", &key).await;
    expect_error(res, 403, "insufficient_permissions").await;
    let analyst = gw.create_key(json!({"scopes": ["analytics"]})).await;
    let res = gw
        .get("/admin/usage?account_id=someone-else", &analyst)
        .await;
    assert_eq!(res.status(), 403);
    let res = gw.get("/admin/usage", &analyst).await;
    assert_eq!(res.status(), 200);
    let res = gw
        .admin(
            Method::GET,
            "/admin/usage?from=2030-01-01T00:00:00Z&to=2029-01-01T00:00:00Z",
            None,
        )
        .await;
    expect_error(res, 400, "invalid_field").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_during_a_stream_finishes_it_and_loses_no_usage() {
    let mock = Mock::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &mock.base, "");
    let key = cli_create_key(&config, &[]).await;
    let mut server = ServerProcess::start(&config).await;

    let body = json!({"model": "gpt-4o-mini", "stream": true,
        "messages": [{"role": "user", "content": "[[mock:words=30]] [[mock:chunk_delay_ms=50]]"}]});
    let res = client()
        .post(format!("{}/v1/chat/completions", server.base))
        .bearer_auth(&key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let rid = request_id(&res);
    let mut stream = res.bytes_stream();
    let mut text = String::from_utf8(stream.next().await.unwrap().unwrap().to_vec()).unwrap();

    let killed = tokio::process::Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    // The stream in flight is allowed to finish.
    while let Some(chunk) = stream.next().await {
        text.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
    }
    assert!(
        text.trim_end().ends_with("data: [DONE]"),
        "the stream was cut: {text}"
    );
    let status = tokio::time::timeout(Duration::from_secs(20), server.child.wait())
        .await
        .expect("the server exits after draining")
        .unwrap();
    assert!(status.success(), "exit status {status:?}");

    // The usage row is on disk after exit.
    let store = tollgate::store::Store::open(&config.db.url).await.unwrap();
    let rows = store.usage_events_for_request(&rid).await.unwrap();
    assert_eq!(rows.len(), 1, "exactly one usage row for the stream");
    assert!(rows[0].streamed);
    assert_eq!(rows[0].status, 200);
    assert_eq!(
        rows[0].usage_source,
        tollgate::metering::UsageSource::Reported
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cli_credit_reaches_a_running_server() {
    let mock = Mock::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &mock.base, "");
    for args in [
        vec!["accounts", "create", "--name", "Shop", "--id", "shop"],
        vec!["accounts", "billing", "shop", "--mode", "prepaid"],
    ] {
        let (ok, _, err) = cli(&config, &args).await;
        assert!(ok, "{args:?}: {err}");
    }
    let (ok, out, err) = cli(
        &config,
        &[
            "keys",
            "create",
            "--account",
            "shop",
            "--key-type",
            "user",
            "--json",
        ],
    )
    .await;
    assert!(ok, "{err}");
    let created: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(created["key_type"], "user");
    assert_eq!(created["markup_bps"], 5000);
    let key = created["key"].as_str().unwrap().to_owned();
    let server = ServerProcess::start(&config).await;
    let chat = || {
        client()
            .post(format!("{}/v1/chat/completions", server.base))
            .bearer_auth(&key)
            .json(&chat_body("gpt-4o-mini", "hi"))
            .send()
    };
    assert_eq!(chat().await.unwrap().status(), 402);
    let (ok, out, err) = cli(
        &config,
        &[
            "accounts",
            "credit",
            "shop",
            "--amount",
            "5.00",
            "--note",
            "cli top-up",
        ],
    )
    .await;
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "5.000000");
    eventually(
        Duration::from_secs(15),
        "the server to see the credit",
        || async { (chat().await.unwrap().status() == 200).then_some(()) },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn with_usage_disabled_the_gateway_is_a_pure_proxy() {
    let gw = Gateway::start_with(|c| c.usage.enabled = false).await;
    let key = gw.key().await;
    let res = gw.chat(&key, chat_body("gpt-4o-mini", "hi")).await;
    assert_eq!(res.status(), 200);
    let text = gw
        .chat(&key, json!({"model": "gpt-4o-mini", "stream": true, "messages": [{"role": "user", "content": "hi"}]}))
        .await
        .text()
        .await
        .unwrap();
    assert!(text.trim_end().ends_with("data: [DONE]"));
    assert!(
        !text.contains("\"choices\":[]"),
        "a pure proxy adds no usage chunk: {text}"
    );
    // Both requests have ended; anything they recorded is committed after this.
    gw.state().metering().sink.flush().await;
    assert_eq!(gw.state().store().count_usage_events().await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upstream_failure_mid_stream_bills_what_was_sent_once() {
    let gw = start().await;
    let key = gw.key().await;
    let body = json!({"model": PRICEY, "stream": true,
        "messages": [{"role": "user", "content": "[[mock:words=50]] [[mock:drop_after=6]]"}]});
    let res = gw.chat(&key, body).await;
    let rid = request_id(&res);
    let text = res.text().await.unwrap_or_default();
    assert!(
        !text.contains("[DONE]"),
        "a broken stream must not look finished"
    );
    let rows = usage(&gw, &rid).await;
    gw.state().metering().sink.flush().await;
    assert_eq!(
        gw.state()
            .store()
            .usage_events_for_request(&rid)
            .await
            .unwrap()
            .len(),
        1
    );
    let ev = &rows[0];
    assert_eq!(ev.usage_source, tollgate::metering::UsageSource::Estimated);
    assert!(
        ev.output_tokens > 0 && ev.output_tokens < 50,
        "{}",
        ev.output_tokens
    );
    assert!(ev.charge_micro > 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_that_never_started_is_not_charged() {
    // Refused upstream before any byte, and too slow for the first-byte budget.
    let gw = Gateway::start_with(|c| {
        c.upstream.first_byte_timeout_ms = 200;
        c.models.push(RawModel {
            id: PRICEY.into(),
            provider: "openai".into(),
            input_usd_per_mtok: 1000.0,
            output_usd_per_mtok: 2000.0,
            cached_input_usd_per_mtok: None,
            fallbacks: Vec::new(),
        });
    })
    .await;
    let key = gw.key().await;
    for (directive, status) in [
        ("[[mock:status=500]]", 500),
        ("[[mock:delay_ms=2000]]", 504),
    ] {
        let body = json!({"model": PRICEY, "stream": true, "messages": [{"role": "user", "content": directive}]});
        let res = gw.chat(&key, body).await;
        let rid = request_id(&res);
        assert_eq!(res.status(), status, "{directive}");
        let ev = &usage(&gw, &rid).await[0];
        assert_eq!(
            (ev.input_tokens, ev.output_tokens, ev.charge_micro),
            (0, 0, 0),
            "{directive}"
        );
        assert_eq!(ev.status, status);
    }
}
