//! The official provider SDKs against a live gateway: starts the in-process gateway and
//! mock upstream, then runs the Python suite in `tests/sdk/` (pytest) against them.
//!
//! Hand-written HTTP tests check what we think the wire format is; the SDKs check what
//! callers' code actually accepts (exception classes, stream parsing, tool-call deltas).
//! The venv comes from `tests/sdk/ensure_venv.sh`, which needs `python3` and, the first
//! time or after `requirements.txt` changes, PyPI.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;

use crate::common::{Gateway, protocol_only_once};

/// A first venv build downloads and installs the pinned packages.
const VENV_DEADLINE: Duration = Duration::from_secs(600);
/// The whole pytest run; each SDK call also has its own 30 s timeout.
const PYTEST_DEADLINE: Duration = Duration::from_secs(300);

#[tokio::test(flavor = "multi_thread")]
async fn official_python_sdks_work_against_the_gateway() {
    protocol_only_once!();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // Deepgram on the mock too, for tests/sdk/test_audio.py.
    let gw = Gateway::start_with(|c| {
        c.providers.deepgram.base_url = c.providers.anthropic.base_url.clone();
        c.providers.deepgram.api_key = "test-deepgram-key".into();
    })
    .await;
    let key = gw.key().await;

    let venv = run(
        Command::new("bash").arg(root.join("tests/sdk/ensure_venv.sh")),
        VENV_DEADLINE,
    )
    .await;
    assert!(
        venv.success(),
        "tests/sdk/ensure_venv.sh failed ({venv}), output above; is python3 installed and PyPI reachable?"
    );

    let mut pytest = Command::new(python(root));
    pytest
        .args(["-m", "pytest", "tests/sdk", "-q", "-p", "no:cacheprovider"])
        .current_dir(root)
        .env("TOLLGATE_BASE_URL", gw.url("/v1"))
        .env("TOLLGATE_API_KEY", &key)
        .env("TOLLGATE_MOCK_URL", &gw.mock.base)
        .env("TOLLGATE_ADMIN_KEY", &gw.admin_key)
        // Loopback only: never through a proxy from the environment.
        .env("NO_PROXY", "127.0.0.1,localhost")
        // Keep the source tree free of __pycache__ directories.
        .env("PYTHONDONTWRITEBYTECODE", "1");
    let pytest = run(&mut pytest, PYTEST_DEADLINE).await;
    assert!(
        pytest.success(),
        "the Python SDK suite (openai, anthropic, google-genai) failed ({pytest}); pytest's report is above"
    );
}

fn python(root: &Path) -> PathBuf {
    root.join("tests/sdk/.venv/bin/python")
}

/// Runs `command` to completion, printing its stdout and stderr line by line as they
/// arrive (the test runner shows them on failure, or always with `--nocapture`). The
/// child is killed if it outlives `deadline`. Async, so the gateway on this runtime keeps
/// serving while the child talks to it.
async fn run(command: &mut Command, deadline: Duration) -> ExitStatus {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("could not start {command:?}: {e}"));
    let (tx, mut rx) = tokio::sync::mpsc::channel(256);
    let readers = [
        tokio::spawn(forward_lines(child.stdout.take().unwrap(), tx.clone())),
        tokio::spawn(forward_lines(child.stderr.take().unwrap(), tx)),
    ];

    // Printed from this task, not the readers: libtest captures only the test's thread.
    let status = tokio::time::timeout(deadline, async {
        while let Some(line) = rx.recv().await {
            println!("{line}");
        }
        child.wait().await
    })
    .await;
    for reader in readers {
        reader.abort();
    }
    match status {
        Ok(status) => status.unwrap_or_else(|e| panic!("waiting for {command:?}: {e}")),
        Err(_) => {
            panic!("{command:?} did not finish within {deadline:?}; its output so far is above")
        }
    }
}

/// Sends each line of `pipe` to `tx` until the pipe closes.
async fn forward_lines(pipe: impl AsyncRead + Unpin, tx: tokio::sync::mpsc::Sender<String>) {
    let mut lines = BufReader::new(pipe).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if tx.send(line).await.is_err() {
            break;
        }
    }
}
