use std::collections::HashMap;

use time::macros::datetime;

use super::*;
use crate::domain::UsageSource;
use crate::store::records::HOUR_MS;
use crate::store::testing::on_every_backend;
use crate::store::{Account, DAY_MS, Store, UsageQueryError};

const T0: i64 = 1_738_368_000_000; // 2025-02-01T00:00:00Z

/// Every test runs once per backend, on a store holding the accounts acme and globex.
async fn seed(store: Store) {
    for id in ["acme", "globex"] {
        store
            .create_account(&Account {
                id: id.into(),
                name: id.into(),
                created_at: from_ms(T0),
                disabled_at: None,
            })
            .await
            .unwrap();
    }
}

fn event(n: u32, ts_ms: i64, account_id: &str, kid: &str, model: &str, status: u16) -> UsageEvent {
    UsageEvent {
        id: event_id(n),
        ts_ms,
        request_id: format!("req-{n:05}"),
        account_id: account_id.into(),
        kid: kid.into(),
        user_id: String::new(),
        endpoint: "/v1/chat/completions".into(),
        provider: if model.starts_with("claude") {
            "anthropic"
        } else {
            "openai"
        }
        .into(),
        model_requested: model.into(),
        model_served: model.into(),
        status,
        error_code: if status >= 400 {
            "boom".into()
        } else {
            String::new()
        },
        input_tokens: i64::from(n % 7) * 10,
        output_tokens: i64::from(n % 5) * 3,
        cached_tokens: i64::from(n % 3),
        usage_source: UsageSource::Reported,
        cost_micro_usd: Some(i64::from(n % 11) * 100),
        charge_micro: if account_id.is_empty() {
            0
        } else {
            i64::from(n % 11) * 150
        },
        currency: "USD".into(),
        latency_ms: i64::from(n % 13) * 10,
        ttfb_ms: i64::from(n % 13) * 5,
        client_ip: format!("10.0.0.{}", n % 4),
        session_id: String::new(),
        app_version: String::new(),
        byok: false,
        streamed: n.is_multiple_of(2),
        failed_attempt: false,
    }
}

/// A UUIDv7-shaped id per test event: the stores keep ids as 16-byte UUIDs.
fn event_id(n: u32) -> String {
    uuid::Uuid::from_u128(0x0194_c000_0000_7000_8000_0000_0000_0000 | u128::from(n)).to_string()
}

/// One event as a rollup increment, by the counting rules (`usage_fold`), written
/// out again here so the tests do not take the code's word for them.
fn event_totals(e: &UsageEvent) -> UsageTotals {
    let request = u64::from(!e.failed_attempt);
    UsageTotals {
        requests: request,
        errors: request * u64::from(e.status >= 400),
        auth_failures: request * u64::from(e.status == 401),
        attempts_failed: u64::from(e.failed_attempt),
        cost_unknown_requests: request * u64::from(e.cost_micro_usd.is_none()),
        input_tokens: e.input_tokens,
        output_tokens: e.output_tokens,
        cached_tokens: e.cached_tokens,
        cost_micro_usd: e.cost_micro_usd.unwrap_or(0),
        charge_micro: e.charge_micro,
        charges: BTreeMap::from([(e.currency.clone(), e.charge_micro)]),
        latency_ms_sum: if e.failed_attempt { 0 } else { e.latency_ms },
        avg_latency_ms: 0,
    }
}

/// A spread of events over three days: two accounts, three keys, two
/// providers, several statuses, unauthenticated failures.
fn spread(count: u32) -> Vec<UsageEvent> {
    let keys = [
        ("acme", "kid_a1"),
        ("acme", "kid_a2"),
        ("globex", "kid_g1"),
        ("", ""),
    ];
    let models = ["gpt-4o", "gpt-4o-mini", "claude-sonnet"];
    let statuses = [200, 200, 200, 400, 401, 429, 502];
    (0..count)
        .map(|n| {
            let (account, kid) = keys[n as usize % keys.len()];
            let status = if kid.is_empty() {
                401
            } else {
                statuses[n as usize % statuses.len()]
            };
            let ts = T0 - DAY_MS + i64::from(n) * 217_003; // ~3 days for 1,200 events
            event(
                n,
                ts,
                account,
                kid,
                models[n as usize % models.len()],
                status,
            )
        })
        .collect()
}

fn whole(from_ms: i64, to_ms: i64, group_by: GroupBy) -> UsageQuery {
    UsageQuery {
        group_by,
        ..UsageQuery::new(from_ms, to_ms).unwrap()
    }
}

