//! Rows of the alert tables (`0050_alerts.sql`): per-account threshold overrides
//! and what is known of a key's past addresses. Plain data.

use time::OffsetDateTime;

/// An account's alert thresholds; `None`: the `[alerts]` default applies.
/// Money is in micro-units of the account's currency.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertOverrides {
    pub auth_failures: Option<u32>,
    pub auth_failures_window_secs: Option<u32>,
    pub new_ip_days: Option<u32>,
    pub rate_limit_near_pct: Option<u32>,
    pub balance_low_micro: Option<i64>,
    pub spend_daily_micro: Option<i64>,
}

/// What was known about a (key, address) pair before it was noted now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeenIp {
    /// When the key was last used from this address, if ever.
    pub last_seen: Option<OffsetDateTime>,
    /// Whether the key had been used from any other address.
    pub other_addresses: bool,
}
