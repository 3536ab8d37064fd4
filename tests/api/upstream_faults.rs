//! Upstream failures map to documented statuses and bodies: passed-through 4xx/5xx,
//! timeouts, unreachable hosts, refused gateway credentials.

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn upstream_5xx_passes_through_as_upstream_error() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    for status in [500u16, 503] {
        let res = gw
            .chat(
                &key,
                chat_body("gpt-4o-mini", &format!("[[mock:status={status}]]")),
            )
            .await;
        assert!(
            res.headers().get("x-should-retry").is_none(),
            "retry may help a 5xx"
        );
        let err = expect_error(res, status, "upstream_error").await;
        assert_eq!(err["error"]["type"], "upstream_error");
        assert!(
            err["error"]["message"]
                .as_str()
                .unwrap()
                .contains("injected status"),
            "{err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_4xx_keeps_status_code_and_retry_after() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let res = gw
        .chat(&key, chat_body("gpt-4o-mini", "[[mock:status=429]]"))
        .await;
    assert_eq!(res.headers()["retry-after"], "1");
    let err = expect_error(res, 429, "rate_limit_exceeded").await;
    assert_eq!(err["error"]["type"], "rate_limit_error");
    let res = gw
        .chat(&key, chat_body("gpt-4o-mini", "[[mock:status=400]]"))
        .await;
    // No `code` in the upstream body: its `type` is passed on as the code.
    let err = expect_error(res, 400, "invalid_request_error").await;
    assert_eq!(err["error"]["type"], "invalid_request_error");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("openai answered HTTP 400"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_gateway_credentials_are_a_502_not_the_callers_401() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let res = gw
        .chat(&key, chat_body("gpt-4o-mini", "[[mock:status=401]]"))
        .await;
    let err = expect_error(res, 502, "upstream_error").await;
    assert!(
        !err.to_string().contains(UPSTREAM_KEY),
        "provider key leaked: {err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_upstream_is_504_upstream_timeout() {
    let gw = Gateway::start_with(|c| c.upstream.first_byte_timeout_ms = 300).await;
    let key = gw.key().await;
    let res = gw
        .chat(&key, chat_body("gpt-4o-mini", "[[mock:delay_ms=3000]]"))
        .await;
    let err = expect_error(res, 504, "upstream_timeout").await;
    assert_eq!(err["error"]["type"], "upstream_error");
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_upstream_is_502_upstream_unavailable() {
    // A port that was just free: nothing listens there.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let gw = Gateway::start_with(|c| {
        c.providers.openai.base_url = format!("http://127.0.0.1:{port}/v1")
    })
    .await;
    let key = gw.key().await;
    let res = gw.chat(&key, chat_body("gpt-4o-mini", "hi")).await;
    let err = expect_error(res, 502, "upstream_unavailable").await;
    assert!(
        !err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("http://"),
        "no URLs in errors: {err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn provider_without_key_is_503_upstream_unavailable() {
    let gw = Gateway::start_with(|c| c.providers.openai.api_key = String::new()).await;
    let key = gw.key().await;
    let res = gw.chat(&key, chat_body("gpt-4o-mini", "hi")).await;
    let err = expect_error(res, 503, "upstream_unavailable").await;
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("providers.openai.api_key")
    );
    assert_eq!(gw.mock.stats().await["requests"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_drop_before_headers_is_502() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let res = gw
        .chat(&key, chat_body("gpt-4o-mini", "[[mock:drop_after=0]]"))
        .await;
    // Depending on when the cut lands, the gateway sees no response (502) or a
    // truncated body (the connection to us is aborted). Either way: no 200 with a
    // complete body, and never a 500.
    if res.status() == 200 {
        assert!(
            res.bytes().await.is_err(),
            "truncated body must surface as an error"
        );
    } else {
        expect_error(res, 502, "upstream_unavailable").await;
    }
}
