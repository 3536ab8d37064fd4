//! Row types shared by every backend.

use time::OffsetDateTime;

use crate::keys::{KeyEnv, KeyId, KeyKind, KeyPolicy, SecretHash};

pub type AccountId = String;

/// A key as stored. Holds the hash, never the plaintext.
#[derive(Debug, Clone)]
pub struct KeyRecord {
    pub id: String,
    pub kid: KeyId,
    pub account_id: AccountId,
    pub account_disabled: bool,
    pub name: String,
    pub env: KeyEnv,
    pub kind: KeyKind,
    pub secret_hash: SecretHash,
    /// The secret replaced by the last rotation, valid until `prev_secret_expires_at`.
    pub prev_secret_hash: Option<SecretHash>,
    pub prev_secret_expires_at: Option<OffsetDateTime>,
    pub policy: KeyPolicy,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
    pub last_used_at: Option<OffsetDateTime>,
}

/// Lifecycle state of a key at a moment; the wire strings come from `as_str`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    Active,
    Expired,
    Revoked,
}

impl std::str::FromStr for KeyStatus {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "active" => Ok(KeyStatus::Active),
            "expired" => Ok(KeyStatus::Expired),
            "revoked" => Ok(KeyStatus::Revoked),
            _ => Err(()),
        }
    }
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::Expired => "expired",
            KeyStatus::Revoked => "revoked",
        }
    }
}

impl KeyRecord {
    /// The key as operators see it (CLI and management API): never the secret or
    /// its hash.
    pub fn public_view(&self, now: OffsetDateTime) -> serde_json::Value {
        let p = &self.policy;
        serde_json::json!({
            "object": "api_key",
            "id": self.id,
            "kid": self.kid.as_str(),
            "name": self.name,
            "env": self.env.as_str(),
            "kind": self.kind.as_str(),
            "account_id": self.account_id,
            "status": self.status(now).as_str(),
            "scopes": p.scopes,
            "rate_limit": p.rate_limit,
            "max_concurrency": p.max_concurrency,
            "ip_allowlist": p.ip_allowlist,
            "allowed_models": p.allowed_models,
            "allowed_providers": p.allowed_providers,
            "key_type": p.key_type,
            "markup_bps": p.markup_bps(),
            "created_at": rfc3339(Some(self.created_at)),
            "expires_at": rfc3339(self.expires_at),
            "revoked_at": rfc3339(self.revoked_at),
            "last_used_at": rfc3339(self.last_used_at),
            "previous_secret_valid_until": rfc3339(
                self.prev_secret_expires_at.filter(|t| *t > now)
            ),
        })
    }

    pub fn status(&self, now: OffsetDateTime) -> KeyStatus {
        if self.revoked_at.is_some() {
            KeyStatus::Revoked
        } else if self.expires_at.is_some_and(|t| t <= now) {
            KeyStatus::Expired
        } else {
            KeyStatus::Active
        }
    }
}

/// What `insert_key` needs.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub id: String,
    pub kid: KeyId,
    pub account_id: AccountId,
    pub name: String,
    pub env: KeyEnv,
    pub kind: KeyKind,
    pub secret_hash: SecretHash,
    pub policy: KeyPolicy,
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
}

/// A partial update of a key's settings; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct KeyUpdate {
    pub name: Option<String>,
    pub policy: Option<KeyPolicy>,
    /// `Some(None)` removes the expiry.
    pub expires_at: Option<Option<OffsetDateTime>>,
}

/// Filters for listing keys; `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct KeyFilter {
    pub env: Option<KeyEnv>,
    pub kind: Option<KeyKind>,
    pub status: Option<KeyStatus>,
    /// Case-insensitive substring of the name.
    pub name: Option<String>,
    pub account_id: Option<String>,
}

/// An account: owns keys (and, later, a balance).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub name: String,
    pub created_at: OffsetDateTime,
    pub disabled_at: Option<OffsetDateTime>,
}

pub fn to_ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

pub fn from_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

impl Account {
    pub fn public_view(&self) -> serde_json::Value {
        serde_json::json!({
            "object": "account",
            "id": self.id,
            "name": self.name,
            "status": if self.disabled_at.is_some() { "disabled" } else { "active" },
            "created_at": rfc3339(Some(self.created_at)),
            "disabled_at": rfc3339(self.disabled_at),
        })
    }
}

fn rfc3339(t: Option<OffsetDateTime>) -> Option<String> {
    t.and_then(|t| {
        t.format(&time::format_description::well_known::Rfc3339)
            .ok()
    })
}

pub use crate::domain::billing_mode::BillingMode;

/// An account's billing settings and balance (micro-units of `currency`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountBilling {
    pub currency: String,
    pub billing_mode: BillingMode,
    pub balance_micro: i64,
}

/// One manual change to a balance, as audited in `account_credits`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditRecord {
    pub id: String,
    pub account_id: AccountId,
    /// Negative for corrections.
    pub amount_micro: i64,
    pub balance_after_micro: i64,
    /// The kid of the management key that made the change, or `cli`.
    pub actor: String,
    pub note: String,
    pub created_at: OffsetDateTime,
}

/// The dimension a usage report is broken down by; the wire strings come from `as_str`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    None,
    Key,
    Model,
    Provider,
    Status,
    Hour,
    Day,
}

