//! Gemini v1beta: `generateContent`, both stream forms, keys, errors and
//! the Gemini-only directives. Embeddings are in `gemini_embed`.

use std::error::Error;

use serde_json::{Value, json};

use super::{TestResult, client, journal, read_frames, spawn_mock, stats};

pub(super) fn call(
    base: &str,
    client: &reqwest::Client,
    method: &str,
    body: &Value,
) -> reqwest::RequestBuilder {
    client
        .post(format!("{base}/v1beta/models/gemini-mock:{method}"))
        .header("x-goog-api-key", "AIza-test")
        .json(body)
}

fn user_says(text: &str) -> Value {
    json!({
        "systemInstruction": {"parts": [{"text": "be brief"}]},
        "contents": [{"role": "user", "parts": [{"text": text}]}],
    })
}

fn with_weather_tool(mut request: Value) -> Value {
    request["tools"] = json!([{"functionDeclarations": [{"name": "get_weather",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}}]}]);
    request
}

/// The JSON of every `data:` event in a `\r\n\r\n`-separated SSE body;
/// anything else (an `event:` line, `[DONE]`) fails the test.
fn sse_chunks(body: &str) -> Result<Vec<Value>, Box<dyn Error>> {
    let events = body
        .strip_suffix("\r\n\r\n")
        .ok_or("body must end with \\r\\n\\r\\n")?;
    events
        .split("\r\n\r\n")
        .map(|event| {
            let data = event
                .strip_prefix("data: ")
                .ok_or(format!("not data: {event:?}"))?;
            Ok(serde_json::from_str(data)?)
        })
        .collect()
}

fn chunk_text(chunks: &[Value]) -> String {
    chunks
        .iter()
        .filter_map(|c| c["candidates"][0]["content"]["parts"][0]["text"].as_str())
        .collect()
}

#[tokio::test]
async fn generate_content_has_gemini_shape_and_is_journaled() -> TestResult {
    let base = spawn_mock().await?;
    let client = client()?;
    let response = call(&base, &client, "generateContent", &user_says("hello there"))
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await?,
        json!({
            "candidates": [{
                "content": {"role": "model", "parts": [{"text": "Mock reply to: hello there"}]},
                "index": 0,
                "finishReason": "STOP",
            }],
            // prompt: system (2 + 3) + user (2 + 3); candidates: 5 words.
            "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15},
            "modelVersion": "gemini-mock",
            "responseId": "mock-1",
        })
    );
    let journal = journal(&base, &client).await?;
    assert_eq!(
        journal[0]["path"],
        "/v1beta/models/gemini-mock:generateContent"
    );
    assert_eq!(journal[0]["headers"]["x-goog-api-key"], "AIza-test");
    assert_eq!(journal[0]["body"]["contents"][0]["role"], "user");
    assert_eq!(stats(&base, &client).await?["requests"], 1);
    Ok(())
}

#[tokio::test]
async fn keys_are_checked_the_way_google_does() -> TestResult {
    let base = spawn_mock().await?;
    let client = client()?;
    let url = format!("{base}/v1beta/models/gemini-mock:generateContent");

    let anonymous = client.post(&url).json(&user_says("hi")).send().await?;
    assert_eq!(anonymous.status(), 403);
    let body: Value = anonymous.json().await?;
    assert_eq!(body["error"]["code"], 403);
    assert_eq!(body["error"]["status"], "PERMISSION_DENIED");

    let bad = client
        .post(format!("{url}?key=bad"))
        .json(&user_says("hi"))
        .send()
        .await?;
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await?;
    assert_eq!(body["error"]["status"], "INVALID_ARGUMENT");
    assert_eq!(
        body["error"]["message"],
        "API key not valid. Please pass a valid API key."
    );
    assert_eq!(body["error"]["details"][0]["reason"], "API_KEY_INVALID");

    let query_key = client
        .post(format!("{url}?key=AIza%2Fq"))
        .json(&user_says("hi"))
        .send()
        .await?;
    assert_eq!(query_key.status(), 200);
    let journal = journal(&base, &client).await?;
    assert_eq!(journal[2]["query"], "key=AIza%2Fq");
    assert_eq!(journal[2]["query_params"], json!({"key": "AIza/q"}));
    assert_eq!(stats(&base, &client).await?["requests"], 3);
    Ok(())
}

