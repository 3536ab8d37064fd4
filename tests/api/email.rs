//! `/v1/email/send` against a real SMTP server: aiosmtpd (`tests/email/smtp_sink.py`)
//! from the pinned test venv, started here on a free port. Checks what the server
//! received (sender, recipients, subject, body), CR/LF injection refused, the BYOK
//! refusal, and an SMTP refusal as a 502 carrying the server's reason.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

use crate::common::{Gateway, eventually, expect_error};

/// The running SMTP sink and the lines it prints per delivered message.
struct Smtp {
    port: u16,
    lines: Lines<BufReader<ChildStdout>>,
    _child: Child,
}

impl Smtp {
    async fn start() -> Smtp {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let venv = Command::new("bash")
            .arg(root.join("tests/sdk/ensure_venv.sh"))
            .stdin(Stdio::null())
            .status()
            .await
            .unwrap();
        assert!(
            venv.success(),
            "tests/sdk/ensure_venv.sh failed: is python3 installed and PyPI reachable?"
        );
        let mut child = Command::new(root.join("tests/sdk/.venv/bin/python"))
            .arg(root.join("tests/email/smtp_sink.py"))
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the SMTP sink starts")
            .unwrap()
            .unwrap();
        let port = first.strip_prefix("LISTENING ").unwrap().parse().unwrap();
        Smtp {
            port,
            lines,
            _child: child,
        }
    }

    async fn next_message(&mut self) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(30), self.lines.next_line())
            .await
            .expect("a message reaches the SMTP server")
            .unwrap()
            .unwrap();
        serde_json::from_str(&line).unwrap()
    }
}

