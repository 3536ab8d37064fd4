//! OpenAI's other endpoints: `/v1/embeddings`, `/v1/completions`,
//! `/v1/images/generations`.

use serde_json::{Value, json};

use super::{TestResult, base64_decode, client, journal, read_frames, spawn_mock, stats};

fn post(base: &str, client: &reqwest::Client, path: &str, body: &Value) -> reqwest::RequestBuilder {
    client
        .post(format!("{base}{path}"))
        .bearer_auth("sk-test")
        .json(body)
}

/// The floats of a JSON `embedding` array, as `f32` like the SDK keeps them.
fn floats(embedding: &Value) -> Vec<f32> {
    embedding
        .as_array()
        .map(|values| {
            values
                .iter()
                .filter_map(Value::as_f64)
                .map(|v| v as f32)
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn embeddings_have_openai_shape_and_match_gemini() -> TestResult {
    let base = spawn_mock().await?;
    let client = client()?;
    let request = json!({"model": "text-embedding-mock", "input": ["hello", "two words"]});
    let response = post(&base, &client, "/v1/embeddings", &request)
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-request-id"], "req_mock_1");
    let body: Value = response.json().await?;
    assert_eq!(body["object"], "list");
    assert_eq!(body["model"], "text-embedding-mock");
    assert_eq!(
        body["usage"],
        json!({"prompt_tokens": 3, "total_tokens": 3})
    );
    assert_eq!(body["data"][1]["object"], "embedding");
    assert_eq!(body["data"][1]["index"], 1);
    assert_eq!(floats(&body["data"][0]["embedding"]).len(), 8);

    // The same text embeds the same way on Gemini's route.
    let gemini: Value = client
        .post(format!("{base}/v1beta/models/gemini-mock:embedContent"))
        .header("x-goog-api-key", "k")
        .json(&json!({"content": {"parts": [{"text": "hello"}]}}))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(
        floats(&gemini["embedding"]["values"]),
        floats(&body["data"][0]["embedding"])
    );

    let ids = post(
        &base,
        &client,
        "/v1/embeddings",
        &json!({"model": "m", "input": [[1, 2, 3]], "dimensions": 3}),
    )
    .send()
    .await?;
    let ids: Value = ids.json().await?;
    assert_eq!(floats(&ids["data"][0]["embedding"]).len(), 3);
    assert_eq!(ids["usage"]["prompt_tokens"], 3);
    Ok(())
}

#[tokio::test]
async fn base64_embeddings_decode_to_the_float_values() -> TestResult {
    let base = spawn_mock().await?;
    let client = client()?;
    let mut request = json!({"model": "m", "input": "hello world", "dimensions": 16});
    let float: Value = post(&base, &client, "/v1/embeddings", &request)
        .send()
        .await?
        .json()
        .await?;
    request["encoding_format"] = json!("base64");
    let encoded: Value = post(&base, &client, "/v1/embeddings", &request)
        .send()
        .await?
        .json()
        .await?;
    let text = encoded["data"][0]["embedding"]
        .as_str()
        .ok_or("a base64 string")?;
    let decoded: Vec<f32> = base64_decode(text)?
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    assert_eq!(decoded, floats(&float["data"][0]["embedding"]));
    assert_eq!(decoded.len(), 16);
    Ok(())
}

#[tokio::test]
async fn embeddings_reject_bad_input_and_honour_directives() -> TestResult {
    let base = spawn_mock().await?;
    let client = client()?;
    let empty = post(
        &base,
        &client,
        "/v1/embeddings",
        &json!({"model": "m", "input": []}),
    )
    .send()
    .await?;
    assert_eq!(empty.status(), 400);
    let body: Value = empty.json().await?;
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(body["error"]["param"], "input");

    let no_key = client
        .post(format!("{base}/v1/embeddings"))
        .json(&json!({"model": "m", "input": "x"}))
        .send()
        .await?;
    assert_eq!(no_key.status(), 401);

    let injected = post(
        &base,
        &client,
        "/v1/embeddings",
        &json!({"model": "m", "input": ["fine", "[[mock:status=503]]"]}),
    )
    .send()
    .await?;
    assert_eq!(injected.status(), 503);
    assert_eq!(
        injected.json::<Value>().await?["error"]["type"],
        "server_error"
    );
    assert_eq!(stats(&base, &client).await?["requests"], 3);
    Ok(())
}

#[tokio::test]
async fn completions_plain_cut_and_streamed() -> TestResult {
    let base = spawn_mock().await?;
    let client = client()?;
    let body: Value = post(
        &base,
        &client,
        "/v1/completions",
        &json!({"model": "gpt-mock-instruct", "prompt": "say hi"}),
    )
    .send()
    .await?
    .json()
    .await?;
    assert_eq!(
        body,
        json!({
            "id": "cmpl-mock-1",
            "object": "text_completion",
            "created": 1_700_000_000,
            "model": "gpt-mock-instruct",
            "choices": [{"text": "Mock reply to: say hi", "index": 0, "logprobs": null,
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 2, "completion_tokens": 5, "total_tokens": 7},
        })
    );

    let cut: Value = post(
        &base,
        &client,
        "/v1/completions",
        &json!({"model": "m", "prompt": ["say hi", "ignored"], "max_tokens": 2}),
    )
    .send()
    .await?
    .json()
    .await?;
    assert_eq!(cut["choices"][0]["text"], "Mock reply ");
    assert_eq!(cut["choices"][0]["finish_reason"], "length");
    assert_eq!(cut["usage"]["completion_tokens"], 2);

    let streamed = post(
        &base,
        &client,
        "/v1/completions",
        &json!({
            "model": "m", "prompt": "a b [[mock:chunk_delay_ms=2]]", "stream": true,
            "stream_options": {"include_usage": true},
        }),
    )
    .send()
    .await?;
    assert_eq!(streamed.headers()["content-type"], "text/event-stream");
    let (body, reads, broken) = read_frames(streamed).await;
    assert!(!broken && reads > 1);
    let events: Vec<&str> = std::str::from_utf8(&body)?
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .collect();
    assert_eq!(events.last(), Some(&"[DONE]"));
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e))
        .collect::<Result<_, _>>()?;
    assert!(chunks.iter().all(|c| c["object"] == "text_completion"));
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["text"].as_str())
        .collect();
    assert_eq!(text, "Mock reply to: a b [[mock:chunk_delay_ms=2]]");
    let closing = &chunks[chunks.len() - 2];
    assert_eq!(closing["choices"][0]["finish_reason"], "stop");
    assert_eq!(chunks[chunks.len() - 1]["choices"], json!([]));
    assert_eq!(chunks[chunks.len() - 1]["usage"]["completion_tokens"], 6);
    Ok(())
}

#[tokio::test]
async fn completions_require_a_prompt() -> TestResult {
    let base = spawn_mock().await?;
    let client = client()?;
    let response = post(&base, &client, "/v1/completions", &json!({"model": "m"}))
        .send()
        .await?;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await?;
    assert_eq!(body["error"]["param"], "prompt");
    assert_eq!(body["error"]["code"], "missing_required_parameter");
    Ok(())
}

#[tokio::test]
async fn images_as_urls_and_as_a_decodable_png() -> TestResult {
    let base = spawn_mock().await?;
    let client = client()?;
    let urls: Value = post(
        &base,
        &client,
        "/v1/images/generations",
        &json!({"prompt": "a cat", "n": 2, "size": "256x256"}),
    )
    .send()
    .await?
    .json()
    .await?;
    assert_eq!(
        urls,
        json!({"created": 1_700_000_000, "data": [
            {"url": "https://mock.invalid/img/1-0.png"},
            {"url": "https://mock.invalid/img/1-1.png"},
        ]})
    );

    let b64: Value = post(
        &base,
        &client,
        "/v1/images/generations",
        &json!({"prompt": "a cat", "response_format": "b64_json"}),
    )
    .send()
    .await?
    .json()
    .await?;
    let image = &b64["data"][0];
    assert_eq!(image["revised_prompt"], "a cat");
    let png = base64_decode(image["b64_json"].as_str().ok_or("b64_json")?)?;
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&png[png.len() - 8..png.len() - 4], b"IEND");

    let bad = post(
        &base,
        &client,
        "/v1/images/generations",
        &json!({"prompt": "a cat", "response_format": "jpeg"}),
    )
    .send()
    .await?;
    assert_eq!(bad.status(), 400);
    assert_eq!(
        bad.json::<Value>().await?["error"]["param"],
        "response_format"
    );
    let journal = journal(&base, &client).await?;
    assert_eq!(journal[0]["path"], "/v1/images/generations");
    assert_eq!(journal.as_array().map(Vec::len), Some(3));
    Ok(())
}
