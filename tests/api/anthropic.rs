//! Anthropic: `/v1/messages` and translation, all four combinations of caller format
//! (OpenAI or Anthropic) × model owner (OpenAI or Anthropic), streamed and not, with
//! tool calls; errors in Anthropic's shape on `/v1/messages`.

use serde_json::{Value, json};

use crate::common::*;

const CLAUDE: &str = "claude-haiku-4-5";
const GPT: &str = "gpt-4o-mini";

async fn messages(gw: &Gateway, key: &str, body: Value) -> reqwest::Response {
    gw.client
        .post(gw.url("/v1/messages"))
        .header("x-api-key", key)
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn anthropic_body(model: &str, text: &str) -> Value {
    json!({"model": model, "max_tokens": 256, "messages": [{"role": "user", "content": text}]})
}

fn weather_tool_openai() -> Value {
    json!([{"type": "function", "function": {"name": "get_weather", "description": "Weather",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}}}])
}

fn weather_tool_anthropic() -> Value {
    json!([{"name": "get_weather", "description": "Weather",
        "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}}}])
}

fn last_upstream(reqs: &[Value]) -> &Value {
    reqs.last().expect("the upstream got a request")
}

// ---- OpenAI format → Anthropic model ----

#[tokio::test(flavor = "multi_thread")]
async fn openai_format_to_claude_is_translated_both_ways() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let body = json!({"model": CLAUDE, "messages": [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "Hello Claude"}], "stop": "END", "user": "u-42"});
    let res = gw.chat(&key, body).await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], CLAUDE);
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Mock reply to: Hello Claude"
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert!(v["usage"]["prompt_tokens"].as_u64().unwrap() > 0);

    let reqs = gw.mock.requests().await;
    let sent = last_upstream(&reqs);
    assert_eq!(sent["path"], "/v1/messages");
    assert_eq!(sent["headers"]["x-api-key"], ANTHROPIC_UPSTREAM_KEY);
    assert_eq!(sent["headers"]["anthropic-version"], "2023-06-01");
    assert!(sent["headers"].get("authorization").is_none());
    let system = &sent["body"]["system"];
    let system_text = system.as_str().or_else(|| system[0]["text"].as_str());
    assert_eq!(system_text, Some("Be terse."), "{system}");
    assert_eq!(sent["body"]["max_tokens"], 4096, "documented default");
    assert_eq!(sent["body"]["stop_sequences"], json!(["END"]));
    assert_eq!(sent["body"]["metadata"]["user_id"], "u-42");
    let msgs = sent["body"]["messages"].as_array().unwrap();
    assert_eq!(
        msgs.len(),
        1,
        "the system message was hoisted out: {msgs:?}"
    );
    assert_eq!(msgs[0]["role"], "user");
    let content = &msgs[0]["content"];
    let text = content
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| content[0]["text"].as_str().unwrap().to_owned());
    assert_eq!(text, "Hello Claude");
}

#[tokio::test(flavor = "multi_thread")]
async fn openai_format_stream_from_claude_becomes_chunks_with_done_and_usage() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let body = json!({"model": CLAUDE, "stream": true, "stream_options": {"include_usage": true},
        "messages": [{"role": "user", "content": "one two three"}]});
    let res = gw.chat(&key, body).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let events = sse_events(res).await;
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
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk" && c["model"] == CLAUDE)
    );
    let finish: Vec<&str> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["finish_reason"].as_str())
        .collect();
    assert_eq!(finish, ["stop"]);
    let usage = chunks.last().unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert!(usage["usage"]["completion_tokens"].as_u64().unwrap() > 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn openai_format_tool_call_with_claude_streamed_and_not() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let body = json!({"model": CLAUDE, "tools": weather_tool_openai(),
        "messages": [{"role": "user", "content": "Weather? [[mock:tool_call]]"}]});
    let v: Value = gw.chat(&key, body.clone()).await.json().await.unwrap();
    let call = &v["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"location": "Paris"}));
    let sent = gw.mock.requests().await;
    assert_eq!(
        last_upstream(&sent)["body"]["tools"][0]["input_schema"]["properties"]["location"]["type"],
        "string"
    );

    let mut streamed = body.clone();
    streamed["stream"] = true.into();
    let events = sse_events(gw.chat(&key, streamed).await).await;
    let mut args = String::new();
    let mut name = None;
    for (_, d) in &events {
        if d == "[DONE]" {
            continue;
        }
        let c: Value = serde_json::from_str(d).unwrap();
        for tc in c["choices"][0]["delta"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            assert_eq!(tc["index"], 0, "every tool delta has its index");
            if let Some(n) = tc["function"]["name"].as_str() {
                name = Some(n.to_owned());
            }
            args.push_str(tc["function"]["arguments"].as_str().unwrap_or_default());
        }
    }
    assert_eq!(name.as_deref(), Some("get_weather"));
    assert_eq!(
        serde_json::from_str::<Value>(&args).unwrap(),
        json!({"location": "Paris"})
    );
    assert_eq!(events.last().unwrap().1, "[DONE]");
}

#[tokio::test(flavor = "multi_thread")]
async fn untranslatable_openai_request_is_a_400_naming_the_field() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let body = json!({"model": CLAUDE, "n": 3, "messages": [{"role": "user", "content": "hi"}]});
    let err = expect_error(gw.chat(&key, body).await, 400, "invalid_field").await;
    assert_eq!(err["error"]["param"], "n");
    assert_eq!(gw.mock.stats().await["requests"], 0);
}

