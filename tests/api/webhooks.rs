//! Signed webhooks: CRUD with a once-shown secret, signatures that verify with the
//! README's recipe (Rust here, the Python recipe too), retries with a stable
//! delivery id, a durable outbox across restarts, key lifecycle events from the
//! API and the CLI, and SSRF refusals without the `[outbound]` overrides.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, KeyInit, Mac};
use parking_lot::Mutex;
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::net::TcpListener;

use crate::common::*;

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: String,
}

/// A webhook receiver on 127.0.0.1:0 that answers 500 to its first `fail_first` requests.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    pub got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub async fn start(fail_first: usize) -> Receiver {
        Self::start_on(TcpListener::bind("127.0.0.1:0").await.unwrap(), fail_first).await
    }

    pub async fn start_on(listener: TcpListener, fail_first: usize) -> Receiver {
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let seen = got.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let seen = seen.clone();
                async move {
                    let mut all = seen.lock();
                    all.push(Received { headers, body });
                    if all.len() <= fail_first {
                        StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        StatusCode::NO_CONTENT
                    }
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { url, got }
    }

    pub fn all(&self) -> Vec<Received> {
        self.got.lock().clone()
    }

    /// Waits for a delivery of event `kind` and returns it (body parsed).
    pub async fn wait_for(&self, kind: &str) -> (Received, Value) {
        eventually(
            Duration::from_secs(15),
            &format!("a {kind} delivery"),
            || async {
                self.all().into_iter().find_map(|r| {
                    let v: Value = serde_json::from_str(&r.body).ok()?;
                    (v["type"] == kind).then_some((r, v))
                })
            },
        )
        .await
    }
}

/// The README's verification recipe, in Rust: every `v1=` is tried, the timestamp
/// must be within 5 minutes, comparison in constant time (`Mac::verify_slice`).
pub fn verify(secret: &str, header: &str, body: &str, now: i64) -> bool {
    let mut t = None;
    let mut sigs = Vec::new();
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => sigs.push(v.to_owned()),
            _ => {}
        }
    }
    let Some(t) = t else { return false };
    if (now - t).abs() > 300 {
        return false;
    }
    sigs.iter().any(|s| {
        let Some(bytes) = unhex(s) else { return false };
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.{body}").as_bytes());
        mac.verify_slice(&bytes).is_ok()
    })
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Test config: local receivers allowed, a fast worker and fast retries.
pub fn local_hooks(raw: &mut tollgate::config::RawConfig) {
    raw.outbound.allow_http = true;
    raw.outbound.allow_private = true;
    raw.webhooks.poll_interval_ms = 50;
    raw.webhooks.backoff_base_ms = 50;
}

