//! `WebhookStore` through [`Store`], on every backend (a fresh SQLite file and a
//! fresh PostgreSQL database): the same semantics from both SQL dialects.

use std::collections::BTreeSet;

use serde_json::json;
use time::OffsetDateTime;

use crate::keys::{KeyEnv, KeyId, KeyKind, KeyPolicy, SecretHash};
use crate::store::records::from_ms;
use crate::store::testing::fresh_stores;
use crate::store::{
    AttemptOutcome, DeliveryStatus, EventFilter, NewEvent, NewKey, Store, WebhookRecord,
    WebhookUpdate,
};

const T0: i64 = 1_700_000_000_000;

fn at(offset_ms: i64) -> OffsetDateTime {
    from_ms(T0 + offset_ms)
}

fn hook(id: &str, account: &str, events: &[&str], created: i64) -> WebhookRecord {
    WebhookRecord {
        id: id.into(),
        account_id: account.into(),
        url: format!("https://hooks.example.com/{id}"),
        events: events.iter().map(|e| (*e).to_owned()).collect(),
        description: Some(format!("hook {id}")),
        secret_sealed: format!("sealed-{id}"),
        prev_secret_sealed: None,
        prev_secret_until: None,
        created_at: at(created),
        updated_at: at(created),
    }
}

fn event(id: &str, kind: &str, account: &str, created: i64) -> NewEvent {
    NewEvent {
        id: id.into(),
        kind: kind.into(),
        account_id: account.into(),
        created_at: at(created),
        data: json!({"key_id": format!("key-{id}"), "n": [1, 2], "nested": {"a": null}}),
    }
}

async fn delivered_events(store: &Store, hook: &str) -> BTreeSet<String> {
    store
        .deliveries(hook, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.event.id)
        .collect()
}

#[tokio::test]
async fn webhooks_round_trip_update_rotate_and_delete() {
    for fresh in fresh_stores().await {
        let s = &fresh.store;
        let b = fresh.backend;
        s.insert_webhook(&hook("wh_1", "default", &["*"], 0))
            .await
            .unwrap();
        s.insert_webhook(&hook("wh_2", "acct_a", &["key.revoked", "alert.spend"], 5))
            .await
            .unwrap();
        let got = s.webhook("wh_2").await.unwrap().expect("wh_2 stored");
        assert_eq!(got.account_id, "acct_a", "{b}");
        assert_eq!(got.events, ["key.revoked", "alert.spend"], "{b}");
        assert_eq!(got.description.as_deref(), Some("hook wh_2"), "{b}");
        assert_eq!(got.secret_sealed, "sealed-wh_2", "{b}");
        assert_eq!(got.created_at, at(5), "{b}");
        assert!(s.webhook("wh_missing").await.unwrap().is_none(), "{b}");

        let ids = |v: Vec<WebhookRecord>| v.into_iter().map(|h| h.id).collect::<Vec<_>>();
        assert_eq!(
            ids(s.list_webhooks(None).await.unwrap()),
            ["wh_1", "wh_2"],
            "{b}"
        );
        assert_eq!(
            ids(s.list_webhooks(Some("acct_a")).await.unwrap()),
            ["wh_2"],
            "{b}"
        );

        let update = WebhookUpdate {
            url: Some("https://new.example.com/x".into()),
            events: Some(vec!["key.created".into()]),
            description: Some(None),
        };
        let updated = s
            .update_webhook("wh_2", &update, at(10))
            .await
            .unwrap()
            .expect("updated");
        assert_eq!(updated.url, "https://new.example.com/x", "{b}");
        assert_eq!(updated.events, ["key.created"], "{b}");
        assert_eq!(updated.description, None, "{b}");
        assert_eq!(updated.updated_at, at(10), "{b}");
        assert_eq!(updated.created_at, at(5), "{b}");
        // An empty update only bumps updated_at.
        let same = s
            .update_webhook("wh_2", &WebhookUpdate::default(), at(11))
            .await
            .unwrap()
            .expect("still there");
        assert_eq!(same.url, "https://new.example.com/x", "{b}");
        assert_eq!(same.updated_at, at(11), "{b}");
        assert!(
            s.update_webhook("wh_missing", &update, at(10))
                .await
                .unwrap()
                .is_none(),
            "{b}"
        );

        let rotated = s
            .rotate_webhook_secret("wh_2", "sealed-new", "sealed-wh_2", at(1000), at(20))
            .await
            .unwrap()
            .expect("rotated");
        assert_eq!(rotated.secret_sealed, "sealed-new", "{b}");
        assert_eq!(
            rotated.prev_secret_sealed.as_deref(),
            Some("sealed-wh_2"),
            "{b}"
        );
        assert_eq!(rotated.prev_secret_until, Some(at(1000)), "{b}");
        assert_eq!(rotated.updated_at, at(20), "{b}");
        assert!(
            s.rotate_webhook_secret("wh_missing", "a", "b", at(1), at(1))
                .await
                .unwrap()
                .is_none(),
            "{b}"
        );

        assert!(s.delete_webhook("wh_2").await.unwrap(), "{b}");
        assert!(!s.delete_webhook("wh_2").await.unwrap(), "{b}");
        assert_eq!(ids(s.list_webhooks(None).await.unwrap()), ["wh_1"], "{b}");
        fresh.store.close().await;
    }
}