// ---- Anthropic format → Anthropic model (native) ----

#[tokio::test(flavor = "multi_thread")]
async fn messages_to_claude_are_forwarded_natively() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let body = json!({"model": "anthropic/claude-haiku-4-5", "max_tokens": 100, "top_k": 5,
        "messages": [{"role": "user", "content": "Native please"}]});
    let res = gw
        .client
        .post(gw.url("/v1/messages"))
        .header("x-api-key", &key)
        .header("anthropic-version", "2023-06-01")
        .header("anthropic-beta", "tools-2024-04-04")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["type"], "message");
    assert_eq!(v["content"][0]["text"], "Mock reply to: Native please");
    assert_eq!(v["stop_reason"], "end_turn");
    let reqs = gw.mock.requests().await;
    let sent = last_upstream(&reqs);
    assert_eq!(sent["headers"]["anthropic-beta"], "tools-2024-04-04");
    assert_eq!(
        sent["headers"]["x-api-key"], ANTHROPIC_UPSTREAM_KEY,
        "the gateway's key, not the caller's"
    );
    let mut expected = body.clone();
    expected["model"] = CLAUDE.into();
    assert_eq!(sent["body"], expected, "only the model name changed");
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_stream_from_claude_passes_events_through() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let mut body = anthropic_body(CLAUDE, "stream me");
    body["stream"] = true.into();
    let events = sse_events(messages(&gw, &key, body).await).await;
    let names: Vec<&str> = events.iter().filter_map(|(e, _)| e.as_deref()).collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(names.last(), Some(&"message_stop"));
    assert!(
        names.contains(&"ping"),
        "events pass through untouched, ping included"
    );
    for (name, data) in &events {
        let v: Value = serde_json::from_str(data).unwrap();
        assert_eq!(v["type"].as_str(), name.as_deref());
    }
}

// ---- Anthropic format → OpenAI model (translated) ----

