//! Usage is never lost or corrupted: a full database, a locked database at
//! SIGTERM, `kill -9` under load, provider numbers near 2^64, out-of-range credits
//! and expiries, and reports that never add money across currencies.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use parking_lot::Mutex;
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::Connection;
use tokio::io::{AsyncBufReadExt, BufReader};
use tollgate::config::RawModel;
use tollgate::metering::bounds::MAX_TOKENS;

use crate::common::*;

/// 1000 µUSD per input token and 2000 per output token.
const PRICEY: &str = "pricey-model";

fn pricey() -> RawModel {
    RawModel {
        id: PRICEY.into(),
        provider: "openai".into(),
        input_usd_per_mtok: 1000.0,
        output_usd_per_mtok: 2000.0,
        cached_input_usd_per_mtok: None,
        fallbacks: Vec::new(),
    }
}

/// A counter's value on `GET /metrics` (0 when absent).
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

fn request_id(res: &reqwest::Response) -> String {
    res.headers()["x-request-id"].to_str().unwrap().to_owned()
}

/// Regression (hardening issue item 2): with the database full, the written
/// counter climbed while no row landed, and after space returned every batch still
/// failed with "database is locked".
#[tokio::test(flavor = "multi_thread")]
async fn a_full_database_loses_nothing_and_the_counter_counts_only_committed_rows() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let store = gw.state().store().clone();
    let mut ids = Vec::new();
    let res = gw.chat(&key, chat_body("gpt-4o-mini", "warm up")).await;
    ids.push(request_id(&res));
    eventually(Duration::from_secs(10), "the first row", || async {
        (store.count_usage_events().await.unwrap() == 1).then_some(())
    })
    .await;

    store.limit_size_for_tests(true).await.unwrap();
    for i in 0..40 {
        let res = gw
            .chat(&key, chat_body("gpt-4o-mini", &format!("full {i}")))
            .await;
        assert_eq!(res.status(), 200);
        ids.push(request_id(&res));
    }
    eventually(Duration::from_secs(20), "a refused write", || async {
        (metric(&gw.base, "tollgate_usage_write_errors_total").await >= 1.0).then_some(())
    })
    .await;
    assert_eq!(
        metric(&gw.base, "tollgate_usage_written_total").await,
        store.count_usage_events().await.unwrap() as f64,
        "while full, the counter must not count rows that were not committed"
    );

    store.limit_size_for_tests(false).await.unwrap();
    for i in 0..10 {
        let res = gw
            .chat(&key, chat_body("gpt-4o-mini", &format!("room {i}")))
            .await;
        ids.push(request_id(&res));
    }
    eventually(Duration::from_secs(30), "every row to land", || async {
        (store.count_usage_events().await.unwrap() == ids.len() as u64).then_some(())
    })
    .await;
    for rid in &ids {
        assert_eq!(
            store.usage_events_for_request(rid).await.unwrap().len(),
            1,
            "exactly one row for {rid}"
        );
    }
    assert_eq!(
        metric(&gw.base, "tollgate_usage_written_total").await,
        ids.len() as f64
    );
}

