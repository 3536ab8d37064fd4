//! Connections and execute: user-scoped vs org-wide resolution, the credential
//! reaching a real target server (started here on 127.0.0.1:0, recording every
//! request) but never the caller, path escapes and private targets refused,
//! streamed bodies, metering, and the credential absent from the SQLite file.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::common::{Gateway, eventually, expect_error};

/// One request the target saw.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    /// Path and query, as sent.
    uri: String,
    headers: HeaderMap,
    body: String,
}

/// A third-party service: records requests, answers by path.
struct Target {
    base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Target {
    async fn start() -> Target {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let app = Router::new().fallback(target).with_state(seen.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Target {
            base: format!("http://{addr}"),
            seen,
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().clone()
    }
}

async fn target(State(seen): State<Arc<Mutex<Vec<Seen>>>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let uri = parts.uri.to_string();
    seen.lock().push(Seen {
        method: parts.method.to_string(),
        uri: uri.clone(),
        headers: parts.headers.clone(),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let path = parts.uri.path();
    if path.ends_with("/big") {
        let chunk = "x".repeat(64 * 1024);
        let chunks = (0..40).map(move |_| Ok::<_, std::io::Error>(chunk.clone()));
        return (
            [("content-type", "application/octet-stream")],
            axum::body::Body::from_stream(futures_util::stream::iter(chunks)),
        )
            .into_response();
    }
    if path.ends_with("/sse") {
        return (
            [("content-type", "text/event-stream")],
            "data: one\n\ndata: two\n\n",
        )
            .into_response();
    }
    if path.ends_with("/text") {
        return ([("content-type", "text/plain")], "plain hello").into_response();
    }
    // Echo everything, credential included, as a careless service might.
    let echoed: serde_json::Map<String, Value> = parts
        .headers
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or(""))))
        .collect();
    let auth = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("none")
        .to_owned();
    (
        StatusCode::CREATED,
        [
            ("content-type", "application/json"),
            ("set-cookie", "session=abc"),
            ("www-authenticate", "Basic realm=x"),
            ("x-echo-auth", auth.as_str()),
            ("x-api-key", "from-target"),
            ("x-safe", "kept"),
        ],
        axum::Json(json!({"uri": uri, "headers": echoed, "body": String::from_utf8_lossy(&body)})),
    )
        .into_response()
}

async fn gateway(fallback: bool) -> Gateway {
    Gateway::start_with(|raw| {
        raw.outbound.allow_http = true;
        raw.outbound.allow_private = true;
        raw.connections.user_fallback_to_org = fallback;
    })
    .await
}

async fn create(gw: &Gateway, key: &str, user: Option<&str>, body: Value) -> Value {
    let headers: Vec<(&str, &str)> = user.map(|u| ("x-user-id", u)).into_iter().collect();
    let res = gw
        .post("/v1/connections", key, &headers, body.clone())
        .await;
    assert_eq!(res.status(), 201, "create {body}");
    res.json().await.unwrap()
}

async fn execute(
    gw: &Gateway,
    key: &str,
    path: &str,
    header_user: Option<&str>,
    body: Value,
) -> reqwest::Response {
    let headers: Vec<(&str, &str)> = header_user.map(|u| ("x-user-id", u)).into_iter().collect();
    gw.post(&format!("/v1/execute/{path}"), key, &headers, body)
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn each_auth_type_reaches_the_target_and_never_comes_back() {
    let gw = gateway(true).await;
    let t = Target::start().await;
    let key = gw.key().await;
    let cases = [
        (
            "bearer",
            json!({"type": "bearer", "token": "tok-bearer-SECRET-1"}),
            "tok-bearer-SECRET-1",
        ),
        (
            "hdr",
            json!({"type": "header", "name": "X-Api-Key", "value": "hdr-SECRET-2"}),
            "hdr-SECRET-2",
        ),
        (
            "basic",
            json!({"type": "basic", "username": "alice", "password": "pw-SECRET-3"}),
            "pw-SECRET-3",
        ),
        (
            "query",
            json!({"type": "query", "name": "api_key", "value": "qry-SECRET-4"}),
            "qry-SECRET-4",
        ),
    ];
    for (name, auth, secret) in &cases {
        let created = create(
            &gw,
            &key,
            None,
            json!({"name": name, "base_url": format!("{}/api/v1/", t.base), "auth": auth}),
        )
        .await;
        assert!(!created.to_string().contains(secret), "{created}");
        assert_eq!(created["scope"], "org");
        assert_eq!(created["base_url"], format!("{}/api/v1", t.base));

        let before = t.seen().len();
        let res = execute(
            &gw,
            &key,
            &format!("{name}/items/7"),
            None,
            json!({"method": "post", "query": {"q": "a b", "api_key": "caller-tries"}, "headers": {"X-Trace": "t1", "Authorization": "Bearer caller"}, "body": {"hello": "world"}}),
        )
        .await;
        assert_eq!(res.status(), 200);
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        // Never back to the caller: not in the body, not in any header.
        assert!(!text.contains(secret), "{name}: {text}");
        for (k, v) in &headers {
            assert!(
                !v.to_str().unwrap_or("").contains(secret),
                "{name}: header {k}"
            );
        }
        let env: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(env["status"], 201, "{env}");
        assert_eq!(env["headers"]["x-safe"], "kept");
        for stripped in ["set-cookie", "www-authenticate"] {
            assert!(
                env["headers"].get(stripped).is_none(),
                "{name}: {stripped} kept: {env}"
            );
        }
        if matches!(*name, "bearer" | "basic") {
            // A header whose value carries the credential goes, whatever its name.
            assert!(env["headers"].get("x-echo-auth").is_none(), "{name}: {env}");
        }
        assert_eq!(
            env["body"]["body"], r#"{"hello":"world"}"#,
            "JSON body parsed: {env}"
        );

        // At the target: exactly one request, carrying the credential.
        let seen = t.seen();
        assert_eq!(seen.len(), before + 1);
        let s = seen.last().unwrap();
        assert_eq!(s.method, "POST");
        assert!(s.uri.starts_with("/api/v1/items/7?"), "{}", s.uri);
        assert!(s.uri.contains("q=a+b"), "{}", s.uri);
        assert_eq!(s.headers["x-trace"], "t1");
        assert_eq!(s.headers["content-type"], "application/json");
        assert_eq!(s.body, r#"{"hello":"world"}"#);
        let auth = s
            .headers
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned());
        match *name {
            "bearer" => assert_eq!(auth.as_deref(), Some("Bearer tok-bearer-SECRET-1")),
            "hdr" => {
                assert_eq!(s.headers["x-api-key"], "hdr-SECRET-2");
                assert!(auth.is_none(), "the caller's Authorization is dropped");
                assert!(
                    env["headers"].get("x-api-key").is_none(),
                    "own header name stripped"
                );
            }
            "basic" => assert_eq!(auth.as_deref(), Some("Basic YWxpY2U6cHctU0VDUkVULTM=")),
            "query" => {
                assert!(s.uri.ends_with("api_key=qry-SECRET-4"), "{}", s.uri);
                assert!(!s.uri.contains("caller-tries"), "{}", s.uri);
            }
            _ => unreachable!(),
        }
    }

    // list and get never show a secret.
    let list = gw.get("/v1/connections", &key).await.text().await.unwrap();
    let one = serde_json::from_str::<Value>(&list).unwrap()["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let got = gw.get(&format!("/v1/connections/{one}"), &key).await;
    assert_eq!(got.status(), 200);
    let got = got.text().await.unwrap();
    for (_, _, secret) in &cases {
        assert!(!list.contains(secret), "{list}");
        assert!(!got.contains(secret), "{got}");
    }
    let listed: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 4);
    assert!(
        list.contains(r#""name":"X-Api-Key""#),
        "header name is shown: {list}"
    );

    // Nor in the database file (WAL included).
    for entry in std::fs::read_dir(gw.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if !path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("gateway.db")
        {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        for (_, _, secret) in &cases {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} in {}",
                path.display()
            );
        }
    }

    // Deleting removes it.
    let res = gw
        .client
        .delete(gw.url(&format!("/v1/connections/{one}")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    expect_error(
        gw.get(&format!("/v1/connections/{one}"), &key).await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_body_user_wins_and_users_fall_back_to_the_org_connection() {
    let gw = gateway(true).await;
    let t = Target::start().await;
    let key = gw.key().await;
    let bearer = |t: &str| json!({"type": "bearer", "token": t});
    create(
        &gw,
        &key,
        None,
        json!({"name": "svc", "base_url": format!("{}/org", t.base), "auth": bearer("org-token")}),
    )
    .await;
    create(
        &gw,
        &key,
        Some("u1"),
        json!({"name": "svc", "base_url": format!("{}/u1", t.base), "auth": bearer("u1-token")}),
    )
    .await;
    // The same name for the same owner is a conflict; for another owner it is not.
    let dup = gw
        .post(
            "/v1/connections",
            &key,
            &[("x-user-id", "u1")],
            json!({"name": "svc", "base_url": t.base, "auth": bearer("x-token")}),
        )
        .await;
    expect_error(dup, 409, "name_taken").await;

    let cases: [(Option<&str>, Option<&str>, &str); 6] = [
        (None, None, "/org/"),             // neither: org-wide
        (Some("u1"), None, "/u1/"),        // header only
        (None, Some("u1"), "/u1/"),        // body only
        (Some("u2"), Some("u1"), "/u1/"),  // body wins over the header
        (Some("u1"), Some("u2"), "/org/"), // body's user has none: fallback
        (Some("u3"), None, "/org/"),       // header's user has none: fallback
    ];
    for (header, body_user, want) in cases {
        let mut body = json!({"method": "GET"});
        if let Some(u) = body_user {
            body["userId"] = json!(u);
        }
        let res = execute(&gw, &key, "svc/ping", header, body).await;
        assert_eq!(res.status(), 200, "{header:?} {body_user:?}");
        let seen = t.seen();
        let last = seen.last().unwrap();
        assert!(
            last.uri.starts_with(want),
            "{header:?} {body_user:?}: {}",
            last.uri
        );
        let token = if want == "/u1/" {
            "Bearer u1-token"
        } else {
            "Bearer org-token"
        };
        assert_eq!(last.headers["authorization"], token);
    }

    // Listing with X-User-Id shows the user's and the org's, marked.
    let res = gw
        .client
        .get(gw.url("/v1/connections"))
        .bearer_auth(&key)
        .header("x-user-id", "u1")
        .send()
        .await
        .unwrap();
    let list: Value = res.json().await.unwrap();
    let scopes: Vec<(&str, &str)> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["scope"].as_str().unwrap()))
        .collect();
    assert_eq!(scopes, [("svc", "user"), ("svc", "org")]);
    let org_only: Value = gw.get("/v1/connections", &key).await.json().await.unwrap();
    assert_eq!(org_only["data"].as_array().unwrap().len(), 1);
    assert_eq!(org_only["data"][0]["scope"], "org");

    // Another account's key sees none of them.
    expect_error(
        execute(
            &gw,
            &other_account_key(&gw).await,
            "svc/ping",
            None,
            json!({"method": "GET"}),
        )
        .await,
        404,
        "not_found",
    )
    .await;

    // Metered: route, connection name, resolved user, status.
    let res = execute(
        &gw,
        &key,
        "svc/ping",
        Some("u2"),
        json!({"method": "GET", "userId": "u1"}),
    )
    .await;
    let rid = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(res.status(), 200);
    let store = gw.state().store().clone();
    let ev = eventually(Duration::from_secs(10), "the execute usage event", || {
        let store = store.clone();
        let rid = rid.clone();
        async move {
            store
                .usage_events_for_request(&rid)
                .await
                .unwrap()
                .into_iter()
                .next()
        }
    })
    .await;
    assert_eq!(ev.endpoint, "/v1/execute/{name}/{*path}");
    assert_eq!(ev.provider, "connection");
    assert_eq!(ev.model_requested, "svc");
    assert_eq!(ev.user_id, "u1");
    assert_eq!(ev.status, 200);
    assert_eq!(ev.charge_micro, 0);
}

async fn other_account_key(gw: &Gateway) -> String {
    let res = gw
        .admin(
            reqwest::Method::POST,
            "/admin/accounts",
            Some(json!({"id": "acme", "name": "Acme"})),
        )
        .await;
    assert_eq!(res.status(), 201);
    let mut spec = crate::common::spec("acme");
    spec.account_id = "acme".into();
    gw.issue(spec).await
}

#[tokio::test(flavor = "multi_thread")]
async fn without_fallback_a_user_without_the_connection_is_refused() {
    let gw = gateway(false).await;
    let t = Target::start().await;
    let key = gw.key().await;
    create(&gw, &key, None, json!({"name": "svc", "base_url": format!("{}/org", t.base), "auth": {"type": "bearer", "token": "org-token"}})).await;
    create(&gw, &key, Some("u1"), json!({"name": "svc", "base_url": format!("{}/u1", t.base), "auth": {"type": "bearer", "token": "u1-token"}})).await;
    let body = expect_error(
        execute(&gw, &key, "svc/x", Some("u2"), json!({"method": "GET"})).await,
        404,
        "not_found",
    )
    .await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("user_fallback_to_org"),
        "{body}"
    );
    expect_error(
        execute(
            &gw,
            &key,
            "svc/x",
            None,
            json!({"method": "GET", "userId": "u2"}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(t.seen().len(), 0, "nothing reached the target");
    // The user's own and the org-wide one still serve.
    assert_eq!(
        execute(&gw, &key, "svc/x", Some("u1"), json!({"method": "GET"}))
            .await
            .status(),
        200
    );
    assert!(t.seen().last().unwrap().uri.starts_with("/u1/"));
    assert_eq!(
        execute(&gw, &key, "svc/x", None, json!({"method": "GET"}))
            .await
            .status(),
        200
    );
    assert!(t.seen().last().unwrap().uri.starts_with("/org/"));
}

/// Sends one request as raw bytes, so no client normalises the path first.
async fn raw_post(gw: &Gateway, path: &str, key: &str, body: &str) -> (u16, Value) {
    let addr = gw.base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status: u16 = text.split(' ').nth(1).unwrap().parse().unwrap();
    let (_, body) = text.split_once("\r\n\r\n").unwrap();
    let json = body
        .find('{')
        .and_then(|i| serde_json::from_str(body[i..].trim_end_matches(|c: char| c != '}')).ok())
        .unwrap_or(Value::Null);
    (status, json)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_path_escape_is_refused_before_anything_is_sent() {
    let gw = gateway(true).await;
    let t = Target::start().await;
    let key = gw.key().await;
    create(&gw, &key, None, json!({"name": "svc", "base_url": format!("{}/api/v1", t.base), "auth": {"type": "bearer", "token": "tok-12345"}})).await;
    let body = r#"{"method":"GET"}"#;
    for path in [
        "/v1/execute/svc/../admin",
        "/v1/execute/svc/a/../../admin",
        "/v1/execute/svc/%2e%2e/admin",
        "/v1/execute/svc/%2E%2e/%2e%2E/x",
        "/v1/execute/svc/a%2F..%2Fadmin",
        "/v1/execute/svc/a%2fb",
        "/v1/execute/svc/https://evil.example/x",
        "/v1/execute/svc//evil.example/x",
        "/v1/execute/svc/a\\..\\admin",
        "/v1/execute/svc/a%5c..%5cadmin",
    ] {
        let (status, err) = raw_post(&gw, path, &key, body).await;
        assert_eq!(status, 400, "{path}: {err}");
        assert_eq!(err["error"]["code"], "invalid_field", "{path}: {err}");
        assert_eq!(err["error"]["param"], "path", "{path}: {err}");
    }
    assert!(
        t.seen().is_empty(),
        "nothing reached the target: {:?}",
        t.seen()
    );
    // A plain path goes through.
    let (status, env) = raw_post(&gw, "/v1/execute/svc/a/b.json", &key, body).await;
    assert_eq!(status, 200, "{env}");
    assert_eq!(t.seen()[0].uri, "/api/v1/a/b.json");
}

#[tokio::test(flavor = "multi_thread")]
async fn private_and_plain_http_targets_are_refused_by_default() {
    // No [outbound] overrides.
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let auth = json!({"type": "bearer", "token": "tok-12345"});
    for base in [
        "http://api.example.com",
        "https://127.0.0.1:9",
        "https://localhost:9",
        "https://169.254.169.254/latest",
        "https://10.0.0.1",
        "https://[::1]:9",
        "ftp://files.example.com",
    ] {
        let res = gw
            .post(
                "/v1/connections",
                &key,
                &[],
                json!({"name": "x", "base_url": base, "auth": auth}),
            )
            .await;
        let err = expect_error(res, 400, "invalid_field").await;
        assert_eq!(err["error"]["param"], "base_url", "{base}: {err}");
    }
    // http allowed, private still not.
    let gw = Gateway::start_with(|raw| raw.outbound.allow_http = true).await;
    let key = gw.key().await;
    let res = gw
        .post(
            "/v1/connections",
            &key,
            &[],
            json!({"name": "x", "base_url": "http://127.0.0.1:9", "auth": auth}),
        )
        .await;
    let err = expect_error(res, 400, "invalid_field").await;
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("127.0.0.1"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn large_and_streaming_bodies_are_streamed_through_and_text_stays_text() {
    let gw = gateway(true).await;
    let t = Target::start().await;
    let key = gw.key().await;
    create(&gw, &key, None, json!({"name": "svc", "base_url": t.base, "auth": {"type": "bearer", "token": "tok-12345"}})).await;
    let res = execute(&gw, &key, "svc/big", None, json!({"method": "GET"})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-tollgate-target-status"], "200");
    assert_eq!(res.headers()["content-type"], "application/octet-stream");
    let bytes = res.bytes().await.unwrap();
    assert_eq!(bytes.len(), 40 * 64 * 1024);
    assert!(bytes.iter().all(|b| *b == b'x'));

    let res = execute(&gw, &key, "svc/sse", None, json!({"method": "GET"})).await;
    assert_eq!(res.headers()["x-tollgate-target-status"], "200");
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    assert_eq!(res.text().await.unwrap(), "data: one\n\ndata: two\n\n");

    let env: Value = execute(&gw, &key, "svc/text", None, json!({"method": "GET"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(env["body"], "plain hello");
    assert_eq!(env["status"], 200);

    // A string body is sent as it is.
    execute(
        &gw,
        &key,
        "svc/echo",
        None,
        json!({"method": "PUT", "body": "raw text"}),
    )
    .await;
    let last = t.seen().pop().unwrap();
    assert_eq!(
        (last.method.as_str(), last.body.as_str()),
        ("PUT", "raw text")
    );
    assert!(
        last.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_connection_and_execute_bodies_get_documented_errors() {
    let gw = gateway(true).await;
    let t = Target::start().await;
    let key = gw.key().await;
    let ok_auth = json!({"type": "bearer", "token": "tok-12345"});
    for (body, code, param) in [
        (
            json!({"base_url": t.base, "auth": ok_auth}),
            "missing_field",
            "name",
        ),
        (
            json!({"name": "a/b", "base_url": t.base, "auth": ok_auth}),
            "invalid_field",
            "name",
        ),
        (
            json!({"name": "a", "base_url": t.base, "auth": {"type": "header", "name": "bad name", "value": "v"}}),
            "invalid_field",
            "auth",
        ),
        (
            json!({"name": "a", "base_url": t.base, "auth": {"type": "header", "name": "Host", "value": "v"}}),
            "invalid_field",
            "auth",
        ),
        (
            json!({"name": "a", "base_url": format!("{}?x=1", t.base), "auth": ok_auth}),
            "invalid_field",
            "base_url",
        ),
    ] {
        let err = expect_error(
            gw.post("/v1/connections", &key, &[], body.clone()).await,
            400,
            code,
        )
        .await;
        assert_eq!(err["error"]["param"], param, "{body}: {err}");
    }
    let err = expect_error(
        gw.post(
            "/v1/connections",
            &key,
            &[],
            json!({"name": "a", "base_url": t.base, "auth": {"type": "oauth"}}),
        )
        .await,
        400,
        "invalid_field",
    )
    .await;
    assert_eq!(err["error"]["param"], "auth.type");
    create(
        &gw,
        &key,
        None,
        json!({"name": "svc", "base_url": t.base, "auth": ok_auth}),
    )
    .await;
    let err = expect_error(
        execute(&gw, &key, "svc/x", None, json!({})).await,
        400,
        "missing_field",
    )
    .await;
    assert_eq!(err["error"]["param"], "method");
    expect_error(
        execute(&gw, &key, "svc/x", None, json!({"method": "TRACE"})).await,
        400,
        "invalid_field",
    )
    .await;
    expect_error(
        execute(&gw, &key, "nope/x", None, json!({"method": "GET"})).await,
        404,
        "not_found",
    )
    .await;
    // A key without the connections scope.
    let chat_only = gw.create_key(json!({"scopes": ["chat"]})).await;
    expect_error(
        gw.get("/v1/connections", &chat_only).await,
        403,
        "insufficient_permissions",
    )
    .await;
    assert!(t.seen().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_target_is_a_502_that_does_not_leak_a_query_credential() {
    let gw = gateway(true).await;
    let key = gw.key().await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    create(&gw, &key, None, json!({"name": "gone", "base_url": format!("http://127.0.0.1:{closed}"), "auth": {"type": "query", "name": "key", "value": "q-SECRET-99"}})).await;
    let res = execute(&gw, &key, "gone/x", None, json!({"method": "GET"})).await;
    let err = expect_error(res, 502, "upstream_error").await;
    assert!(!err.to_string().contains("q-SECRET-99"), "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("could not be reached"),
        "{err}"
    );
}
