//! Agent CLIs from the npm registry (`tests/agents`, installed by `npm ci` in
//! `.ci/run`), run non-interactively and offline against the gateway and the mock:
//! Codex CLI (`codex exec`) on a GPT and a Claude model, through a custom
//! `model_provider` with `wire_api = "responses"` pointing at the gateway.
//!
//! Codex needs no login for a custom provider: the key comes from `env_key`. Its
//! update check is off (`check_for_update_on_startup = false`) and its
//! `web_search` tool is disabled for the Claude run, since built-in OpenAI tools
//! are refused for non-OpenAI models (README, Responses translation).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use crate::common::*;

const CODEX_DEADLINE: Duration = Duration::from_secs(120);

fn codex() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/agents/node_modules/.bin/codex")
}

async fn run_codex(gw: &Gateway, key: &str, model: &str, prompt: &str) -> (bool, String, String) {
    let bin = codex();
    assert!(
        bin.exists(),
        "{} is missing: run `npm ci` in tests/agents (.ci/run does)",
        bin.display()
    );
    let home = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let config = format!(
        r#"model = "{model}"
model_provider = "tollgate"
check_for_update_on_startup = false
web_search = "disabled"

[model_providers.tollgate]
name = "Tollgate"
base_url = "{base}"
env_key = "TOLLGATE_TEST_KEY"
wire_api = "responses"
"#,
        base = gw.url("/v1"),
    );
    std::fs::write(home.path().join("config.toml"), config).unwrap();
    let mut cmd = Command::new(bin);
    cmd.args([
        "exec",
        "--skip-git-repo-check",
        "--sandbox",
        "read-only",
        prompt,
    ])
    .current_dir(work.path())
    .env("CODEX_HOME", home.path())
    .env("TOLLGATE_TEST_KEY", key)
    .env_remove("OPENAI_API_KEY")
    .env("NO_PROXY", "127.0.0.1,localhost")
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .kill_on_drop(true);
    let out = tokio::time::timeout(CODEX_DEADLINE, cmd.output())
        .await
        .expect("codex exec finished in time")
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn codex_exec_runs_on_gpt_and_claude_through_the_gateway() {
    protocol_only_once!();
    let gw = Gateway::start().await;
    let key = gw.key().await;
    for (model, upstream_path) in [
        ("gpt-4o-mini", "/v1/responses"),
        ("claude-haiku-4-5", "/v1/messages"),
    ] {
        let prompt = format!("Say hello from codex on {model}");
        let (ok, stdout, stderr) = run_codex(&gw, &key, model, &prompt).await;
        assert!(
            ok,
            "codex exec failed on {model}\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        // The mock echoes the last user turn (its first 200 characters). Codex
        // sends its environment context as a user message before the prompt;
        // Anthropic needs alternating roles, so for Claude the two are one turn
        // and the echo starts with the context. Codex prints only the final
        // answer on stdout.
        let expected = if upstream_path == "/v1/responses" {
            format!("Mock reply to: {prompt}")
        } else {
            "Mock reply to: <environment_context>".to_owned()
        };
        assert!(
            stdout.contains(&expected),
            "{model}: the mock's answer is codex's output\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        let reqs = gw.mock.requests().await;
        let sent = reqs
            .iter()
            .rev()
            .find(|r| r["path"] == upstream_path)
            .unwrap_or_else(|| panic!("{model}: the mock saw no {upstream_path} request"));
        assert!(sent.to_string().contains(&prompt), "{model}: {sent}");
    }
}
