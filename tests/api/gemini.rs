//! Gemini: OpenAI and Anthropic formats to Gemini models (streamed and not, tools),
//! embeddings on OpenAI and Gemini (float and base64), legacy completions, images,
//! aliases per provider, and `/v1/models` filtered by the key.

use base64::Engine;
use serde_json::{Value, json};

use crate::common::*;

const GEMINI: &str = "gemini-2.5-flash";

fn tools() -> Value {
    json!([{"type": "function", "function": {"name": "get_weather", "description": "Weather",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "additionalProperties": false}}}])
}

#[tokio::test(flavor = "multi_thread")]
async fn openai_format_to_gemini_non_streaming() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let body = json!({"model": GEMINI, "max_tokens": 50, "messages": [
        {"role": "system", "content": "Be terse."}, {"role": "user", "content": "Hello Gemini"}]});
    let res = gw.chat(&key, body).await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], GEMINI);
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Mock reply to: Hello Gemini"
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert!(v["usage"]["total_tokens"].as_u64().unwrap() > 0);
    let reqs = gw.mock.requests().await;
    let sent = reqs.last().unwrap();
    assert_eq!(
        sent["path"],
        format!("/v1beta/models/{GEMINI}:generateContent")
    );
    assert_eq!(sent["headers"]["x-goog-api-key"], GEMINI_UPSTREAM_KEY);
    assert!(
        sent["query"].is_null() || !sent["query"].as_str().unwrap_or("").contains("key="),
        "key never in the URL"
    );
    assert_eq!(
        sent["body"]["systemInstruction"]["parts"][0]["text"],
        "Be terse."
    );
    assert_eq!(sent["body"]["contents"][0]["role"], "user");
    assert_eq!(sent["body"]["generationConfig"]["maxOutputTokens"], 50);
}

