//! `POST /v1/messages`: bodies, named event streams, errors and directives.

use std::error::Error;

use futures_util::StreamExt;
use serde_json::{Value, json};

use super::{TestResult, client, journal, spawn_mock, stats};

fn messages(base: &str, client: &reqwest::Client, body: &Value) -> reqwest::RequestBuilder {
    client
        .post(format!("{base}/v1/messages"))
        .header("x-api-key", "sk-ant-test")
        .header("anthropic-version", "2023-06-01")
        .json(body)
}

fn user_says(text: &str) -> Value {
    json!({"model": "claude-mock", "max_tokens": 256, "system": "be brief", "messages": [
        {"role": "user", "content": text},
    ]})
}

fn with_weather_tool(mut request: Value) -> Value {
    request["tools"] = json!([{"name": "get_weather", "description": "Weather by city",
        "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}}}]);
    request
}

/// `(event name, data)` of every event in an SSE body.
fn sse_events(body: &str) -> Result<Vec<(String, Value)>, Box<dyn Error>> {
    let mut events = Vec::new();
    for event in body.split("\n\n").filter(|e| !e.is_empty()) {
        let mut lines = event.lines();
        let name = lines.next().and_then(|l| l.strip_prefix("event: "));
        let data = lines.next().and_then(|l| l.strip_prefix("data: "));
        let (Some(name), Some(data), None) = (name, data, lines.next()) else {
            return Err(format!("not an `event:` + `data:` pair: {event:?}").into());
        };
        events.push((name.to_owned(), serde_json::from_str(data)?));
    }
    Ok(events)
}

/// Reads a streamed response: its events, and how many body reads it took.
async fn read_stream(
    response: reqwest::Response,
) -> Result<(Vec<(String, Value)>, usize), Box<dyn Error>> {
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut frames = response.bytes_stream();
    let (mut body, mut reads) = (Vec::new(), 0);
    while let Some(frame) = frames.next().await {
        reads += 1;
        body.extend_from_slice(&frame?);
    }
    Ok((sse_events(std::str::from_utf8(&body)?)?, reads))
}

fn names(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(name, _)| name.as_str()).collect()
}

#[tokio::test]
async fn non_stream_message_has_anthropic_shape_and_is_journaled() -> TestResult {
    let base = spawn_mock().await?;
    let client = client()?;
    let response = messages(&base, &client, &user_says("hello there"))
        .header("anthropic-beta", "tools-2024-04-04")
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["request-id"], "req_mock_1");
    let body: Value = response.json().await?;
    assert_eq!(
        body,
        json!({
            "id": "msg_mock_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-mock",
            "content": [{"type": "text", "text": "Mock reply to: hello there"}],
            "stop_reason": "end_turn",
            "stop_sequence": null,
            // input: system (2 + 3) + user (2 + 3); output: 5 words.
            "usage": {"input_tokens": 10, "output_tokens": 5,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
        })
    );

    let journal = journal(&base, &client).await?;
    assert_eq!(journal[0]["path"], "/v1/messages");
    let headers = &journal[0]["headers"];
    assert_eq!(headers["x-api-key"], "sk-ant-test");
    assert_eq!(headers["anthropic-version"], "2023-06-01");
    assert_eq!(headers["anthropic-beta"], "tools-2024-04-04");
    assert_eq!(journal[0]["body"]["max_tokens"], 256);
    assert_eq!(stats(&base, &client).await?["requests"], 1);
    Ok(())
}

#[tokio::test]
async fn text_stream_sends_one_event_per_frame_and_word() -> TestResult {
    let base = spawn_mock().await?;
    let client = client()?;
    let mut request = user_says("count these [[mock:chunk_delay_ms=5]]");
    request["stream"] = json!(true);
    let (events, reads) = read_stream(messages(&base, &client, &request).send().await?).await?;
    assert!(reads > 1, "events must not be buffered into one write");
    for (name, data) in &events {
        assert_eq!(data["type"], name.as_str());
    }
    let (_, start) = &events[0];
    assert_eq!(
        start["message"],
        json!({"id": "msg_mock_1", "type": "message", "role": "assistant",
               "model": "claude-mock", "content": [], "stop_reason": null, "stop_sequence": null,
               "usage": {"input_tokens": 11, "output_tokens": 1,
                         "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}})
    );
    let texts: Vec<&str> = events
        .iter()
        .filter_map(|(_, data)| data["delta"]["text"].as_str())
        .collect();
    assert_eq!(
        texts,
        [
            "Mock ",
            "reply ",
            "to: ",
            "count ",
            "these ",
            "[[mock:chunk_delay_ms=5]]"
        ]
    );
    let mut expected = vec!["message_start", "ping", "content_block_start"];
    expected.extend(["content_block_delta"; 6]);
    expected.extend(["content_block_stop", "message_delta", "message_stop"]);
    assert_eq!(names(&events), expected);
    assert!(events[2..10].iter().all(|(_, data)| data["index"] == 0));
    assert_eq!(
        events[10].1,
        json!({"type": "message_delta",
               "delta": {"stop_reason": "end_turn", "stop_sequence": null},
               "usage": {"output_tokens": 6}})
    );
    let stats = stats(&base, &client).await?;
    assert_eq!(
        (
            stats["streams_started"].as_u64(),
            stats["streams_completed"].as_u64()
        ),
        (Some(1), Some(1))
    );
    Ok(())
}

#[tokio::test]
async fn tool_call_directive_answers_with_tool_use_plain_and_streamed() -> TestResult {
    let base = spawn_mock().await?;
    let client = client()?;
    let mut request = with_weather_tool(user_says("weather? [[mock:tool_call]]"));
    let body: Value = messages(&base, &client, &request)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(
        body["content"],
        json!([{"type": "text", "text": "Let me check."},
               {"type": "tool_use", "id": "toolu_mock_1", "name": "get_weather",
                "input": {"location": "Paris"}}])
    );
    assert_eq!(body["stop_reason"], "tool_use");
    assert_eq!(body["usage"]["output_tokens"], 6);

    request["stream"] = json!(true);
    let (events, _) = read_stream(messages(&base, &client, &request).send().await?).await?;
    let mut expected = vec!["message_start", "ping", "content_block_start"];
    expected.extend(["content_block_delta"; 3]);
    expected.extend(["content_block_stop", "content_block_start"]);
    expected.extend(["content_block_delta"; 4]);
    expected.extend(["content_block_stop", "message_delta", "message_stop"]);
    assert_eq!(names(&events), expected);
    assert_eq!(
        events[7].1["content_block"],
        json!({"type": "tool_use", "id": "toolu_mock_1", "name": "get_weather", "input": {}})
    );
    let fragments: Vec<&str> = events[8..12]
        .iter()
        .map(|(_, data)| {
            assert_eq!(data["index"], 1);
            assert_eq!(data["delta"]["type"], "input_json_delta");
            data["delta"]["partial_json"]
                .as_str()
                .unwrap_or("<missing>")
        })
        .collect();
    assert!(fragments.len() >= 3);
    let input: Value = serde_json::from_str(&fragments.concat())?;
    assert_eq!(input, json!({"location": "Paris"}));
    assert_eq!(
        events[12].1,
        json!({"type": "content_block_stop", "index": 1})
    );
    assert_eq!(events[13].1["delta"]["stop_reason"], "tool_use");
    assert_eq!(events[13].1["usage"]["output_tokens"], 6);
    Ok(())
}

#[tokio::test]
async fn tool_result_turn_is_answered_with_the_result_text() -> TestResult {
    let base = spawn_mock().await?;
    let client = client()?;
    let request = with_weather_tool(json!({
        "model": "claude-mock", "max_tokens": 64,
        "messages": [
            {"role": "user", "content": "weather? [[mock:tool_call]]"},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Let me check."},
                {"type": "tool_use", "id": "toolu_mock_1", "name": "get_weather",
                 "input": {"location": "Paris"}},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_mock_1",
                 "content": [{"type": "text", "text": "sunny, 21 °C"}]},
            ]},
        ],
    }));
    let body: Value = messages(&base, &client, &request)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(
        body["content"],
        json!([{"type": "text", "text": "Mock reply to tool result: sunny, 21 °C"}])
    );
    assert_eq!(body["stop_reason"], "end_turn");
    Ok(())
}

#[tokio::test]
async fn rejects_bad_requests_with_anthropic_error_bodies() -> TestResult {
    let base = spawn_mock().await?;
    let client = client()?;
    let url = format!("{base}/v1/messages");

    let no_version = client
        .post(&url)
        .header("x-api-key", "sk-ant-test")
        .json(&user_says("hi"))
        .send()
        .await?;
    assert_eq!(no_version.status(), 400);
    assert_eq!(no_version.headers()["request-id"], "req_mock_1");
    assert_eq!(
        no_version.json::<Value>().await?,
        json!({"type": "error",
               "error": {"type": "invalid_request_error",
                         "message": "anthropic-version: header is required"},
               "request_id": "req_mock_1"})
    );

    let unauthenticated = client
        .post(&url)
        .header("anthropic-version", "2023-06-01")
        .json(&user_says("hi"));
    let no_key = unauthenticated
        .try_clone()
        .ok_or("cloneable")?
        .send()
        .await?;
    assert_eq!(no_key.status(), 401);
    let body: Value = no_key.json().await?;
    assert_eq!(body["error"]["type"], "authentication_error");
    assert_eq!(body["request_id"], "req_mock_2");
    // The real API and the official SDKs also use `Authorization: Bearer`.
    let bearer = unauthenticated.bearer_auth("sk-ant-test").send().await?;
    assert_eq!(bearer.status(), 200);

    for (field, bad) in [
        ("max_tokens", json!(0)),
        ("messages", json!([])),
        ("messages", json!([{"role": "system", "content": "x"}])),
        ("model", json!(null)),
    ] {
        let mut request = user_says("hi");
        request[field] = bad;
        let response = messages(&base, &client, &request).send().await?;
        assert_eq!(response.status(), 400, "{field}");
        let body: Value = response.json().await?;
        assert_eq!(body["type"], "error");
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with(field)),
            "{body}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn injected_status_uses_anthropic_error_types() -> TestResult {
    let base = spawn_mock().await?;
    let client = client()?;
    let overloaded = messages(&base, &client, &user_says("hi [[mock:status=529]]"))
        .send()
        .await?;
    assert_eq!(overloaded.status(), 529);
    assert_eq!(
        overloaded.json::<Value>().await?,
        json!({"type": "error",
               "error": {"type": "overloaded_error", "message": "mock upstream: injected status 529"},
               "request_id": "req_mock_1"})
    );

    let limited = messages(&base, &client, &user_says("[[mock:status=429]]"))
        .send()
        .await?;
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "1");
    assert_eq!(
        limited.json::<Value>().await?["error"]["type"],
        "rate_limit_error"
    );
    Ok(())
}

#[tokio::test]
async fn stream_error_ends_the_stream_with_an_error_event() -> TestResult {
    let base = spawn_mock().await?;
    let client = client()?;
    let mut request = user_says("a b c d [[mock:stream_error]]");
    request["stream"] = json!(true);
    let (events, _) = read_stream(messages(&base, &client, &request).send().await?).await?;
    assert_eq!(
        names(&events),
        [
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta",
            "error"
        ]
    );
    assert_eq!(events[3].1["delta"]["text"], "Mock ");
    assert_eq!(
        events[4].1,
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    );
    let stats = stats(&base, &client).await?;
    assert_eq!(
        (
            stats["streams_aborted"].as_u64(),
            stats["streams_completed"].as_u64()
        ),
        (Some(1), Some(0))
    );
    Ok(())
}

#[tokio::test]
async fn drop_after_cuts_the_stream_before_message_stop() -> TestResult {
    let base = spawn_mock().await?;
    let client = client()?;
    let mut request = user_says("[[mock:drop_after=3]] a b c");
    request["stream"] = json!(true);
    let response = messages(&base, &client, &request).send().await?;
    let mut frames = response.bytes_stream();
    let (mut body, mut broken) = (Vec::new(), false);
    while let Some(frame) = frames.next().await {
        match frame {
            Ok(bytes) => body.extend_from_slice(&bytes),
            Err(_) => broken = true,
        }
    }
    assert!(broken, "the client must see an incomplete stream");
    let events = sse_events(std::str::from_utf8(&body)?)?;
    assert_eq!(
        names(&events),
        ["message_start", "ping", "content_block_start"]
    );
    Ok(())
}
