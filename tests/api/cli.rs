//! The real binary: `keys` subcommands, and a revocation made by the CLI taking effect
//! on a running `tollgate serve` within the promised 5 seconds.

use std::time::Duration;

use serde_json::Value;

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn keys_create_list_show_revoke() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "http://127.0.0.1:9", "");
    let (ok, out, err) = cli(
        &config,
        &[
            "keys",
            "create",
            "--name",
            "ci",
            "--env",
            "stg",
            "--expires-in",
            "30d",
            "--json",
        ],
    )
    .await;
    assert!(ok, "{err}");
    let created: Value = serde_json::from_str(&out).unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    let kid = created["kid"].as_str().unwrap().to_owned();
    assert!(key.starts_with(&format!("tg_stg_sk_{kid}_")), "{key}");
    assert_eq!(created["name"], "ci");
    assert_eq!(created["status"], "active");
    assert!(created["id"].is_string() && created["expires_at"].is_string());

    let (ok, out, _) = cli(&config, &["keys", "list", "--json"]).await;
    assert!(ok);
    assert!(!out.contains(&key), "list must never show the key");
    assert!(!out.contains("hash"), "{out}");
    let list: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["kid"], kid.as_str());

    let (ok, out, _) = cli(&config, &["keys", "show", &kid, "--json"]).await;
    assert!(ok);
    let shown: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["id"], created["id"]);
    assert!(shown.get("key").is_none());

    let (ok, out, _) = cli(
        &config,
        &["keys", "revoke", created["id"].as_str().unwrap(), "--json"],
    )
    .await;
    assert!(ok);
    let revoked: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(revoked["status"], "revoked");
    assert!(revoked["revoked_at"].is_string());

    // The database holds no plaintext key (the SQLite file, read as bytes).
    sqlite_only!();
    let db = std::fs::read(dir.path().join("gateway.db")).unwrap();
    let secret_part = key.rsplit('_').next().unwrap();
    assert!(
        !db.windows(secret_part.len())
            .any(|w| w == secret_part.as_bytes())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_rejects_bad_arguments_with_a_fix() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "http://127.0.0.1:9", "");
    let (ok, _, err) = cli(&config, &["keys", "create", "--env", "prod"]).await;
    assert!(!ok);
    assert!(err.contains("live, stg or dev"), "{err}");
    let (ok, _, err) = cli(&config, &["keys", "create", "--expires-in", "soon"]).await;
    assert!(!ok);
    assert!(err.contains("30d"), "{err}");
    let (ok, _, err) = cli(&config, &["keys", "show", "nope"]).await;
    assert!(!ok);
    assert!(err.contains("keys list"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_config_fails_at_start_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "http://127.0.0.1:9",
        "[upstream]\nlisten_typo = 1\n",
    );
    let (ok, _, err) = cli(&config, &["keys", "list"]).await;
    assert!(!ok);
    assert!(err.contains("listen_typo"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_revocation_reaches_a_running_server_within_5_seconds() {
    let mock = Mock::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &mock.base, "");
    let (ok, out, err) = cli(&config, &["keys", "create", "--json"]).await;
    assert!(ok, "{err}");
    let created: Value = serde_json::from_str(&out).unwrap();
    let key = created["key"].as_str().unwrap().to_owned();

    let server = ServerProcess::start(&config).await;
    let client = client();
    let chat = || {
        client
            .post(format!("{}/v1/chat/completions", server.base))
            .bearer_auth(&key)
            .json(&chat_body("gpt-4o-mini", "hi"))
            .send()
    };
    // Served, and now cached in the server.
    assert_eq!(chat().await.unwrap().status(), 200);
    assert_eq!(chat().await.unwrap().status(), 200);

    let (ok, _, err) = cli(
        &config,
        &["keys", "revoke", created["kid"].as_str().unwrap()],
    )
    .await;
    assert!(ok, "{err}");
    let res = eventually(
        Duration::from_secs(5),
        "the server to refuse the revoked key",
        || async {
            let res = chat().await.unwrap();
            (res.status() == 401).then_some(res)
        },
    )
    .await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "revoked_api_key");
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_prints_a_working_key_for_every_chat_provider() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(binary())
        .args(["demo", "--listen", "127.0.0.1:0"])
        .env("TOLLGATE_DATA_DIR", dir.path())
        .env("TOLLGATE_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut base, mut key) = (None, None);
    tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(rest) = line.strip_prefix("Tollgate demo: gateway on ") {
                base = rest.split(',').next().map(str::to_owned);
            }
            if let Some(k) = line.strip_prefix("Demo key (shown once): ") {
                key = Some(k.to_owned());
                break;
            }
        }
    })
    .await
    .expect("demo printed its key");
    let (base, key) = (base.unwrap(), key.unwrap());
    let client = client();
    for model in ["gpt-4o-mini", "claude-haiku-4-5", "gemini-2.5-flash"] {
        let res = client
            .post(format!("{base}/v1/chat/completions"))
            .bearer_auth(&key)
            .json(&chat_body(model, "Hello!"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{model}");
        let v: Value = res.json().await.unwrap();
        assert_eq!(
            v["choices"][0]["message"]["content"], "Mock reply to: Hello!",
            "{model}"
        );
    }
}

/// Log lines written to a pipe or a file carry no ANSI colour codes: they are for
/// collectors and `grep`, not a terminal.
#[tokio::test(flavor = "multi_thread")]
async fn logs_to_a_pipe_have_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    // A key referring to an unset variable is sure to log a warning at start.
    let config = write_config(
        dir.path(),
        "http://127.0.0.1:9",
        "[providers.deepseek]\napi_key = \"${TOLLGATE_TEST_SURELY_UNSET_VAR}\"\n",
    );
    let server = ServerProcess::start(&config).await;
    let log = &server.startup_output;
    assert!(
        log.contains("TOLLGATE_TEST_SURELY_UNSET_VAR"),
        "the warning is logged: {log}"
    );
    assert!(
        !log.contains('\u{1b}'),
        "no escape codes on a pipe: {log:?}"
    );
}