fn expected_totals<'a>(events: impl IntoIterator<Item = &'a UsageEvent>) -> UsageTotals {
    let mut t = UsageTotals::default();
    for e in events {
        t.add(&event_totals(e));
    }
    t
}

fn group_key(e: &UsageEvent, group_by: GroupBy) -> String {
    let bucket = |size: i64| {
        from_ms(e.ts_ms - e.ts_ms.rem_euclid(size))
            .format(&Rfc3339)
            .unwrap()
    };
    match group_by {
        GroupBy::None => String::new(),
        GroupBy::Key => e.kid.clone(),
        GroupBy::Model => e.model_served.clone(),
        GroupBy::Provider => e.provider.clone(),
        GroupBy::Status => e.status.to_string(),
        GroupBy::Hour => bucket(HOUR_MS),
        GroupBy::Day => bucket(DAY_MS),
    }
}

#[tokio::test]
async fn rollups_equal_the_sum_of_events_per_group() {
    on_every_backend(seed, rollups_equal_the_sum_of_events_per_group_on).await;
}

async fn rollups_equal_the_sum_of_events_per_group_on(store: Store) {
    let events = spread(1_200);
    // One batch of many statement pieces, then uneven ones as the writer sends.
    let (big, rest) = events.split_at(1_000);
    assert_eq!(store.record_usage(big).await.unwrap(), big.len() as u64);
    for batch in rest.chunks(17) {
        assert_eq!(store.record_usage(batch).await.unwrap(), batch.len() as u64);
    }
    assert_eq!(store.count_usage_events().await.unwrap(), 1_200);

    let (from, to) = (T0 - 2 * DAY_MS, T0 + 3 * DAY_MS);
    let filters: [(Option<&str>, Option<&str>); 4] = [
        (None, None),
        (Some("acme"), None),
        (None, Some("kid_g1")),
        (Some(""), None),
    ];
    for (account, kid) in filters {
        let matching: Vec<&UsageEvent> = events
            .iter()
            .filter(|e| account.is_none_or(|a| e.account_id == a))
            .filter(|e| kid.is_none_or(|k| e.kid == k))
            .collect();
        assert!(!matching.is_empty());
        for group_by in GroupBy::ALL {
            let q = UsageQuery {
                account_id: account.map(str::to_owned),
                kid: kid.map(str::to_owned),
                ..whole(from, to, group_by)
            };
            let report = store.usage_report(&q).await.unwrap();
            let context = format!("{account:?} {kid:?} {group_by:?}");
            assert_eq!(
                report.totals,
                expected_totals(matching.iter().copied()),
                "{context}"
            );
            if group_by == GroupBy::None {
                assert!(report.groups.is_empty(), "{context}");
                continue;
            }
            let mut expected: HashMap<String, Vec<&UsageEvent>> = HashMap::new();
            for e in &matching {
                expected.entry(group_key(e, group_by)).or_default().push(e);
            }
            let got: HashMap<String, UsageTotals> = report.groups.iter().cloned().collect();
            assert_eq!(
                got.len(),
                report.groups.len(),
                "duplicate group keys: {context}"
            );
            let expected: HashMap<String, UsageTotals> = expected
                .into_iter()
                .map(|(k, evs)| (k, expected_totals(evs)))
                .collect();
            assert_eq!(got, expected, "{context}");
        }
    }
}

#[tokio::test]
async fn groups_are_ordered() {
    on_every_backend(seed, groups_are_ordered_on).await;
}

async fn groups_are_ordered_on(store: Store) {
    store.record_usage(&spread(300)).await.unwrap();
    let (from, to) = (T0 - 2 * DAY_MS, T0 + 3 * DAY_MS);
    for group_by in [GroupBy::Hour, GroupBy::Day] {
        let r = store
            .usage_report(&whole(from, to, group_by))
            .await
            .unwrap();
        let keys: Vec<&String> = r.groups.iter().map(|g| &g.0).collect();
        assert!(keys.is_sorted(), "{group_by:?}: {keys:?}");
    }
    let r = store
        .usage_report(&whole(from, to, GroupBy::Status))
        .await
        .unwrap();
    let statuses: Vec<u16> = r.groups.iter().map(|g| g.0.parse().unwrap()).collect();
    assert!(statuses.is_sorted());
    let r = store
        .usage_report(&whole(from, to, GroupBy::Model))
        .await
        .unwrap();
    assert!(
        r.groups
            .windows(2)
            .all(|w| w[0].1.requests >= w[1].1.requests)
    );
}

