//! `POST /v1/messages/count_tokens`: Anthropic's answer for Claude models (the
//! caller's body passed on, headers too), counted here for other models, in
//! Anthropic's error shape, never billed.

use serde_json::{Value, json};

use crate::common::*;

fn body(model: &str) -> Value {
    json!({"model": model, "system": "Be brief.",
        "messages": [{"role": "user", "content": "How many tokens is this sentence?"}]})
}

async fn count(gw: &Gateway, key: &str, body: &Value) -> reqwest::Response {
    gw.post(
        "/v1/messages/count_tokens",
        key,
        &[("anthropic-version", "2023-06-01")],
        body.clone(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn claude_models_are_counted_by_anthropic() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let res = count(&gw, &key, &body("claude-haiku-4-5")).await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert!(v["input_tokens"].as_u64().unwrap() > 0, "{v}");
    let reqs = gw.mock.requests().await;
    let sent = reqs.last().unwrap();
    assert_eq!(sent["path"], "/v1/messages/count_tokens");
    assert_eq!(sent["headers"]["x-api-key"], ANTHROPIC_UPSTREAM_KEY);
    assert_eq!(sent["headers"]["anthropic-version"], "2023-06-01");
    assert_eq!(sent["body"]["messages"], body("x")["messages"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn other_models_are_counted_locally_with_the_metering_tokenizer() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let before = gw.mock.requests().await.len();
    for model in ["gpt-4o-mini", "gemini-2.5-flash"] {
        let res = count(&gw, &key, &body(model)).await;
        assert_eq!(res.status(), 200, "{model}");
        let v: Value = res.json().await.unwrap();
        let n = v["input_tokens"].as_u64().unwrap();
        // "Be brief." + the question: about a dozen o200k tokens.
        assert!((8..=20).contains(&n), "{model}: {n}");
    }
    assert_eq!(gw.mock.requests().await.len(), before, "no upstream call");
    let longer = json!({"model": "gpt-4o-mini", "messages": [
        {"role": "user", "content": "How many tokens is this sentence? And this one, which is longer?"}]});
    let v: Value = count(&gw, &key, &longer).await.json().await.unwrap();
    assert!(v["input_tokens"].as_u64().unwrap() > 10);
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_are_anthropic_shaped() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let res = count(
        &gw,
        &key,
        &json!({"model": "nope", "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    assert_eq!(res.status(), 400);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert_eq!(v["error"]["code"], "unknown_model");
    let res = count(&gw, &key, &json!({"model": "gpt-4o-mini"})).await;
    assert_eq!(res.status(), 400);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["code"], "missing_field");
    let embed_only = gw.create_key(json!({"scopes": ["embeddings"]})).await;
    let res = count(&gw, &embed_only, &body("gpt-4o-mini")).await;
    assert_eq!(res.status(), 403);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["type"], "permission_error");
}
