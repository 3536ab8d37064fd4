//! `POST /v1/responses`: passed through to OpenAI (bytes identical but the model),
//! translated for Claude and Gemini (the upstream body checked in the mock
//! journal), whole and streamed with typed events, function-call round trips,
//! the stateless refusals, and usage rows.

use std::time::Duration;

use serde_json::{Value, json};
use tollgate::metering::UsageEvent;

use crate::common::*;

const GPT: &str = "gpt-4o-mini";
const CLAUDE: &str = "claude-haiku-4-5";
const GEMINI: &str = "gemini-2.5-flash";

async fn responses(gw: &Gateway, key: &str, body: &Value) -> reqwest::Response {
    gw.client
        .post(gw.url("/v1/responses"))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .unwrap()
}

fn weather_tool() -> Value {
    json!([{"type": "function", "name": "get_weather", "description": "Weather",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}}])
}

fn output_text(v: &Value) -> String {
    v["output"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["type"] == "message")
        .flat_map(|i| i["content"].as_array().unwrap().iter())
        .filter_map(|p| p["text"].as_str())
        .collect()
}

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

/// Every event parsed, checked to be typed (`event:` = `type`) and numbered 0, 1, 2, …
fn typed_events(events: Vec<(Option<String>, String)>) -> Vec<Value> {
    let parsed: Vec<Value> = events
        .into_iter()
        .map(|(name, data)| {
            let v: Value = serde_json::from_str(&data).unwrap_or_else(|e| panic!("{e}: {data}"));
            assert_eq!(name.as_deref(), v["type"].as_str(), "{v}");
            v
        })
        .collect();
    for (i, e) in parsed.iter().enumerate() {
        assert_eq!(e["sequence_number"].as_u64(), Some(i as u64), "{e}");
    }
    parsed
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn gpt_is_passed_through_byte_for_byte_but_the_model() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    // Spacing and key order the gateway must not normalise.
    let raw = format!(
        r#"{{"model":"openai/{GPT}",  "input":"Hello there","instructions":"Be terse.","store":false,"metadata":{{"k":"v"}}}}"#
    );
    let res = gw
        .client
        .post(gw.url("/v1/responses"))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body(raw.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let id = request_id(&res);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["object"], "response");
    assert_eq!(v["status"], "completed");
    assert_eq!(output_text(&v), "Mock reply to: Hello there");
    let reqs = gw.mock.requests().await;
    let sent = reqs.last().unwrap();
    assert_eq!(sent["path"], "/v1/responses");
    assert_eq!(
        sent["headers"]["authorization"],
        format!("Bearer {UPSTREAM_KEY}")
    );
    let expected = raw.replace(&format!("openai/{GPT}"), GPT);
    assert_eq!(sent["body_text"], expected);

    let rows = usage(&gw, &id).await;
    assert_eq!(rows[0].endpoint, "/v1/responses");
    assert_eq!(rows[0].provider, "openai");
    assert_eq!(
        rows[0].input_tokens as u64,
        v["usage"]["input_tokens"].as_u64().unwrap()
    );
    assert_eq!(
        rows[0].output_tokens as u64,
        v["usage"]["output_tokens"].as_u64().unwrap()
    );
    assert!(rows[0].cost_micro_usd.is_some_and(|c| c > 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn gpt_stream_is_relayed_with_typed_numbered_events_and_metered() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let res = responses(
        &gw,
        &key,
        &json!({"model": GPT, "input": "one two three", "stream": true}),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let id = request_id(&res);
    let events = typed_events(sse_events(res).await);
    assert_eq!(
        types(&events)[..2],
        ["response.created", "response.in_progress"]
    );
    let last = events.last().unwrap();
    assert_eq!(last["type"], "response.completed");
    let text: String = events
        .iter()
        .filter(|e| e["type"] == "response.output_text.delta")
        .map(|e| e["delta"].as_str().unwrap())
        .collect();
    assert_eq!(text, "Mock reply to: one two three");
    let rows = usage(&gw, &id).await;
    assert_eq!(
        rows[0].output_tokens as u64,
        last["response"]["usage"]["output_tokens"].as_u64().unwrap()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn claude_is_translated_both_ways_with_instructions_and_usage() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let res = responses(
        &gw,
        &key,
        &json!({"model": CLAUDE, "instructions": "Be terse.", "max_output_tokens": 99,
            "input": [{"role": "user", "content": [{"type": "input_text", "text": "Hello Claude"}]}],
            "text": {"format": {"type": "json_schema", "name": "x", "schema": {"type": "object"}}},
            "store": false}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let id = request_id(&res);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["object"], "response");
    assert_eq!(v["model"], CLAUDE);
    assert_eq!(v["status"], "completed");
    assert_eq!(output_text(&v), "Mock reply to: Hello Claude");
    assert!(v["usage"]["input_tokens"].as_u64().unwrap() > 0);
    let reqs = gw.mock.requests().await;
    let sent = reqs.last().unwrap();
    assert_eq!(sent["path"], "/v1/messages");
    assert_eq!(sent["body"]["model"], CLAUDE);
    assert_eq!(sent["body"]["max_tokens"], 99);
    let system = &sent["body"]["system"];
    assert_eq!(
        system.as_str().or_else(|| system[0]["text"].as_str()),
        Some("Be terse.")
    );
    assert_eq!(sent["body"]["messages"][0]["role"], "user");
    let rows = usage(&gw, &id).await;
    assert_eq!(rows[0].provider, "anthropic");
    assert_eq!(rows[0].endpoint, "/v1/responses");
    assert_eq!(
        rows[0].output_tokens as u64,
        v["usage"]["output_tokens"].as_u64().unwrap()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn claude_and_gemini_streams_become_the_full_typed_event_sequence() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    for model in [CLAUDE, GEMINI] {
        let res = responses(
            &gw,
            &key,
            &json!({"model": model, "input": "stream me please", "stream": true}),
        )
        .await;
        assert_eq!(res.status(), 200, "{model}");
        let id = request_id(&res);
        let events = typed_events(sse_events(res).await);
        let t = types(&events);
        assert_eq!(
            [t[0], t[1], t[2], t[3]],
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added"
            ],
            "{model}: {t:?}"
        );
        let n = t.len();
        assert_eq!(
            t[n - 4..],
            [
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.completed"
            ],
            "{model}: {t:?}"
        );
        let text: String = events
            .iter()
            .filter(|e| e["type"] == "response.output_text.delta")
            .map(|e| e["delta"].as_str().unwrap())
            .collect();
        assert_eq!(text, "Mock reply to: stream me please", "{model}");
        let done = &events[n - 1]["response"];
        assert_eq!(done["output"][0]["content"][0]["text"], text);
        assert_eq!(done["model"], model);
        let out = done["usage"]["output_tokens"].as_u64().unwrap();
        assert!(out > 0, "{model}: {done}");
        let rows = usage(&gw, &id).await;
        assert_eq!(rows[0].output_tokens as u64, out, "{model}");
    }
    let reqs = gw.mock.requests().await;
    assert!(
        reqs.iter()
            .any(|r| r["path"] == "/v1/messages" && r["body"]["stream"] == true)
    );
    assert!(reqs.iter().any(|r| {
        r["path"]
            .as_str()
            .unwrap()
            .contains(":streamGenerateContent")
    }));
}

/// The model calls the tool, the caller answers with `function_call_output`, the
/// model answers about it: for each provider, whole and streamed.
#[tokio::test(flavor = "multi_thread")]
async fn function_call_round_trips_on_every_provider() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    for model in [GPT, CLAUDE, GEMINI] {
        for stream in [false, true] {
            let first = json!({"model": model, "input": "weather in Paris? [[mock:tool_call]]",
                "tools": weather_tool(), "stream": stream});
            let res = responses(&gw, &key, &first).await;
            assert_eq!(res.status(), 200, "{model}");
            let call = if stream {
                let events = typed_events(sse_events(res).await);
                let args: String = events
                    .iter()
                    .filter(|e| e["type"] == "response.function_call_arguments.delta")
                    .map(|e| e["delta"].as_str().unwrap())
                    .collect();
                assert_eq!(args, r#"{"location":"Paris"}"#, "{model}");
                let done = events.last().unwrap();
                assert_eq!(done["type"], "response.completed", "{model}");
                done["response"]["output"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|i| i["type"] == "function_call")
                    .cloned()
                    .unwrap_or_else(|| panic!("{model}: {done}"))
            } else {
                let v: Value = res.json().await.unwrap();
                v["output"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|i| i["type"] == "function_call")
                    .cloned()
                    .unwrap_or_else(|| panic!("{model}: {v}"))
            };
            assert_eq!(call["name"], "get_weather", "{model}");
            let args: Value = serde_json::from_str(call["arguments"].as_str().unwrap()).unwrap();
            assert_eq!(args, json!({"location": "Paris"}), "{model}");
            let call_id = call["call_id"].as_str().unwrap();

            let second = json!({"model": model, "tools": weather_tool(), "input": [
                {"role": "user", "content": "weather in Paris?"},
                {"type": "function_call", "call_id": call_id, "name": "get_weather", "arguments": call["arguments"]},
                {"type": "function_call_output", "call_id": call_id, "output": "sunny 21C"},
            ]});
            let res = responses(&gw, &key, &second).await;
            assert_eq!(res.status(), 200, "{model}");
            let v: Value = res.json().await.unwrap();
            assert!(output_text(&v).contains("sunny 21C"), "{model}: {v}");
        }
    }
    // The second turn reached each upstream in its own tool-result shape.
    let reqs = gw.mock.requests().await;
    assert!(
        reqs.iter().any(|r| r["path"] == "/v1/responses"
            && r["body"]["input"][2]["type"] == "function_call_output")
    );
    assert!(reqs.iter().any(|r| r["path"] == "/v1/messages"
        && r["body"]["messages"][2]["content"][0]["type"] == "tool_result"));
    assert!(
        reqs.iter()
            .any(|r| r["path"].as_str().unwrap().contains(":generateContent")
                && r["body"]["contents"][2]["parts"][0]["functionResponse"]["name"]
                    == "get_weather")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn stateful_and_bad_requests_get_documented_400s() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    for model in [GPT, CLAUDE] {
        let res = responses(
            &gw,
            &key,
            &json!({"model": model, "input": "hi", "previous_response_id": "resp_1"}),
        )
        .await;
        let v = expect_error(res, 400, "invalid_field").await;
        let message = v["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("stateless") && message.contains("input"),
            "{message}"
        );
    }
    let res = responses(
        &gw,
        &key,
        &json!({"model": CLAUDE, "input": "hi", "tools": [{"type": "web_search"}]}),
    )
    .await;
    let v = expect_error(res, 400, "invalid_field").await;
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("web_search"),
        "{v}"
    );
    let res = responses(&gw, &key, &json!({"model": GPT})).await;
    expect_error(res, 400, "missing_field").await;
    let res = responses(&gw, &key, &json!({"model": CLAUDE, "input": 42})).await;
    expect_error(res, 400, "invalid_field").await;
    let res = gw
        .client
        .post(gw.url("/v1/responses"))
        .bearer_auth(&key)
        .body("{not json")
        .send()
        .await
        .unwrap();
    expect_error(res, 400, "invalid_json").await;
    let res = responses(&gw, &key, &json!({"model": "no-such-model", "input": "hi"})).await;
    expect_error(res, 400, "unknown_model").await;
    // None of these reached an upstream.
    assert!(gw.mock.requests().await.is_empty());
    let res = gw
        .client
        .post(gw.url("/v1/responses"))
        .json(&json!({"model": GPT, "input": "x"}))
        .send()
        .await
        .unwrap();
    expect_error(res, 401, "missing_api_key").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upstream_failure_mid_stream_is_response_failed() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let res = responses(
        &gw,
        &key,
        &json!({"model": CLAUDE, "input": "a b c d [[mock:stream_error]]", "stream": true}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let events = typed_events(sse_events(res).await);
    let last = events.last().unwrap();
    assert_eq!(last["type"], "response.failed", "{last}");
    assert_eq!(last["response"]["status"], "failed");
    assert!(last["response"]["error"]["message"].is_string());
    assert!(!types(&events).contains(&"response.completed"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upstream_error_before_the_answer_keeps_its_status() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let res = responses(
        &gw,
        &key,
        &json!({"model": GPT, "input": "x [[mock:status=503]]"}),
    )
    .await;
    assert_eq!(res.status(), 503);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["type"], "upstream_error");
}

#[tokio::test(flavor = "multi_thread")]
async fn fields_dropped_for_a_translated_model_are_counted_and_not_sent() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let res = responses(
        &gw,
        &key,
        &json!({"model": CLAUDE, "input": "hi", "store": false,
            "include": ["reasoning.encrypted_content"], "prompt_cache_key": "k"}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let reqs = gw.mock.requests().await;
    let sent = &reqs.last().unwrap()["body"];
    for field in ["store", "include", "prompt_cache_key"] {
        assert!(
            sent.get(field).is_none(),
            "{field} reached Anthropic: {sent}"
        );
    }
    let text = eventually(
        Duration::from_secs(5),
        "the dropped-field counter",
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
            t.contains("tollgate_translation_dropped_fields_total")
                .then_some(t)
        },
    )
    .await;
    for field in ["store", "include", "prompt_cache_key"] {
        assert!(
            text.lines().any(
                |l| l.starts_with("tollgate_translation_dropped_fields_total")
                    && l.contains(&format!("field=\"{field}\""))
                    && l.contains("target=\"chat\"")
            ),
            "{field} not counted:\n{text}"
        );
    }
}