#[tokio::test]
async fn hour_and_day_buckets_are_utc() {
    on_every_backend(seed, hour_and_day_buckets_are_utc_on).await;
}

async fn hour_and_day_buckets_are_utc_on(store: Store) {
    let at = |t: OffsetDateTime| to_ms(t);
    let events = [
        event(
            1,
            at(datetime!(2025-01-31 23:59:59.999 UTC)),
            "acme",
            "kid_a1",
            "gpt-4o",
            200,
        ),
        // Midnight UTC, written with an offset: still the 1st of February.
        event(
            2,
            at(datetime!(2025-02-01 03:00 +03:00)),
            "acme",
            "kid_a1",
            "gpt-4o",
            200,
        ),
        event(
            3,
            at(datetime!(2025-02-01 00:30 UTC)),
            "acme",
            "kid_a1",
            "gpt-4o",
            500,
        ),
        event(
            4,
            at(datetime!(2025-02-01 01:00 UTC)),
            "acme",
            "kid_a1",
            "gpt-4o",
            200,
        ),
        event(
            5,
            at(datetime!(2025-02-02 00:00 UTC)),
            "acme",
            "kid_a1",
            "gpt-4o",
            200,
        ),
    ];
    store.record_usage(&events).await.unwrap();
    let (from, to) = (T0 - DAY_MS, T0 + 2 * DAY_MS);

    let r = store
        .usage_report(&whole(from, to, GroupBy::Hour))
        .await
        .unwrap();
    let hours: Vec<(&str, u64)> = r
        .groups
        .iter()
        .map(|(k, t)| (k.as_str(), t.requests))
        .collect();
    assert_eq!(
        hours,
        [
            ("2025-01-31T23:00:00Z", 1),
            ("2025-02-01T00:00:00Z", 2),
            ("2025-02-01T01:00:00Z", 1),
            ("2025-02-02T00:00:00Z", 1),
        ]
    );
    assert_eq!(r.groups[1].1.errors, 1);

    let r = store
        .usage_report(&whole(from, to, GroupBy::Day))
        .await
        .unwrap();
    let days: Vec<(&str, u64)> = r
        .groups
        .iter()
        .map(|(k, t)| (k.as_str(), t.requests))
        .collect();
    assert_eq!(
        days,
        [
            ("2025-01-31T00:00:00Z", 1),
            ("2025-02-01T00:00:00Z", 3),
            ("2025-02-02T00:00:00Z", 1),
        ]
    );
}

#[tokio::test]
async fn reports_cover_whole_hours() {
    on_every_backend(seed, reports_cover_whole_hours_on).await;
}

async fn reports_cover_whole_hours_on(store: Store) {
    let events = [
        event(1, T0 - 1, "acme", "kid_a1", "gpt-4o", 200), // the hour before
        event(2, T0 + 5 * 60_000, "acme", "kid_a1", "gpt-4o", 200),
        event(3, T0 + 55 * 60_000, "acme", "kid_a1", "gpt-4o", 200),
        event(4, T0 + HOUR_MS, "acme", "kid_a1", "gpt-4o", 200), // the hour after
    ];
    store.record_usage(&events).await.unwrap();
    // [00:10, 00:50) lies inside one hour: the report covers [00:00, 01:00).
    let q = whole(T0 + 10 * 60_000, T0 + 50 * 60_000, GroupBy::None);
    assert_eq!(q.window(), (T0, T0 + HOUR_MS));
    let r = store.usage_report(&q).await.unwrap();
    assert_eq!((r.from_ms, r.to_ms), (T0, T0 + HOUR_MS));
    assert_eq!(r.totals.requests, 2);
    // The IP ranking reads raw events over the same window.
    let ips = store.top_client_ips(&q, 10).await.unwrap();
    assert_eq!(ips.iter().map(|(_, n)| n).sum::<u64>(), 2);
}

#[tokio::test]
async fn a_retried_batch_counts_and_charges_once() {
    on_every_backend(seed, a_retried_batch_counts_and_charges_once_on).await;
}

