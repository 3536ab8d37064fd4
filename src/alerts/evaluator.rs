//! The evaluator task: one loop over the signal channel, so its state needs no
//! lock. Every database call here is off the request path; a slow database only
//! fills the channel (and drops signals, counted), it never slows a request.
//!
//! Caches, each bounded, and why:
//! - thresholds per account (`THRESHOLDS_TTL`): one read per account per 10 s
//!   instead of one per signal; an admin change in this process evicts at once.
//! - (key, address) pairs written recently (`SEEN_REFRESH`): a known address costs
//!   no database write per request, only one an hour to keep `last_seen_at` fresh.
//! - de-duplication keys already written (`fired`): the database's unique index is
//!   the authority; this only spares it the same refused insert on every request.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::sync::{Notify, mpsc};

use super::window::{AuthWindows, Counted};
use super::{
    AUTH_FAILURES, BALANCE_LOW, NEW_IP, Outcome, RATE_LIMIT_NEAR, RATE_LIMITED, RateUse,
    SPEND_DAILY, Signal,
};
use crate::config::{AlertThresholds, AlertsConfig};
use crate::keys::KeyId;
use crate::store::{AlertOverrides, KeyRecord, NewEvent, Store, StoreError, UsageQuery};

/// How long an account's thresholds are reused before being read again.
const THRESHOLDS_TTL: Duration = Duration::from_secs(10);
/// How often a known (key, address) pair's `last_seen_at` is refreshed.
const SEEN_REFRESH: Duration = Duration::from_secs(3_600);
/// Most entries in each cache; past it the cache is emptied (it only saves work).
const CACHE_MAX: usize = 100_000;
/// The operator's account: where alerts about no known account go.
const OPERATOR_ACCOUNT: &str = "default";

pub(super) struct Evaluator {
    store: Store,
    config: AlertsConfig,
    wake: Arc<Notify>,
    thresholds: HashMap<String, (AlertThresholds, Instant)>,
    auth: AuthWindows,
    seen: HashMap<(String, IpAddr), Instant>,
    fired: HashSet<String>,
    /// Accounts whose balance is below their threshold since the last crossing.
    low: HashSet<String>,
}

impl Evaluator {
    pub fn new(store: Store, config: AlertsConfig, wake: Arc<Notify>) -> Evaluator {
        Evaluator {
            store,
            config,
            wake,
            thresholds: HashMap::new(),
            auth: AuthWindows::default(),
            seen: HashMap::new(),
            fired: HashSet::new(),
            low: HashSet::new(),
        }
    }

    pub async fn run(mut self, mut rx: mpsc::Receiver<Signal>) {
        while let Some(signal) = rx.recv().await {
            if let Err(e) = self.handle(signal).await {
                metrics::counter!("tollgate_alert_errors_total").increment(1);
                tracing::warn!(error = %e, "alert evaluation failed");
            }
        }
    }

    async fn handle(&mut self, signal: Signal) -> Result<(), StoreError> {
        let now = OffsetDateTime::now_utc();
        match signal {
            Signal::AuthFailed { kid, ip } => self.auth_failed(kid, ip, now).await,
            Signal::Used {
                key,
                ip,
                rate,
                outcome,
            } => {
                if let Some(rate) = rate {
                    self.rate(&key, rate, outcome == Outcome::RateLimited, now)
                        .await?;
                }
                self.new_ip(&key, ip, now).await
            }
            Signal::Settled {
                account_id,
                charge_micro,
            } => {
                self.balance(&account_id, charge_micro).await?;
                self.spend(&account_id, now).await
            }
            Signal::OverridesChanged { account_id } => {
                self.thresholds.remove(&account_id);
                Ok(())
            }
        }
    }

    async fn thresholds(&mut self, account_id: &str) -> Result<AlertThresholds, StoreError> {
        if let Some((t, at)) = self.thresholds.get(account_id)
            && at.elapsed() < THRESHOLDS_TTL
        {
            return Ok(*t);
        }
        let overrides = self.store.alert_overrides(account_id).await?;
        let t = apply(self.config.defaults, overrides.as_ref());
        if self.thresholds.len() >= CACHE_MAX {
            self.thresholds.clear();
        }
        self.thresholds
            .insert(account_id.to_owned(), (t, Instant::now()));
        Ok(t)
    }