#[tokio::test]
async fn fan_out_follows_account_types_and_age_and_runs_once() {
    for fresh in fresh_stores().await {
        let s = &fresh.store;
        let b = fresh.backend;
        s.insert_webhook(&hook("wh_op", "default", &["*"], 0))
            .await
            .unwrap();
        s.insert_webhook(&hook("wh_a", "acct_a", &["key.revoked"], 0))
            .await
            .unwrap();
        s.insert_webhook(&hook("wh_late", "acct_a", &["*"], 50))
            .await
            .unwrap();
        s.insert_event(&event("evt_1", "key.revoked", "acct_a", 10))
            .await
            .unwrap();
        s.insert_event(&event("evt_2", "key.created", "acct_a", 20))
            .await
            .unwrap();
        s.insert_event(&event("evt_3", "key.revoked", "acct_b", 60))
            .await
            .unwrap();
        s.insert_event(&event("evt_4", "key.revoked", "acct_a", 70))
            .await
            .unwrap();

        // The limit takes the oldest first; the rest wait for the next round.
        assert_eq!(s.fan_out_events(3, at(100)).await.unwrap(), 3, "{b}");
        assert_eq!(s.fan_out_events(10, at(100)).await.unwrap(), 1, "{b}");
        assert_eq!(s.fan_out_events(10, at(100)).await.unwrap(), 0, "{b}");

        let set = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<BTreeSet<_>>();
        assert_eq!(
            delivered_events(s, "wh_op").await,
            set(&["evt_1", "evt_2", "evt_3", "evt_4"]),
            "{b}: the operator's webhook hears every account"
        );
        assert_eq!(
            delivered_events(s, "wh_a").await,
            set(&["evt_1", "evt_4"]),
            "{b}: own account, subscribed type only"
        );
        assert_eq!(
            delivered_events(s, "wh_late").await,
            set(&["evt_4"]),
            "{b}: nothing from before the webhook existed, nor other accounts"
        );

        let d = s.deliveries("wh_a", 10).await.unwrap();
        assert_eq!(d.len(), 2, "{b}");
        for d in &d {
            assert_eq!(d.status, DeliveryStatus::Pending, "{b}");
            assert_eq!(d.attempts, 0, "{b}");
            assert_eq!(d.next_attempt_at, at(100), "{b}");
            assert_eq!(d.webhook_id, "wh_a", "{b}");
            assert_eq!(d.event.kind, "key.revoked", "{b}");
            assert_eq!(d.event.account_id, "acct_a", "{b}");
            assert_eq!(
                d.event.data,
                json!({"key_id": format!("key-{}", d.event.id), "n": [1, 2], "nested": {"a": null}}),
                "{b}: event data round-trips"
            );
        }
        assert_eq!(
            s.deliveries("wh_op", 2).await.unwrap().len(),
            2,
            "{b}: limit"
        );

        // Deleting a webhook takes its deliveries with it.
        assert!(s.delete_webhook("wh_a").await.unwrap(), "{b}");
        assert!(s.deliveries("wh_a", 10).await.unwrap().is_empty(), "{b}");
        fresh.store.close().await;
    }
}

