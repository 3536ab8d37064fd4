//! Azure OpenAI deployment routes: `api-key`, `api-version`, and answers
//! like OpenAI's with the deployment as the model.

use serde_json::{Value, json};

use super::{TestResult, client, journal, read_frames, spawn_mock};

const VERSION: &str = "2024-10-21";

fn deployment_url(base: &str, endpoint: &str, query: &str) -> String {
    format!("{base}/openai/deployments/my-gpt/{endpoint}{query}")
}

fn chat_body(text: &str) -> Value {
    json!({"messages": [{"role": "user", "content": text}]})
}

#[tokio::test]
async fn chat_answers_with_the_deployment_and_journals_key_and_version() -> TestResult {
    let base = spawn_mock().await?;
    let client = client()?;
    let url = deployment_url(
        &base,
        "chat/completions",
        &format!("?api-version={VERSION}"),
    );
    let response = client
        .post(&url)
        .header("api-key", "azure-key")
        .json(&chat_body("hello there"))
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-request-id"));
    let body: Value = response.json().await?;
    assert_eq!(body["model"], "my-gpt");
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Mock reply to: hello there"
    );

    let mut streamed = chat_body("a b");
    streamed["stream"] = json!(true);
    let response = client
        .post(&url)
        .header("api-key", "azure-key")
        .json(&streamed)
        .send()
        .await?;
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let (body, _, broken) = read_frames(response).await;
    assert!(!broken);
    assert!(std::str::from_utf8(&body)?.ends_with("data: [DONE]\n\n"));

    let journal = journal(&base, &client).await?;
    assert_eq!(
        journal[0]["path"],
        "/openai/deployments/my-gpt/chat/completions"
    );
    assert_eq!(journal[0]["headers"]["api-key"], "azure-key");
    assert_eq!(journal[0]["query"], format!("api-version={VERSION}"));
    assert_eq!(journal[0]["query_params"]["api-version"], VERSION);
    Ok(())
}

#[tokio::test]
async fn front_door_checks_key_header_and_api_version() -> TestResult {
    let base = spawn_mock().await?;
    let client = client()?;
    let with_version = deployment_url(
        &base,
        "chat/completions",
        &format!("?api-version={VERSION}"),
    );

    // An OpenAI-style Bearer header is not an Azure key.
    let bearer = client
        .post(&with_version)
        .bearer_auth("azure-key")
        .json(&chat_body("hi"))
        .send()
        .await?;
    assert_eq!(bearer.status(), 401);
    let body: Value = bearer.json().await?;
    assert_eq!(body["error"]["code"], "401");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Access denied"))
    );

    let no_version = client
        .post(deployment_url(&base, "chat/completions", ""))
        .header("api-key", "azure-key")
        .json(&chat_body("hi"))
        .send()
        .await?;
    assert_eq!(no_version.status(), 404);
    assert_eq!(
        no_version.json::<Value>().await?,
        json!({"error": {"code": "404", "message": "Resource not found"}})
    );

    let bad_version = client
        .post(deployment_url(&base, "embeddings", "?api-version=latest"))
        .header("api-key", "azure-key")
        .json(&json!({"input": "x"}))
        .send()
        .await?;
    assert_eq!(bad_version.status(), 400);
    assert_eq!(
        bad_version.json::<Value>().await?["error"]["code"],
        "BadRequest"
    );
    Ok(())
}

#[tokio::test]
async fn embeddings_match_openai_and_name_the_deployment() -> TestResult {
    let base = spawn_mock().await?;
    let client = client()?;
    let request = json!({"input": "hello", "dimensions": 5});
    let azure: Value = client
        .post(deployment_url(
            &base,
            "embeddings",
            "?api-version=2025-04-01-preview",
        ))
        .header("api-key", "azure-key")
        .json(&request)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(azure["model"], "my-gpt");
    let mut openai_request = request.clone();
    openai_request["model"] = json!("text-embedding-mock");
    let openai: Value = client
        .post(format!("{base}/v1/embeddings"))
        .bearer_auth("sk-test")
        .json(&openai_request)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(azure["data"], openai["data"]);
    assert_eq!(azure["usage"], openai["usage"]);
    Ok(())
}
