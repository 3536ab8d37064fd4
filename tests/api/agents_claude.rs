//! Claude Code conformance: the real `claude` CLI from the npm registry
//! (`tests/agents`, pinned in package-lock.json, installed by `.ci/run` with
//! `npm ci`) runs `claude -p` non-interactively and offline against the gateway and
//! the mock: its own default model, a Claude model and a GPT model (which needs the
//! `system`-role messages Claude Code puts inside `messages` translated).
//!
//! Offline: the base URL is the gateway's, the key the gateway key, and telemetry,
//! error reporting, the auto-updater and all other nonessential traffic are off
//! (`CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC`). HOME is a fresh temp dir, so no
//! login state or settings of the machine leak in.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::common::*;

fn claude_bin() -> PathBuf {
    let bin =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/agents/node_modules/.bin/claude");
    assert!(
        bin.exists(),
        "Claude Code is not installed: run `npm ci` in tests/agents (.ci/run does)"
    );
    bin
}

/// Runs `claude -p prompt` (with `--model` if given); returns (success, stdout, stderr).
async fn claude(
    gw: &Gateway,
    key: &str,
    model: Option<&str>,
    prompt: &str,
) -> (bool, String, String) {
    let home = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let mut cmd = tokio::process::Command::new(claude_bin());
    cmd.arg("-p").arg(prompt);
    if let Some(m) = model {
        cmd.arg("--model").arg(m);
    }
    cmd.current_dir(work.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("ANTHROPIC_BASE_URL", &gw.base)
        .env("ANTHROPIC_API_KEY", key)
        .env("DISABLE_TELEMETRY", "1")
        .env("DISABLE_ERROR_REPORTING", "1")
        .env("DISABLE_AUTOUPDATER", "1")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    // A bound against a hung CLI, not a timing assertion.
    let out = tokio::time::timeout(Duration::from_secs(180), cmd.output())
        .await
        .expect("claude -p finished")
        .expect("claude runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn calls_to(reqs: &[Value], path: &str) -> Vec<Value> {
    reqs.iter().filter(|r| r["path"] == path).cloned().collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn claude_code_runs_on_its_default_and_a_claude_model() {
    protocol_only_once!();
    let gw = Gateway::start().await;
    let key = gw.key().await;
    for model in [None, Some("claude-haiku-4-5")] {
        let (ok, out, err) = claude(&gw, &key, model, "Say hello").await;
        assert!(ok, "{model:?}: stdout {out}\nstderr {err}");
        assert!(out.contains("Mock reply to:"), "{model:?}: {out}");
        let reqs = gw.mock.requests().await;
        let sent = calls_to(&reqs, "/v1/messages");
        let last = sent.last().expect("the mock saw /v1/messages");
        assert_eq!(last["headers"]["x-api-key"], ANTHROPIC_UPSTREAM_KEY);
        if let Some(m) = model {
            assert_eq!(last["body"]["model"], m);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn claude_code_runs_on_a_gpt_model() {
    protocol_only_once!();
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let (ok, out, err) = claude(&gw, &key, Some("gpt-4o-mini"), "Say hello").await;
    assert!(ok, "stdout {out}\nstderr {err}");
    assert!(out.contains("Mock reply to:"), "{out}");
    let reqs = gw.mock.requests().await;
    let sent = calls_to(&reqs, "/v1/chat/completions");
    let last = sent.last().expect("the mock saw /v1/chat/completions");
    assert_eq!(last["body"]["model"], "gpt-4o-mini");
    let messages = last["body"]["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], "system", "Claude Code's system prompt");
    assert!(messages.iter().any(|m| m["role"] == "user"));
}
