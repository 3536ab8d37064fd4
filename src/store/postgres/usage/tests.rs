//! PostgreSQL-only behaviour: day partitions and retention by dropping them. The
//! behaviour shared with SQLite is tested once for both in `sqlite/usage/tests.rs`
//! (through `store::testing::on_every_backend`).

use super::*;
use crate::domain::UsageSource;
use crate::store::pg_testing::TestDatabase;
use crate::store::{Backend, HOUR_MS, StoreOptions, redact_url};

const T0: i64 = 1_738_368_000_000; // 2025-02-01T00:00:00Z

fn event(n: u32, ts_ms: i64) -> UsageEvent {
    UsageEvent {
        id: uuid::Uuid::from_u128(0x0194_c000_0000_7000_8000_0000_0000_0000 | u128::from(n))
            .to_string(),
        ts_ms,
        request_id: format!("req-{n:05}"),
        account_id: "default".into(),
        kid: "kid_a".into(),
        user_id: String::new(),
        endpoint: "/v1/chat/completions".into(),
        provider: "openai".into(),
        model_requested: "gpt-4o".into(),
        model_served: "gpt-4o".into(),
        status: 200,
        error_code: String::new(),
        input_tokens: 10,
        output_tokens: 5,
        cached_tokens: 0,
        usage_source: UsageSource::Reported,
        cost_micro_usd: Some(100),
        charge_micro: 150,
        currency: "USD".into(),
        latency_ms: 20,
        ttfb_ms: 10,
        client_ip: "10.0.0.1".into(),
        session_id: String::new(),
        app_version: String::new(),
        byok: false,
        streamed: false,
        failed_attempt: false,
    }
}

async fn fresh() -> (PgStore, TestDatabase) {
    let db = TestDatabase::create().await.expect("test PostgreSQL");
    let store = PgStore::connect(&db.url, &StoreOptions::default())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    (store, db)
}

async fn rows_in(store: &PgStore, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
        .fetch_one(&store.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn partitions_exist_ahead_of_today_after_start() {
    let (store, _db) = fresh().await;
    let today = day_start(to_ms(OffsetDateTime::now_utc()));
    let days: Vec<i64> = day_partitions(&store.pool)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, day)| day)
        .collect();
    for d in -1..=DAYS_AHEAD {
        assert!(
            days.contains(&(today + d * DAY_MS)),
            "day {d} has a partition"
        );
    }
    // Starting again (a second gateway) changes nothing and does not fail.
    store.migrate().await.unwrap();
    assert_eq!(day_partitions(&store.pool).await.unwrap().len(), days.len());
    store.close().await;
}

#[tokio::test]
async fn events_go_to_their_day_and_a_new_partition_takes_its_rows_from_the_default() {
    let (store, _db) = fresh().await;
    // No partition for 2025-02-01 yet: the events land in the default partition.
    let events: Vec<_> = (0..6)
        .map(|n| event(n, T0 + i64::from(n) * HOUR_MS))
        .collect();
    assert_eq!(store.record_usage(&events).await.unwrap(), 6);
    assert_eq!(rows_in(&store, "usage_events_default").await, 6);

    create_partitions(&store.pool, T0, T0).await.unwrap();
    assert_eq!(rows_in(&store, "usage_events_p20250201").await, 6);
    assert_eq!(rows_in(&store, "usage_events_default").await, 0);
    // Still one event each: the retried batch is recognized across the move.
    assert_eq!(store.record_usage(&events).await.unwrap(), 0);
    assert_eq!(store.count_usage_events().await.unwrap(), 6);
    store.close().await;
}

#[tokio::test]
async fn retention_drops_whole_days_and_trims_the_day_of_the_cutoff() {
    let (store, _db) = fresh().await;
    create_partitions(&store.pool, T0, T0 + 2 * DAY_MS)
        .await
        .unwrap();
    // 4 events on each of three days, 2 before the first partition (default).
    let mut events = Vec::new();
    for day in 0..3 {
        for h in 0..4 {
            let n = (day * 4 + h) as u32;
            events.push(event(n, T0 + day * DAY_MS + h * 6 * HOUR_MS));
        }
    }
    events.push(event(100, T0 - 3 * DAY_MS));
    events.push(event(101, T0 - 2 * DAY_MS));
    store.record_usage(&events).await.unwrap();
    let report_before = store
        .usage_report(&UsageQuery::new(T0 - 4 * DAY_MS, T0 + 3 * DAY_MS).unwrap())
        .await
        .unwrap();

    // Cutoff: day 2 at 07:00, so days 0 and 1 go whole and day 2 keeps 2 of 4.
    let cutoff = T0 + 2 * DAY_MS + 7 * HOUR_MS;
    let purged = store.purge_usage_before(cutoff).await.unwrap();
    assert_eq!(purged, 4 + 4 + 2 + 2);
    let names: Vec<String> = day_partitions(&store.pool)
        .await
        .unwrap()
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert!(
        !names.contains(&"usage_events_p20250201".to_owned()),
        "{names:?}"
    );
    assert!(
        !names.contains(&"usage_events_p20250202".to_owned()),
        "{names:?}"
    );
    assert!(
        names.contains(&"usage_events_p20250203".to_owned()),
        "{names:?}"
    );
    assert_eq!(rows_in(&store, "usage_events_p20250203").await, 2);
    assert_eq!(rows_in(&store, "usage_events_default").await, 0);
    assert_eq!(store.count_usage_events().await.unwrap(), 2);
    // The hourly rollups stay.
    let report_after = store
        .usage_report(&UsageQuery::new(T0 - 4 * DAY_MS, T0 + 3 * DAY_MS).unwrap())
        .await
        .unwrap();
    assert_eq!(report_after.totals.requests, 14);
    assert_eq!(report_before.totals.requests, 14);
    assert_eq!(
        report_after.totals.charge_micro,
        report_before.totals.charge_micro
    );
    // Purging again finds nothing.
    assert_eq!(store.purge_usage_before(cutoff).await.unwrap(), 0);
    store.close().await;
}

