//! The open catalog: `provider/model` reaches a configured provider even when the
//! catalog does not know the model; dated snapshots take their family's provider
//! and price; unpriced models are refused for prepaid accounts unless
//! `[billing] unpriced = "allow"`.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tollgate::config::UnpricedPolicy;
use tollgate::metering::UsageEvent;

use crate::common::*;

async fn usage(gw: &Gateway, request_id: &str) -> Vec<UsageEvent> {
    eventually(Duration::from_secs(10), "the usage row", || async {
        let rows = gw
            .state()
            .store()
            .usage_events_for_request(request_id)
            .await
            .unwrap();
        (!rows.is_empty()).then_some(rows)
    })
    .await
}

fn request_id(res: &reqwest::Response) -> String {
    res.headers()["x-request-id"].to_str().unwrap().to_owned()
}

async fn prepaid_key(gw: &Gateway, credit: &str) -> String {
    let res = gw
        .admin(
            Method::POST,
            "/admin/accounts",
            Some(json!({"name": "pp", "id": "pp"})),
        )
        .await;
    assert_eq!(res.status(), 201);
    let res = gw
        .admin(
            Method::PATCH,
            "/admin/accounts/pp",
            Some(json!({"currency": "USD", "billing_mode": "prepaid"})),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = gw
        .admin(
            Method::POST,
            "/admin/accounts/pp/credit",
            Some(json!({"amount": credit, "note": "test"})),
        )
        .await;
    assert_eq!(res.status(), 200);
    gw.create_key(json!({"account_id": "pp"})).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_prefixed_model_outside_the_catalog_is_forwarded_unpriced() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let res = gw
        .chat(&key, chat_body("openai/gpt-99-experimental", "hello"))
        .await;
    assert_eq!(res.status(), 200);
    let id = request_id(&res);
    let v: Value = res.json().await.unwrap();
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Mock reply to: hello"
    );
    let reqs = gw.mock.requests().await;
    assert_eq!(reqs.last().unwrap()["body"]["model"], "gpt-99-experimental");
    let row = &usage(&gw, &id).await[0];
    assert_eq!(row.model_served, "gpt-99-experimental");
    assert!(
        row.input_tokens > 0 && row.output_tokens > 0,
        "tokens are still metered"
    );
    // Issue 12: no price means an unknown cost, not a free request.
    assert_eq!(row.cost_micro_usd, None, "no price: the cost is unknown");
    assert_eq!(row.usage_source, tollgate::metering::UsageSource::Reported);
    assert_eq!(row.charge_micro, 0);
    let res = gw.admin(Method::GET, "/admin/usage", None).await;
    assert_eq!(res.status(), 200);
    let report: Value = res.json().await.unwrap();
    assert_eq!(report["totals"]["requests"], 1);
    assert_eq!(report["totals"]["cost_unknown_requests"], 1);
    assert_eq!(report["totals"]["cost_usd"], "0.000000");
    // A priced request beside it: its cost is summed, the unknown one still counted.
    let res = gw.chat(&key, chat_body("gpt-4o-mini", "priced")).await;
    assert_eq!(res.status(), 200);
    let priced = &usage(&gw, &request_id(&res)).await[0];
    let res = gw.admin(Method::GET, "/admin/usage", None).await;
    let report: Value = res.json().await.unwrap();
    assert_eq!(report["totals"]["requests"], 2);
    assert_eq!(report["totals"]["cost_unknown_requests"], 1);
    assert_eq!(
        report["totals"]["cost_usd"],
        tollgate::metering::money::MicroUnits(priced.cost_micro_usd.unwrap()).to_decimal_string()
    );
    // A bare unknown id stays an error, and so does a provider without credentials.
    let res = gw.chat(&key, chat_body("gpt-99-experimental", "x")).await;
    expect_error(res, 400, "unknown_model").await;
    let res = gw.chat(&key, chat_body("deepseek/some-model", "x")).await;
    expect_error(res, 400, "unknown_model").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dated_snapshots_resolve_to_their_family_and_are_priced_like_it() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    for (snapshot, path) in [
        ("claude-haiku-4-5-20251001", "/v1/messages"),
        ("gpt-4o-mini-2024-07-18", "/v1/chat/completions"),
        (
            "gemini-2.5-flash-preview-05-20",
            "/v1beta/models/gemini-2.5-flash-preview-05-20:generateContent",
        ),
    ] {
        let res = gw.chat(&key, chat_body(snapshot, "hello")).await;
        assert_eq!(res.status(), 200, "{snapshot}");
        let id = request_id(&res);
        let reqs = gw.mock.requests().await;
        let sent = reqs.last().unwrap();
        assert_eq!(sent["path"], path, "{snapshot}");
        let row = &usage(&gw, &id).await[0];
        assert_eq!(row.model_served, snapshot);
        assert!(
            row.cost_micro_usd.is_some_and(|c| c > 0),
            "{snapshot} is priced as its family: {row:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_prepaid_account_is_refused_an_unpriced_model_with_a_clear_402() {
    let gw = Gateway::start().await;
    let key = prepaid_key(&gw, "10.00").await;
    let res = gw
        .chat(&key, chat_body("openai/gpt-99-experimental", "hello"))
        .await;
    let v = expect_error(res, 402, "insufficient_balance").await;
    assert_eq!(v["error"]["type"], "insufficient_quota");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("gpt-99-experimental")
            && message.contains("[billing] unpriced = \"allow\""),
        "{message}"
    );
    assert!(gw.mock.requests().await.is_empty(), "nothing went upstream");
    // A priced model still runs for the same account.
    assert_eq!(
        gw.chat(&key, chat_body("gpt-4o-mini", "hello"))
            .await
            .status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn with_unpriced_allow_a_prepaid_account_runs_it_at_no_charge() {
    let gw = Gateway::start_with(|c| c.billing.unpriced = UnpricedPolicy::Allow).await;
    let key = prepaid_key(&gw, "10.00").await;
    let res = gw
        .chat(&key, chat_body("openai/gpt-99-experimental", "hello"))
        .await;
    assert_eq!(res.status(), 200);
    let id = request_id(&res);
    let row = &usage(&gw, &id).await[0];
    assert!(row.output_tokens > 0);
    assert_eq!(row.charge_micro, 0);
    let account: Value = gw
        .admin(Method::GET, "/admin/accounts/pp", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(account["balance"], "10.000000", "{account}");
}