#[tokio::test]
async fn rejects_bad_contents_and_unknown_methods_in_gemini_shape() -> TestResult {
    let base = spawn_mock().await?;
    let client = client()?;
    let empty_parts = json!({"contents": [{"role": "user", "parts": []}]});
    let response = call(&base, &client, "generateContent", &empty_parts)
        .send()
        .await?;
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.json::<Value>().await?,
        json!({"error": {"code": 400, "status": "INVALID_ARGUMENT",
            "message": "* GenerateContentRequest.contents[0].parts: contents.parts must not be empty."}})
    );
    let string_response = json!({"contents": [{"role": "user", "parts": [
        {"functionResponse": {"name": "get_weather", "response": "sunny"}}]}]});
    let response = call(&base, &client, "generateContent", &string_response)
        .send()
        .await?;
    assert_eq!(response.status(), 400);

    let unknown = call(&base, &client, "frobnicate", &user_says("hi"))
        .send()
        .await?;
    assert_eq!(unknown.status(), 404);
    assert_eq!(
        unknown.json::<Value>().await?["error"]["status"],
        "NOT_FOUND"
    );
    Ok(())
}

#[tokio::test]
async fn sse_stream_has_no_done_and_ends_with_finish_and_usage() -> TestResult {
    let base = spawn_mock().await?;
    let client = client()?;
    let request = user_says("count these words [[mock:chunk_delay_ms=5]]");
    let whole: Value = call(&base, &client, "generateContent", &request)
        .send()
        .await?
        .json()
        .await?;

    let response = client
        .post(format!(
            "{base}/v1beta/models/gemini-mock:streamGenerateContent?alt=sse"
        ))
        .header("x-goog-api-key", "AIza-test")
        .json(&request)
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let (body, reads, broken) = read_frames(response).await;
    assert!(!broken && reads > 1, "{reads} reads");
    let body = String::from_utf8(body)?;
    assert!(
        !body.contains("[DONE]") && !body.contains("event:"),
        "{body}"
    );
    let chunks = sse_chunks(&body)?;
    assert_eq!(chunks.len(), 7, "one chunk per word");
    assert_eq!(
        chunk_text(&chunks),
        "Mock reply to: count these words [[mock:chunk_delay_ms=5]]"
    );
    let (last, rest) = chunks.split_last().ok_or("no chunks")?;
    assert!(
        rest.iter()
            .all(|c| c["candidates"][0].get("finishReason").is_none())
    );
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    assert_eq!(last["usageMetadata"], whole["usageMetadata"]);
    assert_eq!(last["usageMetadata"]["candidatesTokenCount"], 7);
    // Running totals, not increments: the first chunk counts one word.
    assert_eq!(chunks[0]["usageMetadata"]["candidatesTokenCount"], 1);
    assert!(chunks.iter().all(|c| c["responseId"] == "mock-2"));

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
async fn stream_without_alt_sse_is_one_json_array_of_the_same_chunks() -> TestResult {
    let base = spawn_mock().await?;
    let client = client()?;
    let url = format!("{base}/v1beta/models/gemini-mock:streamGenerateContent");
    let request = user_says("a b");
    let array = client
        .post(&url)
        .header("x-goog-api-key", "k")
        .json(&request)
        .send()
        .await?;
    assert_eq!(array.headers()["content-type"], "application/json");
    let array: Value = array.json().await?;
    let sse = client
        .post(format!("{url}?alt=sse"))
        .header("x-goog-api-key", "k")
        .json(&request)
        .send()
        .await?
        .text()
        .await?;
    let mut sse = sse_chunks(&sse)?;
    for chunk in &mut sse {
        chunk["responseId"] = json!("mock-1");
    }
    assert_eq!(array, Value::Array(sse));
    Ok(())
}

#[tokio::test]
async fn function_call_comes_whole_and_function_response_is_echoed() -> TestResult {
    let base = spawn_mock().await?;
    let client = client()?;
    let request = with_weather_tool(user_says("weather? [[mock:tool_call]]"));
    let body: Value = call(&base, &client, "generateContent", &request)
        .send()
        .await?
        .json()
        .await?;
    let call_part = json!({"functionCall": {"name": "get_weather", "args": {"location": "Paris"}}});
    assert_eq!(
        body["candidates"][0]["content"]["parts"],
        json!([call_part])
    );
    assert_eq!(body["candidates"][0]["finishReason"], "STOP");
    assert_eq!(body["usageMetadata"]["candidatesTokenCount"], 3);

    let stream = client
        .post(format!(
            "{base}/v1beta/models/gemini-mock:streamGenerateContent?alt=sse"
        ))
        .header("x-goog-api-key", "k")
        .json(&request)
        .send()
        .await?
        .text()
        .await?;
    let chunks = sse_chunks(&stream)?;
    assert_eq!(chunks.len(), 1);
    assert_eq!(
        chunks[0]["candidates"][0]["content"]["parts"],
        json!([call_part])
    );

    let round_trip = with_weather_tool(json!({"contents": [
        {"role": "user", "parts": [{"text": "weather? [[mock:tool_call]]"}]},
        {"role": "model", "parts": [call_part]},
        {"role": "user", "parts": [{"functionResponse": {"name": "get_weather",
            "response": {"result": "sunny, 21 °C"}}}]},
    ]}));
    let body: Value = call(&base, &client, "generateContent", &round_trip)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(
        body["candidates"][0]["content"]["parts"],
        json!([{"text": "Mock reply to function response: {\"result\":\"sunny, 21 °C\"}"}])
    );
    Ok(())
}

#[tokio::test]
async fn thoughts_and_blocked_directives() -> TestResult {
    let base = spawn_mock().await?;
    let client = client()?;
    let body: Value = call(
        &base,
        &client,
        "generateContent",
        &user_says("hi [[mock:thoughts=12]]"),
    )
    .send()
    .await?
    .json()
    .await?;
    let parts = &body["candidates"][0]["content"]["parts"];
    assert_eq!(parts[0], json!({"text": "thinking…", "thought": true}));
    assert_eq!(parts[1]["text"], "Mock reply to: hi [[mock:thoughts=12]]");
    // prompt (2 + 3) + (2 + 3); candidates 5; thoughts apart, in the total.
    assert_eq!(
        body["usageMetadata"],
        json!({"promptTokenCount": 10, "candidatesTokenCount": 5,
               "thoughtsTokenCount": 12, "totalTokenCount": 27})
    );

    let blocked = call(
        &base,
        &client,
        "generateContent",
        &user_says("[[mock:blocked]]"),
    )
    .send()
    .await?;
    assert_eq!(blocked.status(), 200);
    assert_eq!(
        blocked.json::<Value>().await?,
        json!({"promptFeedback": {"blockReason": "SAFETY"},
               "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9},
               "modelVersion": "gemini-mock", "responseId": "mock-2"})
    );
    Ok(())
}

#[tokio::test]
async fn injected_status_and_drop_after() -> TestResult {
    let base = spawn_mock().await?;
    let client = client()?;
    let limited = call(
        &base,
        &client,
        "generateContent",
        &user_says("[[mock:status=429]]"),
    )
    .send()
    .await?;
    assert_eq!(limited.status(), 429);
    assert_eq!(
        limited.json::<Value>().await?,
        json!({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED",
            "message": "mock upstream: injected status 429",
            "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"}]}})
    );
    let unavailable = call(
        &base,
        &client,
        "embedContent",
        &json!({"content": {"parts": [{"text": "[[mock:status=503]]"}]}}),
    )
    .send()
    .await?;
    assert_eq!(
        unavailable.json::<Value>().await?["error"]["status"],
        "UNAVAILABLE"
    );

    let response = client
        .post(format!(
            "{base}/v1beta/models/gemini-mock:streamGenerateContent?alt=sse"
        ))
        .header("x-goog-api-key", "k")
        .json(&user_says("[[mock:drop_after=2]] a b c"))
        .send()
        .await?;
    let (body, _, broken) = read_frames(response).await;
    assert!(broken, "the client must see an incomplete stream");
    assert_eq!(sse_chunks(std::str::from_utf8(&body)?)?.len(), 2);
    assert_eq!(stats(&base, &client).await?["streams_aborted"], 1);
    Ok(())
}
