//! The listener at the edge, over raw sockets: idle and slow connections are closed,
//! a slow body loses its concurrency permit, the connection cap applies
//! back-pressure, early refusals do not poison keep-alive connections, HTTP-layer
//! errors (414, 431, bad path ids) have the documented JSON body, and `/metrics`
//! can be protected by a token or moved to its own listener.
//!
//! Timeouts in these configs are short; every wait is bounded by a deadline and
//! nothing asserts on elapsed time.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tollgate::{App, Config};

use crate::common::*;

/// Far above every timeout configured here: reaching it means the server never acted.
const DEADLINE: Duration = Duration::from_secs(10);

fn addr(gw: &Gateway) -> String {
    gw.base.trim_start_matches("http://").to_owned()
}

async fn connect(gw: &Gateway) -> TcpStream {
    TcpStream::connect(addr(gw)).await.unwrap()
}

/// Reads until the server closes the connection (EOF or reset), discarding data;
/// fails if it is still open at the deadline.
async fn expect_closed(stream: &mut TcpStream, what: &str) {
    let closed = tokio::time::timeout(DEADLINE, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "{what}: the server kept the connection open"
    );
}

/// One HTTP/1.1 response: status, lower-cased headers, body (by content-length).
struct RawResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl RawResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// Reads one response within the deadline; `None` if the server closed first.
async fn read_response(stream: &mut TcpStream) -> Option<RawResponse> {
    tokio::time::timeout(DEADLINE, async {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let len: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = buf[head_end..].to_vec();
        while body.len() < len {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => body.extend_from_slice(&chunk[..n]),
            }
        }
        body.truncate(len);
        Some(RawResponse {
            status,
            headers,
            body,
        })
    })
    .await
    .expect("a response (or a close) within the deadline")
}

const GET_HEALTH: &[u8] = b"GET /health HTTP/1.1\r\nhost: t\r\n\r\n";

#[tokio::test(flavor = "multi_thread")]
async fn idle_and_half_sent_requests_are_closed_after_the_header_timeout() {
    let gw = Gateway::start_with(|raw| raw.server.header_read_timeout_ms = 300).await;
    let mut silent = connect(&gw).await;
    let mut partial = connect(&gw).await;
    partial.write_all(b"GET /health HTT").await.unwrap();
    let mut half_headers = connect(&gw).await;
    half_headers
        .write_all(b"GET /health HTTP/1.1\r\nhost: t\r\n")
        .await
        .unwrap();
    expect_closed(&mut silent, "a connection that sends nothing").await;
    expect_closed(&mut partial, "a partial request line").await;
    expect_closed(&mut half_headers, "headers without their end").await;
    let res = gw.client.get(gw.url("/health")).send().await.unwrap();
    assert_eq!(res.status(), 200, "the server still answers");
}

