//! Test harness: a real gateway on 127.0.0.1:0 (in-process `App`, or the real binary)
//! in front of the mock upstream on its own random port, each with a fresh temp dir
//! and a fresh database. Helpers wait for conditions with a deadline; nothing sleeps
//! to assert on time.
//!
//! The backend comes from the test target: `api` (this folder) runs on an SQLite
//! file in the temp dir, `api_pg` (the same files, Cargo.toml) on a fresh
//! PostgreSQL database per test (`tg_<random>` on `TOLLGATE_TEST_PG_URL`, default
//! 127.0.0.1:5432), dropped when the test's gateway and config are dropped, also
//! when it fails. Tests bound to the SQLite file start with `sqlite_only!()`.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, LazyLock, Weak};
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;
use tollgate::config::{RawConfig, RawProvider, RawStorage};
use tollgate::key_service::{self, KeySpec};
use tollgate::keys::{KeyEnv, KeyHasher, KeyKind};
use tollgate::mock_upstream::MockUpstream;
use tollgate::store::pg_testing::TestDatabase;
use tollgate::{App, AppState, Config};

pub const UPSTREAM_KEY: &str = "test-upstream-key";
pub const ANTHROPIC_UPSTREAM_KEY: &str = "test-anthropic-key";
pub const GEMINI_UPSTREAM_KEY: &str = "test-gemini-key";
pub const PEPPER: &str = "test-pepper-0123456789abcdef";

/// Whether this test binary runs the suite on PostgreSQL (the `api_pg` target).
pub const PG: bool = {
    let name = env!("CARGO_CRATE_NAME").as_bytes();
    name.len() == 6 && name[3] == b'_' && name[4] == b'p' && name[5] == b'g'
};

/// Skips the rest of a test that is about the SQLite file itself (reading it,
/// locking it, filling its disk) when the suite runs on PostgreSQL.
macro_rules! sqlite_only {
    () => {
        if $crate::common::PG {
            eprintln!("SQLite-only test: skipped on PostgreSQL");
            return;
        }
    };
}
pub(crate) use sqlite_only;

/// For a test of the wire protocol against real clients (SDKs, agent CLIs,
/// schemathesis), which does not depend on the store: it runs in the SQLite suite
/// only, so CI does not spend minutes repeating it on PostgreSQL.
macro_rules! protocol_only_once {
    () => {
        if $crate::common::PG {
            eprintln!("protocol test: runs in the SQLite suite (api) only");
            return;
        }
    };
}
pub(crate) use protocol_only_once;

/// The database of one test directory: a URL, and for PostgreSQL the guard that
/// drops it once nothing holds it any more.
#[derive(Clone)]
pub struct TestDb {
    pub url: String,
    _pg: Option<Arc<TestDatabase>>,
}

type PgRegistry = parking_lot::Mutex<HashMap<PathBuf, Weak<TestDatabase>>>;
/// Live PostgreSQL databases by test directory, so a second config or gateway in
/// the same directory sees the same database (as it would the same SQLite file).
static PG_DBS: LazyLock<PgRegistry> = LazyLock::new(Default::default);
/// Databases made by `base_config` until a `Gateway` (or `db_guard`) takes them.
static PG_UNCLAIMED: LazyLock<parking_lot::Mutex<HashMap<PathBuf, Arc<TestDatabase>>>> =
    LazyLock::new(Default::default);

/// The database for `dir`: `dir/gateway.db`, or on PostgreSQL a fresh database
/// (the same one while anything from an earlier call for `dir` still holds it).
pub fn test_db(dir: &Path) -> TestDb {
    if !PG {
        return TestDb {
            url: format!("sqlite://{}", dir.join("gateway.db").display()),
            _pg: None,
        };
    }
    let mut dbs = PG_DBS.lock();
    if let Some(db) = dbs.get(dir).and_then(Weak::upgrade) {
        return TestDb {
            url: db.url.clone(),
            _pg: Some(db),
        };
    }
    // Created on a thread of its own: callers may be sync or inside a runtime.
    let db = std::thread::spawn(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(TestDatabase::create())
    })
    .join()
    .unwrap()
    .expect("a PostgreSQL test database (TOLLGATE_TEST_PG_URL, default 127.0.0.1:5432)");
    let db = Arc::new(db);
    dbs.insert(dir.to_owned(), Arc::downgrade(&db));
    TestDb {
        url: db.url.clone(),
        _pg: Some(db),
    }
}

/// Takes over the database `base_config` made for `dir` (hold it for the test).
pub fn db_guard(dir: &Path) -> Option<Arc<TestDatabase>> {
    PG_UNCLAIMED.lock().remove(dir)
}

/// A running mock upstream.
pub struct Mock {
    pub base: String,
    client: reqwest::Client,
}

