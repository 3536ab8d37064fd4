//! Property-based testing of the whole HTTP surface against its own OpenAPI
//! document: the real `tollgate serve` binary in front of the mock upstream,
//! called by schemathesis with a real key. Fails on any 5xx (`not_a_server_error`),
//! any status the document does not list (`status_code_conformance`) and any body
//! that breaks its schema (`response_schema_conformance`). First the document is
//! checked against the OpenAPI 3.1 meta-schema (openapi-spec-validator).
//!
//! Bounded: a fixed number of examples per operation, one worker, a fixed seed
//! (a failure reproduces), and a deadline on the whole run. The venv comes from
//! `tests/schema/ensure_venv.sh` (python3; PyPI the first time or after
//! `requirements.txt` changes).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use crate::common::*;

/// A first venv build downloads and installs the pinned packages.
const VENV_DEADLINE: Duration = Duration::from_secs(600);
/// The whole schemathesis run (its own budget, `--max-time`, is shorter).
const RUN_DEADLINE: Duration = Duration::from_secs(300);
/// Test cases per operation and phase: ~30 operations on 2 cores in about two minutes.
const MAX_EXAMPLES: &str = "25";
/// Seconds schemathesis may spend in all.
const MAX_TIME: &str = "150";

fn venv_bin(root: &Path, tool: &str) -> PathBuf {
    root.join("tests/schema/.venv/bin").join(tool)
}

async fn run(cmd: &mut Command, deadline: Duration, what: &str) -> (bool, String) {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let out = tokio::time::timeout(deadline, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {deadline:?}"))
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread")]
async fn schemathesis_finds_no_server_errors_or_schema_violations() {
    protocol_only_once!();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (ok, out) = run(
        Command::new("bash").arg(root.join("tests/schema/ensure_venv.sh")),
        VENV_DEADLINE,
        "tests/schema/ensure_venv.sh",
    )
    .await;
    assert!(
        ok,
        "tests/schema/ensure_venv.sh failed; is python3 installed and PyPI reachable?\n{out}"
    );

    let mock = Mock::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &mock.base, "");
    // One real key for every route: a global management key (`admin:global`)
    // that also holds every gateway scope (only `sk` keys are barred from
    // `admin`). It lives in an account of its own, with an id the run cannot
    // guess, so fuzzing `POST /admin/accounts/{id}/disable` cannot lock it out.
    let account = format!("st-{}", uuid::Uuid::new_v4().simple());
    let (ok, _, err) = cli(
        &config,
        &[
            "accounts",
            "create",
            "--name",
            "schemathesis",
            "--id",
            &account,
        ],
    )
    .await;
    assert!(ok, "{err}");
    let key = cli_create_key(
        &config,
        &[
            "--name",
            "schemathesis",
            "--kind",
            "mk",
            "--account",
            &account,
            "--scopes",
            "chat,completions,embeddings,images,audio,analytics,admin,admin:global",
        ],
    )
    .await;
    let server = ServerProcess::start(&config).await;

    let schema_path = dir.path().join("openapi.json");
    let doc = client()
        .get(format!("{}/openapi.json", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    std::fs::write(&schema_path, &doc).unwrap();
    let (ok, out) = run(
        Command::new(venv_bin(root, "openapi-spec-validator")).arg(&schema_path),
        Duration::from_secs(60),
        "openapi-spec-validator",
    )
    .await;
    assert!(
        ok,
        "/openapi.json is not a valid OpenAPI 3.1 document:\n{out}"
    );

    let report = dir.path().join("report");
    let mut st = Command::new(venv_bin(root, "schemathesis"));
    st.arg("run")
        .arg(&schema_path)
        .args(["--url", &server.base])
        .args(["--header", &format!("Authorization: Bearer {key}")])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,response_schema_conformance",
        ])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", MAX_EXAMPLES, "--max-time", MAX_TIME])
        .args(["--workers", "1", "--seed", "7", "--request-timeout", "20"])
        .args(["--suppress-health-check", "all"])
        .arg("--report-dir")
        .arg(&report)
        .current_dir(dir.path())
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("SCHEMATHESIS_HOOKS", "")
        .env("NO_COLOR", "1");
    let (ok, out) = run(&mut st, RUN_DEADLINE, "schemathesis").await;
    assert!(ok, "schemathesis found problems:\n{out}");
    // Its summary (operations, cases, checks) for the log.
    eprintln!("{out}");
    drop(server);
}