async fn a_retried_batch_counts_and_charges_once_on(store: Store) {
    let events = spread(60);
    let q = whole(T0 - 2 * DAY_MS, T0 + 3 * DAY_MS, GroupBy::Key);
    assert_eq!(store.record_usage(&events).await.unwrap(), 60);
    let report = store.usage_report(&q).await.unwrap();
    let balance = store
        .account_billing("acme")
        .await
        .unwrap()
        .unwrap()
        .balance_micro;

    assert_eq!(store.record_usage(&events).await.unwrap(), 0);
    // Half old, half new, and a duplicate id inside the batch.
    let mut more = spread(90)[30..].to_vec();
    more.push(more[40].clone());
    assert_eq!(store.record_usage(&more).await.unwrap(), 30);
    assert_eq!(store.count_usage_events().await.unwrap(), 90);

    let all = spread(90);
    let after = store.usage_report(&q).await.unwrap();
    assert_eq!(after.totals, expected_totals(&all));
    assert_ne!(after, report);
    let acme_charges: i64 = all
        .iter()
        .filter(|e| e.account_id == "acme")
        .map(|e| e.charge_micro)
        .sum();
    let first_charges: i64 = events
        .iter()
        .filter(|e| e.account_id == "acme")
        .map(|e| e.charge_micro)
        .sum();
    assert_eq!(balance, -first_charges);
    let billing = store.account_billing("acme").await.unwrap().unwrap();
    assert_eq!(billing.balance_micro, -acme_charges);
}

/// The range rule (`domain::bounds::check_event`) is the store's, on both
/// backends, since SQLite's per-row trigger went (migration 0080): one event out of
/// range refuses its whole batch, and nothing of it is stored or charged.
#[tokio::test]
async fn an_out_of_range_event_refuses_its_batch_and_stores_nothing() {
    on_every_backend(
        seed,
        an_out_of_range_event_refuses_its_batch_and_stores_nothing_on,
    )
    .await;
}

async fn an_out_of_range_event_refuses_its_batch_and_stores_nothing_on(store: Store) {
    let spoilers: [fn(&mut UsageEvent); 4] = [
        |e| e.input_tokens = -1,
        |e| e.output_tokens = 1_000_000_001,
        |e| e.cost_micro_usd = Some(-5),
        |e| e.latency_ms = 86_400_001,
    ];
    for (i, spoil) in spoilers.iter().enumerate() {
        let mut events = spread(10);
        spoil(&mut events[7]);
        let err = store.record_usage_batch(&events).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::OutOfRange(m) if m.contains("out of range")),
            "case {i}: {err}"
        );
        assert_eq!(store.count_usage_events().await.unwrap(), 0, "case {i}");
        let billing = store.account_billing("acme").await.unwrap().unwrap();
        assert_eq!(billing.balance_micro, 0, "case {i}");
        let report = store
            .usage_report(&whole(T0 - 2 * DAY_MS, T0 + 3 * DAY_MS, GroupBy::None))
            .await
            .unwrap();
        assert_eq!(report.totals, UsageTotals::default(), "case {i}");
    }
    // The same batch, in range, is taken whole: the refusal was the value's.
    assert_eq!(store.record_usage(&spread(10)).await.unwrap(), 10);
}

#[tokio::test]
async fn charges_draw_down_each_account() {
    on_every_backend(seed, charges_draw_down_each_account_on).await;
}

async fn charges_draw_down_each_account_on(store: Store) {
    store
        .credit_account("globex", 1_000_000, "cli", "top-up", from_ms(T0))
        .await
        .unwrap();
    let mut events = spread(200);
    // An account that does not exist is no reason to lose the batch.
    events.push(event(9_999, T0, "ghost", "kid_x", "gpt-4o", 200));
    store.record_usage(&events).await.unwrap();
    let charged = |account: &str| -> i64 {
        events
            .iter()
            .filter(|e| e.account_id == account)
            .map(|e| e.charge_micro)
            .sum()
    };
    assert!(charged("acme") > 0 && charged("globex") > 0);
    let acme = store.account_billing("acme").await.unwrap().unwrap();
    assert_eq!(acme.balance_micro, -charged("acme"));
    let globex = store.account_billing("globex").await.unwrap().unwrap();
    assert_eq!(globex.balance_micro, 1_000_000 - charged("globex"));
    // Usage charges are not credits: the audit trail only has the top-up.
    assert_eq!(store.account_credits("globex").await.unwrap().len(), 1);
    assert_eq!(store.account_billing("ghost").await.unwrap(), None);
}

#[tokio::test]
async fn credits_are_audited() {
    on_every_backend(seed, credits_are_audited_on).await;
}