#[tokio::test]
async fn claims_lease_deliveries_and_attempts_move_them_on() {
    for fresh in fresh_stores().await {
        let s = &fresh.store;
        let b = fresh.backend;
        s.insert_webhook(&hook("wh_1", "default", &["*"], 0))
            .await
            .unwrap();
        let id = s
            .insert_direct_delivery("wh_1", &event("evt_ping", "webhook.ping", "default", 10))
            .await
            .unwrap();
        // Direct events are already fanned out: no second delivery appears.
        assert_eq!(s.fan_out_events(10, at(10)).await.unwrap(), 0, "{b}");

        let claimed = s.claim_due_deliveries(at(10), at(40), 10).await.unwrap();
        assert_eq!(claimed.len(), 1, "{b}");
        assert_eq!(claimed[0].id, id, "{b}");
        assert_eq!(claimed[0].event.kind, "webhook.ping", "{b}");
        // Leased: not due again until the lease runs out.
        assert!(
            s.claim_due_deliveries(at(20), at(50), 10)
                .await
                .unwrap()
                .is_empty(),
            "{b}"
        );
        let again = s.claim_due_deliveries(at(40), at(70), 10).await.unwrap();
        assert_eq!(again.len(), 1, "{b}: a lapsed lease makes it due again");

        let retry = AttemptOutcome::Retry {
            error: "upstream said 503".into(),
            status: Some(503),
            next_attempt_at: at(500),
        };
        s.finish_attempt(&id, &retry, at(41)).await.unwrap();
        let d = &s.deliveries("wh_1", 10).await.unwrap()[0];
        assert_eq!(d.status, DeliveryStatus::Pending, "{b}");
        assert_eq!(d.attempts, 1, "{b}");
        assert_eq!(d.last_error.as_deref(), Some("upstream said 503"), "{b}");
        assert_eq!(d.last_status, Some(503), "{b}");
        assert_eq!(d.next_attempt_at, at(500), "{b}");
        assert!(
            s.claim_due_deliveries(at(499), at(900), 10)
                .await
                .unwrap()
                .is_empty(),
            "{b}"
        );
        assert_eq!(
            s.claim_due_deliveries(at(500), at(900), 10)
                .await
                .unwrap()
                .len(),
            1,
            "{b}"
        );

        let give_up = AttemptOutcome::GiveUp {
            error: "connection refused".into(),
            status: None,
        };
        s.finish_attempt(&id, &give_up, at(501)).await.unwrap();
        let d = &s.deliveries("wh_1", 10).await.unwrap()[0];
        assert_eq!(d.status, DeliveryStatus::Failed, "{b}");
        assert_eq!(d.attempts, 2, "{b}");
        assert_eq!(d.last_status, None, "{b}");
        assert!(
            s.claim_due_deliveries(at(10_000), at(20_000), 10)
                .await
                .unwrap()
                .is_empty(),
            "{b}"
        );

        assert!(!s.redeliver("wh_other", &id, at(600)).await.unwrap(), "{b}");
        assert!(s.redeliver("wh_1", &id, at(600)).await.unwrap(), "{b}");
        let claimed = s.claim_due_deliveries(at(600), at(700), 10).await.unwrap();
        assert_eq!(claimed.len(), 1, "{b}: redelivered is due now");
        s.finish_attempt(&id, &AttemptOutcome::Delivered { status: 204 }, at(601))
            .await
            .unwrap();
        let d = &s.deliveries("wh_1", 10).await.unwrap()[0];
        assert_eq!(d.status, DeliveryStatus::Delivered, "{b}");
        assert_eq!(d.attempts, 3, "{b}");
        assert_eq!(d.last_status, Some(204), "{b}");
        assert_eq!(d.last_error, None, "{b}");
        assert_eq!(d.delivered_at, Some(at(601)), "{b}");
        fresh.store.close().await;
    }
}

#[tokio::test]
async fn concurrent_claims_never_lease_a_delivery_twice() {
    for fresh in fresh_stores().await {
        let s = &fresh.store;
        let b = fresh.backend;
        s.insert_webhook(&hook("wh_1", "default", &["*"], 0))
            .await
            .unwrap();
        for i in 0..40 {
            s.insert_event(&event(&format!("evt_{i:02}"), "key.created", "default", i))
                .await
                .unwrap();
        }
        // Fan-out racing itself (several gateways on one PostgreSQL) still makes one
        // delivery per event. SQLite has one gateway per file, and its deferred
        // fan-out transaction reports "database is locked" when raced.
        let racers = if b == "postgres" { 4 } else { 0 };
        let fans: Vec<_> = (0..racers)
            .map(|_| {
                let s = s.clone();
                tokio::spawn(async move { s.fan_out_events(15, at(100)).await.unwrap() })
            })
            .collect();
        let mut fanned = 0;
        for f in fans {
            fanned += f.await.unwrap();
        }
        fanned += s.fan_out_events(100, at(100)).await.unwrap();
        assert_eq!(fanned, 40, "{b}");
        assert_eq!(s.deliveries("wh_1", 100).await.unwrap().len(), 40, "{b}");

        let workers: Vec<_> = (0..4)
            .map(|_| {
                let s = s.clone();
                tokio::spawn(async move {
                    let mut mine = Vec::new();
                    loop {
                        let got = s
                            .claim_due_deliveries(at(200), at(10_000), 3)
                            .await
                            .unwrap();
                        if got.is_empty() {
                            return mine;
                        }
                        mine.extend(got.into_iter().map(|d| d.id));
                    }
                })
            })
            .collect();
        let mut all = Vec::new();
        for w in workers {
            all.extend(w.await.unwrap());
        }
        let unique: BTreeSet<_> = all.iter().cloned().collect();
        assert_eq!(all.len(), 40, "{b}: every delivery claimed");
        assert_eq!(unique.len(), 40, "{b}: none claimed twice");
        fresh.store.close().await;
    }
}

