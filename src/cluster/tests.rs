//! The Lua scripts against the machine's Redis at 127.0.0.1:6379 (`REDIS_URL`
//! overrides). Each test uses its own random key prefix and never flushes.

use std::time::Duration;

use super::*;
use crate::domain::gcra::{Period, Quota};

fn url() -> String {
    std::env::var("TOLLGATE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

fn cluster() -> Cluster {
    cluster_with_ttl(LEASE_TTL)
}

fn cluster_with_ttl(ttl: Duration) -> Cluster {
    let prefix = format!("tgtest-{}", uuid::Uuid::new_v4().simple());
    Cluster::open_with_lease_ttl(&url(), &prefix, ttl).expect("redis url parses")
}

fn quota(requests: u32, period: Period, burst: u32) -> Quota {
    Quota {
        requests,
        period,
        burst,
    }
}

#[tokio::test]
async fn gcra_admits_the_burst_then_refuses_with_retry_after() {
    let c = cluster();
    let q = quota(3, Period::Hour, 3);
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let d = c.check_rate("kid", &q).await.expect("redis answers");
        assert!(d.allowed);
        assert_eq!(d.limit, 3);
        remaining.push(d.remaining);
    }
    assert_eq!(remaining, vec![2, 1, 0]);
    let denied = c.check_rate("kid", &q).await.expect("redis answers");
    assert!(!denied.allowed);
    assert_eq!(denied.remaining, 0);
    // One request costs 20 minutes: the next is about 20 minutes away.
    assert!(
        denied.retry_after > Duration::from_secs(19 * 60),
        "{denied:?}"
    );
    assert!(
        denied.retry_after <= Duration::from_secs(20 * 60),
        "{denied:?}"
    );
    // The bucket is full again after an hour's worth of debt.
    assert!(
        denied.reset_after > Duration::from_secs(59 * 60),
        "{denied:?}"
    );
    // Other keys and other quotas are separate buckets.
    assert!(c.check_rate("other", &q).await.expect("answers").allowed);
    let edited = quota(5, Period::Hour, 5);
    assert_eq!(
        c.check_rate("kid", &edited)
            .await
            .expect("answers")
            .remaining,
        4
    );
}

#[tokio::test]
async fn gcra_is_exact_under_concurrent_callers() {
    let c = cluster();
    let q = quota(25, Period::Hour, 25);
    let calls = (0..200).map(|_| {
        let c = c.clone();
        tokio::spawn(async move { c.check_rate("hot", &q).await.expect("answers").allowed })
    });
    let mut allowed = 0;
    for call in calls {
        if call.await.expect("task ran") {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 25);
}

#[tokio::test]
async fn leases_cap_in_flight_and_free_their_place_on_drop() {
    let c = cluster();
    let a = c.acquire("kid", 2).await.expect("answers").expect("free");
    let b = c.acquire("kid", 2).await.expect("answers").expect("free");
    assert!(c.acquire("kid", 2).await.expect("answers").is_none());
    assert_eq!(c.leases("kid").await.expect("answers"), 2);
    assert!(c.acquire("kid", 0).await.expect("answers").is_none());
    drop(a);
    // The release runs on its own task: wait for it with a deadline.
    let start = tokio::time::Instant::now();
    while c.leases("kid").await.expect("answers") != 1 {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "lease not released"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let again = c.acquire("kid", 2).await.expect("answers");
    assert!(again.is_some());
    drop((b, again));
}

#[tokio::test]
async fn leases_of_a_dead_holder_expire_and_live_ones_are_renewed() {
    let ttl = Duration::from_millis(600);
    let c = cluster_with_ttl(ttl);
    // A lease held (and renewed) across several lifetimes keeps its place.
    let held = c.acquire("kid", 1).await.expect("answers").expect("free");
    tokio::time::sleep(ttl * 3).await;
    assert!(c.acquire("kid", 1).await.expect("answers").is_none());
    // A holder that dies without releasing: stop renewing and skip the release.
    held.renewer.abort();
    std::mem::forget(held);
    let start = tokio::time::Instant::now();
    loop {
        if c.acquire("kid", 1).await.expect("answers").is_some() {
            break;
        }
        assert!(start.elapsed() < ttl * 10, "the dead lease never expired");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn balances_reserve_settle_and_persist() {
    let c = cluster();
    assert_eq!(
        c.reserve("acct", 10).await.expect("answers"),
        Reserved::Unknown
    );
    let epoch = c.balance_epoch("acct").await.expect("answers");
    assert!(c.set_balance("acct", &epoch, 100).await.expect("answers"));
    assert_eq!(
        c.reserve("acct", 60).await.expect("answers"),
        Reserved::Held
    );
    assert_eq!(
        c.reserve("acct", 60).await.expect("answers"),
        Reserved::Insufficient { available: 40 }
    );
    // The request cost 30 of the 60 held: 70 available until it is committed.
    c.settle("acct", 60, "acct", 30).await.expect("answers");
    assert_eq!(
        c.balance_parts("acct").await.expect("answers"),
        (100, 30, 0)
    );
    c.persisted("acct", 30).await.expect("answers");
    assert_eq!(c.balance_parts("acct").await.expect("answers"), (70, 0, 0));
    assert_eq!(
        c.reserve("acct", 71).await.expect("answers"),
        Reserved::Insufficient { available: 70 }
    );
}

#[tokio::test]
async fn a_balance_read_that_raced_a_commit_is_not_stored() {
    let c = cluster();
    let e0 = c.balance_epoch("acct").await.expect("answers");
    assert!(c.set_balance("acct", &e0, 100).await.expect("answers"));
    // Another instance settles and commits 30 after our epoch read…
    let before = c.balance_epoch("acct").await.expect("answers");
    c.settle("acct", 0, "acct", 30).await.expect("answers");
    c.persisted("acct", 30).await.expect("answers");
    // …so our database read (which may predate that commit) is refused.
    assert!(!c.set_balance("acct", &before, 100).await.expect("answers"));
    assert_eq!(c.balance_parts("acct").await.expect("answers"), (70, 0, 0));
    let fresh = c.balance_epoch("acct").await.expect("answers");
    assert!(c.set_balance("acct", &fresh, 70).await.expect("answers"));
}

#[tokio::test]
async fn concurrent_reservations_never_exceed_the_balance() {
    let c = cluster();
    let e = c.balance_epoch("acct").await.expect("answers");
    assert!(c.set_balance("acct", &e, 1_000).await.expect("answers"));
    let calls = (0..100).map(|_| {
        let c = c.clone();
        tokio::spawn(async move { c.reserve("acct", 30).await.expect("answers") })
    });
    let mut held = 0;
    for call in calls {
        if call.await.expect("task ran") == Reserved::Held {
            held += 1;
        }
    }
    assert_eq!(held, 33);
    assert_eq!(c.balance_parts("acct").await.expect("answers").2, 990);
}

#[tokio::test]
async fn key_changes_reach_subscribers_and_bump_the_version() {
    let c = cluster();
    let v0 = c.key_version().await.expect("answers");
    let mut changes = c.key_changes().await.expect("subscribes");
    c.publish_key_change(&KeyChange::Key("abc123".into()))
        .await
        .expect("answers");
    c.publish_key_change(&KeyChange::All)
        .await
        .expect("answers");
    let first = tokio::time::timeout(Duration::from_secs(5), changes.next()).await;
    assert_eq!(
        first.expect("in time"),
        Some(KeyChange::Key("abc123".into()))
    );
    let second = tokio::time::timeout(Duration::from_secs(5), changes.next()).await;
    assert_eq!(second.expect("in time"), Some(KeyChange::All));
    assert_eq!(c.key_version().await.expect("answers"), v0 + 2);
}

#[tokio::test]
async fn an_unreachable_redis_fails_fast_and_marks_the_concern_down() {
    // A port nothing listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let c = Cluster::open(&format!("redis://127.0.0.1:{port}"), "tgtest-down").expect("parses");
    let q = quota(1, Period::Second, 1);
    assert!(c.check_rate("kid", &q).await.is_err());
    assert!(c.is_down(Concern::Limits));
    assert!(!c.is_down(Concern::Balances));
    assert!(c.reserve("acct", 1).await.is_err());
    assert!(c.is_down(Concern::Balances));
}

#[tokio::test]
async fn cooldown_scripts_cool_claim_once_and_recover_only_the_known_cooldown() {
    let c = cluster();
    let d = "openai/a";
    assert_eq!(
        c.deployment_health(&[d]).await.expect("answers"),
        vec![SharedHealth::default()],
        "never cooled"
    );
    let (started, s) = c.cool_deployment(d, 1_000, 31_000).await.expect("answers");
    assert!(started);
    assert!(s.tripped);
    assert_eq!((s.cooled_until_ms, s.cooldowns), (31_000, 1));
    // A second failure while cooling extends, and is not a new cooldown.
    let (started, s2) = c.cool_deployment(d, 2_000, 40_000).await.expect("answers");
    assert!(!started);
    assert_eq!((s2.cooled_until_ms, s2.cooldowns), (40_000, 1));
    assert!(s2.version > s.version);
    // No probe while cooling; one probe after; no second one during its lease.
    assert!(!c.claim_deployment_probe(d, 39_999, 99_999).await.unwrap().0);
    let (claimed, s3) = c.claim_deployment_probe(d, 40_000, 70_000).await.unwrap();
    assert!(claimed);
    assert_eq!(s3.probe_until_ms, 70_000);
    assert!(!c.claim_deployment_probe(d, 40_001, 70_001).await.unwrap().0);
    // A success that knew of an older cooldown does not end this one.
    let stale = c.recover_deployment(d, 0).await.unwrap();
    assert!(stale.tripped);
    let healthy = c.recover_deployment(d, 1).await.unwrap();
    assert!(!healthy.tripped);
    assert_eq!(healthy.cooldowns, 1);
    assert_eq!(
        c.deployment_health(&[d, "openai/b"]).await.unwrap(),
        vec![healthy, SharedHealth::default()]
    );
}

#[tokio::test]
async fn cooldown_changes_reach_subscribers_in_order() {
    let c = cluster();
    let mut changes = c.cooldown_changes().await.expect("subscribed");
    c.cool_deployment("gemini/eu west", 0, 10).await.unwrap();
    c.claim_deployment_probe("gemini/eu west", 10, 20)
        .await
        .unwrap();
    let first = tokio::time::timeout(Duration::from_secs(5), changes.next())
        .await
        .expect("published")
        .expect("subscribed");
    assert_eq!(first.deployment, "gemini/eu west");
    assert!(first.health.tripped);
    assert_eq!(first.health.cooled_until_ms, 10);
    let second = tokio::time::timeout(Duration::from_secs(5), changes.next())
        .await
        .expect("published")
        .expect("subscribed");
    assert_eq!(second.health.probe_until_ms, 20);
    assert!(second.health.version > first.health.version);
}

#[tokio::test]
async fn cooldown_calls_fail_fast_and_count_when_redis_is_away() {
    let c = Cluster::open("redis://127.0.0.1:1", "tgtest-down").expect("url parses");
    assert!(c.cool_deployment("openai/a", 0, 1).await.is_err());
    assert!(c.is_down(Concern::Cooldowns));
    assert!(!c.is_down(Concern::Limits), "concerns are tracked apart");
}