async fn credits_are_audited_on(store: Store) {
    let billing = store.account_billing("acme").await.unwrap().unwrap();
    assert_eq!(
        billing,
        AccountBilling {
            currency: "USD".into(),
            billing_mode: BillingMode::Postpaid,
            balance_micro: 0
        }
    );
    let t1 = from_ms(T0);
    let t2 = from_ms(T0 + 1_000);
    let balance = store
        .credit_account("acme", 5_000_000, "kid_mgmt", "invoice 7", t1)
        .await;
    assert_eq!(balance.unwrap(), Some(5_000_000));
    let balance = store
        .credit_account("acme", -1_250_000, "cli", "refund error", t2)
        .await;
    assert_eq!(balance.unwrap(), Some(3_750_000));
    assert_eq!(
        store
            .credit_account("nobody", 1, "cli", "", t2)
            .await
            .unwrap(),
        None
    );
    assert!(store.account_credits("nobody").await.unwrap().is_empty());

    let credits = store.account_credits("acme").await.unwrap();
    let trail: Vec<_> = credits
        .iter()
        .map(|c| {
            (
                c.account_id.as_str(),
                c.amount_micro,
                c.balance_after_micro,
                c.actor.as_str(),
                c.note.as_str(),
                c.created_at,
            )
        })
        .collect();
    assert_eq!(
        trail,
        [
            ("acme", 5_000_000, 5_000_000, "kid_mgmt", "invoice 7", t1),
            ("acme", -1_250_000, 3_750_000, "cli", "refund error", t2),
        ]
    );
    assert_ne!(credits[0].id, credits[1].id);
    assert_eq!(
        store
            .account_billing("acme")
            .await
            .unwrap()
            .unwrap()
            .balance_micro,
        3_750_000
    );
    assert!(store.account_credits("globex").await.unwrap().is_empty());
}

#[tokio::test]
async fn billing_settings_change_independently() {
    on_every_backend(seed, billing_settings_change_independently_on).await;
}

async fn billing_settings_change_independently_on(store: Store) {
    assert!(
        store
            .set_account_billing("acme", Some("TRY"), None)
            .await
            .unwrap()
    );
    assert!(
        store
            .set_account_billing("acme", None, Some(BillingMode::Prepaid))
            .await
            .unwrap()
    );
    let billing = store.account_billing("acme").await.unwrap().unwrap();
    assert_eq!(billing.currency, "TRY");
    assert_eq!(billing.billing_mode, BillingMode::Prepaid);
    assert!(store.set_account_billing("acme", None, None).await.unwrap());
    assert!(
        !store
            .set_account_billing("nobody", None, None)
            .await
            .unwrap()
    );
    assert!(
        !store
            .set_account_billing("nobody", Some("EUR"), Some(BillingMode::Postpaid))
            .await
            .unwrap()
    );
    // The other account is untouched.
    let globex = store.account_billing("globex").await.unwrap().unwrap();
    assert_eq!(
        (globex.currency.as_str(), globex.billing_mode),
        ("USD", BillingMode::Postpaid)
    );
}

#[tokio::test]
async fn purge_drops_raw_events_and_keeps_rollups() {
    on_every_backend(seed, purge_drops_raw_events_and_keeps_rollups_on).await;
}

async fn purge_drops_raw_events_and_keeps_rollups_on(store: Store) {
    let events = spread(400);
    store.record_usage(&events).await.unwrap();
    let q = whole(T0 - 2 * DAY_MS, T0 + 3 * DAY_MS, GroupBy::Hour);
    let before = store.usage_report(&q).await.unwrap();

    let old = events.iter().filter(|e| e.ts_ms < T0).count() as u64;
    assert!(old > 0 && old < 400);
    assert_eq!(store.purge_usage_before(T0).await.unwrap(), old);
    assert_eq!(store.count_usage_events().await.unwrap(), 400 - old);
    assert_eq!(store.purge_usage_before(T0).await.unwrap(), 0);
    assert_eq!(store.usage_report(&q).await.unwrap(), before);

    let kept = events.iter().find(|e| e.ts_ms >= T0).unwrap();
    let gone = events.iter().find(|e| e.ts_ms < T0).unwrap();
    assert_eq!(
        store
            .usage_events_for_request(&kept.request_id)
            .await
            .unwrap(),
        std::slice::from_ref(kept)
    );
    assert!(
        store
            .usage_events_for_request(&gone.request_id)
            .await
            .unwrap()
            .is_empty()
    );
    // Client IPs come from their own rollup, which outlives the raw events too.
    let ips = store.top_client_ips(&q, 100).await.unwrap();
    assert_eq!(ips.iter().map(|(_, n)| n).sum::<u64>(), 400);

    // Idempotency rests on the raw rows: a purged event sent again counts again,
    // so retries must arrive well within retention.
    assert_eq!(
        store
            .record_usage(std::slice::from_ref(gone))
            .await
            .unwrap(),
        1
    );
    let after = store.usage_report(&q).await.unwrap();
    assert_eq!(after.totals.requests, before.totals.requests + 1);
}

