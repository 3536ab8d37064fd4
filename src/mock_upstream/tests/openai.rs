//! `POST /v1/chat/completions`, the control routes and the 404 fallback.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};

use super::{TestResult, client, journal, spawn_mock, stats};

fn chat(base: &str, client: &reqwest::Client, body: &Value) -> reqwest::RequestBuilder {
    client
        .post(format!("{base}/v1/chat/completions"))
        .bearer_auth("sk-test")
        .json(body)
}

fn user_says(text: &str) -> Value {
    json!({"model": "gpt-mock", "messages": [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": text},
    ]})
}

/// The JSON payloads of an SSE body, `[DONE]` kept as a string.
fn sse_data(body: &str) -> Vec<Value> {
    body.split("\n\n")
        .filter_map(|event| event.strip_prefix("data: "))
        .map(|data| serde_json::from_str(data).unwrap_or_else(|_| Value::String(data.to_owned())))
        .collect()
}

#[tokio::test]
async fn non_stream_completion_has_openai_shape_and_is_journaled() -> TestResult {
    let base = spawn_mock().await?;
    let client = client()?;
    let response = chat(&base, &client, &user_says("hello there"))
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-request-id"));
    let body: Value = response.json().await?;
    assert_eq!(
        body,
        json!({
            "id": "chatcmpl-mock-1",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": "gpt-mock",
            "system_fingerprint": "fp_mock",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": "Mock reply to: hello there", "refusal": null},
                "logprobs": null,
                "finish_reason": "stop",
            }],
            // prompt: (2 + 3) + (2 + 3); completion: 5 words.
            "usage": {
                "prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15,
                "prompt_tokens_details": {"cached_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 0},
            },
        })
    );

    let journal = journal(&base, &client).await?;
    assert_eq!(journal[0]["path"], "/v1/chat/completions");
    assert_eq!(journal[0]["headers"]["authorization"], "Bearer sk-test");
    assert_eq!(journal[0]["body"]["model"], "gpt-mock");
    Ok(())
}

#[tokio::test]
async fn rejects_missing_key_bad_json_and_unknown_paths_in_openai_shape() -> TestResult {
    let base = spawn_mock().await?;
    let client = client()?;
    let url = format!("{base}/v1/chat/completions");

    let no_key = client.post(&url).json(&user_says("hi")).send().await?;
    assert_eq!(no_key.status(), 401);
    let body: Value = no_key.json().await?;
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(body["error"]["code"], "invalid_api_key");
    assert_eq!(body["error"]["param"], Value::Null);

    let bad_json = client
        .post(&url)
        .bearer_auth("k")
        .body("{not json")
        .send()
        .await?;
    assert_eq!(bad_json.status(), 400);
    let no_messages = chat(&base, &client, &json!({"model": "m"})).send().await?;
    assert_eq!(no_messages.status(), 400);
    assert_eq!(
        no_messages.json::<Value>().await?["error"]["param"],
        "messages"
    );

    let unknown = client
        .get(format!("{base}/v1/v1/chat/completions"))
        .send()
        .await?;
    assert_eq!(unknown.status(), 404);
    assert_eq!(
        unknown.json::<Value>().await?["error"]["type"],
        "invalid_request_error"
    );
    Ok(())
}

#[tokio::test]
async fn stream_sends_separate_events_and_usage_only_when_asked() -> TestResult {
    let base = spawn_mock().await?;
    let client = client()?;
    for include_usage in [false, true] {
        let mut request = user_says("count these words [[mock:chunk_delay_ms=5]]");
        request["stream"] = json!(true);
        request["stream_options"] = json!({"include_usage": include_usage});
        let response = chat(&base, &client, &request).send().await?;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");

        let mut frames = response.bytes_stream();
        let mut reads = 0;
        let mut body = Vec::new();
        while let Some(frame) = frames.next().await {
            reads += 1;
            body.extend_from_slice(&frame?);
        }
        assert!(reads > 1, "events must not be buffered into one write");
        let events = sse_data(std::str::from_utf8(&body)?);

        assert_eq!(events.last(), Some(&json!("[DONE]")));
        assert_eq!(
            events[0]["choices"][0]["delta"],
            json!({"role": "assistant", "content": ""})
        );
        let text: String = events
            .iter()
            .filter_map(|e| e["choices"][0]["delta"]["content"].as_str())
            .collect();
        assert_eq!(
            text,
            "Mock reply to: count these words [[mock:chunk_delay_ms=5]]"
        );
        let usage_chunks: Vec<&Value> = events
            .iter()
            .filter(|e| e["choices"] == json!([]))
            .collect();
        if include_usage {
            assert_eq!(usage_chunks.len(), 1);
            assert_eq!(usage_chunks[0]["usage"]["completion_tokens"], 7);
            let closing = &events[events.len() - 3];
            assert_eq!(closing["choices"][0]["finish_reason"], "stop");
            assert_eq!(closing["usage"], Value::Null);
        } else {
            assert!(usage_chunks.is_empty());
            assert!(events.iter().all(|e| e.get("usage").is_none()));
        }
    }
    let stats = stats(&base, &client).await?;
    assert_eq!(
        (
            stats["streams_started"].as_u64(),
            stats["streams_completed"].as_u64()
        ),
        (Some(2), Some(2))
    );
    Ok(())
}

