//! Gemini v1beta `:embedContent` and `:batchEmbedContents`.

use serde_json::{Value, json};

use super::gemini::call;
use super::{TestResult, client, spawn_mock};

#[tokio::test]
async fn embeddings_are_deterministic_sized_and_batched_in_order() -> TestResult {
    let base = spawn_mock().await?;
    let client = client()?;
    let single = |text: &str, dims: Option<u64>| {
        let mut body = json!({"content": {"parts": [{"text": text}]}});
        if let Some(dims) = dims {
            body["outputDimensionality"] = json!(dims);
        }
        body
    };
    let hello: Value = call(&base, &client, "embedContent", &single("hello", None))
        .send()
        .await?
        .json()
        .await?;
    let values = hello["embedding"]["values"].as_array().ok_or("values")?;
    assert_eq!(values.len(), 8);
    assert!(
        values
            .iter()
            .all(|v| v.as_f64().is_some_and(|v| (-1.0..=1.0).contains(&v)))
    );
    let short: Value = call(&base, &client, "embedContent", &single("hello", Some(3)))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(short["embedding"]["values"], json!(values[..3]));

    let mut first = single("hello", None);
    first["model"] = json!("models/gemini-mock");
    let mut second = single("world", Some(4));
    second["model"] = json!("models/gemini-mock");
    let batch: Value = call(
        &base,
        &client,
        "batchEmbedContents",
        &json!({"requests": [first, second]}),
    )
    .send()
    .await?
    .json()
    .await?;
    assert_eq!(
        batch["embeddings"][0]["values"],
        hello["embedding"]["values"]
    );
    assert_eq!(
        batch["embeddings"][1]["values"].as_array().map(Vec::len),
        Some(4)
    );

    second["model"] = json!("models/other");
    let mismatch = call(
        &base,
        &client,
        "batchEmbedContents",
        &json!({"requests": [second]}),
    )
    .send()
    .await?;
    assert_eq!(mismatch.status(), 400);
    assert_eq!(
        mismatch.json::<Value>().await?["error"]["status"],
        "INVALID_ARGUMENT"
    );
    Ok(())
}

#[tokio::test]
async fn embed_routes_check_the_key_too() -> TestResult {
    let base = spawn_mock().await?;
    let client = client()?;
    let body = json!({"content": {"parts": [{"text": "hello"}]}});
    let url = format!("{base}/v1beta/models/gemini-mock:embedContent");
    let anonymous = client.post(&url).json(&body).send().await?;
    assert_eq!(anonymous.status(), 403);
    let bad = client
        .post(format!("{url}?key=bad"))
        .json(&body)
        .send()
        .await?;
    assert_eq!(bad.status(), 400);
    assert_eq!(
        bad.json::<Value>().await?["error"]["details"][0]["reason"],
        "API_KEY_INVALID"
    );
    let empty = call(
        &base,
        &client,
        "embedContent",
        &json!({"content": {"parts": []}}),
    )
    .send()
    .await?;
    assert_eq!(empty.status(), 400);
    Ok(())
}