#[tokio::test]
async fn events_round_trip_every_field() {
    on_every_backend(seed, events_round_trip_every_field_on).await;
}

async fn events_round_trip_every_field_on(store: Store) {
    let mut e = event(7, T0 + 123, "acme", "kid_a1", "gpt-4o", 200);
    e.user_id = "user-1".into();
    e.model_requested = "fast".into();
    e.usage_source = UsageSource::Estimated;
    e.session_id = "sess".into();
    e.app_version = "1.2.3".into();
    e.byok = true;
    e.streamed = true;
    e.currency = "TRY".into();
    let mut other = event(8, T0 + 100, "", "", "", 401);
    other.request_id = e.request_id.clone();
    other.usage_source = UsageSource::None;
    store
        .record_usage(&[e.clone(), other.clone()])
        .await
        .unwrap();
    let got = store.usage_events_for_request(&e.request_id).await.unwrap();
    assert_eq!(got, [other, e]); // by time
}

#[tokio::test]
async fn top_client_ips_rank_and_filter() {
    on_every_backend(seed, top_client_ips_rank_and_filter_on).await;
}

async fn top_client_ips_rank_and_filter_on(store: Store) {
    let mut events = Vec::new();
    for (n, (ip, account)) in [
        ("10.0.0.1", "acme"),
        ("10.0.0.1", "acme"),
        ("10.0.0.1", "globex"),
        ("10.0.0.2", "acme"),
        ("10.0.0.2", "acme"),
        ("10.0.0.2", "acme"),
        ("10.0.0.3", "acme"),
        ("", "acme"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut e = event(n as u32, T0 + n as i64, account, "kid", "gpt-4o", 200);
        e.client_ip = ip.into();
        events.push(e);
    }
    store.record_usage(&events).await.unwrap();
    let q = whole(T0, T0 + HOUR_MS, GroupBy::None);
    let ips = store.top_client_ips(&q, 10).await.unwrap();
    assert_eq!(
        ips,
        [
            ("10.0.0.1".into(), 3),
            ("10.0.0.2".into(), 3),
            ("10.0.0.3".into(), 1)
        ]
    );
    let acme = UsageQuery {
        account_id: Some("acme".into()),
        ..q.clone()
    };
    let ips = store.top_client_ips(&acme, 1).await.unwrap();
    assert_eq!(ips, [("10.0.0.2".into(), 3)]);
    assert!(store.top_client_ips(&q, 0).await.unwrap().is_empty());
}

#[tokio::test]
async fn query_validation() {
    assert_eq!(UsageQuery::new(T0, T0), Err(UsageQueryError::EmptyRange));
    assert_eq!(
        UsageQuery::new(T0, T0 - 1),
        Err(UsageQueryError::EmptyRange)
    );
    let q = UsageQuery::new(T0 - 1, T0).unwrap();
    assert_eq!(q.window(), (T0 - HOUR_MS, T0));
    assert_eq!(
        UsageQuery::new(T0, T0 + 1).unwrap().window(),
        (T0, T0 + HOUR_MS)
    );
    assert_eq!(
        UsageQuery::new(T0, T0 + HOUR_MS).unwrap().window(),
        (T0, T0 + HOUR_MS)
    );
    // Before 1970 the hour still floors (not truncates toward zero).
    assert_eq!(
        UsageQuery::new(-1, 1).unwrap().window(),
        (-HOUR_MS, HOUR_MS)
    );
    for g in GroupBy::ALL {
        assert_eq!(g.as_str().parse(), Ok(g));
    }
    assert_eq!("week".parse::<GroupBy>(), Err(()));
    assert_eq!("Day".parse::<GroupBy>(), Err(()));
    assert_eq!("prepaid".parse(), Ok(BillingMode::Prepaid));
    assert_eq!("postpaid".parse(), Ok(BillingMode::Postpaid));
    assert_eq!("credit".parse::<BillingMode>(), Err(()));

    // The store answers an empty or inverted range with an empty report.
    on_every_backend(seed, empty_ranges_on).await;
}

async fn empty_ranges_on(store: Store) {
    store.record_usage(&spread(50)).await.unwrap();
    let inverted = UsageQuery {
        from_ms: T0 + DAY_MS,
        to_ms: T0 - DAY_MS,
        account_id: None,
        kid: None,
        group_by: GroupBy::Hour,
    };
    assert_eq!(inverted.validate(), Err(UsageQueryError::EmptyRange));
    let r = store.usage_report(&inverted).await.unwrap();
    assert_eq!((r.totals, r.groups.len()), (UsageTotals::default(), 0));
    assert!(
        store
            .top_client_ips(&inverted, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // A range with no events is empty too, not an error.
    let r = store
        .usage_report(&whole(T0 + 10 * DAY_MS, T0 + 11 * DAY_MS, GroupBy::Day))
        .await
        .unwrap();
    assert_eq!((r.totals.requests, r.groups.len()), (0, 0));
}

#[tokio::test]
async fn failed_attempts_and_unknown_costs_are_counted_apart() {
    on_every_backend(seed, failed_attempts_and_unknown_costs_are_counted_apart_on).await;
}

/// Issue 15: a request that took three tries is one request with two failed
/// attempts, whose rows are still stored. Issue 12: an unpriced model's cost is
/// unknown (NULL), counted as such and never summed as 0.
async fn failed_attempts_and_unknown_costs_are_counted_apart_on(store: Store) {
    let mut tries = Vec::new();
    for n in 0..2 {
        let mut e = event(n, T0 + 10, "acme", "kid_a1", "gpt-4o", 503);
        e.request_id = "req-retried".into();
        e.input_tokens = 0;
        e.output_tokens = 0;
        e.cached_tokens = 0;
        e.cost_micro_usd = Some(0);
        e.charge_micro = 0;
        e.usage_source = UsageSource::None;
        e.failed_attempt = true;
        tries.push(e);
    }
    let mut served = event(2, T0 + 10, "acme", "kid_a1", "claude-sonnet", 200);
    served.request_id = "req-retried".into();
    let mut unpriced = event(3, T0 + 20, "acme", "kid_a1", "open-model", 200);
    unpriced.cost_micro_usd = None;
    unpriced.charge_micro = 0;
    let mut events = tries.clone();
    events.extend([served.clone(), unpriced.clone()]);
    assert_eq!(store.record_usage(&events).await.unwrap(), 4);

    let q = whole(T0, T0 + HOUR_MS, GroupBy::Status);
    let report = store.usage_report(&q).await.unwrap();
    assert_eq!(report.totals, expected_totals(&events));
    assert_eq!(
        (
            report.totals.requests,
            report.totals.attempts_failed,
            report.totals.errors,
            report.totals.cost_unknown_requests,
        ),
        (2, 2, 0, 1)
    );
    assert_eq!(
        report.totals.cost_micro_usd,
        served.cost_micro_usd.unwrap(),
        "the unknown cost adds nothing"
    );
    let failed = report.groups.iter().find(|(k, _)| k == "503").unwrap();
    assert_eq!((failed.1.requests, failed.1.attempts_failed), (0, 2));

    // Every try is still listed, marked; the unknown cost reads back as unknown.
    let rows = store.usage_events_for_request("req-retried").await.unwrap();
    assert_eq!(rows.iter().filter(|e| e.failed_attempt).count(), 2);
    assert_eq!(rows.len(), 3);
    let rows = store
        .usage_events_for_request(&unpriced.request_id)
        .await
        .unwrap();
    assert_eq!(rows, [unpriced]);
    assert_eq!(rows[0].cost_micro_usd, None);

    // The client-IP ranking counts requests, not tries.
    let ips = store.top_client_ips(&q, 10).await.unwrap();
    assert_eq!(ips.iter().map(|(_, n)| n).sum::<u64>(), 2);
}

/// Migration 0070 on a database the previous version wrote: rows move into the new
/// shape (ids become 16-byte UUIDs, old failed tries are marked), the rollups stop
/// counting those tries as requests, and the per-IP rollup is filled.
#[tokio::test]
async fn migration_0070_upgrades_an_existing_database() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("migrations");
    std::fs::create_dir(&old).unwrap();
    for entry in std::fs::read_dir("migrations/sqlite").unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if name.as_str() < "0070" {
            std::fs::copy(&path, old.join(&name)).unwrap();
        }
    }
    let url = format!("sqlite://{}/old.db", dir.path().display());
    let pool = sqlx::SqlitePool::connect_with(
        url.parse::<sqlx::sqlite::SqliteConnectOptions>()
            .unwrap()
            .create_if_missing(true),
    )
    .await
    .unwrap();
    sqlx::migrate::Migrator::new(old.as_path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    let (tried, served) = (event_id(1), event_id(2));
    // As the previous writer stored a request that took two tries: the failed try
    // (503, nothing sent back), then the answer, and both counted as requests.
    for (id, status, source, input, cost, latency) in [
        (tried.as_str(), 503, "none", 0, 0, 7),
        (served.as_str(), 200, "reported", 10, 100, 30),
    ] {
        sqlx::query(
            "INSERT INTO usage_events VALUES (?, ?, 'req-old', 'acme', 'kid_a1', '', \
             '/v1/chat/completions', 'openai', 'gpt-4o', 'gpt-4o', ?, '', ?, 0, 0, ?, ?, 0, \
             'USD', ?, ?, '10.0.0.9', '', '', 0, 0)",
        )
        .bind(id)
        .bind(T0 + 5)
        .bind(status)
        .bind(input)
        .bind(source)
        .bind(cost)
        .bind(latency)
        .bind(latency)
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO usage_hourly VALUES (?, 'acme', 'kid_a1', 'openai', 'gpt-4o', ?, \
             'USD', 1, ?, 0, ?, 0, 0, ?, 0, ?)",
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

    let store = Store::open(&url).await.unwrap();
    let q = whole(T0, T0 + HOUR_MS, GroupBy::Status);
    let report = store.usage_report(&q).await.unwrap();
    assert_eq!(
        (
            report.totals.requests,
            report.totals.attempts_failed,
            report.totals.errors,
            report.totals.latency_ms_sum,
            report.totals.cost_micro_usd,
        ),
        (1, 1, 0, 30, 100)
    );
    let rows = store.usage_events_for_request("req-old").await.unwrap();
    let marks: Vec<_> = rows
        .iter()
        .map(|e| (e.id.as_str(), e.failed_attempt, e.cost_micro_usd))
        .collect();
    assert_eq!(
        marks,
        [
            (tried.as_str(), true, Some(0)),
            (served.as_str(), false, Some(100))
        ]
    );
    assert_eq!(
        store.top_client_ips(&q, 10).await.unwrap(),
        [("10.0.0.9".into(), 1)]
    );
    // And the new writer goes on from there; the old ids are still recognized.
    let again = rows[1].clone();
    assert_eq!(store.record_usage(&[again]).await.unwrap(), 0);
}

/// The writer connection skips the CHECK constraints (see `SqliteStore::writer`):
/// SQLite builds a temporary B-tree for `usage_source IN (…)` on every execution
/// of an event INSERT otherwise. Empty texts bound as NULL are stored as ''.
#[tokio::test]
async fn the_event_insert_builds_no_temporary_table_and_stores_empty_texts() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/w.db", dir.path().display());
    let store = SqliteStore::connect(&url).await.unwrap();
    crate::store::Backend::migrate(&store).await.unwrap();
    for rows in [1, 2, 64] {
        let sql = write::event_insert_sql(rows);
        let plan: Vec<String> = sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN {sql}")))
            .fetch_all(&store.writer)
            .await
            .unwrap()
            .iter()
            .map(|row| row.try_get("opcode").unwrap())
            .collect();
        assert!(!plan.is_empty());
        assert!(
            !plan.iter().any(|op| op == "OpenEphemeral"),
            "{rows} rows: {plan:?}"
        );
    }
    let mut e = event(1, T0, "", "kid_a1", "gpt-4o", 200);
    e.user_id = String::new();
    e.session_id = String::new();
    e.app_version = String::new();
    e.error_code = String::new();
    assert_eq!(store.record_usage(&[e]).await.unwrap(), 1);
    let texts: (String, String, String, String) =
        sqlx::query_as("SELECT user_id, error_code, session_id, app_version FROM usage_events")
            .fetch_one(&store.pool)
            .await
            .unwrap();
    assert_eq!(
        texts,
        (String::new(), String::new(), String::new(), String::new())
    );
    crate::store::Backend::close(&store).await;
}
