//! `[alerts]`: whether the security alert evaluators run, their default
//! thresholds (each account may override them through
//! `PUT /admin/accounts/{id}/alerts`), and the size of the queue that feeds them.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{ConfigError, Validator};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawAlerts {
    pub enabled: bool,
    /// Failed authentications of one key id (or one address) that raise an alert...
    pub auth_failures: u32,
    /// ...within this many seconds.
    pub auth_failures_window_secs: u32,
    /// A key used from an address not seen for it in this many days.
    pub new_ip_days: u32,
    /// Percent of a key's rate limit used in its period that raises an alert.
    pub rate_limit_near_pct: u32,
    /// Balance (micro-units of the account's currency) below which an alert is raised.
    pub balance_low_micro: Option<i64>,
    /// Spend in one UTC day (micro-units of the account's currency) above which an
    /// alert is raised.
    pub spend_daily_micro: Option<i64>,
    /// Signals waiting for the evaluator; when full, new ones are dropped (counted
    /// in `tollgate_alert_signals_dropped_total`), never waited for.
    pub queue_capacity: u32,
}

impl Default for RawAlerts {
    fn default() -> Self {
        RawAlerts {
            enabled: true,
            auth_failures: 10,
            auth_failures_window_secs: 300,
            new_ip_days: 30,
            rate_limit_near_pct: 80,
            balance_low_micro: None,
            spend_daily_micro: None,
            queue_capacity: 10_000,
        }
    }
}

/// Thresholds in force for one account: `[alerts]` with its overrides applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertThresholds {
    pub auth_failures: u32,
    pub auth_failures_window: Duration,
    pub new_ip_days: u32,
    pub rate_limit_near_pct: u32,
    pub balance_low_micro: Option<i64>,
    pub spend_daily_micro: Option<i64>,
}

/// `[alerts]`, validated.
#[derive(Debug, Clone)]
pub struct AlertsConfig {
    pub enabled: bool,
    pub defaults: AlertThresholds,
    pub queue_capacity: usize,
}

impl Validator<'_> {
    pub(super) fn alerts(&mut self, raw: &RawAlerts) -> Result<AlertsConfig, ConfigError> {
        let at_least_one = |v: &Self, key: &str, n: u32| {
            if n == 0 {
                Err(v.invalid(key, n, "must be at least 1"))
            } else {
                Ok(n)
            }
        };
        let failures = at_least_one(self, "alerts.auth_failures", raw.auth_failures)?;
        let window = at_least_one(
            self,
            "alerts.auth_failures_window_secs",
            raw.auth_failures_window_secs,
        )?;
        let days = at_least_one(self, "alerts.new_ip_days", raw.new_ip_days)?;
        let pct = raw.rate_limit_near_pct;
        if !(1..=100).contains(&pct) {
            return Err(self.invalid(
                "alerts.rate_limit_near_pct",
                pct,
                "must be a percentage from 1 to 100",
            ));
        }
        for (key, v) in [
            ("alerts.balance_low_micro", raw.balance_low_micro),
            ("alerts.spend_daily_micro", raw.spend_daily_micro),
        ] {
            if let Some(v) = v
                && v < 0
            {
                return Err(self.invalid(key, v, "must be zero or more (micro-units)"));
            }
        }
        let capacity = at_least_one(self, "alerts.queue_capacity", raw.queue_capacity)?;
        Ok(AlertsConfig {
            enabled: raw.enabled,
            defaults: AlertThresholds {
                auth_failures: failures,
                auth_failures_window: Duration::from_secs(u64::from(window)),
                new_ip_days: days,
                rate_limit_near_pct: pct,
                balance_low_micro: raw.balance_low_micro,
                spend_daily_micro: raw.spend_daily_micro,
            },
            queue_capacity: usize::try_from(capacity).unwrap_or(usize::MAX),
        })
    }
}
