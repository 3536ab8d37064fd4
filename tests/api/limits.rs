//! Request limits (README "Request limits"): a `$ref` chain 10,000 links deep in
//! every place a schema can sit, to every kind of provider, is a 400 naming the
//! field and the limit, never a crash (it overflowed the Gemini converter's stack and
//! aborted the process); too many tools, messages or embedding inputs are 400s too;
//! and after each, the gateway still answers. Nothing refused reaches the upstream.

use serde_json::{Map, Value, json};

use crate::common::*;

const GPT: &str = "gpt-4o-mini";
const CLAUDE: &str = "claude-haiku-4-5";
const GEMINI: &str = "gemini-2.5-flash";
// Gemini first: on the old code its request aborted the process.
const PROVIDERS: [&str; 3] = [GEMINI, CLAUDE, GPT];

/// `{"$ref": D0}` with `D0 → D1 → … → D{links}`: flat JSON, `links` levels deep once
/// inlined.
fn ref_chain(links: usize) -> Value {
    let mut defs = Map::new();
    for i in 0..links {
        defs.insert(
            format!("D{i}"),
            json!({"$ref": format!("#/$defs/D{}", i + 1)}),
        );
    }
    defs.insert(format!("D{links}"), json!({"type": "string"}));
    json!({"type": "object", "properties": {"a": {"$ref": "#/$defs/D0"}}, "$defs": defs})
}

fn user(text: &str) -> Value {
    json!([{"role": "user", "content": text}])
}

async fn messages(gw: &Gateway, key: &str, body: &Value) -> reqwest::Response {
    gw.client
        .post(gw.url("/v1/messages"))
        .header("x-api-key", key)
        .header("anthropic-version", "2023-06-01")
        .json(body)
        .send()
        .await
        .unwrap()
}

/// The OpenAI-shaped 400 for `param`, whose message states the limit.
async fn expect_limit(res: reqwest::Response, param: &str, limit: &str) {
    let body = expect_error(res, 400, "invalid_field").await;
    assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
    assert_eq!(body["error"]["param"], param, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains(limit), "{body}");
}

/// The Anthropic-shaped 400 (`/v1/messages`), naming `field` and the limit.
async fn expect_anthropic_limit(res: reqwest::Response, field: &str, limit: &str) {
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["type"], "error", "{body}");
    assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains(field) && message.contains(limit), "{body}");
}

