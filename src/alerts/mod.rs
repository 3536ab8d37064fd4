//! Security alerts, evaluated off the request path.
//!
//! The gate (auth failures, admitted and refused requests) and the usage writer
//! (charges after they are committed) hand small `Signal`s to a bounded channel
//! with `try_send`: a request never waits for an alert. When the channel is full
//! the signal is dropped and counted in `tollgate_alert_signals_dropped_total`;
//! an alert may then be late or missed, a request is never slowed. The request
//! path's cost is an `Arc` clone and a `try_send`: about 250 ns per signal in a
//! debug build on the 2-core dev VM (200 000 `key_used` calls against a draining
//! receiver, measured ad hoc).
//!
//! One task (`evaluator`) drains the channel, keeps the windows and caches in
//! memory, and writes alerts to the webhook outbox (`alert.*` events), so webhooks
//! deliver them and `GET /admin/alerts` lists them. Each alert carries a
//! de-duplication key naming its (type, subject, window); the outbox's unique index
//! on it makes "one alert per subject per window" hold across gateways sharing a
//! database, without Redis. Counting itself is per process: with several gateways
//! each counts the failures it sees.
//!
//! No payload contains a secret: keys are named by row id and kid only.

mod evaluator;
mod window;

pub use evaluator::apply as effective_thresholds;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, mpsc};

use crate::config::AlertsConfig;
use crate::keys::KeyId;
use crate::store::{KeyRecord, Store};

/// A key's rate-limit state after one request, as the policy saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateUse {
    pub limit: u32,
    pub remaining: u32,
    pub retry_after: Duration,
}

/// How the policy answered a key's request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Admitted,
    /// Refused with 429 by the key's rate limit.
    RateLimited,
    /// Refused for another reason (address, scope, concurrency).
    Refused,
}

/// What the request path tells the evaluator.
#[derive(Debug)]
pub(crate) enum Signal {
    /// A presented credential did not authenticate; `kid` when one parsed.
    AuthFailed { kid: Option<KeyId>, ip: IpAddr },
    /// A key was used (admitted, or refused by policy) from `ip`.
    Used {
        key: Arc<KeyRecord>,
        ip: IpAddr,
        rate: Option<RateUse>,
        outcome: Outcome,
    },
    /// A charge was committed for an account (by this process's usage writer).
    Settled {
        account_id: String,
        charge_micro: i64,
    },
    /// An account's thresholds changed: forget the cached ones.
    OverridesChanged { account_id: String },
}

/// The handle the request path holds. Cheap to clone; every method returns at once.
#[derive(Clone)]
pub struct Alerts {
    tx: Option<mpsc::Sender<Signal>>,
}

impl Alerts {
    /// Starts the evaluator (unless `[alerts] enabled = false`). `wake` tells the
    /// webhook worker an event is waiting.
    pub fn spawn(
        store: Store,
        config: AlertsConfig,
        wake: Arc<Notify>,
    ) -> (Alerts, Option<tokio::task::JoinHandle<()>>) {
        if !config.enabled {
            return (Alerts { tx: None }, None);
        }
        let (tx, rx) = mpsc::channel(config.queue_capacity);
        let task = tokio::spawn(evaluator::Evaluator::new(store, config, wake).run(rx));
        (Alerts { tx: Some(tx) }, Some(task))
    }

    /// A handle that drops everything (tools and tests that run no evaluator).
    pub fn disabled() -> Alerts {
        Alerts { tx: None }
    }

    fn send(&self, signal: Signal) {
        let Some(tx) = &self.tx else { return };
        if tx.try_send(signal).is_err() {
            metrics::counter!("tollgate_alert_signals_dropped_total").increment(1);
        }
    }

    pub fn auth_failed(&self, kid: Option<KeyId>, ip: IpAddr) {
        self.send(Signal::AuthFailed { kid, ip });
    }

    /// A key was used from `ip`, with its rate-limit state when it has a limit.
    pub fn key_used(
        &self,
        key: &Arc<KeyRecord>,
        ip: IpAddr,
        rate: Option<RateUse>,
        outcome: Outcome,
    ) {
        self.send(Signal::Used {
            key: Arc::clone(key),
            ip,
            rate,
            outcome,
        });
    }

    pub fn settled(&self, account_id: &str, charge_micro: i64) {
        if charge_micro != 0 {
            self.send(Signal::Settled {
                account_id: account_id.to_owned(),
                charge_micro,
            });
        }
    }

    pub fn overrides_changed(&self, account_id: &str) {
        self.send(Signal::OverridesChanged {
            account_id: account_id.to_owned(),
        });
    }
}

/// Event types the evaluators write (also in `webhooks::EVENT_TYPES`).
pub const AUTH_FAILURES: &str = "alert.auth_failures";
pub const NEW_IP: &str = "alert.new_ip";
pub const RATE_LIMIT_NEAR: &str = "alert.rate_limit_near";
pub const RATE_LIMITED: &str = "alert.rate_limited";
pub const BALANCE_LOW: &str = "alert.balance_low";
pub const SPEND_DAILY: &str = "alert.spend_daily";
