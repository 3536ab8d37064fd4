//! The vault: end users' provider keys, stored sealed, listed masked, chosen per
//! call (`X-Key-Id`, body `vendor` with or without `model`, the model's provider),
//! sent upstream instead of the gateway's key, never shown, logged or stored in
//! plaintext; `GET /usage`; `tollgate secrets rotate`.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::common::*;
use crate::users::{PASSWORD, new_user};

const USER_KEY: &str = "sk-user-own-key-0123456789abcd";
const OTHER_KEY: &str = "sk-ant-user-own-key-9876543210wxyz";

async fn add_key(gw: &Gateway, token: &str, vendor: &str, api_key: &str) -> Value {
    let res = gw
        .post(
            "/keys",
            token,
            &[],
            json!({"vendor": vendor, "label": format!("my {vendor}"), "api_key": api_key}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let text = res.text().await.unwrap();
    assert!(!text.contains(api_key), "the plaintext came back: {text}");
    serde_json::from_str(&text).unwrap()
}

async fn last_upstream(gw: &Gateway) -> Value {
    gw.mock
        .requests()
        .await
        .last()
        .expect("a request upstream")
        .clone()
}

fn assert_no_gateway_key(sent: &Value) {
    let text = sent["headers"].to_string();
    for k in [UPSTREAM_KEY, ANTHROPIC_UPSTREAM_KEY, GEMINI_UPSTREAM_KEY] {
        assert!(!text.contains(k), "the gateway's key went upstream: {text}");
    }
}

/// The deepseek vendor (OpenAI-compatible) served by the mock too.
fn with_deepseek(raw: &mut tollgate::config::RawConfig) {
    raw.providers.deepseek.base_url = raw.providers.openai.base_url.clone();
}

#[tokio::test(flavor = "multi_thread")]
async fn add_list_delete_show_metadata_and_a_masked_hint_only() {
    let gw = Gateway::start().await;
    let (_, token) = new_user(&gw, "a@example.org").await;
    let created = add_key(&gw, &token, "openai", USER_KEY).await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["vendor"], "openai");
    assert_eq!(created["label"], "my openai");
    assert_eq!(created["is_active"], true);
    assert_eq!(created["hint"], "sk-…abcd");
    assert!(created["created_at"].is_string());
    assert!(created["last_used_at"].is_null());

    let google = add_key(&gw, &token, "gemini", OTHER_KEY).await;
    assert_eq!(google["vendor"], "google", "gemini is google");

    let res = gw.get("/keys", &token).await;
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert!(
        !text.contains(USER_KEY) && !text.contains(OTHER_KEY),
        "{text}"
    );
    let list: Value = serde_json::from_str(&text).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    for k in list {
        for field in [
            "id",
            "vendor",
            "label",
            "is_active",
            "created_at",
            "last_used_at",
            "hint",
        ] {
            assert!(k.get(field).is_some(), "{field} in {k}");
        }
    }

    let res = gw
        .client
        .delete(gw.url(&format!("/keys/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let list: Value = gw.get("/keys", &token).await.json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    let res = gw
        .client
        .delete(gw.url(&format!("/keys/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    expect_error(res, 404, "not_found").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_vault_bodies_are_400_naming_the_field() {
    let gw = Gateway::start().await;
    let (_, token) = new_user(&gw, "b@example.org").await;
    let res = gw
        .post(
            "/keys",
            &token,
            &[],
            json!({"vendor": "acme", "label": "x", "api_key": USER_KEY}),
        )
        .await;
    let body = expect_error(res, 400, "invalid_field").await;
    assert_eq!(body["error"]["param"], "vendor");
    let res = gw
        .post(
            "/keys",
            &token,
            &[],
            json!({"vendor": "openai", "label": "x", "api_key": ""}),
        )
        .await;
    let body = expect_error(res, 400, "invalid_field").await;
    assert_eq!(body["error"]["param"], "api_key");
    let res = gw
        .post(
            "/keys",
            &token,
            &[],
            json!({"vendor": "openai", "label": "x"}),
        )
        .await;
    expect_error(res, 400, "invalid_field").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_models_provider_picks_the_users_key_and_never_the_gateways() {
    let gw = Gateway::start().await;
    let (user_id, token) = new_user(&gw, "c@example.org").await;
    add_key(&gw, &token, "openai", USER_KEY).await;
    add_key(&gw, &token, "anthropic", OTHER_KEY).await;

    let res = gw.chat(&token, chat_body("gpt-4o-mini", "hi")).await;
    assert_eq!(res.status(), 200);
    let rid = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let sent = last_upstream(&gw).await;
    assert_eq!(
        sent["headers"]["authorization"],
        format!("Bearer {USER_KEY}")
    );
    assert_no_gateway_key(&sent);

    let res = gw.chat(&token, chat_body("claude-haiku-4-5", "hi")).await;
    assert_eq!(res.status(), 200);
    let sent = last_upstream(&gw).await;
    assert_eq!(sent["headers"]["x-api-key"], OTHER_KEY);
    assert_no_gateway_key(&sent);

    // Metered with the user's id and no charge.
    let rows = eventually(Duration::from_secs(10), "the usage row", || {
        let store = gw.state().store().clone();
        let rid = rid.clone();
        async move {
            let rows = store.usage_events_for_request(&rid).await.unwrap();
            (!rows.is_empty()).then_some(rows)
        }
    })
    .await;
    assert_eq!(rows[0].user_id, user_id);
    assert_eq!(rows[0].kid, user_id);
    assert_eq!(rows[0].charge_micro, 0);
    assert!(rows[0].byok, "runs on the caller's account");
    assert!(rows[0].input_tokens > 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_usable_key_is_400_naming_the_vendor_key_to_add() {
    let gw = Gateway::start().await;
    let (_, token) = new_user(&gw, "d@example.org").await;
    add_key(&gw, &token, "openai", USER_KEY).await;
    let res = gw.chat(&token, chat_body("claude-haiku-4-5", "hi")).await;
    let body = expect_error(res, 400, "invalid_field").await;
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("anthropic") && msg.contains("POST /keys"),
        "{msg}"
    );
    assert_eq!(
        gw.mock.stats().await["requests"],
        0,
        "nothing went upstream, gateway key neither"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn x_key_id_forces_one_of_the_users_keys() {
    let gw = Gateway::start().await;
    let (_, token) = new_user(&gw, "e@example.org").await;
    let first = add_key(&gw, &token, "openai", USER_KEY).await;
    add_key(&gw, &token, "openai", "sk-second-openai-key-5555").await;
    // Without X-Key-Id: the newest key of the vendor.
    assert_eq!(
        gw.chat(&token, chat_body("gpt-4o-mini", "hi"))
            .await
            .status(),
        200
    );
    assert_eq!(
        last_upstream(&gw).await["headers"]["authorization"],
        "Bearer sk-second-openai-key-5555"
    );
    let id = first["id"].as_str().unwrap();
    let res = gw
        .post(
            "/v1/chat/completions",
            &token,
            &[("x-key-id", id)],
            chat_body("gpt-4o-mini", "hi"),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        last_upstream(&gw).await["headers"]["authorization"],
        format!("Bearer {USER_KEY}")
    );
    // An unknown id: 404.
    let res = gw
        .post(
            "/v1/chat/completions",
            &token,
            &[("x-key-id", "vk_nope")],
            chat_body("gpt-4o-mini", "hi"),
        )
        .await;
    expect_error(res, 404, "not_found").await;
    // The key's vendor and the model's provider must agree.
    let res = gw
        .post(
            "/v1/chat/completions",
            &token,
            &[("x-key-id", id)],
            chat_body("claude-haiku-4-5", "hi"),
        )
        .await;
    let body = expect_error(res, 400, "invalid_field").await;
    assert_eq!(body["error"]["param"], "model");
    // Last use is recorded.
    eventually(Duration::from_secs(10), "last_used_at", || async {
        let list: Value = gw.get("/keys", &token).await.json().await.unwrap();
        list.as_array()
            .unwrap()
            .iter()
            .find(|k| k["id"] == id)
            .and_then(|k| k["last_used_at"].as_str().map(str::to_owned))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn vendor_in_the_body_with_and_without_model() {
    let gw = Gateway::start_with(with_deepseek).await;
    let (_, token) = new_user(&gw, "f@example.org").await;
    add_key(&gw, &token, "deepseek", USER_KEY).await;
    // The seed's example: a vendor and no model. The vendor's default model goes
    // upstream, and the `vendor` field does not.
    let res = gw
        .post(
            "/v1/chat/completions",
            &token,
            &[],
            json!({"vendor": "deepseek", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["model"], "deepseek-chat", "{answer}");
    let sent = last_upstream(&gw).await;
    assert_eq!(
        sent["headers"]["authorization"],
        format!("Bearer {USER_KEY}")
    );
    assert_no_gateway_key(&sent);
    let body = &sent["body"];
    assert_eq!(body["model"], "deepseek-chat", "{sent}");
    assert!(
        body.get("vendor").is_none(),
        "vendor is ours, not the provider's: {sent}"
    );

    // With a model: that model, on the vendor's key.
    let res = gw
        .post("/v1/chat/completions", &token, &[], json!({"vendor": "deepseek", "model": "deepseek-reasoner", "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(res.status(), 200);
    let sent = last_upstream(&gw).await;
    assert_eq!(sent["body"]["model"], "deepseek-reasoner", "{sent}");

    // A vendor without a key in the vault.
    let res = gw
        .post(
            "/v1/chat/completions",
            &token,
            &[],
            json!({"vendor": "qwen", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    let body = expect_error(res, 400, "invalid_field").await;
    assert!(
        body["error"]["message"].as_str().unwrap().contains("qwen"),
        "{body}"
    );
    let res = gw
        .post(
            "/v1/chat/completions",
            &token,
            &[],
            json!({"vendor": "acme", "messages": []}),
        )
        .await;
    let body = expect_error(res, 400, "invalid_field").await;
    assert_eq!(body["error"]["param"], "vendor");
}

#[tokio::test(flavor = "multi_thread")]
async fn another_users_key_is_403_key_not_owned_on_use_and_on_delete() {
    let gw = Gateway::start().await;
    let (_, alice) = new_user(&gw, "alice@example.org").await;
    let (_, mallory) = new_user(&gw, "mallory@example.org").await;
    let key = add_key(&gw, &alice, "openai", USER_KEY).await;
    let id = key["id"].as_str().unwrap();
    add_key(&gw, &mallory, "openai", "sk-mallory-own-key-000000").await;

    let res = gw
        .post(
            "/v1/chat/completions",
            &mallory,
            &[("x-key-id", id)],
            chat_body("gpt-4o-mini", "hi"),
        )
        .await;
    let body = expect_error(res, 403, "key_not_owned").await;
    assert_eq!(body["error"]["type"], "permission_error");
    assert_eq!(gw.mock.stats().await["requests"], 0);

    let res = gw
        .client
        .delete(gw.url(&format!("/keys/{id}")))
        .bearer_auth(&mallory)
        .send()
        .await
        .unwrap();
    expect_error(res, 403, "key_not_owned").await;
    // Alice's key is still there, and only in Alice's list.
    let alices: Value = gw.get("/keys", &alice).await.json().await.unwrap();
    assert_eq!(alices.as_array().unwrap().len(), 1);
    let mallorys: Value = gw.get("/keys", &mallory).await.json().await.unwrap();
    assert!(!mallorys.to_string().contains(id));
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_user_deletes_their_vault() {
    let gw = Gateway::start().await;
    let (id, token) = new_user(&gw, "g@example.org").await;
    add_key(&gw, &token, "openai", USER_KEY).await;
    let res = gw
        .admin(reqwest::Method::DELETE, &format!("/admin/users/{id}"), None)
        .await;
    assert_eq!(res.status(), 200);
    let left = gw.state().store().vault_keys(&id).await.unwrap();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_reports_the_callers_calls_by_vendor_and_model() {
    let gw = Gateway::start().await;
    let (_, token) = new_user(&gw, "h@example.org").await;
    let (_, other) = new_user(&gw, "i@example.org").await;
    add_key(&gw, &token, "openai", USER_KEY).await;
    add_key(&gw, &other, "openai", "sk-other-user-key-777777").await;
    for _ in 0..2 {
        assert_eq!(
            gw.chat(&token, chat_body("gpt-4o-mini", "hi"))
                .await
                .status(),
            200
        );
    }
    let failed = gw
        .chat(&token, chat_body("gpt-4o-mini", "hi [[mock:status=500]]"))
        .await;
    assert!(failed.status().is_server_error());
    assert_eq!(
        gw.chat(&other, chat_body("gpt-4o-mini", "hi"))
            .await
            .status(),
        200
    );

    let report = eventually(
        Duration::from_secs(10),
        "three calls in the report",
        || async {
            let res = gw.get("/usage", &token).await;
            assert_eq!(res.status(), 200);
            let body: Value = res.json().await.unwrap();
            (body["totals"]["requests"] == 3).then_some(body)
        },
    )
    .await;
    assert_eq!(report["totals"]["successes"], 2);
    assert_eq!(report["totals"]["failures"], 1);
    assert!(report["totals"]["input_tokens"].as_i64().unwrap() > 0);
    assert_eq!(report["by_vendor"][0]["vendor"], "openai");
    assert_eq!(report["by_vendor"][0]["requests"], 3);
    assert_eq!(report["by_model"][0]["model"], "gpt-4o-mini");
    assert_eq!(report["by_model"][0]["vendor"], "openai");

    // Dates work, and a window in the past is empty.
    let res = gw.get("/usage?from=2020-01-01&to=2020-01-31", &token).await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["totals"]["requests"], 0, "{body}");
    expect_error(
        gw.get("/usage?from=yesterday", &token).await,
        400,
        "invalid_field",
    )
    .await;
}

/// A `tollgate serve` child whose stdout and stderr are collected whole.
async fn serve_capturing(
    config: &std::path::Path,
) -> (
    tokio::process::Child,
    String,
    Arc<parking_lot::Mutex<String>>,
) {
    let mut child = tokio::process::Command::new(binary())
        .arg("--config")
        .arg(config)
        .arg("serve")
        .env("TOLLGATE_LOG", "debug")
        .env("TOLLGATE_DATA_DIR", data_dir(config))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let log = Arc::new(parking_lot::Mutex::new(String::new()));
    let (tx, rx) = tokio::sync::oneshot::channel::<String>();
    let mut tx = Some(tx);
    let mut err = BufReader::new(child.stderr.take().unwrap()).lines();
    let sink = log.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = err.next_line().await {
            if let Some(url) = line.strip_prefix("tollgate listening on ")
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(url.to_owned());
            }
            let mut l = sink.lock();
            l.push_str(&line);
            l.push('\n');
        }
    });
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    let sink = log.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = out.next_line().await {
            let mut l = sink.lock();
            l.push_str(&line);
            l.push('\n');
        }
    });
    let base = tokio::time::timeout(Duration::from_secs(30), rx)
        .await
        .unwrap()
        .unwrap();
    (child, base, log)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_plaintext_is_in_no_response_no_log_line_and_not_in_the_database_file() {
    let mock = Mock::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &mock.base, "");
    let (mut child, base, log) = serve_capturing(&config).await;
    let client = client();
    let mut bodies = String::new();
    let res = client
        .post(format!("{base}/auth/register"))
        .json(&json!({"email": "p@example.org", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let token = res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let call = |path: &str, body: Option<Value>| {
        let mut req = match &body {
            Some(b) => client.post(format!("{base}{path}")).json(b),
            None => client.get(format!("{base}{path}")),
        };
        req = req.bearer_auth(&token);
        async move { req.send().await.unwrap() }
    };
    let res = call(
        "/keys",
        Some(json!({"vendor": "openai", "label": "mine", "api_key": USER_KEY})),
    )
    .await;
    assert_eq!(res.status(), 201);
    bodies.push_str(&res.text().await.unwrap());
    bodies.push_str(&call("/keys", None).await.text().await.unwrap());
    let res = call("/v1/chat/completions", Some(chat_body("gpt-4o-mini", "hi"))).await;
    assert_eq!(res.status(), 200);
    bodies.push_str(&res.text().await.unwrap());
    // The provider quotes the key back in an error, as real providers do.
    for echo in ["full", "head:12", "tail:10"] {
        let text = format!("hi [[mock:status=401]] [[mock:echo_key={echo}]]");
        let res = call(
            "/v1/chat/completions",
            Some(chat_body("gpt-4o-mini", &text)),
        )
        .await;
        assert_eq!(res.status(), 401);
        bodies.push_str(&res.text().await.unwrap());
    }
    let sent = mock.requests().await;
    assert!(
        sent.last().unwrap()["headers"]["authorization"] == format!("Bearer {USER_KEY}"),
        "the key really went upstream"
    );
    bodies.push_str(&call("/usage", None).await.text().await.unwrap());
    assert!(
        !bodies.contains(USER_KEY),
        "a response carried the plaintext: {bodies}"
    );
    assert!(
        !bodies.contains(&USER_KEY[..12]) && !bodies.contains(&USER_KEY[USER_KEY.len() - 10..]),
        "{bodies}"
    );

    // Let the usage writer run, then stop the server gracefully (its last lines logged).
    eventually(Duration::from_secs(10), "requests logged", || async {
        log.lock().contains("/v1/chat/completions").then_some(())
    })
    .await;
    #[cfg(unix)]
    {
        let pid = child.id().unwrap();
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status();
        let _ = tokio::time::timeout(Duration::from_secs(20), child.wait()).await;
    }
    let _ = child.start_kill();
    let log = log.lock().clone();
    assert!(!log.is_empty());
    assert!(
        !log.contains(USER_KEY),
        "a log line carried the plaintext:\n{log}"
    );
    assert!(!log.contains(&token), "a log line carried the login token");
    assert!(!log.contains(PASSWORD), "a log line carried the password");

    // On PostgreSQL: every row of the tables that hold the user and the vault.
    if PG {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&config.db.url).await.unwrap();
        for table in ["users", "vault_keys"] {
            let rows: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT COALESCE(string_agg(t::text, ' '), '') FROM {table} t"
            )))
            .fetch_one(&mut conn)
            .await
            .unwrap();
            assert!(!rows.is_empty(), "{table} has rows");
            assert!(!rows.contains(USER_KEY), "{table} holds the plaintext");
            assert!(!rows.contains(PASSWORD), "{table} holds the password");
        }
        return;
    }
    // The raw database, its WAL and shared-memory files included.
    let mut checked = 0;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("gateway.db") {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !bytes
                    .windows(USER_KEY.len())
                    .any(|w| w == USER_KEY.as_bytes()),
                "{name} holds the plaintext"
            );
            assert!(
                !bytes
                    .windows(PASSWORD.len())
                    .any(|w| w == PASSWORD.as_bytes()),
                "{name} holds the password"
            );
            checked += 1;
        }
    }
    assert!(checked >= 1, "the database file was checked");
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_rotate_reseals_the_vault_under_a_new_key_file_key() {
    let mock = Mock::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &mock.base, "");
    let server = ServerProcess::start(&config).await;
    let client = client();
    let res = client
        .post(format!("{}/auth/register", server.base))
        .json(&json!({"email": "r@example.org", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let token = res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = client
        .post(format!("{}/keys", server.base))
        .bearer_auth(&token)
        .json(&json!({"vendor": "openai", "label": "x", "api_key": USER_KEY}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    drop(server);
    let key_file = dir.path().join("tollgate.master_key");
    let before =
        std::fs::read_to_string(&key_file).expect("the key file was generated beside the database");
    let store = tollgate::store::Store::open(&config.db.url).await.unwrap();
    let sealed_before = store
        .vault_keys(&store.list_users().await.unwrap()[0].id)
        .await
        .unwrap()[0]
        .sealed_key
        .clone();

    let (ok, _, err) = cli(&config, &["secrets", "rotate"]).await;
    assert!(ok, "{err}");
    assert!(err.contains("re-sealed 1 vault key"), "{err}");
    let after = std::fs::read_to_string(&key_file).unwrap();
    assert_ne!(before.trim(), after.trim());
    assert_eq!(after.trim().lines().count(), 1, "the old key is retired");
    let user = store.list_users().await.unwrap()[0].id.clone();
    let sealed_after = store.vault_keys(&user).await.unwrap()[0].sealed_key.clone();
    assert_ne!(sealed_before, sealed_after, "re-encrypted");
    store.close().await;

    // A restarted gateway (new key only) still calls with the user's key.
    let server = ServerProcess::start(&config).await;
    let res = client
        .post(format!("{}/v1/chat/completions", server.base))
        .bearer_auth(&token)
        .json(&chat_body("gpt-4o-mini", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        mock.requests().await.last().unwrap()["headers"]["authorization"],
        format!("Bearer {USER_KEY}")
    );
}