impl GroupBy {
    pub const ALL: [GroupBy; 7] = [
        GroupBy::None,
        GroupBy::Key,
        GroupBy::Model,
        GroupBy::Provider,
        GroupBy::Status,
        GroupBy::Hour,
        GroupBy::Day,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::None => "none",
            GroupBy::Key => "key",
            GroupBy::Model => "model",
            GroupBy::Provider => "provider",
            GroupBy::Status => "status",
            GroupBy::Hour => "hour",
            GroupBy::Day => "day",
        }
    }
}

impl std::str::FromStr for GroupBy {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        GroupBy::ALL.into_iter().find(|g| g.as_str() == s).ok_or(())
    }
}

/// One hour in unix milliseconds: the resolution of the usage rollups.
pub const HOUR_MS: i64 = 3_600_000;
/// One UTC day in unix milliseconds.
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// What a usage report covers: `[from_ms, to_ms)`, optionally one account and/or
/// one key, broken down by `group_by`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageQuery {
    pub from_ms: i64,
    pub to_ms: i64,
    pub account_id: Option<AccountId>,
    /// A key's public id.
    pub kid: Option<String>,
    pub group_by: GroupBy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UsageQueryError {
    #[error("`from` must be before `to`")]
    EmptyRange,
}

impl UsageQuery {
    /// A whole-gateway query over `[from_ms, to_ms)` with no breakdown.
    pub fn new(from_ms: i64, to_ms: i64) -> Result<UsageQuery, UsageQueryError> {
        let q = UsageQuery {
            from_ms,
            to_ms,
            account_id: None,
            kid: None,
            group_by: GroupBy::None,
        };
        q.validate()?;
        Ok(q)
    }

    pub fn validate(&self) -> Result<(), UsageQueryError> {
        if self.from_ms >= self.to_ms {
            return Err(UsageQueryError::EmptyRange);
        }
        Ok(())
    }

    /// The range widened to whole hours (`from` down, `to` up): what a report over
    /// the hourly rollups actually covers. Empty when the query's range is.
    pub fn window(&self) -> (i64, i64) {
        if self.from_ms >= self.to_ms {
            return (self.from_ms, self.from_ms);
        }
        let from = self.from_ms - self.from_ms.rem_euclid(HOUR_MS);
        let past = self.to_ms.rem_euclid(HOUR_MS);
        let to = match past {
            0 => self.to_ms,
            _ => self.to_ms.saturating_add(HOUR_MS - past),
        };
        (from, to)
    }
}

/// Sums over a set of requests. Counts are `u64`; tokens and money (micro-units)
/// are `i64` like the events they come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageTotals {
    pub requests: u64,
    /// Requests answered with status >= 400.
    pub errors: u64,
    /// Requests answered 401.
    pub auth_failures: u64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cached_tokens: i64,
    /// The cost of the requests whose cost is known; see `cost_unknown_requests`.
    pub cost_micro_usd: i64,
    /// Requests whose cost is unknown (a model without a price): not in
    /// `cost_micro_usd`, so a report never passes an unknown cost off as 0.
    pub cost_unknown_requests: u64,
    /// Upstream tries that failed and were followed by another try of the same
    /// request. Not in `requests`: a request counts once, however many tries it took.
    pub attempts_failed: u64,
    /// Summed as recorded: micro-units of each account's currency. Meaningful only
    /// when `charges` has at most one currency.
    pub charge_micro: i64,
    /// The charges per currency code: never added across currencies.
    pub charges: std::collections::BTreeMap<String, i64>,
    pub latency_ms_sum: i64,
    /// `latency_ms_sum / requests`, 0 when there were none; kept by [`UsageTotals::add`].
    pub avg_latency_ms: u64,
}

impl UsageTotals {
    /// Adds `other` in, recomputing the average latency.
    pub fn add(&mut self, other: &UsageTotals) {
        self.requests = self.requests.saturating_add(other.requests);
        self.errors = self.errors.saturating_add(other.errors);
        self.auth_failures = self.auth_failures.saturating_add(other.auth_failures);
        self.input_tokens = self.input_tokens.saturating_add(other.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(other.output_tokens);
        self.cached_tokens = self.cached_tokens.saturating_add(other.cached_tokens);
        self.cost_micro_usd = self.cost_micro_usd.saturating_add(other.cost_micro_usd);
        self.cost_unknown_requests = self
            .cost_unknown_requests
            .saturating_add(other.cost_unknown_requests);
        self.attempts_failed = self.attempts_failed.saturating_add(other.attempts_failed);
        self.charge_micro = self.charge_micro.saturating_add(other.charge_micro);
        for (currency, charge) in &other.charges {
            let sum = self.charges.entry(currency.clone()).or_default();
            *sum = sum.saturating_add(*charge);
        }
        self.latency_ms_sum = self.latency_ms_sum.saturating_add(other.latency_ms_sum);
        self.avg_latency_ms = match self.requests {
            0 => 0,
            n => u64::try_from(self.latency_ms_sum).unwrap_or(0) / n,
        };
    }
}

/// A usage report: totals over the window and, unless `GroupBy::None`, one entry per
/// group. Group keys: the kid, model, provider or status code, or for hour and day
/// the RFC 3339 start of the UTC bucket. Time buckets and statuses come in order,
/// the others by requests, most first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageReport {
    /// The window actually covered (see [`UsageQuery::window`]).
    pub from_ms: i64,
    pub to_ms: i64,
    pub totals: UsageTotals,
    pub groups: Vec<(String, UsageTotals)>,
}