#[tokio::test(flavor = "multi_thread")]
async fn messages_to_gpt_are_translated_both_ways() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let body = json!({"model": GPT, "max_tokens": 64, "system": "Be brief.",
        "stop_sequences": ["END"], "messages": [{"role": "user", "content": "Hello GPT"}]});
    let res = messages(&gw, &key, body).await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["type"], "message");
    assert_eq!(v["role"], "assistant");
    assert_eq!(v["model"], GPT);
    assert_eq!(
        v["content"],
        json!([{"type": "text", "text": "Mock reply to: Hello GPT"}])
    );
    assert_eq!(v["stop_reason"], "end_turn");
    assert!(v["usage"]["input_tokens"].as_u64().unwrap() > 0);
    let reqs = gw.mock.requests().await;
    let sent = last_upstream(&reqs);
    assert_eq!(sent["path"], "/v1/chat/completions");
    assert_eq!(
        sent["headers"]["authorization"],
        format!("Bearer {UPSTREAM_KEY}")
    );
    assert_eq!(sent["body"]["messages"][0]["role"], "system");
    assert_eq!(sent["body"]["stop"], json!(["END"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_stream_from_gpt_becomes_anthropic_events_with_tools() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let body = json!({"model": GPT, "max_tokens": 64, "stream": true, "tools": weather_tool_anthropic(),
        "messages": [{"role": "user", "content": "Weather? [[mock:tool_call]]"}]});
    let events = sse_events(messages(&gw, &key, body).await).await;
    let names: Vec<&str> = events.iter().filter_map(|(e, _)| e.as_deref()).collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(names.last(), Some(&"message_stop"));
    let mut partial = String::new();
    let mut tool_name = None;
    let mut stop_reason = None;
    for (name, data) in &events {
        let v: Value = serde_json::from_str(data).unwrap();
        assert_eq!(
            v["type"].as_str(),
            name.as_deref(),
            "event name equals its type"
        );
        match name.as_deref() {
            Some("content_block_start") if v["content_block"]["type"] == "tool_use" => {
                tool_name = v["content_block"]["name"].as_str().map(str::to_owned);
            }
            Some("content_block_delta") if v["delta"]["type"] == "input_json_delta" => {
                partial.push_str(v["delta"]["partial_json"].as_str().unwrap());
            }
            Some("message_delta") => {
                stop_reason = v["delta"]["stop_reason"].as_str().map(str::to_owned)
            }
            _ => {}
        }
    }
    assert_eq!(tool_name.as_deref(), Some("get_weather"));
    assert_eq!(
        serde_json::from_str::<Value>(&partial).unwrap(),
        json!({"location": "Paris"})
    );
    assert_eq!(stop_reason.as_deref(), Some("tool_use"));
    let reqs = gw.mock.requests().await;
    assert_eq!(
        last_upstream(&reqs)["body"]["stream_options"]["include_usage"],
        true
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tool_result_round_trip_through_messages_to_gpt() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let body = json!({"model": GPT, "max_tokens": 64, "tools": weather_tool_anthropic(), "messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"location": "Paris"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "Sunny"}]}]});
    assert_eq!(messages(&gw, &key, body).await.status(), 200);
    let reqs = gw.mock.requests().await;
    let sent = &last_upstream(&reqs)["body"]["messages"];
    assert_eq!(sent[1]["tool_calls"][0]["id"], "toolu_1");
    assert_eq!(sent[1]["tool_calls"][0]["function"]["name"], "get_weather");
    assert_eq!(sent[2]["role"], "tool");
    assert_eq!(sent[2]["tool_call_id"], "toolu_1");
}

// ---- errors on /v1/messages ----

#[tokio::test(flavor = "multi_thread")]
async fn messages_errors_have_anthropic_shape() {
    let gw = Gateway::start().await;
    let res = messages(&gw, "tg_live_sk_bad", anthropic_body(CLAUDE, "hi")).await;
    assert_eq!(res.status(), 401);
    assert!(res.headers().contains_key("x-request-id"));
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "authentication_error");

    let key = gw
        .create_key(json!({"rate_limit": {"requests": 1, "period": "hour", "burst": 1}}))
        .await;
    assert_eq!(
        messages(&gw, &key, anthropic_body(CLAUDE, "hi"))
            .await
            .status(),
        200
    );
    let res = messages(&gw, &key, anthropic_body(CLAUDE, "hi")).await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["type"], "rate_limit_error");
    assert_eq!(v["error"]["details"]["limit"], 1);

    let key = gw.key().await;
    let res = messages(&gw, &key, json!({"model": CLAUDE, "max_tokens": 5})).await;
    assert_eq!(res.status(), 400);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error");
    let res = messages(&gw, &key, anthropic_body("nope-model", "hi")).await;
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"]["type"],
        "invalid_request_error"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_overload_keeps_its_status_and_type() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let res = messages(&gw, &key, anthropic_body(CLAUDE, "[[mock:status=529]]")).await;
    assert_eq!(res.status(), 529);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["type"], "overloaded_error");
    // The same failure seen through the OpenAI format.
    let res = gw
        .chat(&key, chat_body(CLAUDE, "[[mock:status=529]]"))
        .await;
    let err = expect_error(res, 529, "upstream_error").await;
    assert_eq!(err["error"]["type"], "upstream_error");
}

#[tokio::test(flavor = "multi_thread")]
async fn error_event_after_200_reaches_each_dialect_as_an_error() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    // Native: the upstream's error event passes through.
    let mut body = anthropic_body(CLAUDE, "[[mock:stream_error]] hello");
    body["stream"] = true.into();
    let events = sse_events(messages(&gw, &key, body).await).await;
    assert_eq!(events.last().unwrap().0.as_deref(), Some("error"));
    // Translated: an OpenAI error chunk and no [DONE].
    let body = json!({"model": CLAUDE, "stream": true, "messages": [{"role": "user", "content": "[[mock:stream_error]] hello"}]});
    let events = sse_events(gw.chat(&key, body).await).await;
    assert!(!events.iter().any(|(_, d)| d == "[DONE]"));
    let last: Value = serde_json::from_str(&events.last().unwrap().1).unwrap();
    assert!(last["error"]["message"].is_string(), "{last}");
}