pub async fn create_hook(gw: &Gateway, url: &str, events: Value) -> Value {
    let res = gw
        .admin(
            Method::POST,
            "/admin/webhooks",
            Some(json!({"url": url, "events": events, "description": "test receiver"})),
        )
        .await;
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

#[tokio::test]
async fn the_secret_is_shown_once_and_a_test_delivery_verifies_with_the_recipe() {
    let gw = Gateway::start_with(local_hooks).await;
    let rx = Receiver::start(0).await;
    let hook = create_hook(&gw, &rx.url, json!(["*"])).await;
    let secret = hook["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{hook}");
    let id = hook["id"].as_str().unwrap();

    let listed: Value = gw
        .admin(Method::GET, "/admin/webhooks", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"][0]["id"], id);
    assert_eq!(listed["data"][0]["url"], rx.url);
    let got: Value = gw
        .admin(Method::GET, &format!("/admin/webhooks/{id}"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["events"], json!(["*"]));
    for view in [&listed, &got] {
        assert!(!view.to_string().contains(&secret), "secret leaked: {view}");
        assert!(view.get("secret").is_none());
    }

    let res = gw
        .admin(Method::POST, &format!("/admin/webhooks/{id}/test"), None)
        .await;
    assert_eq!(res.status(), 202);
    let queued: Value = res.json().await.unwrap();
    let (r, body) = rx.wait_for("webhook.test").await;
    assert_eq!(body["data"]["webhook_id"], id);
    assert_eq!(body["account_id"], "default");
    assert!(body["id"].as_str().unwrap().starts_with("evt_"));
    assert!(body["created_at"].as_str().is_some());
    assert_eq!(
        r.headers["x-tollgate-delivery"].to_str().unwrap(),
        queued["id"].as_str().unwrap()
    );
    let sig = r.headers["x-tollgate-signature"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        sig.starts_with("t=") && sig.matches(",v1=").count() == 1,
        "{sig}"
    );
    assert!(verify(&secret, &sig, &r.body, now_unix()));
    assert!(!verify("whsec_wrong", &sig, &r.body, now_unix()));
    assert!(
        !verify(&secret, &sig, &format!("{} ", r.body), now_unix()),
        "body is signed"
    );
    assert!(
        !verify(&secret, &sig, &r.body, now_unix() + 301),
        "replay window"
    );
    assert!(!r.body.contains(&secret));

    // The README's Python recipe, run as written, on the captured delivery.
    let recipe = include_str!("webhook_verify.py");
    let out = tokio::process::Command::new("python3")
        .arg("-c")
        .arg(format!(
            "{recipe}\nimport sys\nprint(verify(sys.argv[1], sys.argv[2], sys.argv[3].encode()))"
        ))
        .args([&secret, &sig, &r.body])
        .output()
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "True",
        "{out:?}"
    );

    // The log shows it delivered.
    let log: Value = gw
        .admin(
            Method::GET,
            &format!("/admin/webhooks/{id}/deliveries"),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let d = eventually(Duration::from_secs(10), "delivered in the log", || async {
        let log: Value = gw
            .admin(
                Method::GET,
                &format!("/admin/webhooks/{id}/deliveries"),
                None,
            )
            .await
            .json()
            .await
            .unwrap();
        let d = log["data"][0].clone();
        (d["status"] == "delivered").then_some(d)
    })
    .await;
    assert!(log["data"].is_array());
    assert_eq!(d["attempts"], 1);
    assert_eq!(d["last_status"], 204);

    // Deleted: gone.
    let res = gw
        .admin(Method::DELETE, &format!("/admin/webhooks/{id}"), None)
        .await;
    assert_eq!(res.status(), 200);
    let res = gw
        .admin(Method::GET, &format!("/admin/webhooks/{id}"), None)
        .await;
    expect_error(res, 404, "not_found").await;
}

#[tokio::test]
async fn a_receiver_failing_twice_gets_the_same_delivery_id_three_times() {
    let gw = Gateway::start_with(local_hooks).await;
    let rx = Receiver::start(2).await;
    let hook = create_hook(&gw, &rx.url, json!(["webhook.test"])).await;
    let id = hook["id"].as_str().unwrap();
    gw.admin(Method::POST, &format!("/admin/webhooks/{id}/test"), None)
        .await;
    let d = eventually(
        Duration::from_secs(15),
        "delivered after retries",
        || async {
            let log: Value = gw
                .admin(
                    Method::GET,
                    &format!("/admin/webhooks/{id}/deliveries"),
                    None,
                )
                .await
                .json()
                .await
                .unwrap();
            let d = log["data"][0].clone();
            (d["status"] == "delivered").then_some(d)
        },
    )
    .await;
    assert_eq!(d["attempts"], 3, "{d}");
    let all = rx.all();
    assert_eq!(all.len(), 3);
    let ids: Vec<&str> = all
        .iter()
        .map(|r| r.headers["x-tollgate-delivery"].to_str().unwrap())
        .collect();
    assert!(ids.iter().all(|i| *i == d["id"]), "{ids:?}");
    assert!(
        all.iter().all(|r| r.body == all[0].body),
        "same event each time"
    );

    // Manual redelivery: once more, same id.
    let did = d["id"].as_str().unwrap();
    let res = gw
        .admin(
            Method::POST,
            &format!("/admin/webhooks/{id}/deliveries/{did}/redeliver"),
            None,
        )
        .await;
    assert_eq!(res.status(), 202);
    eventually(Duration::from_secs(10), "a fourth request", || async {
        (rx.all().len() == 4).then_some(())
    })
    .await;
    assert_eq!(
        rx.all()[3].headers["x-tollgate-delivery"].to_str().unwrap(),
        did
    );
    let res = gw
        .admin(
            Method::POST,
            &format!("/admin/webhooks/{id}/deliveries/dlv_nope/redeliver"),
            None,
        )
        .await;
    expect_error(res, 404, "not_found").await;
}

#[tokio::test]
async fn key_lifecycle_events_from_the_api_carry_no_secret() {
    let gw = Gateway::start_with(local_hooks).await;
    let rx = Receiver::start(0).await;
    create_hook(
        &gw,
        &rx.url,
        json!(["key.created", "key.rotated", "key.revoked"]),
    )
    .await;
    let res = gw
        .admin(Method::POST, "/admin/keys", Some(json!({"name": "svc"})))
        .await;
    let created: Value = res.json().await.unwrap();
    let kid = created["kid"].as_str().unwrap().to_owned();
    let key_id = created["id"].as_str().unwrap().to_owned();
    let plaintext = created["key"].as_str().unwrap().to_owned();
    let (_, ev) = rx.wait_for("key.created").await;
    assert_eq!(ev["data"]["kid"], kid.as_str());
    assert_eq!(ev["data"]["key_id"], key_id.as_str());
    assert_eq!(ev["data"]["name"], "svc");
    let rotated: Value = gw
        .admin(
            Method::POST,
            &format!("/admin/keys/{key_id}/rotate"),
            Some(json!({})),
        )
        .await
        .json()
        .await
        .unwrap();
    let (_, ev) = rx.wait_for("key.rotated").await;
    assert_eq!(ev["data"]["kid"], kid.as_str());
    gw.admin(Method::POST, &format!("/admin/keys/{key_id}/revoke"), None)
        .await;
    let (_, ev) = rx.wait_for("key.revoked").await;
    assert_eq!(ev["data"]["kid"], kid.as_str());
    assert!(ev["data"]["revoked_at"].is_string());
    let new_plain = rotated["key"].as_str().unwrap();
    for r in rx.all() {
        assert!(
            !r.body.contains(&plaintext) && !r.body.contains(new_plain),
            "{}",
            r.body
        );
        assert!(!r.body.contains("secret_hash"), "{}", r.body);
    }
    // A second revocation is not news.
    gw.admin(Method::POST, &format!("/admin/keys/{key_id}/revoke"), None)
        .await;
    gw.admin(Method::POST, "/admin/keys", Some(json!({"name": "marker"})))
        .await;
    eventually(
        Duration::from_secs(10),
        "the marker key.created",
        || async {
            (rx.all()
                .iter()
                .filter(|r| r.body.contains("\"marker\""))
                .count()
                == 1)
                .then_some(())
        },
    )
    .await;
    let revoked = rx
        .all()
        .iter()
        .filter(|r| r.body.contains("key.revoked"))
        .count();
    assert_eq!(revoked, 1);
}

#[tokio::test]
async fn a_rotated_secret_overlaps_with_two_signatures() {
    let gw = Gateway::start_with(local_hooks).await;
    let rx = Receiver::start(0).await;
    let hook = create_hook(&gw, &rx.url, json!(["webhook.test"])).await;
    let id = hook["id"].as_str().unwrap();
    let old = hook["secret"].as_str().unwrap();
    let rotated: Value = gw
        .admin(
            Method::PATCH,
            &format!("/admin/webhooks/{id}"),
            Some(json!({"rotate_secret": true})),
        )
        .await
        .json()
        .await
        .unwrap();
    let new = rotated["secret"].as_str().unwrap();
    assert_ne!(new, old);
    assert!(rotated["secret_rotation_overlap_until"].is_string());
    gw.admin(Method::POST, &format!("/admin/webhooks/{id}/test"), None)
        .await;
    let (r, _) = rx.wait_for("webhook.test").await;
    let sig = r.headers["x-tollgate-signature"].to_str().unwrap();
    assert_eq!(sig.matches(",v1=").count(), 2, "{sig}");
    assert!(verify(new, sig, &r.body, now_unix()));
    assert!(verify(old, sig, &r.body, now_unix()));
}

#[tokio::test]
async fn targets_are_refused_without_the_outbound_overrides() {
    let gw = Gateway::start().await;
    for (url, why) in [
        ("http://example.com/hook", "https"),
        ("https://127.0.0.1/hook", "127.0.0.1"),
        ("https://10.1.2.3/hook", "10.1.2.3"),
        ("https://169.254.169.254/latest", "169.254.169.254"),
        ("https://[::1]/hook", "::1"),
        ("https://user:pw@example.com/", "credentials"),
        ("not a url", "absolute URL"),
    ] {
        let res = gw
            .admin(
                Method::POST,
                "/admin/webhooks",
                Some(json!({"url": url, "events": ["*"]})),
            )
            .await;
        let body = expect_error(res, 400, "invalid_field").await;
        assert_eq!(body["error"]["param"], "url", "{url}: {body}");
        let msg = body["error"]["message"].as_str().unwrap();
        assert!(msg.contains(why), "{url}: {msg}");
    }
    let res = gw
        .admin(
            Method::POST,
            "/admin/webhooks",
            Some(json!({"url": "https://example.com/", "events": ["key.nope"]})),
        )
        .await;
    let body = expect_error(res, 400, "invalid_field").await;
    assert_eq!(body["error"]["param"], "events");
    let listed: Value = gw
        .admin(Method::GET, "/admin/webhooks", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"], json!([]), "nothing was stored");

    // allow_http alone still refuses loopback.
    let gw = Gateway::start_with(|raw| raw.outbound.allow_http = true).await;
    let res = gw
        .admin(
            Method::POST,
            "/admin/webhooks",
            Some(json!({"url": "http://127.0.0.1:9/hook", "events": ["*"]})),
        )
        .await;
    let body = expect_error(res, 400, "invalid_field").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("127.0.0.1")
    );
}

const HOOK_CONFIG: &str = "[outbound]\nallow_http = true\nallow_private = true\n\n[webhooks]\npoll_interval_ms = 50\nbackoff_base_ms = 50\n";

async fn server_hook(server: &ServerProcess, admin: &str, url: &str) {
    let res = client()
        .post(format!("{}/admin/webhooks", server.base))
        .bearer_auth(admin)
        .json(&json!({"url": url, "events": ["key.revoked", "key.created"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
}

#[tokio::test]
async fn cli_revocation_produces_key_revoked() {
    let mock = Mock::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &mock.base, HOOK_CONFIG);
    let admin = cli_create_key(&config, &["--kind", "mk", "--name", "ops"]).await;
    let server = ServerProcess::start(&config).await;
    let rx = Receiver::start(0).await;
    server_hook(&server, &admin, &rx.url).await;
    let (ok, out, err) = cli(&config, &["keys", "create", "--name", "doomed", "--json"]).await;
    assert!(ok, "{err}");
    let kid = serde_json::from_str::<Value>(&out).unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    let (ok, _, err) = cli(&config, &["keys", "revoke", &kid]).await;
    assert!(ok, "{err}");
    let (_, ev) = rx.wait_for("key.revoked").await;
    assert_eq!(ev["data"]["kid"], kid.as_str());
    assert_eq!(ev["data"]["name"], "doomed");
    drop(server);
}

#[tokio::test]
async fn events_written_while_the_gateway_is_down_are_delivered_after_a_restart() {
    let mock = Mock::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &mock.base, HOOK_CONFIG);
    let admin = cli_create_key(&config, &["--kind", "mk", "--name", "ops"]).await;
    // The receiver's port is bound now but served only after the restart, so
    // the first attempts cannot succeed.
    let rx_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", rx_listener.local_addr().unwrap());
    let mut server = ServerProcess::start(&config).await;
    server_hook(&server, &admin, &url).await;
    server.child.kill().await.unwrap();
    // While no gateway runs, the CLI writes the event to the outbox.
    let (ok, out, err) = cli(&config, &["keys", "create", "--name", "offline", "--json"]).await;
    assert!(ok, "{err}");
    let kid = serde_json::from_str::<Value>(&out).unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    let (ok, _, err) = cli(&config, &["keys", "revoke", &kid]).await;
    assert!(ok, "{err}");
    let _server = ServerProcess::start(&config).await;
    let rx = Receiver::start_on(rx_listener, 0).await;
    let (_, ev) = rx.wait_for("key.revoked").await;
    assert_eq!(ev["data"]["kid"], kid.as_str());
    let (_, ev) = rx.wait_for("key.created").await;
    assert_eq!(ev["data"]["name"], "offline");
}
