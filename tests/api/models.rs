//! `GET /v1/models/{id}` (OpenAI's model object; ids with `/`; 404 `not_found`) and
//! the Anthropic list and model shapes when the caller sends `anthropic-version`.

use serde_json::Value;

use crate::common::*;

async fn get(gw: &Gateway, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = gw.client.get(gw.url(path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_model_is_retrieved_in_openai_shape_prefixed_ids_too() {
    let gw = Gateway::start().await;
    for id in [
        "gpt-4o-mini",
        "openai/gpt-4o-mini",
        "claude-haiku-4-5",
        "tollgate-chat-fast",
    ] {
        let res = get(&gw, &format!("/v1/models/{id}"), &[]).await;
        assert_eq!(res.status(), 200, "{id}");
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["id"], id);
        assert_eq!(v["object"], "model");
    }
    let v: Value = get(&gw, "/v1/models/claude-haiku-4-5", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["owned_by"], "anthropic");
    let res = get(&gw, "/v1/models/no-such-model", &[]).await;
    let v = expect_error(res, 404, "not_found").await;
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no-such-model")
    );
    let res = get(&gw, "/v1/models/anthropic/gpt-4o-mini", &[]).await;
    expect_error(res, 404, "not_found").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn anthropic_callers_get_anthropic_s_list_and_model_shapes() {
    let gw = Gateway::start().await;
    let av = [("anthropic-version", "2023-06-01")];
    let v: Value = get(&gw, "/v1/models", &av).await.json().await.unwrap();
    let data = v["data"].as_array().unwrap();
    assert!(data.iter().all(|m| m["type"] == "model"
        && m["display_name"].is_string()
        && m["created_at"].is_string()));
    assert!(data.iter().any(|m| m["id"] == "claude-haiku-4-5"));
    assert_eq!(v["has_more"], false);
    assert_eq!(v["first_id"], data[0]["id"]);
    assert_eq!(v["last_id"], data[data.len() - 1]["id"]);
    assert!(v.get("object").is_none());
    let v: Value = get(&gw, "/v1/models/claude-haiku-4-5", &av)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["type"], "model");
    assert_eq!(v["id"], "claude-haiku-4-5");
    // Without the header: OpenAI's list.
    let v: Value = get(&gw, "/v1/models", &[]).await.json().await.unwrap();
    assert_eq!(v["object"], "list");
    // With a key: filtered, still Anthropic's shape.
    let key = gw
        .create_key(serde_json::json!({"allowed_models": ["claude-haiku-4-5"]}))
        .await;
    let res = gw
        .client
        .get(gw.url("/v1/models"))
        .header("x-api-key", &key)
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap();
    let v: Value = res.json().await.unwrap();
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"claude-haiku-4-5"), "{ids:?}");
    assert!(!ids.contains(&"gpt-4o-mini"), "{ids:?}");
}