#[tokio::test]
async fn injected_status_returns_the_error_body() -> TestResult {
    let base = spawn_mock().await?;
    let client = client()?;
    let response = chat(&base, &client, &user_says("hi [[mock:status=503]]"))
        .send()
        .await?;
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await?;
    assert_eq!(
        body,
        json!({"error": {
            "message": "mock upstream: injected status 503",
            "type": "server_error",
            "param": null,
            "code": null,
        }})
    );

    let limited = chat(&base, &client, &user_says("[[mock:status=429]]"))
        .send()
        .await?;
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "1");
    Ok(())
}

#[tokio::test]
async fn drop_after_cuts_the_connection_without_done() -> TestResult {
    let base = spawn_mock().await?;
    let client = client()?;
    let mut request = user_says("[[mock:drop_after=2]] a b c d");
    request["stream"] = json!(true);
    let response = chat(&base, &client, &request).send().await?;
    assert_eq!(response.status(), 200);
    let mut frames = response.bytes_stream();
    let mut body = Vec::new();
    let mut broken = false;
    while let Some(frame) = frames.next().await {
        match frame {
            Ok(bytes) => body.extend_from_slice(&bytes),
            Err(_) => broken = true,
        }
    }
    assert!(
        broken,
        "the client must see an incomplete stream, not a clean end"
    );
    // The two events before the cut do arrive: role chunk, then "Mock ".
    let events = sse_data(std::str::from_utf8(&body)?);
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[1]["choices"][0]["delta"]["content"], "Mock ");

    let plain = chat(&base, &client, &user_says("[[mock:drop_after=0]]"))
        .send()
        .await;
    let plain = match plain {
        Ok(response) => response.bytes().await.map(drop),
        Err(error) => Err(error),
    };
    assert!(
        plain.is_err(),
        "non-streamed drop must not complete: {plain:?}"
    );

    let stats = stats(&base, &client).await?;
    assert_eq!(stats["streams_aborted"], 1);
    assert_eq!(stats["streams_cancelled"], 0);
    Ok(())
}

#[tokio::test]
async fn tool_call_directive_calls_the_first_tool() -> TestResult {
    let base = spawn_mock().await?;
    let client = client()?;
    let mut request = user_says("weather? [[mock:tool_call]]");
    request["tools"] =
        json!([{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]);
    let body: Value = chat(&base, &client, &request).send().await?.json().await?;
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(body["choices"][0]["message"]["content"], Value::Null);
    assert_eq!(
        body["choices"][0]["message"]["tool_calls"],
        json!([{"id": "call_mock_1", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"location\":\"Paris\"}"}}])
    );

    request["stream"] = json!(true);
    let text = chat(&base, &client, &request).send().await?.text().await?;
    let events = sse_data(&text);
    let opening = &events[0]["choices"][0]["delta"]["tool_calls"][0];
    assert_eq!(opening["id"], "call_mock_1");
    assert_eq!(
        opening["function"],
        json!({"name": "get_weather", "arguments": ""})
    );
    let fragments: Vec<&Value> = events[1..]
        .iter()
        .map(|e| &e["choices"][0]["delta"]["tool_calls"][0])
        .filter(|call| !call.is_null())
        .collect();
    assert!(fragments.len() >= 2);
    assert!(fragments.iter().all(|call| call["index"] == 0));
    let arguments: String = fragments
        .iter()
        .filter_map(|call| call["function"]["arguments"].as_str())
        .collect();
    assert_eq!(arguments, "{\"location\":\"Paris\"}");
    assert_eq!(
        events[events.len() - 2]["choices"][0]["finish_reason"],
        "tool_calls"
    );
    Ok(())
}

#[tokio::test]
async fn client_leaving_mid_stream_counts_as_cancelled() -> TestResult {
    let base = spawn_mock().await?;
    let client = client()?;
    // ~10 s of stream at 10 ms per word: far longer than the deadline below.
    let mut request = user_says("[[mock:words=1000]] [[mock:chunk_delay_ms=10]]");
    request["stream"] = json!(true);
    let response = chat(&base, &client, &request).send().await?;
    let mut frames = response.bytes_stream();
    assert!(matches!(frames.next().await, Some(Ok(_))));
    drop(frames);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let stats = stats(&base, &client).await?;
        if stats["streams_cancelled"] == 1 {
            assert_eq!(stats["streams_started"], 1);
            assert_eq!(stats["streams_completed"], 0);
            return Ok(());
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no cancel seen: {stats}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
