//! Bad input gets the documented 4xx body, never a 500: malformed JSON, wrong types,
//! missing fields, oversized bodies, unknown routes and methods.

use serde_json::Value;

use crate::common::*;

async fn post_raw(gw: &Gateway, key: &str, body: &'static str) -> reqwest::Response {
    gw.client
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(key)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_and_non_object_json_is_invalid_json() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    for body in [
        "{\"model\": ",
        "not json",
        "",
        "[1,2,3]",
        "\"just a string\"",
        "{\"model\":\"a\",\"model\":\"b\",\"messages\":[{}]}",
    ] {
        let err = expect_error(post_raw(&gw, &key, body).await, 400, "invalid_json").await;
        assert_eq!(err["error"]["type"], "invalid_request_error", "{body}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_fields_are_named() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    for (body, field) in [
        (r#"{"messages":[{"role":"user","content":"hi"}]}"#, "model"),
        (r#"{"model":"gpt-4o-mini"}"#, "messages"),
        ("{}", "model"),
    ] {
        let err = expect_error(post_raw(&gw, &key, body).await, 400, "missing_field").await;
        assert_eq!(err["error"]["param"], field, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_types_are_invalid_field_with_param() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    for (body, field) in [
        (
            r#"{"model":42,"messages":[{"role":"user","content":"hi"}]}"#,
            "model",
        ),
        (
            r#"{"model":"","messages":[{"role":"user","content":"hi"}]}"#,
            "model",
        ),
        (r#"{"model":"gpt-4o-mini","messages":"hi"}"#, "messages"),
        (r#"{"model":"gpt-4o-mini","messages":[]}"#, "messages"),
        (
            r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"stream":"yes"}"#,
            "stream",
        ),
    ] {
        let err = expect_error(post_raw(&gw, &key, body).await, 400, "invalid_field").await;
        assert_eq!(err["error"]["param"], field, "{body}");
    }
    assert_eq!(
        gw.mock.stats().await["requests"],
        0,
        "bad input never reaches the upstream"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_body_is_413_body_too_large() {
    let gw = Gateway::start_with(|c| c.server.max_body_bytes = 4096).await;
    let key = gw.key().await;
    let big = "x".repeat(8192);
    let res = gw.chat(&key, chat_body("gpt-4o-mini", &big)).await;
    let err = expect_error(res, 413, "body_too_large").await;
    assert!(err["error"]["message"].as_str().unwrap().contains("4096"));
    // Just under the limit still works.
    let ok = gw
        .chat(&key, chat_body("gpt-4o-mini", &"y".repeat(3000)))
        .await;
    assert_eq!(ok.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_body_without_content_length_is_413_too() {
    let gw = Gateway::start_with(|c| c.server.max_body_bytes = 4096).await;
    let key = gw.key().await;
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..10).map(|_| Ok(vec![b' '; 1024])).collect();
    let res = gw
        .client
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(&key)
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    expect_error(res, 413, "body_too_large").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_is_checked_before_the_body() {
    let gw = Gateway::start().await;
    let res = post_raw(&gw, "tg_live_sk_nope", "{broken").await;
    expect_error(res, 401, "invalid_api_key").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_route_is_404_and_wrong_method_is_405() {
    let gw = Gateway::start().await;
    let res = gw
        .client
        .get(gw.url("/v1/nothing-here"))
        .send()
        .await
        .unwrap();
    let err = expect_error(res, 404, "not_found").await;
    assert_eq!(err["error"]["type"], "not_found_error");
    let res = gw
        .client
        .get(gw.url("/v1/chat/completions"))
        .send()
        .await
        .unwrap();
    expect_error(res, 405, "method_not_allowed").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn non_utf8_header_is_invalid_key_not_a_crash() {
    let gw = Gateway::start().await;
    let res = gw
        .client
        .post(gw.url("/v1/chat/completions"))
        .header(
            "x-api-key",
            reqwest::header::HeaderValue::from_bytes(b"tg\xff\xfe").unwrap(),
        )
        .json(&chat_body("gpt-4o-mini", "hi"))
        .send()
        .await
        .unwrap();
    let body: Value = expect_error(res, 401, "invalid_api_key").await;
    assert_eq!(body["error"]["type"], "authentication_error");
}