async fn add_key(store: &Store, id: &str, kid: &str, expires: Option<i64>) {
    store
        .insert_key(&NewKey {
            id: id.into(),
            kid: KeyId::parse(kid).unwrap(),
            account_id: "default".into(),
            name: format!("key {id}"),
            env: KeyEnv::Live,
            kind: KeyKind::Sk,
            secret_hash: SecretHash([7; 32]),
            policy: KeyPolicy::default_for(KeyKind::Sk),
            created_at: at(0),
            expires_at: expires.map(at),
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn expired_keys_are_announced_once_and_events_filter() {
    for fresh in fresh_stores().await {
        let s = &fresh.store;
        let b = fresh.backend;
        const DAY: i64 = 86_400_000;
        // Expired an hour ago, expired 8 days ago (too old), not yet, never, revoked.
        add_key(s, "k_recent", "aaaaaaaa0001", Some(10 * DAY - 3_600_000)).await;
        add_key(s, "k_old", "aaaaaaaa0002", Some(2 * DAY)).await;
        add_key(s, "k_future", "aaaaaaaa0003", Some(11 * DAY)).await;
        add_key(s, "k_never", "aaaaaaaa0004", None).await;
        add_key(s, "k_revoked", "aaaaaaaa0005", Some(10 * DAY - 1000)).await;
        s.revoke_key("k_revoked", at(DAY)).await.unwrap();

        let now = at(10 * DAY);
        assert_eq!(s.announce_expired_keys(now).await.unwrap(), 1, "{b}");
        assert_eq!(
            s.announce_expired_keys(now).await.unwrap(),
            0,
            "{b}: once per key"
        );

        let events = s
            .list_events(&EventFilter {
                kind: Some("key.expired".into()),
                limit: 10,
                ..EventFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(events.len(), 1, "{b}");
        let e = &events[0];
        assert!(e.id.starts_with("evt_"), "{b}: {}", e.id);
        assert_eq!(e.account_id, "default", "{b}");
        assert_eq!(e.created_at, now, "{b}");
        let expires = at(10 * DAY - 3_600_000)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        assert_eq!(
            e.data,
            json!({"key_id": "k_recent", "kid": "aaaaaaaa0001", "name": "key k_recent",
                   "account_id": "default", "env": "live", "kind": "sk",
                   "expires_at": expires, "revoked_at": null}),
            "{b}"
        );

        // The alert filters.
        s.insert_event(&event("evt_a1", "alert.spend", "acct_a", 5))
            .await
            .unwrap();
        s.insert_event(&event("evt_a2", "alert.errors", "acct_b", 6))
            .await
            .unwrap();
        s.insert_event(&event("evt_k", "key.created", "acct_a", 7))
            .await
            .unwrap();
        let ids = |f: EventFilter| async move {
            s.list_events(&EventFilter { limit: 10, ..f })
                .await
                .unwrap()
                .into_iter()
                .map(|e| e.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            ids(EventFilter {
                type_prefix: Some("alert.".into()),
                ..EventFilter::default()
            })
            .await,
            ["evt_a2", "evt_a1"],
            "{b}: newest first"
        );
        assert_eq!(
            ids(EventFilter {
                account_id: Some("acct_a".into()),
                ..EventFilter::default()
            })
            .await,
            ["evt_k", "evt_a1"],
            "{b}"
        );
        assert_eq!(
            ids(EventFilter {
                key_id: Some("key-evt_a2".into()),
                ..EventFilter::default()
            })
            .await,
            ["evt_a2"],
            "{b}"
        );
        assert_eq!(
            ids(EventFilter {
                type_prefix: Some("key.".into()),
                since: Some(at(DAY)),
                ..EventFilter::default()
            })
            .await,
            std::slice::from_ref(&e.id),
            "{b}"
        );
        // A prefix is literal, not a LIKE pattern.
        assert!(
            ids(EventFilter {
                type_prefix: Some("alert%".into()),
                ..EventFilter::default()
            })
            .await
            .is_empty(),
            "{b}"
        );
        let one = s
            .list_events(&EventFilter {
                limit: 1,
                ..EventFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(one.len(), 1, "{b}: limit");
        fresh.store.close().await;
    }
}
