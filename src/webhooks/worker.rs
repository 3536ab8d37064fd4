//! The delivery worker: each tick (or when woken) it fans new outbox events out
//! to deliveries, announces keys that expired (`key.expired`, found by a scan, as
//! nothing else happens when a key's expiry passes), then leases the due
//! deliveries and attempts them a few at a time.
//!
//! Retries: the n-th failure waits `backoff_base · 2^(n-1)`, capped at
//! `backoff_cap`, times a random factor in [0.5, 1.0] (jitter, so receivers that
//! come back are not hit by every sender at once); a delivery whose event is older
//! than `retry_for` is given up (`failed`). A lease longer than one attempt's
//! timeout keeps two processes from sending the same delivery at once; a process
//! that dies mid-attempt leaves the row to be retried after the lease.

use std::time::Duration;

use futures_util::future::join_all;
use rand::Rng;
use time::OffsetDateTime;

use super::{Webhooks, payload, signature};
use crate::outbound::AddressPolicy;
use crate::store::{AttemptOutcome, DeliveryRecord};

/// Deliveries attempted at once by one process.
const BATCH: u32 = 8;
/// Longest error text kept in the delivery log.
const MAX_ERROR_CHARS: usize = 300;

/// Starts the worker; it runs until the task is aborted.
pub fn spawn(hooks: Webhooks) -> Result<tokio::task::JoinHandle<()>, reqwest::Error> {
    let client = client(hooks.config.outbound, hooks.config.timeout)?;
    Ok(tokio::spawn(async move {
        let mut tick = tokio::time::interval(hooks.config.poll_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = hooks.wake.notified() => {}
            }
            if let Err(e) = run_once(&hooks, &client).await {
                tracing::warn!(error = %e, "webhook worker pass failed");
            }
        }
    }))
}

fn client(policy: AddressPolicy, timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    crate::outbound::tls::with_shared_roots(reqwest::Client::builder())
        .dns_resolver(policy.resolver())
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(timeout)
        // A webhook answer is small and not streamed: a whole-request timeout is right here.
        .timeout(timeout)
        .user_agent(concat!("Tollgate-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
}

async fn run_once(
    hooks: &Webhooks,
    client: &reqwest::Client,
) -> Result<(), crate::store::StoreError> {
    let now = OffsetDateTime::now_utc();
    hooks.store.announce_expired_keys(now).await?;
    while hooks.store.fan_out_events(100, now).await? == 100 {}
    loop {
        let now = OffsetDateTime::now_utc();
        let lease = now + hooks.config.timeout + Duration::from_secs(30);
        let due = hooks.store.claim_due_deliveries(now, lease, BATCH).await?;
        if due.is_empty() {
            return Ok(());
        }
        let n = due.len();
        join_all(due.into_iter().map(|d| attempt(hooks, client, d))).await;
        if n < BATCH as usize {
            return Ok(());
        }
    }
}

async fn attempt(hooks: &Webhooks, client: &reqwest::Client, d: DeliveryRecord) {
    let outcome = send(hooks, client, &d).await;
    let now = OffsetDateTime::now_utc();
    let outcome = match outcome {
        Ok(status) => AttemptOutcome::Delivered { status },
        Err(Failure {
            error,
            status,
            retry,
        }) => {
            let expired = now - d.event.created_at >= hooks.config.retry_for;
            if retry && !expired {
                AttemptOutcome::Retry {
                    error,
                    status,
                    next_attempt_at: now + backoff(hooks, d.attempts + 1),
                }
            } else {
                AttemptOutcome::GiveUp { error, status }
            }
        }
    };
    if let Err(e) = hooks.store.finish_attempt(&d.id, &outcome, now).await {
        tracing::warn!(error = %e, delivery = %d.id, "could not record a webhook attempt");
    }
}

/// The wait after the `failures`-th failed attempt (module doc).
fn backoff(hooks: &Webhooks, failures: u32) -> Duration {
    let base = hooks.config.backoff_base;
    let exp = base.saturating_mul(1u32 << failures.saturating_sub(1).min(30));
    let capped = exp.min(hooks.config.backoff_cap);
    capped.mul_f64(rand::rng().random_range(0.5..=1.0))
}

struct Failure {
    error: String,
    status: Option<u16>,
    retry: bool,
}

impl Failure {
    fn retry(error: impl Into<String>, status: Option<u16>) -> Failure {
        Failure {
            error: error.into(),
            status,
            retry: true,
        }
    }
}

async fn send(
    hooks: &Webhooks,
    client: &reqwest::Client,
    d: &DeliveryRecord,
) -> Result<u16, Failure> {
    let hook = match hooks.store.webhook(&d.webhook_id).await {
        Ok(Some(h)) => h,
        Ok(None) => {
            return Err(Failure {
                error: "the webhook was deleted".into(),
                status: None,
                retry: false,
            });
        }
        Err(e) => return Err(Failure::retry(format!("store: {e}"), None)),
    };
    // The policy again at every attempt: a name may resolve elsewhere by now.
    let policy = hooks.config.outbound;
    let url = match policy.check_url(&hook.url) {
        Ok(url) => url,
        Err(e) => return Err(refused(&e)),
    };
    if let Err(e) = policy.check_resolved(&url).await {
        return Err(refused(&e));
    }
    let now = OffsetDateTime::now_utc();
    let secrets = hooks
        .signing_secrets(&hook, now)
        .map_err(|e| Failure::retry(e.to_string(), None))?;
    let body = payload(&d.event).to_string();
    let t = now.unix_timestamp();
    let keys: Vec<&[u8]> = secrets.iter().map(|s| s.expose().as_slice()).collect();
    let sig = signature::header(&keys, t, body.as_bytes());
    let res = client
        .post(url)
        .header("content-type", "application/json")
        .header("x-tollgate-signature", sig)
        .header("x-tollgate-delivery", &d.id)
        .header("x-tollgate-event", &d.event.kind)
        .body(body)
        .send()
        .await;
    match res {
        Ok(r) if r.status().is_success() => Ok(r.status().as_u16()),
        Ok(r) => Err(Failure::retry(
            format!("the receiver answered {}", r.status()),
            Some(r.status().as_u16()),
        )),
        Err(e) => Err(Failure::retry(short(&describe(&e)), None)),
    }
}

fn refused(e: &crate::outbound::OutboundError) -> Failure {
    Failure {
        error: format!("target refused by the [outbound] policy: {e}"),
        status: None,
        retry: false,
    }
}

fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn short(s: &str) -> String {
    s.chars().take(MAX_ERROR_CHARS).collect()
}