/// A small tmpfs: a real filesystem that really fills up. Unmounted on drop.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    /// `None` when this process may not mount (not root).
    fn mount(size: &str) -> Option<SmallDisk> {
        let uid = std::process::Command::new("id").arg("-u").output().ok()?;
        if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(ok.success(), "root but cannot mount a tmpfs");
        Some(SmallDisk { dir })
    }

    fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Writes a file until the filesystem says it is full.
    fn fill(&self) {
        use std::io::Write;
        let mut f = std::fs::File::create(self.path().join("filler")).unwrap();
        let chunk = vec![0u8; 16 * 1024];
        while f.write_all(&chunk).and_then(|()| f.sync_data()).is_ok() {}
    }

    fn free(&self) {
        std::fs::remove_file(self.path().join("filler")).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Regression (item 2) on a real full filesystem, with the real binary: on main
/// the counter climbed to 203 while 10 rows were on disk, and after the space came
/// back every batch failed with "database is locked" (a pooled connection left
/// inside a transaction). Needs root (to mount a tmpfs); otherwise it says so and
/// stops, and the test above covers the behaviour without the mount.
#[tokio::test(flavor = "multi_thread")]
async fn a_really_full_disk_then_room_again_writes_every_row_and_counts_true() {
    sqlite_only!();
    let Some(disk) = SmallDisk::mount("2m") else {
        eprintln!("SKIPPED: mounting a tmpfs needs root");
        return;
    };
    let mock = Mock::start().await;
    let db = disk.path().join("gateway.db");
    let (config, key) = binary_setup(disk.path(), &mock).await;
    let mut server = Server::start(&config).await;
    let mut ids = chat_many(&server.base, &key, 10, "before").await;
    eventually(Duration::from_secs(10), "the first rows", || async {
        (on_disk(&db).await.0.len() == 10).then_some(())
    })
    .await;

    disk.fill();
    for _ in 0..4 {
        ids.extend(chat_many(&server.base, &key, 25, "full").await);
    }
    eventually(Duration::from_secs(20), "a refused write", || async {
        (metric(&server.base, "tollgate_usage_write_errors_total").await >= 1.0).then_some(())
    })
    .await;
    assert_eq!(
        metric(&server.base, "tollgate_usage_written_total").await,
        on_disk(&db).await.0.len() as f64,
        "while the disk is full the counter counts only committed rows: {}",
        server.log()
    );

    disk.free();
    ids.extend(chat_many(&server.base, &key, 10, "room").await);
    eventually(Duration::from_secs(30), "every row on disk", || async {
        (on_disk(&db).await.0.len() == ids.len()).then_some(())
    })
    .await;
    let (rows, charged, balance) = on_disk(&db).await;
    assert!(ids.iter().all(|rid| rows.get(rid) == Some(&1)));
    assert_eq!(balance, -charged, "charged once each");
    assert_eq!(
        metric(&server.base, "tollgate_usage_written_total").await,
        ids.len() as f64
    );
    server.signal("-TERM").await;
    assert!(server.wait().await.success(), "{}", server.log());
}

/// `tollgate serve` as a child process, keeping everything it logs.
struct Server {
    child: tokio::process::Child,
    base: String,
    log: Arc<Mutex<String>>,
}

impl Server {
    async fn start(config: &std::path::Path) -> Server {
        let mut child = tokio::process::Command::new(binary())
            .arg("--config")
            .arg(config)
            .arg("serve")
            .env("TOLLGATE_LOG", "warn")
            .env("TOLLGATE_DATA_DIR", data_dir(config))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = tokio::sync::oneshot::channel();
        let keep = log.clone();
        tokio::spawn(async move {
            let mut tx = Some(tx);
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(url) = line.strip_prefix("tollgate listening on ")
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(url.to_owned());
                }
                let mut log = keep.lock();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let base = tokio::time::timeout(Duration::from_secs(30), rx)
            .await
            .expect("tollgate serve did not start in time")
            .unwrap_or_else(|_| panic!("tollgate serve exited: {}", log.lock()));
        Server { child, base, log }
    }

    async fn signal(&self, sig: &str) {
        let pid = self.child.id().expect("running").to_string();
        let ok = tokio::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .await
            .unwrap();
        assert!(ok.success());
    }

    async fn wait(&mut self) -> std::process::ExitStatus {
        let status = tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .expect("the server exits")
            .unwrap();
        // Let the log reader take the last lines.
        for _ in 0..50 {
            if Arc::strong_count(&self.log) == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        status
    }

    fn log(&self) -> String {
        self.log.lock().clone()
    }
}

/// A prepaid-free account `shop` (postpaid, USD) with a user key (50 % markup), and
/// the priced model in the config.
async fn binary_setup(dir: &std::path::Path, mock: &Mock) -> (ConfigFile, String) {
    let extra = r#"
[[models]]
id = "pricey-model"
provider = "openai"
input_usd_per_mtok = 1000.0
output_usd_per_mtok = 2000.0
"#;
    let config = write_config(dir, &mock.base, extra);
    // A short grace, so "locked for longer than the grace" stays a short test.
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("shutdown_grace_secs = 10", "shutdown_grace_secs = 1");
    std::fs::write(&config, text).unwrap();
    let (ok, _, err) = cli(
        &config,
        &["accounts", "create", "--name", "Shop", "--id", "shop"],
    )
    .await;
    assert!(ok, "{err}");
    let key = cli_create_key(&config, &["--account", "shop", "--key-type", "user"]).await;
    (config, key)
}

async fn chat_many(base: &str, key: &str, n: usize, tag: &str) -> Vec<String> {
    let calls = (0..n).map(|i| async move {
        let res = client()
            .post(format!("{base}/v1/chat/completions"))
            .bearer_auth(key)
            .json(&chat_body(PRICEY, &format!("{tag} {i}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        request_id(&res)
    });
    join_all(calls).await
}

/// Request ids with a row, the row count, and the balance of `shop`.
async fn on_disk(db: &std::path::Path) -> (std::collections::HashMap<String, usize>, i64, i64) {
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT request_id, charge_micro FROM usage_events")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    let balance: i64 = sqlx::query_scalar("SELECT balance_micro FROM accounts WHERE id = 'shop'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let mut ids = std::collections::HashMap::new();
    let mut charged = 0;
    for (rid, charge) in rows {
        *ids.entry(rid).or_default() += 1;
        charged += charge;
    }
    (ids, charged, balance)
}

/// Regression (item 3) and the reliability test: the database locked by another
/// connection for longer than the shutdown grace, then SIGTERM. Today 12,179 of
/// 17,652 events were lost and the exit was 0.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_with_the_database_locked_spills_exits_non_zero_and_the_next_start_writes_it() {
    sqlite_only!();
    let mock = Mock::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("gateway.db");
    let (config, key) = binary_setup(dir.path(), &mock).await;
    let mut server = Server::start(&config).await;
    let mut ids = chat_many(&server.base, &key, 20, "before").await;
    eventually(Duration::from_secs(10), "the first rows", || async {
        (on_disk(&db).await.0.len() == 20).then_some(())
    })
    .await;

    // Another process holds the write lock from now until after the exit.
    let mut locker = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut locker)
        .await
        .unwrap();
    sqlx::query("UPDATE accounts SET name = name WHERE id = 'shop'")
        .execute(&mut locker)
        .await
        .unwrap();
    ids.extend(chat_many(&server.base, &key, 300, "locked").await);
    server.signal("-TERM").await;
    let status = server.wait().await;
    let log = server.log();
    sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();
    drop(locker);

    let spill = dir.path().join("gateway.db.usage-spill");
    assert!(
        !status.success(),
        "usage is unwritten, so the exit is a failure: {log}"
    );
    assert!(
        log.contains(&spill.display().to_string()) && log.contains("spill file"),
        "the log says where the usage is: {log}"
    );
    assert!(spill.exists(), "{log}");
    let (rows, _, _) = on_disk(&db).await;
    assert!(rows.len() < ids.len(), "the lock held: {} rows", rows.len());

    // Replay the same file twice: no row and no charge may be doubled.
    let copy = std::fs::read(&spill).unwrap();
    for round in 0..2 {
        if round == 1 {
            std::fs::write(&spill, &copy).unwrap();
        }
        let mut server = Server::start(&config).await;
        eventually(Duration::from_secs(30), "the spilled rows", || async {
            (on_disk(&db).await.0.len() == ids.len() && !spill.exists()).then_some(())
        })
        .await;
        server.signal("-TERM").await;
        let status = server.wait().await;
        assert!(status.success(), "round {round}: {}", server.log());
        let (rows, charged, balance) = on_disk(&db).await;
        for rid in &ids {
            assert_eq!(rows.get(rid), Some(&1), "round {round}: one row for {rid}");
        }
        assert_eq!(rows.len(), ids.len());
        assert!(charged > 0);
        assert_eq!(balance, -charged, "round {round}: charged exactly once");
    }
}

/// `kill -9` under load: how many answered requests have no row. The writer commits
/// every 25 ms, so at most the last ~50 ms of answers may be missing.
#[tokio::test(flavor = "multi_thread")]
async fn kill_9_under_load_loses_at_most_the_last_commit_window() {
    sqlite_only!();
    let mock = Mock::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("gateway.db");
    let (config, key) = binary_setup(dir.path(), &mock).await;
    let server = Server::start(&config).await;
    let answered: Arc<Mutex<Vec<(String, tokio::time::Instant)>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = (0..32)
        .map(|w| {
            let (base, key, answered, stop) = (
                server.base.clone(),
                key.clone(),
                answered.clone(),
                stop.clone(),
            );
            tokio::spawn(async move {
                let client = client();
                let mut i = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    i += 1;
                    let sent = client
                        .post(format!("{base}/v1/chat/completions"))
                        .bearer_auth(&key)
                        .json(&chat_body(PRICEY, &format!("load {w} {i}")))
                        .send()
                        .await;
                    let Ok(res) = sent else { break };
                    let rid = request_id(&res);
                    if res.status() == 200 && res.bytes().await.is_ok() {
                        answered.lock().push((rid, tokio::time::Instant::now()));
                    }
                }
            })
        })
        .collect();
    // Mid-load: once a good number of requests were answered.
    eventually(Duration::from_secs(60), "load to build up", || async {
        (answered.lock().len() >= 2_000).then_some(())
    })
    .await;
    let killed_at = tokio::time::Instant::now();
    server.signal("-KILL").await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    let answered = answered.lock().clone();
    let (rows, _, _) = on_disk(&db).await;
    let lost: Vec<_> = answered
        .iter()
        .filter(|(rid, _)| !rows.contains_key(rid))
        .collect();
    let window = Duration::from_millis(50);
    let last_window = answered
        .iter()
        .filter(|(_, at)| *at + window >= killed_at)
        .count();
    println!(
        "kill -9 under load: {} answered, {} without a row, {} answered in the last 50 ms",
        answered.len(),
        lost.len(),
        last_window
    );
    let margin = 16;
    assert!(
        lost.len() <= last_window + margin,
        "lost {} answered requests; the last 50 ms had {last_window}",
        lost.len()
    );
}

/// A tiny upstream speaking OpenAI's JSON with absurd usage numbers.
async fn absurd_upstream() -> String {
    let app = axum::Router::new().fallback(|| async {
        axum::Json(json!({
            "id": "chatcmpl-absurd", "object": "chat.completion", "created": 1, "model": "x",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 9_223_372_036_854_775_807_u64,
                      "completion_tokens": 18_446_744_073_709_551_615_u64,
                      "total_tokens": 18_446_744_073_709_551_615_u64,
                      "prompt_tokens_details": {"cached_tokens": -5}}
        }))
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/v1")
}

/// Regression (item 4): usage near 2^64 through BYOK was stored as -1, rollups
/// overflowed into REAL and `/admin/usage` answered 500 from then on.
#[tokio::test(flavor = "multi_thread")]
async fn usage_near_2_64_is_clamped_and_reports_keep_answering() {
    let gw = Gateway::start_with(|c| {
        c.byok.allow_http_base = true;
        c.byok.allow_private_base = true;
    })
    .await;
    let key = gw.key().await;
    let base = absurd_upstream().await;
    let headers = vec![
        ("x-byok-provider", "openai"),
        ("x-byok-api-key", "sk-own"),
        ("x-byok-api-base", base.as_str()),
    ];
    let mut rids = Vec::new();
    for _ in 0..3 {
        let res = gw
            .post(
                "/v1/chat/completions",
                &key,
                &headers,
                chat_body("gpt-4o-mini", "hi"),
            )
            .await;
        assert_eq!(res.status(), 200);
        rids.push(request_id(&res));
    }
    gw.state().metering().sink.flush().await;
    for rid in &rids {
        let rows = gw
            .state()
            .store()
            .usage_events_for_request(rid)
            .await
            .unwrap();
        assert_eq!(rows.len(), 1);
        let ev = &rows[0];
        let max = MAX_TOKENS as i64;
        assert_eq!(
            (ev.input_tokens, ev.output_tokens, ev.cached_tokens),
            (max, max, 0)
        );
        assert!(
            ev.cost_micro_usd >= Some(0) && ev.charge_micro == 0,
            "{ev:?}"
        );
    }
    let res = gw.admin(Method::GET, "/admin/usage", None).await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["totals"]["input_tokens"], 3 * MAX_TOKENS);
    assert_eq!(v["totals"]["requests"], 3);

    // Nothing non-integer reached the tables (SQLite's typeof; PostgreSQL's
    // BIGINT columns cannot hold anything else).
    sqlite_only!();
    let db = gw.dir.path().join("gateway.db");
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let bad: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM usage_hourly WHERE typeof(input_tokens) <> 'integer' \
         OR typeof(output_tokens) <> 'integer' OR typeof(cost_micro_usd) <> 'integer'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(bad, 0);
    // And the database itself refuses such a value.
    let refused =
        sqlx::query("UPDATE usage_hourly SET input_tokens = input_tokens + 9223372036854775807")
            .execute(&mut conn)
            .await;
    assert!(refused.is_err(), "an overflowing sum must be refused");
}

/// Regression (item 4): a credit of a huge negative amount overflowed the balance
/// into REAL, and the account answered 500 from then on; a huge `expires_in_secs`
/// panicked.
#[tokio::test(flavor = "multi_thread")]
async fn out_of_range_credits_and_expiries_are_400_and_change_nothing() {
    let gw = Gateway::start().await;
    let res = gw
        .admin(
            Method::POST,
            "/admin/accounts",
            Some(json!({"name": "a", "id": "acct"})),
        )
        .await;
    assert_eq!(res.status(), 201);
    for amount in [
        "-9223372036854.775808",
        "-9000000000000",
        "1000000000.000001",
    ] {
        let res = gw
            .admin(
                Method::POST,
                "/admin/accounts/acct/credit",
                Some(json!({"amount": amount})),
            )
            .await;
        let err = expect_error(res, 400, "invalid_field").await;
        assert_eq!(err["error"]["param"], "amount", "{amount}: {err}");
    }
    let res = gw.admin(Method::GET, "/admin/accounts/acct", None).await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["balance"], "0.000000");
    let res = gw
        .admin(Method::GET, "/admin/accounts/acct/credits", None)
        .await;
    assert_eq!(res.status(), 200);

    for (body, param) in [
        (
            json!({"name": "k", "expires_in_secs": u64::MAX}),
            "expires_in_secs",
        ),
        (
            json!({"name": "k", "expires_in_secs": 400_000_000_000_u64}),
            "expires_in_secs",
        ),
    ] {
        let res = gw.admin(Method::POST, "/admin/keys", Some(body)).await;
        let err = expect_error(res, 400, "invalid_field").await;
        assert_eq!(err["error"]["param"], param, "{err}");
    }
    let res = gw
        .admin(Method::POST, "/admin/keys", Some(json!({"name": "k"})))
        .await;
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = gw
        .admin(
            Method::POST,
            &format!("/admin/keys/{id}/rotate"),
            Some(json!({"grace_period_secs": u64::MAX})),
        )
        .await;
    let err = expect_error(res, 400, "invalid_field").await;
    assert_eq!(err["error"]["param"], "grace_period_secs");
}

/// The CLI refuses the same values with a message, not a panic.
#[tokio::test(flavor = "multi_thread")]
async fn the_cli_refuses_out_of_range_credits_and_expiries() {
    let mock = Mock::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &mock.base, "");
    let (ok, _, err) = cli(
        &config,
        &["accounts", "create", "--name", "A", "--id", "acct"],
    )
    .await;
    assert!(ok, "{err}");
    let (ok, _, err) = cli(
        &config,
        &[
            "accounts",
            "credit",
            "acct",
            "--amount",
            "-9223372036854.775808",
        ],
    )
    .await;
    assert!(
        !ok && err.contains("--amount") && !err.contains("panicked"),
        "{err}"
    );
    let (ok, _, err) = cli(&config, &["keys", "create", "--expires-in", "100000000y"]).await;
    assert!(
        !ok && err.contains("--expires-in") && !err.contains("panicked"),
        "{err}"
    );
    let store = tollgate::store::Store::open(&config.db.url).await.unwrap();
    let billing = store.account_billing("acct").await.unwrap().unwrap();
    assert_eq!(billing.balance_micro, 0, "a refused credit changes nothing");
}

/// Analytics never add money across currencies: two accounts, USD and TRY.
#[tokio::test(flavor = "multi_thread")]
async fn usage_reports_keep_each_currency_apart() {
    let gw = Gateway::start_with(|c| {
        c.models.push(pricey());
        c.billing
            .exchange_rates
            .insert("TRY".into(), "34.25".into());
    })
    .await;
    let mut charged = std::collections::BTreeMap::new();
    let mut kids = Vec::new();
    for (id, currency) in [("usd-shop", "USD"), ("try-shop", "TRY")] {
        let res = gw
            .admin(
                Method::POST,
                "/admin/accounts",
                Some(json!({"name": id, "id": id})),
            )
            .await;
        assert_eq!(res.status(), 201);
        let res = gw
            .admin(
                Method::PATCH,
                &format!("/admin/accounts/{id}"),
                Some(json!({"currency": currency})),
            )
            .await;
        assert_eq!(res.status(), 200);
        let res = gw
            .admin(
                Method::POST,
                "/admin/keys",
                Some(json!({"name": id, "account_id": id, "key_type": "user"})),
            )
            .await;
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
        let created: Value = res.json().await.unwrap();
        let key = created["key"].as_str().unwrap().to_owned();
        kids.push((created["kid"].as_str().unwrap().to_owned(), currency));
        let res = gw.chat(&key, chat_body(PRICEY, "hello there")).await;
        assert_eq!(res.status(), 200);
        let rid = request_id(&res);
        gw.state().metering().sink.flush().await;
        let rows = gw
            .state()
            .store()
            .usage_events_for_request(&rid)
            .await
            .unwrap();
        assert_eq!(rows[0].currency, currency);
        assert!(rows[0].charge_micro > 0);
        charged.insert(currency.to_owned(), rows[0].charge_micro);
    }
    let decimal = |m: i64| tollgate::metering::money::MicroUnits(m).to_decimal_string();
    let v: Value = gw
        .admin(Method::GET, "/admin/usage?group_by=key", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        v["totals"]["charges"],
        json!({"USD": decimal(charged["USD"]), "TRY": decimal(charged["TRY"])}),
        "{v}"
    );
    assert_eq!(
        v["totals"]["charge"],
        Value::Null,
        "no sum across currencies: {v}"
    );
    for (kid, currency) in kids {
        let group = v["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["key"] == kid.as_str())
            .unwrap_or_else(|| panic!("no group for {kid}: {v}"));
        assert_eq!(
            group["charges"],
            json!({currency: decimal(charged[currency])})
        );
        assert_eq!(group["charge"], decimal(charged[currency]));
    }
}