impl Mock {
    pub async fn start() -> Mock {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(MockUpstream::new().serve(listener));
        Mock {
            base: format!("http://{addr}"),
            client: client(),
        }
    }

    pub async fn stats(&self) -> Value {
        self.client
            .get(format!("{}/_mock/stats", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn requests(&self) -> Vec<Value> {
        self.client
            .get(format!("{}/_mock/requests", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// An in-process gateway in front of a fresh mock.
pub struct Gateway {
    pub base: String,
    pub mock: Mock,
    pub config: Config,
    pub dir: tempfile::TempDir,
    pub client: reqwest::Client,
    /// The management key the gateway generated for its empty database.
    pub admin_key: String,
    state: AppState,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    /// Last field: the database outlives the server's shutdown signal.
    _db: Option<Arc<TestDatabase>>,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub fn base_config(dir: &Path, mock_base: &str) -> RawConfig {
    let mut raw = RawConfig::default();
    raw.server.listen = "127.0.0.1:0".into();
    let db = test_db(dir);
    raw.storage = RawStorage {
        url: db.url.clone(),
        ..RawStorage::default()
    };
    if let Some(pg) = db._pg {
        PG_UNCLAIMED.lock().insert(dir.to_owned(), pg);
    }
    raw.keys.pepper = PEPPER.into();
    raw.keys.revocation_poll_ms = 100;
    raw.upstream.first_byte_timeout_ms = 5_000;
    raw.providers.openai = RawProvider {
        base_url: format!("{mock_base}/v1"),
        api_key: UPSTREAM_KEY.into(),
        ..RawProvider::default()
    };
    raw.providers.anthropic.base_url = mock_base.to_owned();
    raw.providers.anthropic.api_key = ANTHROPIC_UPSTREAM_KEY.into();
    raw.providers.gemini.base_url = mock_base.to_owned();
    raw.providers.gemini.api_key = GEMINI_UPSTREAM_KEY.into();
    raw
}

impl Gateway {
    pub async fn start() -> Gateway {
        Self::start_with(|_| {}).await
    }

    /// Starts with the test defaults, changed by `tweak`.
    pub async fn start_with(tweak: impl FnOnce(&mut RawConfig)) -> Gateway {
        Self::start_on("127.0.0.1:0", tweak).await
    }

    /// Like `start_with`, listening on `addr` (e.g. `[::1]:0` for IPv6 tests).
    pub async fn start_on(addr: &str, tweak: impl FnOnce(&mut RawConfig)) -> Gateway {
        let mock = Mock::start().await;
        let dir = tempfile::tempdir().unwrap();
        let mut raw = base_config(dir.path(), &mock.base);
        let db = db_guard(dir.path());
        tweak(&mut raw);
        let config = Config::from_raw(raw, dir.path().to_owned()).expect("test config is valid");
        let app = App::build(config.clone()).await.expect("gateway builds");
        let admin_key = app
            .bootstrap_key()
            .expect("an empty database gets a bootstrap management key")
            .expose()
            .to_owned();
        let state = app.state().clone();
        let listener = TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.serve(listener, async move {
            let _ = rx.await;
        }));
        Gateway {
            base: format!("http://{addr}"),
            mock,
            config,
            dir,
            client: client(),
            admin_key,
            state,
            shutdown: Some(tx),
            _db: db,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub async fn issue(&self, spec: KeySpec) -> String {
        let hasher = KeyHasher::new(&self.config.keys.load_pepper().unwrap());
        let issued =
            key_service::issue(self.state.store(), &hasher, &self.config.keys.prefix, spec)
                .await
                .unwrap();
        issued.key.expose().to_owned()
    }

    /// A fresh live `sk` key.
    pub async fn key(&self) -> String {
        self.issue(spec("test")).await
    }

    /// A key made through the management API with the given JSON (name defaults to "t").
    pub async fn create_key(&self, mut spec: Value) -> String {
        if spec.get("name").is_none() {
            spec["name"] = "t".into();
        }
        let res = self
            .client
            .post(self.url("/admin/keys"))
            .bearer_auth(&self.admin_key)
            .json(&spec)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201, "create key {spec}");
        let body: Value = res.json().await.unwrap();
        body["key"].as_str().unwrap().to_owned()
    }

    /// Calls the management API with the bootstrap key.
    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut req = self
            .client
            .request(method, self.url(path))
            .bearer_auth(&self.admin_key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.unwrap()
    }

    /// POSTs `body` to `path` with `key` and extra headers.
    pub async fn post(
        &self,
        path: &str,
        key: &str,
        headers: &[(&str, &str)],
        body: Value,
    ) -> reqwest::Response {
        let mut req = self
            .client
            .post(self.url(path))
            .bearer_auth(key)
            .json(&body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send().await.unwrap()
    }

    /// GETs `path` with `key`.
    pub async fn get(&self, path: &str, key: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
    }

    pub async fn chat(&self, key: &str, body: Value) -> reqwest::Response {
        self.client
            .post(self.url("/v1/chat/completions"))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .unwrap()
    }
}

pub fn spec(name: &str) -> KeySpec {
    KeySpec {
        name: name.into(),
        env: KeyEnv::Live,
        kind: KeyKind::Sk,
        account_id: "default".into(),
        expires_at: None,
        policy: None,
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

pub fn chat_body(model: &str, text: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": text}]})
}

/// Asserts status and the documented OpenAI error body; returns the body.
pub async fn expect_error(res: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(res.status().as_u16(), status, "status");
    assert!(
        res.headers().contains_key("x-request-id"),
        "x-request-id on errors"
    );
    let body: Value = res.json().await.expect("error body is JSON");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["type"].is_string(), "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    body
}

/// Polls `check` until it returns `Some`, or fails after `deadline`.
pub async fn eventually<T, F, Fut>(deadline: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = tokio::time::Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(start.elapsed() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The `tollgate` binary built for this test run.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_tollgate"))
}

/// A config file written for the binary, and the database it names (kept alive
/// while this or a clone lives). Derefs to its path.
#[derive(Clone)]
pub struct ConfigFile {
    pub path: PathBuf,
    pub db: TestDb,
}

impl std::ops::Deref for ConfigFile {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for ConfigFile {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<std::ffi::OsStr> for ConfigFile {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.path.as_os_str()
    }
}

/// Writes a TOML config for the binary (on the suite's backend) and returns it.
pub fn write_config(dir: &Path, mock_base: &str, extra: &str) -> ConfigFile {
    let db = test_db(dir);
    let path = write_config_on(dir, &db.url, mock_base, extra);
    ConfigFile { path, db }
}

/// Like [`write_config`] with another `[storage] url` (several instances on one database).
pub fn write_config_on(dir: &Path, storage_url: &str, mock_base: &str, extra: &str) -> PathBuf {
    let path = dir.join("tollgate.toml");
    let text = format!(
        r#"[server]
listen = "127.0.0.1:0"
shutdown_grace_secs = 10

[storage]
url = "{storage_url}"

[keys]
pepper = "{PEPPER}"
revocation_poll_ms = 200

[providers.openai]
base_url = "{mock_base}/v1"
api_key = "{UPSTREAM_KEY}"

[providers.anthropic]
base_url = "{mock_base}"
api_key = "{ANTHROPIC_UPSTREAM_KEY}"

[providers.gemini]
base_url = "{mock_base}"
api_key = "{GEMINI_UPSTREAM_KEY}"
{extra}
"#
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// The data directory of a test's binary: the config file's own (temp) directory.
pub fn data_dir(config: &Path) -> PathBuf {
    config
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Runs a CLI command to completion; returns (status success, stdout, stderr).
pub async fn cli(config: &Path, args: &[&str]) -> (bool, String, String) {
    let out = tokio::process::Command::new(binary())
        .arg("--config")
        .arg(config)
        .args(args)
        .env("TOLLGATE_LOG", "warn")
        // Generated files (master key, JWT secret) beside the config, never in
        // the working directory shared by every test.
        .env("TOLLGATE_DATA_DIR", data_dir(config))
        .output()
        .await
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `tollgate keys create ARGS… --json` through the CLI; the plaintext key it printed.
pub async fn cli_create_key(config: &Path, args: &[&str]) -> String {
    let mut all = vec!["keys", "create"];
    all.extend_from_slice(args);
    all.push("--json");
    let (ok, out, err) = cli(config, &all).await;
    assert!(ok, "keys create {args:?}: {err}");
    serde_json::from_str::<Value>(&out).unwrap()["key"]
        .as_str()
        .expect("keys create --json prints the key")
        .to_owned()
}

/// A `tollgate serve` child process; killed on drop.
pub struct ServerProcess {
    pub child: tokio::process::Child,
    pub base: String,
    /// What the server printed on stderr before it was listening.
    pub startup_output: String,
    /// What it printed on stderr after that, so far.
    pub output: Arc<parking_lot::Mutex<String>>,
}

impl ServerProcess {
    /// Starts `tollgate serve` and waits for its "listening on" line.
    pub async fn start(config: &Path) -> ServerProcess {
        Self::start_with_env(config, &[]).await
    }

    pub async fn start_with_env(config: &Path, env: &[(&str, &str)]) -> ServerProcess {
        let mut child = tokio::process::Command::new(binary())
            .arg("--config")
            .arg(config)
            .arg("serve")
            .env("TOLLGATE_LOG", "warn")
            .env("TOLLGATE_DATA_DIR", data_dir(config))
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let mut startup_output = String::new();
        let base = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(url) = line.strip_prefix("tollgate listening on ") {
                    return url.to_owned();
                }
                startup_output.push_str(&line);
                startup_output.push('\n');
            }
            panic!("tollgate serve exited before listening: {startup_output}");
        })
        .await
        .expect("tollgate serve did not start in time");
        // Keep draining stderr so the child never blocks on a full pipe.
        let output = Arc::new(parking_lot::Mutex::new(String::new()));
        let sink = output.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let mut out = sink.lock();
                out.push_str(&line);
                out.push('\n');
            }
        });
        ServerProcess {
            child,
            base,
            startup_output,
            output,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("child is running")
    }
}

/// SSE blocks of a response: (event name, data JSON or raw text).
pub async fn sse_events(res: reqwest::Response) -> Vec<(Option<String>, String)> {
    let mut text = String::new();
    let mut stream = res.bytes_stream();
    while let Some(Ok(chunk)) = stream.next().await {
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    text.split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .map(|block| {
            let mut event = None;
            let mut data = String::new();
            for line in block.lines() {
                if let Some(e) = line.strip_prefix("event: ") {
                    event = Some(e.to_owned());
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            (event, data)
        })
        .collect()
}

/// A `redis-server` of the test's own on a random port (no persistence), so the
/// test can kill and restart it; killed on drop.
pub struct RedisServer {
    child: Option<tokio::process::Child>,
    pub port: u16,
}

impl RedisServer {
    pub async fn start() -> RedisServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = RedisServer { child: None, port };
        server.restart().await;
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts it (again) on the same port, empty, and waits until it answers PING.
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "redis-server is already running");
        let child = tokio::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server is installed (.ci/run installs it)");
        self.child = Some(child);
        let port = self.port;
        eventually(
            Duration::from_secs(10),
            "redis-server to answer PING",
            || async move { redis_ping(port).await.then_some(()) },
        )
        .await;
    }

    /// Kills it (SIGKILL: no goodbye to its clients) and waits for it to exit.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.unwrap();
        }
    }
}

async fn redis_ping(port: u16) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut conn) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    if conn.write_all(b"PING\r\n").await.is_err() {
        return false;
    }
    let mut buf = [0u8; 7];
    conn.read_exact(&mut buf).await.is_ok() && &buf == b"+PONG\r\n"
}

/// Several `tollgate serve` processes on one database and one Redis of their own.
pub struct Instances {
    pub dir: tempfile::TempDir,
    pub mock: Mock,
    pub redis: RedisServer,
    pub config: PathBuf,
    pub nodes: Vec<ServerProcess>,
    /// A management key (default account, every scope).
    pub admin_key: String,
    next: std::sync::atomic::AtomicUsize,
    /// Declared after the instances, so it is dropped once they stopped.
    pub db: TestDb,
}

impl Instances {
    /// `n` instances; `extra` is appended to the config (after a `[redis]` table
    /// with the url, so it may set `on_failure` only through `redis_extra`).
    pub async fn start(n: usize, redis_extra: &str, extra: &str) -> Instances {
        Self::start_with_env(n, redis_extra, extra, &[]).await
    }

    pub async fn start_with_env(
        n: usize,
        redis_extra: &str,
        extra: &str,
        env: &[(&str, &str)],
    ) -> Instances {
        let dir = tempfile::tempdir().unwrap();
        let mock = Mock::start().await;
        let redis = RedisServer::start().await;
        // One database for all instances, on the suite's backend.
        let db = test_db(dir.path());
        let config = write_config_on(
            dir.path(),
            &db.url,
            &mock.base,
            &format!("[redis]\nurl = \"{}\"\n{redis_extra}\n{extra}", redis.url()),
        );
        // Migrate once before the instances race to do it.
        let (ok, _, err) = cli(&config, &["migrate"]).await;
        assert!(ok, "migrate: {err}");
        let admin_key = cli_create_key(&config, &["--kind", "mk", "--name", "admin"]).await;
        let mut nodes = Vec::with_capacity(n);
        for _ in 0..n {
            nodes.push(ServerProcess::start_with_env(&config, env).await);
        }
        Instances {
            dir,
            mock,
            redis,
            config,
            nodes,
            admin_key,
            db,
            next: Default::default(),
        }
    }

    /// The next instance, round-robin.
    pub fn next(&self) -> &ServerProcess {
        let i = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        &self.nodes[i % self.nodes.len()]
    }

    /// A chat completion on instance `i`.
    pub async fn chat_on(&self, i: usize, key: &str, body: &Value) -> reqwest::Response {
        client()
            .post(format!("{}/v1/chat/completions", self.nodes[i].base))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// A management call on instance `i` with `key`.
    pub async fn admin_on(
        &self,
        i: usize,
        key: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut req = client()
            .request(method, format!("{}{path}", self.nodes[i].base))
            .bearer_auth(key);
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.unwrap()
    }
}