/// The gateway still serves, and no refused request reached the mock.
async fn still_up_and_nothing_forwarded(gw: &Gateway) {
    let health = gw.client.get(gw.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(
        gw.mock.requests().await.len(),
        0,
        "refused before the upstream"
    );
    // And it still forwards a normal request.
    let key = gw.key().await;
    let res = gw.chat(&key, chat_body(GEMINI, "still there?")).await;
    assert_eq!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn ref_chain_10000_deep_in_chat_tools_is_a_400_for_every_provider() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let deep = ref_chain(10_000);
    for model in PROVIDERS {
        let body = json!({"model": model, "messages": user("hi"), "tools": [
            {"type": "function", "function": {"name": "f", "parameters": deep}}]});
        expect_limit(
            gw.chat(&key, body).await,
            "tools[0].function.parameters",
            "64 levels",
        )
        .await;
    }
    still_up_and_nothing_forwarded(&gw).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ref_chain_10000_deep_in_response_format_is_a_400_for_every_provider() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let deep = ref_chain(10_000);
    for model in PROVIDERS {
        let body = json!({"model": model, "messages": user("hi"), "response_format":
            {"type": "json_schema", "json_schema": {"name": "out", "schema": deep}}});
        expect_limit(
            gw.chat(&key, body).await,
            "response_format.json_schema.schema",
            "64 levels",
        )
        .await;
    }
    still_up_and_nothing_forwarded(&gw).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ref_chain_10000_deep_in_messages_input_schema_is_a_400_for_every_provider() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let deep = ref_chain(10_000);
    for model in PROVIDERS {
        let body = json!({"model": model, "max_tokens": 64, "messages": user("hi"),
            "tools": [{"name": "f", "input_schema": deep}]});
        expect_anthropic_limit(
            messages(&gw, &key, &body).await,
            "tools[0].input_schema",
            "64 levels",
        )
        .await;
    }
    still_up_and_nothing_forwarded(&gw).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recursive_schema_still_reaches_openai() {
    // OpenAI accepts recursive schemas; the limit walk must not mistake one for depth.
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let tree = json!({"type": "object", "properties": {"children": {"type": "array",
        "items": {"$ref": "#"}}, "next": {"$ref": "#/$defs/Node"}},
        "$defs": {"Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}}}});
    let body = json!({"model": GPT, "messages": user("hi"), "tools": [
        {"type": "function", "function": {"name": "tree", "parameters": tree}}]});
    let res = gw.chat(&key, body).await;
    assert_eq!(res.status(), 200);
    let reqs = gw.mock.requests().await;
    let sent = reqs.last().expect("forwarded");
    assert_eq!(
        sent["body"]["tools"][0]["function"]["parameters"]["properties"]["next"]["$ref"],
        "#/$defs/Node"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn nesting_10000_deep_never_takes_the_gateway_down_on_any_route() {
    // Plain nesting: where the gateway parses the body (translation, and metering,
    // which reads every body) the JSON parser stops at 128 levels; forwarded bytes
    // are the upstream's to refuse. Either way the gateway answers, then still serves.
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let nested = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    for (path, model, field, translated) in [
        ("/v1/chat/completions", GEMINI, "messages", true),
        ("/v1/chat/completions", CLAUDE, "messages", true),
        ("/v1/chat/completions", GPT, "messages", false),
        ("/v1/messages", GEMINI, "messages", true),
        ("/v1/messages", GPT, "messages", true),
        ("/v1/messages", CLAUDE, "messages", false),
        ("/v1/embeddings", "gemini-embedding-001", "input", true),
        ("/v1/embeddings", "text-embedding-3-small", "input", false),
        ("/v1/completions", "gpt-3.5-turbo-instruct", "prompt", false),
    ] {
        let body = format!(r#"{{"model":"{model}","max_tokens":5,"{field}":{nested}}}"#);
        let res = gw
            .client
            .post(gw.url(path))
            .bearer_auth(&key)
            .header("anthropic-version", "2023-06-01")
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        if translated {
            assert_eq!(status, 400, "{path} {model}: {text}");
            assert!(text.contains("recursion limit"), "{path} {model}: {text}");
        } else {
            assert!(status.is_client_error(), "{path} {model}: {status} {text}");
        }
        let health = gw.client.get(gw.url("/health")).send().await.unwrap();
        assert_eq!(health.status(), 200, "after {path} {model}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn too_many_tools_messages_or_inputs_are_400s_naming_the_limit() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let tools: Vec<Value> = (0..513)
        .map(|i| {
            json!({"type": "function", "function": {"name": format!("f{i}"),
            "parameters": {"type": "object", "properties": {"x": {"type": "string"}}}}})
        })
        .collect();
    for model in PROVIDERS {
        let body = json!({"model": model, "messages": user("hi"), "tools": tools});
        expect_limit(gw.chat(&key, body).await, "tools", "at most 512").await;
    }
    let many = vec![json!({"role": "user", "content": "x"}); 10_001];
    let body = json!({"model": GEMINI, "messages": many});
    expect_limit(gw.chat(&key, body).await, "messages", "at most 10000").await;
    let anthropic_tools: Vec<Value> = (0..513)
        .map(|i| json!({"name": format!("f{i}"), "input_schema": {"type": "object"}}))
        .collect();
    let body = json!({"model": GEMINI, "max_tokens": 5, "messages": user("hi"),
        "tools": anthropic_tools});
    expect_anthropic_limit(messages(&gw, &key, &body).await, "tools", "at most 512").await;
    let inputs = vec![json!("x"); 2_049];
    let res = gw
        .post(
            "/v1/embeddings",
            &key,
            &[],
            json!({"model": "gemini-embedding-001", "input": inputs}),
        )
        .await;
    expect_limit(res, "input", "at most 2048").await;
    still_up_and_nothing_forwarded(&gw).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_at_the_limits_are_served() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let tools: Vec<Value> = (0..512)
        .map(|i| {
            json!({"type": "function", "function": {"name": format!("f{i}"),
            "parameters": {"type": "object", "properties": {"x": {"$ref": "#/$defs/X"}},
                "$defs": {"X": {"type": "string"}}}}})
        })
        .collect();
    let body = json!({"model": GEMINI, "messages": user("hi"), "tools": tools});
    let res = gw.chat(&key, body).await;
    assert_eq!(res.status(), 200);
    let reqs = gw.mock.requests().await;
    let sent = &reqs.last().expect("forwarded")["body"];
    let declarations = sent["tools"][0]["functionDeclarations"].as_array().unwrap();
    assert_eq!(declarations.len(), 512);
    assert_eq!(
        declarations[511]["parameters"]["properties"]["x"]["type"],
        "string"
    );
    // A chain a little under the depth limit is inlined in full.
    let body = json!({"model": GEMINI, "messages": user("hi"), "tools": [
        {"type": "function", "function": {"name": "f", "parameters": ref_chain(50)}}]});
    assert_eq!(gw.chat(&key, body).await.status(), 200);
}