/// `keys` and `accounts` commands only touch the database: an unset provider
/// variable is no news to them, so they print no WARN lines about it (`serve`
/// still does, see above).
#[tokio::test(flavor = "multi_thread")]
async fn database_commands_do_not_warn_about_unset_provider_variables() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "http://127.0.0.1:9",
        "[providers.deepseek]\napi_key = \"${TOLLGATE_TEST_SURELY_UNSET_VAR}\"\n",
    );
    for args in [&["keys", "list"][..], &["accounts", "list"][..]] {
        let (ok, _, err) = cli(&config, args).await;
        assert!(ok, "{args:?}: {err}");
        assert!(!err.contains("WARN"), "{args:?} warned: {err}");
        assert!(
            !err.contains("TOLLGATE_TEST_SURELY_UNSET_VAR"),
            "{args:?}: {err}"
        );
    }
}

/// The access line ("request done") is off by default, since it was the default
/// log's whole per-request cost, and on with `[log] access = true`. Refusals are
/// logged either way, so the refusal's line (sent second, written in order by the
/// one writer thread) shows the log has caught up before the first line is looked for.
#[tokio::test(flavor = "multi_thread")]
async fn access_line_only_with_log_access() {
    let mock = Mock::start().await;
    for access in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let config = write_config(
            dir.path(),
            &mock.base,
            &format!("[log]\naccess = {access}\n"),
        );
        let (ok, out, err) = cli(&config, &["keys", "create", "--json"]).await;
        assert!(ok, "{err}");
        let key = serde_json::from_str::<Value>(&out).unwrap()["key"]
            .as_str()
            .unwrap()
            .to_owned();
        let server = ServerProcess::start_with_env(&config, &[("TOLLGATE_LOG", "info")]).await;
        let client = client();
        let chat = |id: &str| {
            client
                .post(format!("{}/v1/chat/completions", server.base))
                .header("x-request-id", id)
                .json(&chat_body("gpt-4o-mini", "hi"))
        };
        let served = chat("access-served")
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(served.status(), 200);
        let refused = chat("access-refused").send().await.unwrap();
        assert_eq!(refused.status(), 401);
        let log = eventually(
            Duration::from_secs(10),
            "the refusal's log line",
            || async {
                let log = server.output.lock().clone();
                log.lines()
                    .any(|l| l.contains("request refused") && l.contains("access-refused"))
                    .then_some(log)
            },
        )
        .await;
        let done = log
            .lines()
            .any(|l| l.contains("request done") && l.contains("access-served"));
        assert_eq!(done, access, "access = {access}: {log}");
    }
}