#[tokio::test(flavor = "multi_thread")]
async fn openai_format_stream_from_gemini_with_usage_and_done() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let body = json!({"model": GEMINI, "stream": true, "stream_options": {"include_usage": true},
        "messages": [{"role": "user", "content": "one two three"}]});
    let events = sse_events(gw.chat(&key, body).await).await;
    assert_eq!(events.last().unwrap().1, "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|(_, d)| serde_json::from_str(d).unwrap())
        .collect();
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "Mock reply to: one two three");
    assert_eq!(chunks.last().unwrap()["choices"], json!([]));
    assert!(
        chunks.last().unwrap()["usage"]["prompt_tokens"]
            .as_u64()
            .unwrap()
            > 0
    );
    let reqs = gw.mock.requests().await;
    assert!(
        reqs.last().unwrap()["path"]
            .as_str()
            .unwrap()
            .ends_with(":streamGenerateContent")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn openai_format_tool_calls_with_gemini_and_the_tool_result_back() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let body = json!({"model": GEMINI, "tools": tools(), "messages": [{"role": "user", "content": "Weather? [[mock:tool_call]]"}]});
    let v: Value = gw.chat(&key, body.clone()).await.json().await.unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    let call = &v["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "get_weather");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"location": "Paris"}));
    let reqs = gw.mock.requests().await;
    let decl = &reqs.last().unwrap()["body"]["tools"][0]["functionDeclarations"][0];
    assert_eq!(decl["name"], "get_weather");
    assert!(
        decl["parameters"].get("additionalProperties").is_none(),
        "unsupported schema keywords stripped"
    );

    // Streamed: one complete tool delta.
    let mut streamed = body.clone();
    streamed["stream"] = true.into();
    let events = sse_events(gw.chat(&key, streamed).await).await;
    let mut args = String::new();
    for (_, d) in events.iter().filter(|(_, d)| d != "[DONE]") {
        let c: Value = serde_json::from_str(d).unwrap();
        for tc in c["choices"][0]["delta"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            assert_eq!(tc["index"], 0);
            args.push_str(tc["function"]["arguments"].as_str().unwrap_or(""));
        }
    }
    assert_eq!(
        serde_json::from_str::<Value>(&args).unwrap(),
        json!({"location": "Paris"})
    );

    // The tool result goes back as a functionResponse named after the call.
    let id = call["id"].as_str().unwrap();
    let follow_up = json!({"model": GEMINI, "tools": tools(), "messages": [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": null, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": id, "content": "{\"temp\": 21}"}]});
    let v: Value = gw.chat(&key, follow_up).await.json().await.unwrap();
    assert!(
        v["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .starts_with("Mock reply to function response"),
        "{v}"
    );
    let reqs = gw.mock.requests().await;
    let contents = &reqs.last().unwrap()["body"]["contents"];
    assert_eq!(
        contents[2]["parts"][0]["functionResponse"]["name"],
        "get_weather"
    );
    assert_eq!(
        contents[2]["parts"][0]["functionResponse"]["response"]["temp"],
        21
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn anthropic_format_to_gemini_streamed_and_not() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let body = json!({"model": GEMINI, "max_tokens": 64, "messages": [{"role": "user", "content": "Hi from Claude SDK"}]});
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
    assert_eq!(v["content"][0]["text"], "Mock reply to: Hi from Claude SDK");
    assert_eq!(v["stop_reason"], "end_turn");

    let mut streamed = json!({"model": GEMINI, "max_tokens": 64, "stream": true,
        "tools": [{"name": "get_weather", "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}}}],
        "messages": [{"role": "user", "content": "Weather? [[mock:tool_call]]"}]});
    streamed["stream"] = true.into();
    let events = sse_events(gw.post("/v1/messages", &key, &[], streamed).await).await;
    let names: Vec<&str> = events.iter().filter_map(|(e, _)| e.as_deref()).collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(names.last(), Some(&"message_stop"));
    let partial: String = events
        .iter()
        .filter(|(e, _)| e.as_deref() == Some("content_block_delta"))
        .filter_map(|(_, d)| serde_json::from_str::<Value>(d).ok())
        .filter_map(|v| v["delta"]["partial_json"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&partial).unwrap(),
        json!({"location": "Paris"})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn embeddings_on_openai_and_gemini_float_and_base64() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let decode = |s: &str| -> Vec<f32> {
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .unwrap()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    };
    for model in ["text-embedding-3-small", "gemini-embedding-001"] {
        let floats: Value = gw
            .post(
                "/v1/embeddings",
                &key,
                &[],
                json!({"model": model, "input": ["alpha", "beta"], "encoding_format": "float"}),
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(floats["object"], "list", "{model}: {floats}");
        let data = floats["data"].as_array().unwrap();
        assert_eq!(data.len(), 2);
        assert_eq!(data[1]["index"], 1);
        let first: Vec<f32> = data[0]["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        assert!(!first.is_empty());
        let b64: Value = gw
            .post(
                "/v1/embeddings",
                &key,
                &[],
                json!({"model": model, "input": ["alpha", "beta"], "encoding_format": "base64"}),
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            decode(b64["data"][0]["embedding"].as_str().unwrap()),
            first,
            "{model}: base64 decodes to the floats"
        );
    }
    // dimensions reach Gemini as outputDimensionality; a single string uses embedContent.
    let v: Value = gw
        .post(
            "/v1/embeddings",
            &key,
            &[],
            json!({"model": "gemini-embedding-001", "input": "solo", "dimensions": 4}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["data"][0]["embedding"].as_array().unwrap().len(), 4);
    let reqs = gw.mock.requests().await;
    assert!(
        reqs.last().unwrap()["path"]
            .as_str()
            .unwrap()
            .ends_with(":embedContent")
    );
    // Token ids cannot go to Gemini.
    let res = gw
        .post(
            "/v1/embeddings",
            &key,
            &[],
            json!({"model": "gemini-embedding-001", "input": [[1, 2, 3]]}),
        )
        .await;
    expect_error(res, 400, "invalid_field").await;
    let res = gw
        .post(
            "/v1/embeddings",
            &key,
            &[],
            json!({"model": "gemini-embedding-001", "input": "x", "encoding_format": "hex"}),
        )
        .await;
    expect_error(res, 400, "invalid_field").await;
    let res = gw
        .post(
            "/v1/embeddings",
            &key,
            &[],
            json!({"model": "gemini-embedding-001"}),
        )
        .await;
    expect_error(res, 400, "missing_field").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn legacy_completions_and_images_pass_through() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let v: Value = gw
        .post(
            "/v1/completions",
            &key,
            &[],
            json!({"model": "gpt-3.5-turbo-instruct", "prompt": "Say hi", "max_tokens": 5}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["object"], "text_completion");
    assert!(v["choices"][0]["text"].as_str().unwrap().contains("Say hi"));
    let v: Value = gw
        .post(
            "/v1/images/generations",
            &key,
            &[],
            json!({"prompt": "a cat", "response_format": "b64_json"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(v["data"][0]["b64_json"].is_string(), "{v}");
    let reqs = gw.mock.requests().await;
    assert_eq!(reqs.last().unwrap()["path"], "/v1/images/generations");
    // Scopes apply per endpoint.
    let chat_only = gw.create_key(json!({"scopes": ["chat"]})).await;
    let res = gw
        .post(
            "/v1/images/generations",
            &chat_only,
            &[],
            json!({"prompt": "a cat"}),
        )
        .await;
    expect_error(res, 403, "insufficient_permissions").await;
    let res = gw
        .post(
            "/v1/embeddings",
            &chat_only,
            &[],
            json!({"model": "text-embedding-3-small", "input": "x"}),
        )
        .await;
    expect_error(res, 403, "insufficient_permissions").await;
    // Completions only exist on OpenAI-dialect providers.
    let res = gw
        .post(
            "/v1/completions",
            &key,
            &[],
            json!({"model": "claude-haiku-4-5", "prompt": "x"}),
        )
        .await;
    expect_error(res, 400, "unknown_model").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn one_alias_resolves_per_provider() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let sent_model = |reqs: &[Value]| -> String {
        let last = reqs.last().unwrap();
        last["body"]["model"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| last["path"].as_str().unwrap().to_owned())
    };
    gw.chat(&key, chat_body("gemini/tollgate-chat-fast", "hi"))
        .await;
    assert!(sent_model(&gw.mock.requests().await).contains("gemini-2.5-flash"));
    gw.chat(&key, chat_body("anthropic/tollgate-chat-fast", "hi"))
        .await;
    assert_eq!(sent_model(&gw.mock.requests().await), "claude-haiku-4-5");
    gw.chat(&key, chat_body("tollgate-chat-fast", "hi")).await;
    assert_eq!(sent_model(&gw.mock.requests().await), "gpt-4o-mini");
    // With BYOK the alias follows the caller's provider.
    let res = gw
        .post(
            "/v1/chat/completions",
            &key,
            &[
                ("x-byok-provider", "gemini"),
                ("x-byok-api-key", "caller-gemini"),
            ],
            chat_body("tollgate-chat-fast", "hi"),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(sent_model(&gw.mock.requests().await).contains("gemini-2.5-flash"));
}

#[tokio::test(flavor = "multi_thread")]
async fn models_list_is_filtered_for_a_restricted_key() {
    let gw = Gateway::start().await;
    let key = gw
        .create_key(json!({"allowed_models": ["gpt-4o-mini", "gemini/*"]}))
        .await;
    let ids = |v: Value| -> Vec<String> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = ids(gw
        .client
        .get(gw.url("/v1/models"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap());
    let mine = ids(gw.get("/v1/models", &key).await.json().await.unwrap());
    assert!(all.contains(&"claude-haiku-4-5".to_owned()));
    assert!(!mine.contains(&"claude-haiku-4-5".to_owned()));
    assert!(
        mine.contains(&"gpt-4o-mini".to_owned()) && mine.contains(&"gemini-2.5-pro".to_owned())
    );
    assert!(
        mine.contains(&"tollgate-chat-fast".to_owned()),
        "an alias with an allowed target stays"
    );
    let res = gw.get("/v1/models", "tg_live_sk_nope").await;
    expect_error(res, 401, "invalid_api_key").await;
}
