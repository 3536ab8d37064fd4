//! Lenient, faithful translation: structured output carried across dialects both
//! ways (the upstream body in the mock journal holds the schema), Claude Code's
//! `system`-role messages inside `messages`, the 4-stop limit of OpenAI, and the
//! dropped-field metric.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::*;

fn schema() -> Value {
    json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
}

async fn last_body(gw: &Gateway, path: &str) -> Value {
    let reqs = gw.mock.requests().await;
    reqs.iter()
        .rev()
        .find(|r| r["path"] == path)
        .unwrap_or_else(|| panic!("the mock saw no {path}"))["body"]
        .clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn openai_json_schema_becomes_anthropic_output_config_and_gemini_response_schema() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let mut body = chat_body("claude-haiku-4-5", "Where?");
    body["response_format"] =
        json!({"type": "json_schema", "json_schema": {"name": "place", "schema": schema()}});
    let res = gw.chat(&key, body.clone()).await;
    assert_eq!(res.status(), 200);
    let sent = last_body(&gw, "/v1/messages").await;
    assert_eq!(
        sent["output_config"]["format"],
        json!({"type": "json_schema", "schema": schema()})
    );
    body["model"] = json!("gemini-2.5-flash");
    let res = gw.chat(&key, body).await;
    assert_eq!(res.status(), 200);
    let sent = last_body(&gw, "/v1beta/models/gemini-2.5-flash:generateContent").await;
    assert_eq!(
        sent["generationConfig"]["responseMimeType"],
        "application/json"
    );
    assert!(sent["generationConfig"]["responseSchema"]["properties"]["city"].is_object());
}

#[tokio::test(flavor = "multi_thread")]
async fn anthropic_output_config_becomes_openai_response_format() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    for field in ["output_config", "output_format"] {
        let format = json!({"type": "json_schema", "schema": schema()});
        let mut body = json!({"model": "gpt-4o-mini", "max_tokens": 50,
            "messages": [{"role": "user", "content": "Where?"}]});
        body[field] = if field == "output_config" {
            json!({"format": format})
        } else {
            format
        };
        let res = gw
            .post(
                "/v1/messages",
                &key,
                &[("anthropic-version", "2023-06-01")],
                body,
            )
            .await;
        assert_eq!(res.status(), 200, "{field}");
        let sent = last_body(&gw, "/v1/chat/completions").await;
        assert_eq!(sent["response_format"]["type"], "json_schema", "{field}");
        assert_eq!(sent["response_format"]["json_schema"]["schema"], schema());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn system_role_messages_inside_anthropic_messages_become_system_content() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let body = json!({"model": "gpt-4o-mini", "max_tokens": 50, "system": "You are terse.",
    "messages": [
        {"role": "user", "content": "Hi"},
        {"role": "system", "content": [{"type": "text", "text": "Reminder: be kind."}]},
        {"role": "user", "content": "Again"}
    ]});
    let res = gw
        .post(
            "/v1/messages",
            &key,
            &[("anthropic-version", "2023-06-01")],
            body.clone(),
        )
        .await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["type"], "message");
    let sent = last_body(&gw, "/v1/chat/completions").await;
    let roles: Vec<&str> = sent["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "user", "system", "user"]);
    assert_eq!(sent["messages"][2]["content"], "Reminder: be kind.");
    // And to Gemini (through the OpenAI shapes): hoisted into systemInstruction.
    let mut body = body;
    body["model"] = json!("gemini-2.5-flash");
    let res = gw
        .post(
            "/v1/messages",
            &key,
            &[("anthropic-version", "2023-06-01")],
            body,
        )
        .await;
    assert_eq!(res.status(), 200);
    let sent = last_body(&gw, "/v1beta/models/gemini-2.5-flash:generateContent").await;
    assert!(
        sent["systemInstruction"]
            .to_string()
            .contains("Reminder: be kind.")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn more_than_four_stop_sequences_to_openai_are_refused_naming_the_limit() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let body = json!({"model": "gpt-4o-mini", "max_tokens": 50,
        "stop_sequences": ["a", "b", "c", "d", "e"],
        "messages": [{"role": "user", "content": "Hi"}]});
    let before = gw.mock.requests().await.len();
    let res = gw
        .post(
            "/v1/messages",
            &key,
            &[("anthropic-version", "2023-06-01")],
            body,
        )
        .await;
    assert_eq!(res.status(), 400);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["type"], "error");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 4"),
        "{v}"
    );
    assert_eq!(gw.mock.requests().await.len(), before, "nothing sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn dropped_fields_are_counted_per_target_and_field() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let mut body = chat_body("claude-haiku-4-5", "Hi");
    body["seed"] = json!(7);
    assert_eq!(gw.chat(&key, body).await.status(), 200);
    let text = eventually(
        Duration::from_secs(5),
        "the dropped-field series",
        || async {
            let t = gw
                .client
                .get(gw.url("/metrics"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            t.lines()
                .any(|l| {
                    l.starts_with("tollgate_translation_dropped_fields_total")
                        && l.contains("field=\"seed\"")
                        && l.contains("target=\"anthropic\"")
                })
                .then_some(t)
        },
    )
    .await;
    assert!(text.contains("tollgate_translation_dropped_fields_total"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_conversation_opening_with_an_assistant_turn_gets_a_user_turn_first() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let messages = json!([
        {"role": "assistant", "content": "Hello! How can I help?"},
        {"role": "user", "content": "Tell me a joke"}
    ]);
    for (model, path) in [
        ("claude-haiku-4-5", "/v1/messages"),
        (
            "gemini-2.5-flash",
            "/v1beta/models/gemini-2.5-flash:generateContent",
        ),
    ] {
        let res = gw
            .chat(&key, json!({"model": model, "messages": messages}))
            .await;
        assert_eq!(res.status(), 200, "{model}");
        let sent = last_body(&gw, path).await;
        let turns = sent
            .get("messages")
            .or_else(|| sent.get("contents"))
            .unwrap();
        assert_eq!(turns[0]["role"], "user", "{model}: {sent}");
        assert!(turns[0].to_string().contains("(conversation start)"));
        assert!(turns[1].to_string().contains("How can I help?"), "{model}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn gemini_embedding_batches_over_100_are_split_and_rejoined_in_order() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let inputs: Vec<String> = (0..250).map(|i| format!("text number {i}")).collect();
    let res = gw
        .post(
            "/v1/embeddings",
            &key,
            &[],
            json!({"model": "gemini-embedding-001", "input": inputs}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 250);
    let reqs = gw.mock.requests().await;
    let batches: Vec<&Value> = reqs
        .iter()
        .filter(|r| r["path"] == "/v1beta/models/gemini-embedding-001:batchEmbedContents")
        .collect();
    let sizes: Vec<usize> = batches
        .iter()
        .map(|r| r["body"]["requests"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [100, 100, 50]);
    // In order: item 137 is the embedding of input 137 alone.
    let one: Value = gw
        .post(
            "/v1/embeddings",
            &key,
            &[],
            json!({"model": "gemini-embedding-001", "input": ["text number 137"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(data[137]["index"], 137);
    assert_eq!(data[137]["embedding"], one["data"][0]["embedding"]);
    assert_ne!(data[136]["embedding"], one["data"][0]["embedding"]);
}