#[tokio::test(flavor = "multi_thread")]
async fn slowloris_headers_are_cut_while_they_trickle_in() {
    let gw = Gateway::start_with(|raw| raw.server.header_read_timeout_ms = 500).await;
    let stream = connect(&gw).await;
    let (mut rd, mut wr) = stream.into_split();
    // One more header line every 100 ms, forever: each byte arrives long before
    // any per-read timeout would fire; only a deadline on the whole head helps.
    let trickle = tokio::spawn(async move {
        if wr.write_all(b"GET /health HTTP/1.1\r\n").await.is_err() {
            return;
        }
        for i in 0.. {
            if wr
                .write_all(format!("x-slow-{i}: 1\r\n").as_bytes())
                .await
                .is_err()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let closed = tokio::time::timeout(DEADLINE, async {
        let mut buf = [0u8; 1024];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    trickle.abort();
    assert!(closed.is_ok(), "a slowloris connection stayed open");
    let res = gw.client.get(gw.url("/health")).send().await.unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_body_is_cut_and_releases_its_concurrency_permit() {
    let gw = Gateway::start_with(|raw| raw.server.body_read_timeout_ms = 500).await;
    let key = gw.create_key(json!({"max_concurrency": 1})).await;
    let mut slow = connect(&gw).await;
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: t\r\nauthorization: Bearer {key}\r\n\
         content-type: application/json\r\ncontent-length: 1000\r\n\r\n{{\"model\":"
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    // The rest of the body never comes.
    let res = read_response(&mut slow)
        .await
        .expect("a 408 before the connection closes");
    assert_eq!(res.status, 408);
    let body = res.json();
    assert_eq!(body["error"]["code"], "body_timeout", "{body}");
    assert_eq!(res.header("connection"), Some("close"));
    expect_closed(&mut slow, "after a body timeout").await;
    // The permit went with the request: the key's one slot is free again.
    let res = gw
        .chat(&key, chat_body("gpt-4o-mini", "after the slow one"))
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_keep_alive_connection_is_closed() {
    let gw = Gateway::start_with(|raw| {
        raw.server.idle_timeout_ms = 300;
        // Hyper's header clock also runs between requests: keep it out of the way,
        // so only the idle timeout can close this connection.
        raw.server.header_read_timeout_ms = 60_000;
    })
    .await;
    let mut conn = connect(&gw).await;
    conn.write_all(GET_HEALTH).await.unwrap();
    let res = read_response(&mut conn).await.expect("a response");
    assert_eq!(res.status, 200);
    assert_ne!(res.header("connection"), Some("close"), "kept alive");
    expect_closed(&mut conn, "an idle keep-alive connection").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_over_the_cap_wait_in_the_backlog_until_one_closes() {
    let gw = Gateway::start_with(|raw| raw.server.max_connections = 2).await;
    let mut first = connect(&gw).await;
    let mut second = connect(&gw).await;
    for conn in [&mut first, &mut second] {
        conn.write_all(GET_HEALTH).await.unwrap();
        assert_eq!(read_response(conn).await.expect("served").status, 200);
    }
    // The kernel completes the handshake (backlog); the server must not accept it.
    let mut third = connect(&gw).await;
    third.write_all(GET_HEALTH).await.unwrap();
    // A barrier, not a sleep: many round trips on the open connections give the
    // server every chance to have answered the third one if it had accepted it.
    for _ in 0..20 {
        for conn in [&mut first, &mut second] {
            conn.write_all(GET_HEALTH).await.unwrap();
            assert_eq!(read_response(conn).await.expect("served").status, 200);
        }
    }
    let mut probe = [0u8; 1];
    assert!(
        matches!(third.try_read(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the connection over the cap was served while the cap was reached"
    );
    drop(first);
    let res = read_response(&mut third)
        .await
        .expect("served once a slot is free");
    assert_eq!(res.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_early_refusal_closes_instead_of_poisoning_keep_alive() {
    let gw = Gateway::start_with(|raw| raw.server.max_body_bytes = 2048).await;
    let key = gw.key().await;

    // 401 before the body was read (within the size limit), most of it still to come.
    let mut conn = connect(&gw).await;
    conn.write_all(
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: t\r\nauthorization: Bearer nope\r\n\
          content-type: application/json\r\ncontent-length: 1500\r\n\r\n{\"model\":\"x\"",
    )
    .await
    .unwrap();
    let res = read_response(&mut conn).await.expect("a 401");
    assert_eq!(res.status, 401);
    assert_eq!(res.json()["error"]["code"], "invalid_api_key");
    assert_eq!(
        res.header("connection"),
        Some("close"),
        "the client must not reuse a connection whose body was left unread"
    );
    expect_closed(&mut conn, "after an early 401").await;

    // 413 on the declared length, before any body byte is read.
    let mut conn = connect(&gw).await;
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: t\r\nauthorization: Bearer {key}\r\n\
         content-type: application/json\r\ncontent-length: 100000\r\n\r\n"
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let res = read_response(&mut conn).await.expect("a 413");
    assert_eq!(res.status, 413);
    assert_eq!(res.json()["error"]["code"], "body_too_large");
    assert_eq!(res.header("connection"), Some("close"));
    expect_closed(&mut conn, "after an early 413").await;

    // A refused request whose whole body was sent: the next request on the same
    // connection is served, not parsed out of the leftover body.
    let mut conn = connect(&gw).await;
    let body = r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}"#;
    let req = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: t\r\nauthorization: Bearer nope\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(req.as_bytes()).await.unwrap();
    let res = read_response(&mut conn).await.expect("a 401");
    assert_eq!(res.status, 401);
    if res.header("connection") == Some("close") {
        expect_closed(&mut conn, "announced close").await;
    } else {
        conn.write_all(GET_HEALTH).await.unwrap();
        let res = read_response(&mut conn)
            .await
            .expect("the kept-alive connection serves the next request");
        assert_eq!(res.status, 200);
        assert_eq!(res.json()["status"], "ok");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_uri_and_headers_get_json_errors() {
    let gw = Gateway::start_with(|raw| {
        raw.server.max_uri_bytes = 1024;
        raw.server.max_header_bytes = 4096;
    })
    .await;
    let long_query = "a".repeat(2000);
    let res = gw
        .client
        .get(gw.url(&format!("/health?pad={long_query}")))
        .send()
        .await
        .unwrap();
    let err = expect_error(res, 414, "uri_too_long").await;
    assert_eq!(err["error"]["type"], "invalid_request_error");
    assert!(err["error"]["param"].is_null(), "{err}");

    let big = "b".repeat(6000);
    let res = gw
        .client
        .get(gw.url("/health"))
        .header("x-padding", &big)
        .send()
        .await
        .unwrap();
    let err = expect_error(res, 431, "header_too_large").await;
    assert_eq!(err["error"]["type"], "invalid_request_error");

    // Many small headers add up too.
    let mut req = gw.client.get(gw.url("/v1/models"));
    for i in 0..200 {
        req = req.header(format!("x-h-{i}"), "0123456789abcdef");
    }
    expect_error(req.send().await.unwrap(), 431, "header_too_large").await;

    // On /v1/messages the same refusal has Anthropic's shape.
    let res = gw
        .client
        .post(gw.url("/v1/messages"))
        .header("x-padding", &big)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 431);
    assert!(res.headers().contains_key("x-request-id"));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["type"], "error", "{body}");
    assert_eq!(body["error"]["code"], "header_too_large", "{body}");
    assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");

    // Within the limits, the same requests are served.
    let res = gw.client.get(gw.url("/health?pad=x")).send().await.unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_path_ids_are_invalid_field_in_json() {
    let gw = Gateway::start().await;
    let long = "k".repeat(300);
    for path in [
        "/admin/keys/%FF".to_owned(),
        "/admin/keys/%C3%28/rotate".to_owned(),
        "/admin/keys/%00".to_owned(),
        "/admin/keys/a%0Ab".to_owned(),
        "/admin/keys/a%7Fb/usage".to_owned(),
        format!("/admin/keys/{long}"),
        "/admin/accounts/%FF".to_owned(),
        "/admin/accounts/%00/credits".to_owned(),
    ] {
        let method = if path.ends_with("/rotate") {
            reqwest::Method::POST
        } else {
            reqwest::Method::GET
        };
        let res = gw
            .client
            .request(method, gw.url(&path))
            .bearer_auth(&gw.admin_key)
            .send()
            .await
            .unwrap();
        let err = expect_error(res, 400, "invalid_field").await;
        assert_eq!(err["error"]["param"], "id", "{path}: {err}");
        assert_eq!(err["error"]["type"], "invalid_request_error", "{path}");
    }
    // A plain id that does not exist is still a 404.
    let res = gw
        .client
        .get(gw.url("/admin/keys/nosuchkey"))
        .bearer_auth(&gw.admin_key)
        .send()
        .await
        .unwrap();
    expect_error(res, 404, "not_found").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_query_strings_get_json_errors() {
    let gw = Gateway::start().await;
    for query in ["from=%FF%00", "group_by=%00", "from=%ZZ", "to=a%0Ab"] {
        let res = gw
            .client
            .get(gw.url(&format!("/admin/usage?{query}")))
            .bearer_auth(&gw.admin_key)
            .send()
            .await
            .unwrap();
        let err = expect_error(res, 400, "invalid_field").await;
        assert!(err["error"]["param"].is_string(), "{query}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_with_a_bearer_token() {
    let token = "metrics-token-0123456789";
    let gw = Gateway::start_with(|raw| raw.metrics.bearer_token = token.into()).await;
    let res = gw.client.get(gw.url("/metrics")).send().await.unwrap();
    let err = expect_error(res, 401, "invalid_token").await;
    assert_eq!(err["error"]["type"], "authentication_error");
    assert!(!err.to_string().contains(token), "the token is not echoed");
    for wrong in [
        "wrong",
        "metrics-token-012345678",
        "metrics-token-01234567890",
    ] {
        let res = gw
            .client
            .get(gw.url("/metrics"))
            .bearer_auth(wrong)
            .send()
            .await
            .unwrap();
        expect_error(res, 401, "invalid_token").await;
    }
    let res = gw
        .client
        .get(gw.url("/metrics"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_on_their_own_listener_only() {
    let mock = Mock::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut raw = base_config(dir.path(), &mock.base);
    raw.metrics.listen = "127.0.0.1:0".into();
    let config = Config::from_raw(raw, dir.path().to_owned()).unwrap();
    let app = App::build(config).await.unwrap();
    let main = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let main_base = format!("http://{}", main.local_addr().unwrap());
    let metrics_base = format!("http://{}", metrics.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.serve_with(main, Some(metrics), async move {
        let _ = rx.await;
    }));
    let http = client();

    let res = http
        .get(format!("{main_base}/metrics"))
        .send()
        .await
        .unwrap();
    expect_error(res, 404, "not_found").await;
    let res = http
        .get(format!("{main_base}/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let res = http
        .get(format!("{metrics_base}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().contains_key("x-request-id"));
    let res = http
        .get(format!("{metrics_base}/health"))
        .send()
        .await
        .unwrap();
    expect_error(res, 404, "not_found").await;

    let _ = tx.send(());
    tokio::time::timeout(DEADLINE, server)
        .await
        .expect("both listeners stop on shutdown")
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn h2c_is_served_with_the_same_json_errors() {
    let gw = Gateway::start_with(|raw| raw.server.max_header_bytes = 4096).await;
    let h2 = reqwest::Client::builder()
        .no_proxy()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let res = h2.get(gw.url("/health")).send().await.unwrap();
    assert_eq!(res.version(), reqwest::Version::HTTP_2);
    assert_eq!(res.status(), 200);
    let res = h2
        .get(gw.url("/health"))
        .header("x-padding", "c".repeat(6000))
        .send()
        .await
        .unwrap();
    assert_eq!(res.version(), reqwest::Version::HTTP_2);
    assert!(
        !res.headers().contains_key("connection"),
        "no connection header on h2"
    );
    expect_error(res, 431, "header_too_large").await;
}

/// A gateway served by hand, to drive its shutdown.
struct Served {
    base: String,
    key: String,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    _dir: tempfile::TempDir,
    _mock: Mock,
}

async fn serve_by_hand(tweak: impl FnOnce(&mut tollgate::config::RawConfig)) -> Served {
    let mock = Mock::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut raw = base_config(dir.path(), &mock.base);
    tweak(&mut raw);
    let config = Config::from_raw(raw, dir.path().to_owned()).unwrap();
    let app = App::build(config).await.unwrap();
    let admin = app.bootstrap_key().unwrap().expose().to_owned();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.serve(listener, async move {
        let _ = rx.await;
    }));
    let res = client()
        .post(format!("{base}/admin/keys"))
        .bearer_auth(&admin)
        .json(&json!({"name": "t"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let key = res.json::<Value>().await.unwrap()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    Served {
        base,
        key,
        stop,
        server,
        _dir: dir,
        _mock: mock,
    }
}

async fn open_stream(s: &Served, directives: &str) -> reqwest::Response {
    let res = client()
        .post(format!("{}/v1/chat/completions", s.base))
        .bearer_auth(&s.key)
        .json(&json!({
            "model": "gpt-4o-mini",
            "stream": true,
            "messages": [{"role": "user", "content": directives}],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res
}

/// Reads the rest of a response body; `Err` if the connection broke first.
async fn rest_of(res: reqwest::Response) -> Result<String, reqwest::Error> {
    let bytes = tokio::time::timeout(DEADLINE, res.bytes())
        .await
        .expect("the body ends before the deadline")?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_stops_accepting_and_lets_a_stream_finish() {
    let s = serve_by_hand(|_| {}).await;
    let mut res = open_stream(&s, "[[mock:words=20]] [[mock:chunk_delay_ms=50]]").await;
    let first = res.chunk().await.unwrap().expect("a first event");
    assert!(!first.is_empty());
    let _ = s.stop.send(());
    let addr = s.base.trim_start_matches("http://").to_owned();
    eventually(DEADLINE, "the listener to stop accepting", || {
        let addr = addr.clone();
        async move { TcpStream::connect(&addr).await.is_err().then_some(()) }
    })
    .await;
    let rest = rest_of(res).await.expect("the stream was not cut");
    assert!(rest.contains("data: [DONE]"), "the stream finished: {rest}");
    tokio::time::timeout(DEADLINE, s.server)
        .await
        .expect("serve returns once the stream is done")
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_cuts_what_is_still_open_after_the_grace() {
    let s = serve_by_hand(|raw| raw.server.shutdown_grace_secs = 1).await;
    // About 60 s of stream: only the grace deadline can end it in time.
    let mut res = open_stream(&s, "[[mock:words=300]] [[mock:chunk_delay_ms=200]]").await;
    res.chunk().await.unwrap().expect("a first event");
    let _ = s.stop.send(());
    tokio::time::timeout(DEADLINE, s.server)
        .await
        .expect("serve returns at the grace deadline")
        .unwrap()
        .unwrap();
    match rest_of(res).await {
        Err(_) => {}
        Ok(rest) => assert!(!rest.contains("[DONE]"), "the stream was cut: {rest}"),
    }
}

/// The soft and hard `Max open files` of a process, from `/proc/<pid>/limits`.
fn nofile_limits(pid: u32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("a Max open files line");
    let mut fields = line["Max open files".len()..].split_whitespace();
    (
        fields.next().unwrap().to_owned(),
        fields.next().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_raises_the_open_files_limit_to_the_hard_limit() {
    use tokio::io::AsyncBufReadExt;
    let mock = Mock::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &mock.base, "");
    let hard = nofile_limits(std::process::id()).1;
    // Start with a low soft limit, as many systems do (1024).
    let mut child = tokio::process::Command::new("prlimit")
        .arg(format!("--nofile=256:{hard}"))
        .arg(binary())
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .env("TOLLGATE_LOG", "warn")
        .env("TOLLGATE_DATA_DIR", dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("prlimit (util-linux) runs");
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.starts_with("tollgate listening on ") {
                return;
            }
        }
        panic!("tollgate serve exited before listening");
    })
    .await
    .expect("tollgate serve started");
    let pid = child.id().unwrap();
    assert_eq!(nofile_limits(pid), (hard.clone(), hard));
    child.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_h2c_connection_is_closed() {
    let gw = Gateway::start_with(|raw| {
        raw.server.idle_timeout_ms = 300;
        raw.server.header_read_timeout_ms = 60_000;
    })
    .await;
    let (client, connection) = h2::client::handshake(connect(&gw).await).await.unwrap();
    // The connection future resolves only when the server ends the connection.
    let connection = tokio::spawn(connection);
    let mut client = client.ready().await.unwrap();
    let req = http::Request::get(gw.url("/health")).body(()).unwrap();
    let (response, _) = client.send_request(req, true).unwrap();
    let mut res = response.await.unwrap();
    assert_eq!(res.status(), 200);
    while let Some(chunk) = res.body_mut().data().await {
        chunk.unwrap();
    }
    // Keep our handle: an h2 client with no handles left closes the connection itself.
    tokio::time::timeout(DEADLINE, connection)
        .await
        .expect("the server closed the idle h2 connection")
        .unwrap()
        .ok();
    drop(client);
}
