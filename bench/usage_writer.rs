//! The usage writer's cost, alone: `N` synthetic events written through
//! `Store::record_usage_batch` in batches of `B`, on a fresh SQLite file (or the
//! PostgreSQL URL in `TOLLGATE_BENCH_DB`). Run by `bench/usage_writer.sh`, which
//! runs it under callgrind for instructions per event (subtracting an `N = 0` run:
//! start-up and migrations) and plainly for CPU time per batch.
//!
//! CPU time is the process's, summed over its threads from
//! `/proc/self/task/*/schedstat` (nanoseconds on CPU), around each batch: sqlx runs
//! SQLite on a worker thread per connection, so the calling thread alone would miss
//! most of it.
//!
//! Usage: `usage_writer [EVENTS] [BATCH]` (defaults 20000 and 250: a 25 ms commit
//! window at 10k requests per second).

use std::time::Instant;

use tollgate::metering::{UsageEvent, UsageSource};
use tollgate::store::Store;

fn cpu_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

fn event(n: u64, ts_ms: i64) -> UsageEvent {
    let keys = [("acme", "kid_a1"), ("acme", "kid_a2"), ("globex", "kid_g1")];
    let models = ["gpt-4o-mini", "gpt-4o", "claude-sonnet-4-5"];
    let (account, kid) = keys[(n % 3) as usize];
    let model = models[(n % 7 % 3) as usize];
    UsageEvent {
        id: uuid::Uuid::now_v7().to_string(),
        ts_ms,
        request_id: uuid::Uuid::now_v7().to_string(),
        account_id: account.into(),
        kid: kid.into(),
        user_id: String::new(),
        endpoint: "/v1/chat/completions".into(),
        provider: if model.starts_with("claude") {
            "anthropic".into()
        } else {
            "openai".into()
        },
        model_requested: model.into(),
        model_served: model.into(),
        status: if n.is_multiple_of(50) { 502 } else { 200 },
        error_code: String::new(),
        input_tokens: 12 + (n % 40) as i64,
        output_tokens: 30 + (n % 90) as i64,
        cached_tokens: 0,
        usage_source: UsageSource::Reported,
        cost_micro_usd: Some((20 + n % 30) as i64),
        charge_micro: (30 + n % 45) as i64,
        currency: "USD".into(),
        latency_ms: 3 + (n % 20) as i64,
        ttfb_ms: 2 + (n % 10) as i64,
        client_ip: format!("10.0.{}.{}", n % 3, n % 17),
        session_id: String::new(),
        app_version: String::new(),
        byok: false,
        streamed: n.is_multiple_of(4),
        failed_attempt: false,
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let events: u64 = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(20_000);
    let batch: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(250);
    let dir = tempfile::tempdir()?;
    let url = std::env::var("TOLLGATE_BENCH_DB")
        .unwrap_or_else(|_| format!("sqlite://{}/bench.db", dir.path().display()));
    let store = Store::open(&url).await?;
    let start_ms = 1_767_225_600_000i64; // 2026-01-01T00:00:00Z
    let mut per_batch = Vec::new();
    let started = Instant::now();
    let mut n = 0u64;
    while n < events {
        let size = batch.min(events - n);
        // 10k requests per second: a batch spans `size` tenths of a millisecond.
        let rows: Vec<UsageEvent> = (n..n + size)
            .map(|i| event(i, start_ms + (i / 10) as i64))
            .collect();
        let before = cpu_ns();
        store.record_usage_batch(&rows).await?;
        per_batch.push(cpu_ns().saturating_sub(before));
        n += size;
    }
    let wall = started.elapsed();
    store.close().await;
    if per_batch.is_empty() {
        println!("events=0");
        return Ok(());
    }
    per_batch.sort_unstable();
    let total: u64 = per_batch.iter().sum();
    let pick = |q: f64| per_batch[((per_batch.len() - 1) as f64 * q) as usize] as f64 / 1e3;
    println!(
        "events={events} batch={batch} batches={} wall_ms={} cpu_us_per_event={:.2} \
         batch_cpu_us_p50={:.0} p90={:.0} max={:.0}",
        per_batch.len(),
        wall.as_millis(),
        total as f64 / events as f64 / 1e3,
        pick(0.5),
        pick(0.9),
        pick(1.0),
    );
    Ok(())
}