    /// Writes an alert unless its de-duplication key was written (by anyone).
    async fn raise(
        &mut self,
        kind: &'static str,
        account_id: &str,
        dedup: String,
        data: Value,
    ) -> Result<(), StoreError> {
        if self.fired.contains(&dedup) {
            return Ok(());
        }
        let event = NewEvent::now(kind, account_id, data);
        if self.store.insert_alert(&event, &dedup).await? {
            metrics::counter!("tollgate_alerts_total", "type" => kind).increment(1);
            tracing::info!(alert = kind, account = account_id, "alert raised");
            self.wake.notify_one();
        }
        if self.fired.len() >= CACHE_MAX {
            self.fired.clear();
        }
        self.fired.insert(dedup);
        Ok(())
    }

    async fn auth_failed(
        &mut self,
        kid: Option<KeyId>,
        ip: IpAddr,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let subject = match &kid {
            Some(kid) => format!("key:{}", kid.as_str()),
            None => format!("ip:{ip}"),
        };
        let ts = now.unix_timestamp();
        // The window's account decides the thresholds; an unknown kid is the operator's.
        let account = match self.auth_account(&subject) {
            Some(a) => a,
            None => match &kid {
                Some(kid) => self
                    .store
                    .key_by_kid(kid)
                    .await?
                    .map(|k| (k.account_id.to_string(), Some(k.id)))
                    .unwrap_or((OPERATOR_ACCOUNT.to_owned(), None)),
                None => (OPERATOR_ACCOUNT.to_owned(), None),
            },
        };
        let t = self.thresholds(&account.0).await?;
        let (window, threshold) = (t.auth_failures_window, t.auth_failures);
        let fired = loop {
            match self.auth.count(&subject, ts, window, threshold) {
                Counted::NeedsWindow => {
                    self.auth
                        .open(&subject, ts, window, account.0.clone(), account.1.clone())
                }
                Counted::Counted(fired) => break fired,
            }
        };
        let Some(w) = fired else { return Ok(()) };
        let secs = window.as_secs();
        let bucket = w.start / i64::try_from(secs.max(1)).unwrap_or(i64::MAX);
        let data = json!({
            "subject": subject,
            "key_id": w.key_id,
            "kid": kid.as_ref().map(KeyId::as_str),
            "ip": ip.to_string(),
            "failures": w.failures,
            "threshold": threshold,
            "window_secs": secs,
            "window_start": rfc3339(w.start),
        });
        self.raise(
            AUTH_FAILURES,
            &w.account_id,
            format!("{AUTH_FAILURES}|{subject}|{bucket}"),
            data,
        )
        .await
    }

    /// The account and key row id of a subject with an open window, if any.
    fn auth_account(&self, subject: &str) -> Option<(String, Option<String>)> {
        self.auth.peek(subject)
    }

    async fn rate(
        &mut self,
        key: &KeyRecord,
        rate: RateUse,
        limited: bool,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let Some(quota) = &key.policy.rate_limit else {
            return Ok(());
        };
        let period = quota.period.as_secs();
        let bucket = now.unix_timestamp() / i64::try_from(period.max(1)).unwrap_or(i64::MAX);
        let account = key.account_id.to_string();
        let base = json!({
            "subject": format!("key:{}", key.kid.as_str()),
            "key_id": key.id,
            "kid": key.kid.as_str(),
            "limit": rate.limit,
            "remaining": rate.remaining,
            "period_secs": period,
            "window_start": rfc3339(bucket.saturating_mul(i64::try_from(period).unwrap_or(1))),
        });
        if limited {
            let mut data = base;
            data["retry_after_secs"] = rate.retry_after.as_secs_f64().ceil().into();
            let dedup = format!("{RATE_LIMITED}|{}|{bucket}", key.id);
            return self.raise(RATE_LIMITED, &account, dedup, data).await;
        }
        let dedup = format!("{RATE_LIMIT_NEAR}|{}|{bucket}", key.id);
        if self.fired.contains(&dedup) || rate.limit == 0 {
            return Ok(());
        }
        let t = self.thresholds(&account).await?;
        let used = u64::from(rate.limit.saturating_sub(rate.remaining));
        if used * 100 < u64::from(t.rate_limit_near_pct) * u64::from(rate.limit) {
            return Ok(());
        }
        let mut data = base;
        data["used_pct"] = (used * 100 / u64::from(rate.limit)).into();
        data["threshold_pct"] = t.rate_limit_near_pct.into();
        self.raise(RATE_LIMIT_NEAR, &account, dedup, data).await
    }

