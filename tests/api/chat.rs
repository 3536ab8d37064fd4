//! Chat completions forwarded to the OpenAI upstream, model resolution, public endpoints.

use serde_json::{Value, json};

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn non_streaming_chat_is_forwarded_and_answered() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let res = gw
        .chat(&key, chat_body("gpt-4o-mini", "What is Rust?"))
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(!request_id.is_empty());
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "gpt-4o-mini");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Mock reply to: What is Rust?"
    );
    assert!(body["usage"]["total_tokens"].as_u64().unwrap() > 0);

    let sent = gw.mock.requests().await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["path"], "/v1/chat/completions");
    assert_eq!(sent[0]["body"]["messages"][0]["content"], "What is Rust?");
}

/// A relayed (not translated) answer keeps the upstream's Content-Length rather
/// than going out chunked: one sized body, no final empty chunk of its own.
#[tokio::test(flavor = "multi_thread")]
async fn relayed_answer_keeps_the_upstream_content_length() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let res = gw.chat(&key, chat_body("gpt-4o-mini", "hi")).await;
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("transfer-encoding").is_none());
    let length = res.content_length().expect("a Content-Length header");
    assert_eq!(res.bytes().await.unwrap().len() as u64, length);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_fields_reach_the_upstream_untouched() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let body = json!({
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "hi"}],
        "temperature": 0.25,
        "some_future_field": {"nested": [1, 2, 3]},
    });
    assert_eq!(gw.chat(&key, body.clone()).await.status(), 200);
    let sent = gw.mock.requests().await;
    assert_eq!(sent[0]["body"], body);
}

#[tokio::test(flavor = "multi_thread")]
async fn prefixed_ids_and_aliases_are_rewritten_for_the_upstream() {
    let gw = Gateway::start_with(|c| {
        c.aliases.push(tollgate::config::RawAlias {
            id: "house-model".into(),
            openai: Some("gpt-4.1-mini".into()),
            anthropic: None,
            gemini: None,
            fallbacks: Vec::new(),
        });
    })
    .await;
    let key = gw.key().await;
    for (asked, upstream) in [
        ("openai/gpt-4o-mini", "gpt-4o-mini"),
        ("tollgate-chat-fast", "gpt-4o-mini"),
        ("openai/tollgate-chat-smart", "gpt-4o"),
        ("house-model", "gpt-4.1-mini"),
    ] {
        let res = gw.chat(&key, chat_body(asked, "hi")).await;
        assert_eq!(res.status(), 200, "{asked}");
        let sent = gw.mock.requests().await;
        assert_eq!(sent.last().unwrap()["body"]["model"], upstream, "{asked}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn configured_models_are_routable_and_listed() {
    let gw = Gateway::start_with(|c| {
        c.models.push(tollgate::config::RawModel {
            id: "ft:gpt-4o-mini:acme".into(),
            provider: "openai".into(),
            input_usd_per_mtok: 0.3,
            output_usd_per_mtok: 1.2,
            cached_input_usd_per_mtok: None,
            fallbacks: Vec::new(),
        });
    })
    .await;
    let key = gw.key().await;
    assert_eq!(
        gw.chat(&key, chat_body("ft:gpt-4o-mini:acme", "hi"))
            .await
            .status(),
        200
    );
    let list: Value = gw
        .client
        .get(gw.url("/v1/models"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert!(ids.contains(&"ft:gpt-4o-mini:acme"));
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_model_is_400_and_never_sent_upstream() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    // `provider/model` on a provider with credentials is the open catalog
    // (tests/api/catalog.rs); one without credentials, or not a provider, is unknown.
    for model in ["gpt-99", "deepseek/gpt-4o-mini", "azure/gpt-4o"] {
        let body = expect_error(
            gw.chat(&key, chat_body(model, "hi")).await,
            400,
            "unknown_model",
        )
        .await;
        assert_eq!(body["error"]["param"], "model");
        assert!(body["error"]["message"].as_str().unwrap().contains(model));
    }
    assert_eq!(gw.mock.stats().await["requests"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn models_endpoint_is_public_and_openai_shaped() {
    let gw = Gateway::start().await;
    let res = gw.client.get(gw.url("/v1/models")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().contains_key("x-request-id"));
    let list: Value = res.json().await.unwrap();
    assert_eq!(list["object"], "list");
    let data = list["data"].as_array().unwrap();
    let mini = data
        .iter()
        .find(|m| m["id"] == "gpt-4o-mini")
        .expect("built-in model listed");
    assert_eq!(mini["object"], "model");
    assert_eq!(mini["owned_by"], "openai");
    assert!(
        data.iter().any(|m| m["id"] == "tollgate-chat-smart"),
        "aliases listed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn health_answers_ok() {
    let gw = Gateway::start().await;
    let res = gw.client.get(gw.url("/health")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ok");
}

#[tokio::test(flavor = "multi_thread")]
async fn callers_request_id_is_kept_and_junk_is_replaced() {
    let gw = Gateway::start().await;
    let res = gw
        .client
        .get(gw.url("/health"))
        .header("x-request-id", "trace-abc_123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "trace-abc_123");
    let res = gw
        .client
        .get(gw.url("/health"))
        .header("x-request-id", "has spaces and {junk}")
        .send()
        .await
        .unwrap();
    let id = res.headers()["x-request-id"].to_str().unwrap();
    assert_ne!(id, "has spaces and {junk}");
    assert_eq!(id.len(), 36, "a UUID: {id}");
}
