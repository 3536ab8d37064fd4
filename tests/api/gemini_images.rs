//! Image links sent to Gemini models: the gateway fetches them through the
//! outbound address policy, within `[outbound] image_fetch_max_bytes` and
//! `image_fetch_timeout_ms`, checks that the answer is an image, and sends the
//! bytes to Gemini as `inlineData`. Each refusal is a 400 naming the field.
//!
//! A tiny image server of the test's own (on 127.0.0.1:0) serves a PNG, an HTML
//! page, a large image and one that never answers.

use axum::Router;
use axum::http::header;
use axum::routing::get;
use base64::Engine;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::common::*;

const GEMINI: &str = "gemini-2.5-flash";
/// The first bytes of a PNG, and then some: what the upstream must receive.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR tollgate test image";

/// Serves the test images; its base URL.
async fn image_server() -> String {
    let app = Router::new()
        .route(
            "/cat.png",
            get(|| async { ([(header::CONTENT_TYPE, "image/png")], PNG) }),
        )
        .route(
            "/page.html",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                    "<html>",
                )
            }),
        )
        .route(
            "/big.png",
            get(|| async { ([(header::CONTENT_TYPE, "image/png")], vec![7u8; 4096]) }),
        )
        .route(
            "/never.png",
            get(|| async {
                std::future::pending::<()>().await;
                "unreachable"
            }),
        );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

fn with_image(url: &str) -> Value {
    json!({"model": GEMINI, "messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": url}}]}]})
}

/// A gateway that may fetch from the local image server (http, loopback), with
/// images up to 1 KiB and 300 ms per fetch.
async fn gateway_allowing_local_images() -> Gateway {
    Gateway::start_with(|c| {
        c.outbound.allow_http = true;
        c.outbound.allow_private = true;
        c.outbound.image_fetch_max_bytes = 1024;
        c.outbound.image_fetch_timeout_ms = 300;
    })
    .await
}

async fn gemini_calls(gw: &Gateway) -> usize {
    gw.mock
        .requests()
        .await
        .iter()
        .filter(|r| r["path"].as_str().unwrap_or("").starts_with("/v1beta/"))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_image_link_reaches_gemini_as_inline_data_with_its_bytes() {
    let images = image_server().await;
    let gw = gateway_allowing_local_images().await;
    let key = gw.key().await;
    let res = gw
        .chat(&key, with_image(&format!("{images}/cat.png")))
        .await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Mock reply to: What is this?"
    );
    let reqs = gw.mock.requests().await;
    let sent = reqs.last().unwrap();
    assert_eq!(
        sent["path"],
        format!("/v1beta/models/{GEMINI}:generateContent")
    );
    let parts = sent["body"]["contents"][0]["parts"].as_array().unwrap();
    let inline = parts
        .iter()
        .find_map(|p| p.get("inlineData"))
        .unwrap_or_else(|| panic!("no inlineData in {parts:?}"));
    assert_eq!(inline["mimeType"], "image/png");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(inline["data"].as_str().unwrap())
        .unwrap();
    assert_eq!(bytes, PNG, "the fetched bytes, unchanged");

    // The same link in Anthropic's format (a `url` image source) too.
    let res = gw
        .post(
            "/v1/messages",
            &key,
            &[("anthropic-version", "2023-06-01")],
            json!({"model": GEMINI, "max_tokens": 20, "messages": [{"role": "user", "content": [
                {"type": "image", "source": {"type": "url", "url": format!("{images}/cat.png")}},
                {"type": "text", "text": "And this?"}]}]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let reqs = gw.mock.requests().await;
    let parts = reqs.last().unwrap()["body"]["contents"][0]["parts"].clone();
    assert_eq!(
        parts[0]["inlineData"]["data"],
        base64::engine::general_purpose::STANDARD.encode(PNG),
        "{parts}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_private_address_is_refused_without_allow_private() {
    let images = image_server().await;
    // allow_http only: 127.0.0.1 is still out of bounds.
    let gw = Gateway::start_with(|c| c.outbound.allow_http = true).await;
    let key = gw.key().await;
    let res = gw
        .chat(&key, with_image(&format!("{images}/cat.png")))
        .await;
    let body = expect_error(res, 400, "invalid_field").await;
    assert_eq!(
        body["error"]["param"],
        "messages[0].content[1].image_url.url"
    );
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("127.0.0.1") && msg.contains("allow_private"),
        "{msg}"
    );
    // Plain http is refused by default, before any connection.
    let strict = Gateway::start().await;
    let key = strict.key().await;
    let res = strict
        .chat(&key, with_image("http://images.example/cat.png"))
        .await;
    let body = expect_error(res, 400, "invalid_field").await;
    assert!(
        body["error"]["message"].as_str().unwrap().contains("https"),
        "{body}"
    );
    assert_eq!(gemini_calls(&gw).await + gemini_calls(&strict).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn too_large_not_an_image_and_too_slow_are_each_a_clear_400() {
    let images = image_server().await;
    let gw = gateway_allowing_local_images().await;
    let key = gw.key().await;
    for (path, says) in [
        ("/big.png", "1024 bytes ([outbound] image_fetch_max_bytes)"),
        ("/page.html", "`text/html; charset=utf-8`, not an image"),
        (
            "/never.png",
            "within 0.3s ([outbound] image_fetch_timeout_ms)",
        ),
        ("/missing.png", "HTTP 404"),
    ] {
        let res = gw.chat(&key, with_image(&format!("{images}{path}"))).await;
        let body = expect_error(res, 400, "invalid_field").await;
        let msg = body["error"]["message"].as_str().unwrap();
        assert!(msg.contains(says), "{path}: {msg}");
        assert!(
            msg.starts_with("`messages[0].content[1].image_url.url`"),
            "{path}: {msg}"
        );
    }
    assert_eq!(gemini_calls(&gw).await, 0, "nothing reached Gemini");
}

#[tokio::test(flavor = "multi_thread")]
async fn other_providers_get_the_link_itself() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let mut body = with_image("https://images.example/cat.png");
    body["model"] = "gpt-4o-mini".into();
    let res = gw.chat(&key, body).await;
    assert_eq!(res.status(), 200, "OpenAI fetches links itself");
    let reqs = gw.mock.requests().await;
    assert_eq!(
        reqs.last().unwrap()["body"]["messages"][0]["content"][1]["image_url"]["url"],
        "https://images.example/cat.png"
    );
}