    async fn new_ip(
        &mut self,
        key: &KeyRecord,
        ip: IpAddr,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        if ip.is_unspecified() {
            return Ok(());
        }
        let pair = (key.id.clone(), ip);
        if self
            .seen
            .get(&pair)
            .is_some_and(|at| at.elapsed() < SEEN_REFRESH)
        {
            return Ok(());
        }
        let seen = self
            .store
            .note_key_ip(&key.id, &ip.to_string(), now)
            .await?;
        if self.seen.len() >= CACHE_MAX {
            self.seen.clear();
        }
        self.seen.insert(pair, Instant::now());
        let account = key.account_id.to_string();
        let t = self.thresholds(&account).await?;
        let days = i64::from(t.new_ip_days);
        let fresh = seen
            .last_seen
            .is_none_or(|last| now - last >= time::Duration::days(days));
        let allowlisted = !key.policy.ip_allowlist.is_empty();
        if !fresh || !(allowlisted || seen.other_addresses) {
            return Ok(());
        }
        let bucket = now.unix_timestamp() / (days.max(1) * 86_400);
        let data = json!({
            "subject": format!("key:{}", key.kid.as_str()),
            "key_id": key.id,
            "kid": key.kid.as_str(),
            "ip": ip.to_string(),
            "last_seen_at": seen.last_seen.map(|t| rfc3339(t.unix_timestamp())),
            "days": t.new_ip_days,
            "reason": if allowlisted { "allowlist" } else { "history" },
        });
        let dedup = format!("{NEW_IP}|{}|{ip}|{bucket}", key.id);
        self.raise(NEW_IP, &account, dedup, data).await
    }

    /// `alert.balance_low` when this charge took the balance from at or above the
    /// threshold to below it (the database balance, read after the commit).
    async fn balance(&mut self, account_id: &str, charge: i64) -> Result<(), StoreError> {
        let t = self.thresholds(account_id).await?;
        let Some(threshold) = t.balance_low_micro else {
            return Ok(());
        };
        let Some(billing) = self.store.account_billing(account_id).await? else {
            return Ok(());
        };
        let after = billing.balance_micro;
        let before = after.saturating_add(charge);
        if after >= threshold {
            self.low.remove(account_id);
            return Ok(());
        }
        if before < threshold || self.low.contains(account_id) {
            return Ok(());
        }
        self.low.insert(account_id.to_owned());
        let data = json!({
            "subject": format!("account:{account_id}"),
            "balance_micro": after,
            "threshold_micro": threshold,
            "charge_micro": charge,
            "currency": billing.currency,
        });
        let dedup = format!("{BALANCE_LOW}|{account_id}|{before}|{after}");
        self.raise(BALANCE_LOW, account_id, dedup, data).await
    }

    /// `alert.spend_daily` once per account and UTC day, when the day's committed
    /// charges exceed the threshold (read from the hourly rollups).
    async fn spend(&mut self, account_id: &str, now: OffsetDateTime) -> Result<(), StoreError> {
        let t = self.thresholds(account_id).await?;
        let Some(threshold) = t.spend_daily_micro else {
            return Ok(());
        };
        let day = now.date();
        let dedup = format!("{SPEND_DAILY}|{account_id}|{day}");
        if self.fired.contains(&dedup) {
            return Ok(());
        }
        let from = day.midnight().assume_utc();
        let mut q = match UsageQuery::new(
            crate::store::records_ms(from),
            crate::store::records_ms(from + time::Duration::days(1)),
        ) {
            Ok(q) => q,
            Err(_) => return Ok(()),
        };
        q.account_id = Some(account_id.to_owned());
        let report = self.store.usage_report(&q).await?;
        let spent = report.totals.charge_micro;
        if spent <= threshold {
            return Ok(());
        }
        let data = json!({
            "subject": format!("account:{account_id}"),
            "spend_micro": spent,
            "threshold_micro": threshold,
            "currencies": report.totals.charges.keys().collect::<Vec<_>>(),
            "day": day.to_string(),
        });
        self.raise(SPEND_DAILY, account_id, dedup, data).await
    }
}

/// `defaults` with an account's overrides applied.
pub fn apply(defaults: AlertThresholds, o: Option<&AlertOverrides>) -> AlertThresholds {
    let Some(o) = o else { return defaults };
    AlertThresholds {
        auth_failures: o.auth_failures.unwrap_or(defaults.auth_failures),
        auth_failures_window: o
            .auth_failures_window_secs
            .map_or(defaults.auth_failures_window, |s| {
                Duration::from_secs(u64::from(s))
            }),
        new_ip_days: o.new_ip_days.unwrap_or(defaults.new_ip_days),
        rate_limit_near_pct: o
            .rate_limit_near_pct
            .unwrap_or(defaults.rate_limit_near_pct),
        balance_low_micro: o.balance_low_micro.or(defaults.balance_low_micro),
        spend_daily_micro: o.spend_daily_micro.or(defaults.spend_daily_micro),
    }
}

fn rfc3339(unix: i64) -> Option<String> {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
}