#[tokio::test]
async fn an_unreachable_server_names_the_url_without_its_password() {
    // Port 1 on localhost: nothing listens there.
    let url = "postgres://tollgate:hunter2-secret@127.0.0.1:1/tollgate";
    let options = StoreOptions {
        max_connections: 2,
        connect_timeout: std::time::Duration::from_secs(2),
    };
    let err = match PgStore::connect(url, &options).await {
        Ok(_) => panic!("connected to nothing"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("postgres://tollgate:***@127.0.0.1:1/tollgate"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
}

#[test]
fn redacted_urls() {
    assert_eq!(
        redact_url("postgres://u:p@h:5/db?sslmode=disable"),
        "postgres://u:***@h:5/db?sslmode=disable"
    );
    assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
    assert_eq!(redact_url("postgres://h/db"), "postgres://h/db");
    assert_eq!(partition_name(T0), "usage_events_p20250201");
}

/// Migration 0070 on a database the previous version wrote (the PostgreSQL
/// mirror of the SQLite test): text ids become uuids, old failed tries are marked
/// and leave the request counts, the per-IP rollup is filled.
#[tokio::test]
async fn migration_0070_upgrades_an_existing_database() {
    let db = TestDatabase::create().await.expect("test PostgreSQL");
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir("migrations/postgres").unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if name.as_str() < "0070" {
            std::fs::copy(&path, dir.path().join(&name)).unwrap();
        }
    }
    let pool = PgPool::connect(&db.url).await.unwrap();
    sqlx::migrate::Migrator::new(dir.path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    let id = |n: u128| uuid::Uuid::from_u128(0x0194_c000_0000_7000_8000_0000_0000_0000 | n);
    let (tried, served) = (id(1).to_string(), id(2).to_string());
    for (id, status, source, input, cost, latency) in [
        (tried.as_str(), 503i64, "none", 0i64, 0i64, 7i64),
        (served.as_str(), 200, "reported", 10, 100, 30),
    ] {
        sqlx::query(
            "INSERT INTO usage_events VALUES ($1, $2, 'req-old', 'default', 'kid_a', '', \
             '/v1/chat/completions', 'openai', 'gpt-4o', 'gpt-4o', $3, '', $4, 0, 0, $5, $6, 0, \
             'USD', $7, $7, '10.0.0.9', '', '', false, false)",
        )
        .bind(id)
        .bind(T0 + 5)
        .bind(status)
        .bind(input)
        .bind(source)
        .bind(cost)
        .bind(latency)
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO usage_hourly (hour_ms, account_id, kid, provider, model_served, \
             status, currency, requests, errors, auth_failures, input_tokens, output_tokens, \
             cached_tokens, cost_micro_usd, charge_micro, latency_ms_sum) \
             VALUES ($1, 'default', 'kid_a', 'openai', 'gpt-4o', $2, 'USD', 1, $3, 0, $4, 0, 0, \
             $5, 0, $6)",
        )
        .bind(T0)
        .bind(status)
        .bind(i64::from(status >= 400))
        .bind(input)
        .bind(cost)
        .bind(latency)
        .execute(&pool)
        .await
        .unwrap();
    }
    pool.close().await;

    let store = crate::store::Store::open(&db.url).await.unwrap();
    let q = UsageQuery {
        group_by: GroupBy::Status,
        ..UsageQuery::new(T0, T0 + HOUR_MS).unwrap()
    };
    let report = store.usage_report(&q).await.unwrap();
    assert_eq!(
        (
            report.totals.requests,
            report.totals.attempts_failed,
            report.totals.errors,
            report.totals.latency_ms_sum,
        ),
        (1, 1, 0, 30)
    );
    let rows = store.usage_events_for_request("req-old").await.unwrap();
    let marks: Vec<_> = rows
        .iter()
        .map(|e| (e.id.as_str(), e.failed_attempt))
        .collect();
    assert_eq!(marks, [(tried.as_str(), true), (served.as_str(), false)]);
    assert_eq!(
        store.top_client_ips(&q, 10).await.unwrap(),
        [("10.0.0.9".into(), 1)]
    );
    assert_eq!(store.record_usage(&[rows[1].clone()]).await.unwrap(), 0);
    store.close().await;
}
