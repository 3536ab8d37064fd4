//! The request pipeline end to end: what the caller receives does not depend on
//! whether metering is on (no usage chunk it did not ask for), refusals under
//! `/v1/messages` (the router's own 404/405 included) are in Anthropic's shape,
//! and answers metering could not read before (large bodies, images) are metered.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tollgate::config::RawModel;
use tollgate::metering::UsageSource;

use crate::common::*;

fn stream_body(model: &str) -> Value {
    json!({"model": model, "stream": true, "messages": [{"role": "user", "content": "a b c"}]})
}

#[tokio::test(flavor = "multi_thread")]
async fn with_metering_off_a_stream_carries_no_usage_chunk_it_did_not_ask_for() {
    let gw = Gateway::start_with(|c| c.usage.enabled = false).await;
    let key = gw.key().await;
    // Forwarded (OpenAI) and translated (Anthropic, Gemini) streams alike.
    for model in ["gpt-4o-mini", "claude-haiku-4-5", "gemini-2.5-flash"] {
        let text = gw
            .chat(&key, stream_body(model))
            .await
            .text()
            .await
            .unwrap();
        assert!(text.trim_end().ends_with("data: [DONE]"), "{model}: {text}");
        assert!(
            !text.contains("\"usage\":{"),
            "{model}: a usage chunk nobody asked for: {text}"
        );
    }
    let sent = gw.mock.requests().await;
    let openai = sent
        .iter()
        .find(|r| r["body"]["model"] == "gpt-4o-mini")
        .unwrap();
    assert!(
        openai["body"].get("stream_options").is_none(),
        "the gateway asked upstream for usage with metering off: {}",
        openai["body"]
    );

    // Asked for, it is there.
    let mut asked = stream_body("gpt-4o-mini");
    asked["stream_options"] = json!({"include_usage": true});
    let text = gw.chat(&key, asked).await.text().await.unwrap();
    assert!(text.contains("\"choices\":[]"), "{text}");
}

/// Asserts Anthropic's error body: `{"type":"error","error":{"type","message"}}`.
async fn expect_anthropic_error(res: reqwest::Response, status: u16, kind: &str) {
    assert_eq!(res.status().as_u16(), status);
    assert!(res.headers().contains_key("x-request-id"));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["type"], "error", "{body}");
    assert_eq!(body["error"]["type"], kind, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(body["error"].get("param").is_none(), "OpenAI shape: {body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn router_fallbacks_under_v1_messages_answer_in_anthropic_shape() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    for method in [Method::GET, Method::PUT, Method::DELETE] {
        let res = gw
            .client
            .request(method.clone(), format!("{}/v1/messages", gw.base))
            .header("x-api-key", &key)
            .send()
            .await
            .unwrap();
        expect_anthropic_error(res, 405, "invalid_request_error").await;
    }
    let res = gw.post("/v1/messages/batches", &key, &[], json!({})).await;
    expect_anthropic_error(res, 404, "not_found_error").await;
    // Other routes keep OpenAI's shape.
    let res = gw.get("/v1/chat/completions", &key).await;
    assert_eq!(res.status(), 405);
    let body: Value = res.json().await.unwrap();
    assert!(body["error"]["code"].is_string(), "{body}");
    let res = gw.post("/v1/nothing-here", &key, &[], json!({})).await;
    expect_error(res, 404, "not_found").await;
}

const EMBED: &str = "pricey-embedding";

#[tokio::test(flavor = "multi_thread")]
async fn an_embeddings_answer_past_4_mib_is_billed_from_its_reported_usage() {
    let gw = Gateway::start_with(|c| {
        c.models.push(RawModel {
            id: EMBED.into(),
            provider: "openai".into(),
            input_usd_per_mtok: 1000.0,
            output_usd_per_mtok: 0.0,
            cached_input_usd_per_mtok: None,
            fallbacks: Vec::new(),
        })
    })
    .await;
    let key = gw.key().await;
    let inputs: Vec<String> = (0..200).map(|i| format!("text number {i}")).collect();
    let res = gw
        .post(
            "/v1/embeddings",
            &key,
            &[],
            json!({"model": EMBED, "input": inputs, "dimensions": 3072}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let rid = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body = res.bytes().await.unwrap();
    assert!(
        body.len() > 4 << 20,
        "the answer must pass the old cut: {}",
        body.len()
    );
    let reported = serde_json::from_slice::<Value>(&body).unwrap()["usage"]["prompt_tokens"]
        .as_i64()
        .unwrap();
    let ev = eventually(Duration::from_secs(10), "the usage row", || async {
        gw.state()
            .store()
            .usage_events_for_request(&rid)
            .await
            .unwrap()
            .pop()
    })
    .await;
    assert_eq!(ev.usage_source, UsageSource::Reported);
    assert_eq!(ev.input_tokens, reported);
    assert_eq!(ev.cost_micro_usd, Some(reported * 1000));
    assert!(ev.charge_micro > 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn image_generations_are_counted_per_image() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let res = gw
        .post(
            "/v1/images/generations",
            &key,
            &[],
            json!({"model": "dall-e-2", "prompt": "a lighthouse", "n": 3}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let rid = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["data"].as_array().unwrap().len(), 3);
    let ev = eventually(Duration::from_secs(10), "the usage row", || async {
        gw.state()
            .store()
            .usage_events_for_request(&rid)
            .await
            .unwrap()
            .pop()
    })
    .await;
    assert_eq!(ev.model_served, "dall-e-2");
    let metrics = gw
        .client
        .get(format!("{}/metrics", gw.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = metrics
        .lines()
        .find(|l| l.starts_with("tollgate_images_total") && l.contains("dall-e-2"))
        .unwrap_or_else(|| panic!("no image counter: {metrics}"));
    assert!(line.trim_end().ends_with(" 3"), "{line}");
}
