//! Bring your own key: the caller's provider key goes upstream instead of the
//! gateway's, every cell of the support matrix, Azure-style bases, and the SSRF rules
//! for `x-byok-api-base`.

use serde_json::{Value, json};

use crate::common::*;

const CALLER_KEY: &str = "sk-caller-own-key";

fn byok(provider: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("x-byok-provider", provider),
        ("x-byok-api-key", CALLER_KEY),
    ]
}

async fn last_headers(gw: &Gateway) -> Value {
    gw.mock.requests().await.last().expect("a request upstream")["headers"].clone()
}

fn assert_no_gateway_key(headers: &Value) {
    let text = headers.to_string();
    for k in [UPSTREAM_KEY, ANTHROPIC_UPSTREAM_KEY, GEMINI_UPSTREAM_KEY] {
        assert!(
            !text.contains(k),
            "the gateway's provider key went upstream: {text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn chat_runs_on_the_callers_account_for_each_provider() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    for (provider, model, header, expected) in [
        (
            "openai",
            "gpt-4o-mini",
            "authorization",
            format!("Bearer {CALLER_KEY}"),
        ),
        (
            "anthropic",
            "claude-haiku-4-5",
            "x-api-key",
            CALLER_KEY.to_owned(),
        ),
        (
            "gemini",
            "gemini-2.5-flash",
            "x-goog-api-key",
            CALLER_KEY.to_owned(),
        ),
    ] {
        let res = gw
            .post(
                "/v1/chat/completions",
                &key,
                &byok(provider),
                chat_body(model, "hi"),
            )
            .await;
        assert_eq!(res.status(), 200, "{provider}");
        let h = last_headers(&gw).await;
        assert_eq!(h[header], expected.as_str(), "{provider}");
        assert_no_gateway_key(&h);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_and_embeddings_run_on_the_callers_account() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let mut headers = byok("anthropic");
    headers.push(("x-byok-api-version", "2024-01-01"));
    let body = json!({"model": "claude-haiku-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]});
    assert_eq!(
        gw.post("/v1/messages", &key, &headers, body).await.status(),
        200
    );
    let h = last_headers(&gw).await;
    assert_eq!(h["x-api-key"], CALLER_KEY);
    assert_eq!(h["anthropic-version"], "2024-01-01");
    for (provider, model, header) in [
        ("openai", "text-embedding-3-small", "authorization"),
        ("gemini", "gemini-embedding-001", "x-goog-api-key"),
    ] {
        let res = gw
            .post(
                "/v1/embeddings",
                &key,
                &byok(provider),
                json!({"model": model, "input": "x"}),
            )
            .await;
        assert_eq!(res.status(), 200, "{provider}");
        let h = last_headers(&gw).await;
        assert!(
            h[header].as_str().unwrap().ends_with(CALLER_KEY),
            "{provider}: {h}"
        );
        assert_no_gateway_key(&h);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn byok_works_even_when_the_gateway_has_no_provider_key() {
    let gw = Gateway::start_with(|c| c.providers.openai.api_key = String::new()).await;
    let key = gw.key().await;
    let res = gw.chat(&key, chat_body("gpt-4o-mini", "hi")).await;
    expect_error(res, 503, "upstream_unavailable").await;
    let res = gw
        .post(
            "/v1/chat/completions",
            &key,
            &byok("openai"),
            chat_body("gpt-4o-mini", "hi"),
        )
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn each_unsupported_cell_is_byok_not_supported() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let cases = [
        (
            "/v1/chat/completions",
            "deepgram",
            json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]}),
        ),
        (
            "/v1/messages",
            "deepgram",
            json!({"model": "claude-haiku-4-5", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}),
        ),
        (
            "/v1/embeddings",
            "anthropic",
            json!({"model": "text-embedding-3-small", "input": "x"}),
        ),
        (
            "/v1/embeddings",
            "deepgram",
            json!({"model": "text-embedding-3-small", "input": "x"}),
        ),
        (
            "/v1/completions",
            "openai",
            json!({"model": "gpt-3.5-turbo-instruct", "prompt": "x"}),
        ),
        ("/v1/images/generations", "openai", json!({"prompt": "x"})),
    ];
    for (path, provider, body) in cases {
        let res = gw.post(path, &key, &byok(provider), body).await;
        assert_eq!(res.status(), 400, "{path} {provider}");
        let v: Value = res.json().await.unwrap();
        assert_eq!(
            v["error"]["code"], "byok_not_supported",
            "{path} {provider}: {v}"
        );
    }
    assert_eq!(gw.mock.stats().await["requests"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_byok_headers_are_400_naming_the_header() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let cases: [(Vec<(&str, &str)>, &str); 4] = [
        (vec![("x-byok-api-key", "k")], "x-byok-provider"),
        (vec![("x-byok-provider", "openai")], "x-byok-api-key"),
        (
            vec![("x-byok-provider", "azure"), ("x-byok-api-key", "k")],
            "x-byok-provider",
        ),
        (
            vec![("x-byok-provider", "anthropic"), ("x-byok-api-key", "k")],
            "x-byok-provider",
        ),
    ];
    for (headers, param) in cases {
        let res = gw
            .post(
                "/v1/chat/completions",
                &key,
                &headers,
                chat_body("gpt-4o-mini", "x"),
            )
            .await;
        let err = expect_error(res, 400, "invalid_field").await;
        assert_eq!(err["error"]["param"], param, "{headers:?}: {err}");
    }
    // BYOK never replaces the gateway key or the policy.
    let res = gw
        .client
        .post(gw.url("/v1/chat/completions"))
        .headers({
            let mut h = reqwest::header::HeaderMap::new();
            h.insert("x-byok-provider", "openai".parse().unwrap());
            h.insert("x-byok-api-key", CALLER_KEY.parse().unwrap());
            h
        })
        .json(&chat_body("gpt-4o-mini", "x"))
        .send()
        .await
        .unwrap();
    expect_error(res, 401, "missing_api_key").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_callers_key_refused_upstream_is_the_callers_401() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let res = gw
        .post(
            "/v1/chat/completions",
            &key,
            &byok("openai"),
            chat_body("gpt-4o-mini", "[[mock:status=401]]"),
        )
        .await;
    assert_eq!(res.status(), 401);
    let v: Value = res.json().await.unwrap();
    assert!(
        !v.to_string().contains(CALLER_KEY),
        "the caller's key is not echoed: {v}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn api_base_must_be_https_and_public() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let port = gw.mock.base.rsplit(':').next().unwrap().to_owned();
    for base in [
        format!("http://127.0.0.1:{port}"),
        format!("https://127.0.0.1:{port}"),
        "https://localhost:8443".to_owned(),
        "https://169.254.169.254".to_owned(),
        "https://[::1]:8443".to_owned(),
        "https://10.0.0.7".to_owned(),
        "file:///etc/passwd".to_owned(),
    ] {
        let mut headers = byok("openai");
        headers.push(("x-byok-api-base", base.as_str()));
        let res = gw
            .post(
                "/v1/chat/completions",
                &key,
                &headers,
                chat_body("gpt-4o-mini", "x"),
            )
            .await;
        let err = expect_error(res, 400, "invalid_field").await;
        assert_eq!(err["error"]["param"], "x-byok-api-base", "{base}: {err}");
    }
    assert_eq!(gw.mock.stats().await["requests"], 0, "nothing was fetched");

    // http allowed, private still refused.
    let gw = Gateway::start_with(|c| c.byok.allow_http_base = true).await;
    let key = gw.key().await;
    let base = gw.mock.base.clone();
    let mut headers = byok("openai");
    headers.push(("x-byok-api-base", base.as_str()));
    let res = gw
        .post(
            "/v1/chat/completions",
            &key,
            &headers,
            chat_body("gpt-4o-mini", "x"),
        )
        .await;
    let err = expect_error(res, 400, "invalid_field").await;
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("internal"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn azure_style_base_uses_deployment_path_api_key_and_api_version() {
    let gw = Gateway::start_with(|c| {
        c.byok.allow_http_base = true;
        c.byok.allow_private_base = true;
    })
    .await;
    let key = gw.key().await;
    let base = gw.mock.base.clone();
    let mut headers = byok("openai");
    headers.push(("x-byok-api-base", base.as_str()));
    headers.push(("x-byok-api-version", "2024-06-01"));
    let res = gw
        .post(
            "/v1/chat/completions",
            &key,
            &headers,
            chat_body("my-gpt4o-deployment", "hi azure"),
        )
        .await;
    assert_eq!(res.status(), 200, "an unknown model is fine with BYOK");
    let v: Value = res.json().await.unwrap();
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Mock reply to: hi azure"
    );
    let reqs = gw.mock.requests().await;
    let sent = reqs.last().unwrap();
    assert_eq!(
        sent["path"],
        "/openai/deployments/my-gpt4o-deployment/chat/completions"
    );
    assert!(
        sent["query"]
            .as_str()
            .unwrap()
            .contains("api-version=2024-06-01")
    );
    assert_eq!(sent["headers"]["api-key"], CALLER_KEY);
    assert!(sent["headers"].get("authorization").is_none());
}

/// The ranges the old check missed (hardening issue, item 9): IPv4-compatible, NAT64
/// (well-known and local-use), 6to4, site-local, benchmarking, IETF protocol
/// assignments and reserved. Each is refused up front with a 400 naming the header
/// and the registry block, and nothing reaches the upstream.
#[tokio::test(flavor = "multi_thread")]
async fn api_base_in_any_special_purpose_range_is_refused() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    for (base, block) in [
        ("https://[::127.0.0.1]:8443", "Loopback"),
        ("https://[::a00:7]", "Private-Use"),
        ("https://[64:ff9b::7f00:1]", "Loopback"),
        ("https://[64:ff9b::a9fe:a9fe]", "Link Local"),
        ("https://[64:ff9b:1::1]", "IPv4-IPv6 Translat."),
        ("https://[2002:7f00:1::1]", "6to4"),
        ("https://[fec0::1]", "Site-Local"),
        ("https://198.18.0.1", "Benchmarking"),
        ("https://198.19.255.254", "Benchmarking"),
        ("https://192.0.0.1", "IPv4 Service Continuity Prefix"),
        ("https://192.0.0.200", "IETF Protocol Assignments"),
        ("https://240.0.0.1", "Reserved"),
        ("https://[ff02::1]", "Multicast"),
        ("https://[2001:db8::1]", "Documentation"),
    ] {
        let mut headers = byok("openai");
        headers.push(("x-byok-api-base", base));
        let res = gw
            .post(
                "/v1/chat/completions",
                &key,
                &headers,
                chat_body("gpt-4o-mini", "x"),
            )
            .await;
        let err = expect_error(res, 400, "invalid_field").await;
        assert_eq!(err["error"]["param"], "x-byok-api-base", "{base}: {err}");
        let message = err["error"]["message"].as_str().unwrap();
        assert!(message.contains(block), "{base}: {message}");
        assert!(message.contains("allow_private_base"), "{base}: {message}");
    }
    assert_eq!(gw.mock.stats().await["requests"], 0, "nothing was fetched");
}
