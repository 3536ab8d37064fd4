//! CORS (`[server] cors_allow_origins`): preflights from allowed origins get 204
//! with the methods and headers the API takes; every answer to an allowed
//! origin, errors included, carries `Access-Control-Allow-Origin`; other origins
//! and the default (no list) get no CORS headers at all.

use reqwest::Method;

use crate::common::*;

const APP: &str = "https://app.example";

async fn preflight(gw: &Gateway, origin: &str, headers: &str) -> reqwest::Response {
    gw.client
        .request(Method::OPTIONS, gw.url("/v1/chat/completions"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", headers)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn preflight_from_an_allowed_origin_is_204_with_methods_and_headers() {
    let gw = Gateway::start_with(|c| c.server.cors_allow_origins = vec![APP.into()]).await;
    let res = preflight(&gw, APP, "authorization, content-type, x-stainless-os").await;
    assert_eq!(res.status(), 204);
    let h = res.headers();
    assert_eq!(h["access-control-allow-origin"], APP);
    assert!(h["vary"].to_str().unwrap().contains("origin"));
    let methods = h["access-control-allow-methods"].to_str().unwrap();
    for m in ["GET", "POST", "PATCH", "DELETE"] {
        assert!(methods.contains(m), "{methods}");
    }
    let allowed = h["access-control-allow-headers"].to_str().unwrap();
    for name in [
        "authorization",
        "x-api-key",
        "x-goog-api-key",
        "anthropic-version",
        "anthropic-beta",
        "content-type",
        "x-byok-provider",
        "x-byok-api-key",
        "x-user-id",
        "x-key-id",
        "x-tollgate-api-key",
        "x-stainless-os",
    ] {
        assert!(allowed.contains(name), "{name} not in {allowed}");
    }
    assert!(h.contains_key("access-control-max-age"));
}

#[tokio::test(flavor = "multi_thread")]
async fn other_origins_and_the_default_get_no_cors_headers() {
    let gw = Gateway::start_with(|c| c.server.cors_allow_origins = vec![APP.into()]).await;
    let res = preflight(&gw, "https://evil.example", "authorization").await;
    assert_ne!(res.status(), 204);
    assert!(!res.headers().contains_key("access-control-allow-origin"));
    assert!(!res.headers().contains_key("access-control-allow-methods"));
    let key = gw.key().await;
    let res = gw
        .client
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(&key)
        .header("origin", "https://evil.example")
        .json(&chat_body("gpt-4o-mini", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        200,
        "CORS is the browser's check, not a refusal"
    );
    assert!(!res.headers().contains_key("access-control-allow-origin"));

    let plain = Gateway::start().await;
    let res = preflight(&plain, APP, "authorization").await;
    assert_ne!(res.status(), 204);
    assert!(!res.headers().contains_key("access-control-allow-origin"));
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_and_errors_to_an_allowed_origin_carry_the_origin() {
    let gw = Gateway::start_with(|c| c.server.cors_allow_origins = vec![APP.into()]).await;
    let key = gw.key().await;
    let res = gw
        .client
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(&key)
        .header("origin", APP)
        .json(&chat_body("gpt-4o-mini", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["access-control-allow-origin"], APP);
    let expose = res.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap();
    for h in ["x-request-id", "x-ratelimit-remaining", "retry-after"] {
        assert!(expose.contains(h), "{expose}");
    }
    // A 401 without a key: the browser may read the error too.
    let res = gw
        .client
        .post(gw.url("/v1/chat/completions"))
        .header("origin", APP)
        .json(&chat_body("gpt-4o-mini", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["access-control-allow-origin"], APP);
    assert!(res.headers()["vary"].to_str().unwrap().contains("origin"));
    expect_error(res, 401, "missing_api_key").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_star_allows_any_origin() {
    let gw = Gateway::start_with(|c| c.server.cors_allow_origins = vec!["*".into()]).await;
    let res = preflight(&gw, "https://anything.example", "authorization").await;
    assert_eq!(res.status(), 204);
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
    let res = gw
        .client
        .get(gw.url("/v1/models"))
        .header("origin", "https://anything.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
}
