//! PostgreSQL going away under load (issue 14): the gateway keeps serving cached
//! keys, usage events wait in memory and in the spill file, and once the database
//! is back every one of them is written: no usage row is lost.
//!
//! The test runs its own PostgreSQL (initdb into a temp dir, on a free port) so it
//! can stop and start it; only in the `api_pg` binary, where PostgreSQL is the
//! suite's backend.

use std::path::PathBuf;
use std::time::Duration;

use sqlx::Connection;

use crate::common::*;

/// The newest installed PostgreSQL's server binaries (Debian's layout).
fn bin_dir() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL server binaries under /usr/lib/postgresql (.ci/run installs them)")
        .filter_map(|e| Some(e.ok()?.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    dirs.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok())
            .unwrap_or(0)
    });
    dirs.pop()
        .expect("an initdb under /usr/lib/postgresql/*/bin")
}

/// A PostgreSQL server of this test's own, stopped and removed on drop.
struct OwnPostgres {
    dir: tempfile::TempDir,
    port: u16,
}

fn as_postgres_user(program: &str) -> std::process::Command {
    let path = bin_dir().join(program);
    // initdb and postgres refuse to run as root; as root, run them as `postgres`.
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    if root {
        let mut cmd = std::process::Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(path);
        cmd
    } else {
        std::process::Command::new(path)
    }
}

fn run(cmd: &mut std::process::Command) {
    let out = cmd.output().expect("run a PostgreSQL tool");
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl OwnPostgres {
    fn start() -> OwnPostgres {
        let dir = tempfile::tempdir().unwrap();
        let _ = std::process::Command::new("chown")
            .args(["postgres"])
            .arg(dir.path())
            .output();
        run(as_postgres_user("initdb")
            .arg("-D")
            .arg(dir.path().join("data"))
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let pg = OwnPostgres { dir, port };
        pg.ctl_start();
        pg
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn ctl_start(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        run(as_postgres_user("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-o", &opts, "-l"])
            .arg(self.dir.path().join("log"))
            .args(["-w", "start"]));
    }

    fn ctl_stop(&self) {
        run(as_postgres_user("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "fast", "-w", "stop"]));
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = as_postgres_user("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}

async fn metric(base: &str, name: &str) -> f64 {
    let text = client()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Sends `n` chat requests, 8 at a time; every one must succeed.
async fn load(gw: &Gateway, key: &str, n: usize) -> usize {
    let mut ok = 0;
    for chunk in (0..n).collect::<Vec<_>>().chunks(8) {
        let sends = chunk
            .iter()
            .map(|i| gw.chat(key, chat_body("gpt-4o-mini", &format!("load {i}"))));
        for res in futures_util::future::join_all(sends).await {
            let status = res.status();
            let body = res.text().await.unwrap();
            assert_eq!(status, 200, "a cached key keeps working: {body}");
            ok += 1;
        }
    }
    ok
}

async fn chat_rows(url: &str) -> Option<i64> {
    let mut conn = sqlx::PgConnection::connect(url).await.ok()?;
    sqlx::query_scalar(
        "SELECT COUNT(DISTINCT request_id) FROM usage_events \
         WHERE endpoint = '/v1/chat/completions'",
    )
    .fetch_one(&mut conn)
    .await
    .ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_restarted_mid_load_loses_no_usage_row() {
    if !PG {
        eprintln!("PostgreSQL-only test: runs in the api_pg binary");
        return;
    }
    let pg = OwnPostgres::start();
    let url = pg.url();
    let gw = Gateway::start_with(|raw| {
        raw.storage.url = url.clone();
        raw.storage.connect_timeout_ms = 500;
    })
    .await;
    let key = gw.key().await;

    // Load before: the key is cached and rows are written.
    let mut sent = load(&gw, &key, 40).await;
    eventually(Duration::from_secs(20), "rows before the stop", || async {
        (chat_rows(&url).await == Some(sent as i64)).then_some(())
    })
    .await;

    // The change poller looks back 5 s (clock skew between gateways), so a key
    // changed that recently is re-read on use; once it is older, it stays cached.
    let kid = key.split('_').nth(3).unwrap().to_owned();
    let updated = gw
        .state()
        .store()
        .find_key(&kid)
        .await
        .unwrap()
        .unwrap()
        .updated_at;
    eventually(
        Duration::from_secs(30),
        "the key is past the poll overlap",
        || async {
            (time::OffsetDateTime::now_utc() - updated > time::Duration::seconds(6)).then_some(())
        },
    )
    .await;
    let lookups = || gw.state().auth().cache().store_lookups();
    let warm = std::sync::atomic::AtomicUsize::new(0);
    eventually(
        Duration::from_secs(20),
        "the key served from the cache",
        || async {
            let before = lookups();
            let n = load(&gw, &key, 8).await;
            warm.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
            (lookups() == before).then_some(())
        },
    )
    .await;
    sent += warm.into_inner();

    // PostgreSQL stops mid-load; the gateway keeps answering.
    pg.ctl_stop();
    sent += load(&gw, &key, 60).await;
    eventually(Duration::from_secs(30), "the writer spills", || async {
        (metric(&gw.base, "tollgate_usage_write_errors_total").await > 0.0
            && metric(&gw.base, "tollgate_usage_spill_file_written_total").await > 0.0)
            .then_some(())
    })
    .await;
    sent += load(&gw, &key, 20).await;

    // Back: everything buffered or spilled is written, exactly once.
    pg.ctl_start();
    sent += load(&gw, &key, 40).await;
    let rows = eventually(
        Duration::from_secs(60),
        "every row after the restart",
        || async {
            let n = chat_rows(&url).await?;
            (n == sent as i64).then_some(n)
        },
    )
    .await;
    assert!(rows >= 160, "{rows} rows");
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    let total: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM usage_events WHERE endpoint = '/v1/chat/completions'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(total, rows, "no request is counted twice");
    let hourly: i64 =
        sqlx::query_scalar("SELECT COALESCE(SUM(requests), 0)::bigint FROM usage_hourly")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert!(
        hourly >= total,
        "the rollups took every row ({hourly} < {total})"
    );
}