async fn gateway(smtp: &Smtp) -> Gateway {
    let port = smtp.port;
    Gateway::start_with(move |raw| {
        raw.email.smtp_url = format!("smtp://127.0.0.1:{port}");
        raw.email.from = "Tollgate <noreply@tollgate.test>".into();
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn email_is_delivered_to_a_real_smtp_server_and_failures_are_502() {
    let mut smtp = Smtp::start().await;
    let gw = gateway(&smtp).await;
    let key = gw.key().await;

    let res = gw
        .post(
            "/v1/email/send",
            &key,
            &[("x-user-id", "u7")],
            json!({
                "to": ["Ada <ada@example.com>", "bob@example.com"],
                "cc": ["carol@example.com"],
                "bcc": ["dave@example.com"],
                "subject": "Quarterly report",
                "text": "Hello Ada, the report is attached.",
                "reply_to": "support@tollgate.test",
            }),
        )
        .await;
    assert_eq!(res.status(), 202);
    let rid = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    let id = body["id"].as_str().unwrap().to_owned();
    assert!(!id.is_empty());

    let msg = smtp.next_message().await;
    assert_eq!(msg["mail_from"], "noreply@tollgate.test");
    let mut rcpts: Vec<&str> = msg["rcpt_tos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    rcpts.sort();
    assert_eq!(
        rcpts,
        [
            "ada@example.com",
            "bob@example.com",
            "carol@example.com",
            "dave@example.com"
        ]
    );
    let data = msg["data"].as_str().unwrap();
    assert!(data.contains("Subject: Quarterly report"), "{data}");
    assert!(
        data.contains("From: Tollgate <noreply@tollgate.test>"),
        "{data}"
    );
    assert!(
        data.contains("To: Ada <ada@example.com>, bob@example.com"),
        "{data}"
    );
    assert!(data.contains("Reply-To: support@tollgate.test"), "{data}");
    assert!(
        !data.contains("dave@example.com"),
        "bcc is not a header: {data}"
    );
    assert!(
        data.contains("Hello Ada, the report is attached."),
        "{data}"
    );
    assert!(
        data.contains(&format!("Message-ID: <{id}@tollgate>")),
        "{data}"
    );

    // Metered with the user and status.
    let store = gw.state().store().clone();
    let ev = eventually(Duration::from_secs(10), "the email usage event", || {
        let (store, rid) = (store.clone(), rid.clone());
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
    assert_eq!(
        (
            ev.endpoint.as_str(),
            ev.provider.as_str(),
            ev.user_id.as_str(),
            ev.status
        ),
        ("/v1/email/send", "email", "u7", 202)
    );

    // HTML and an explicit sender.
    let res = gw
        .post("/v1/email/send", &key, &[], json!({"from": "ops@tollgate.test", "to": ["x@example.com"], "subject": "Hi", "html": "<p>Hi</p>", "text": "Hi"}))
        .await;
    assert_eq!(res.status(), 202);
    let msg = smtp.next_message().await;
    assert_eq!(msg["mail_from"], "ops@tollgate.test");
    let data = msg["data"].as_str().unwrap();
    assert!(
        data.contains("multipart/alternative") && data.contains("<p>Hi</p>"),
        "{data}"
    );

    // The server refuses a recipient: 502 with its reason.
    let res = gw
        .post(
            "/v1/email/send",
            &key,
            &[],
            json!({"to": ["nobody@reject.test"], "subject": "x", "text": "x"}),
        )
        .await;
    let err = expect_error(res, 502, "upstream_error").await;
    let message = err["error"]["message"].as_str().unwrap();
    assert!(message.contains("mailbox unavailable"), "{err}");
    assert!(message.contains("550"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn injection_bad_addresses_and_byok_are_refused() {
    let smtp = Smtp::start().await;
    let gw = gateway(&smtp).await;
    let key = gw.key().await;
    let cases = [
        (
            json!({"to": ["a@example.com"], "subject": "Hi\r\nBcc: evil@example.com", "text": "x"}),
            "subject",
        ),
        (
            json!({"to": ["a@example.com\r\nBcc: evil@example.com"], "subject": "Hi", "text": "x"}),
            "to",
        ),
        (
            json!({"to": ["a@example.com"], "cc": ["b@example.com\nX-Evil: 1"], "subject": "Hi", "text": "x"}),
            "cc",
        ),
        (
            json!({"from": "me@example.com\r\nBcc: evil@example.com", "to": ["a@example.com"], "subject": "Hi", "text": "x"}),
            "from",
        ),
        (
            json!({"to": ["not an address"], "subject": "Hi", "text": "x"}),
            "to",
        ),
        (json!({"to": [], "subject": "Hi", "text": "x"}), "to"),
        (
            json!({"to": ["a@example.com"], "subject": "Hi", "text": "x", "reply_to": "nope"}),
            "reply_to",
        ),
    ];
    for (body, param) in cases {
        let err = expect_error(
            gw.post("/v1/email/send", &key, &[], body.clone()).await,
            400,
            "invalid_field",
        )
        .await;
        assert_eq!(err["error"]["param"], param, "{body}: {err}");
    }
    let err = expect_error(
        gw.post(
            "/v1/email/send",
            &key,
            &[],
            json!({"to": ["a@example.com"], "text": "x"}),
        )
        .await,
        400,
        "missing_field",
    )
    .await;
    assert_eq!(err["error"]["param"], "subject");
    for headers in [
        vec![("x-byok-provider", "openai"), ("x-byok-api-key", "sk-user")],
        vec![("x-byok-api-key", "sk-user")],
    ] {
        let res = gw
            .post(
                "/v1/email/send",
                &key,
                &headers,
                json!({"to": ["a@example.com"], "subject": "Hi", "text": "x"}),
            )
            .await;
        expect_error(res, 400, "byok_not_supported").await;
    }
    let email_less = gw.create_key(json!({"scopes": ["chat"]})).await;
    let res = gw
        .post(
            "/v1/email/send",
            &email_less,
            &[],
            json!({"to": ["a@example.com"], "subject": "Hi", "text": "x"}),
        )
        .await;
    expect_error(res, 403, "insufficient_permissions").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_relay_email_is_unavailable() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let res = gw
        .post(
            "/v1/email/send",
            &key,
            &[],
            json!({"from": "a@example.com", "to": ["b@example.com"], "subject": "Hi", "text": "x"}),
        )
        .await;
    let err = expect_error(res, 503, "upstream_unavailable").await;
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("smtp_url"),
        "{err}"
    );
}
