//! Metering: every gateway request becomes a `UsageEvent`, priced in integer
//! micro-units, written in batches off the request path.
//!
//! - `event`: the usage row.
//! - `bounds`: the range of every usage number, and the clamp for provider counts.
//! - `meter`: one request's draft, filled in along the way and closed once.
//! - `observe`: token usage read from the caller-facing response.
//! - `attempts`: a failed upstream try that another try followed, as its own event.
//! - `service`: closes a request's draft into a priced `UsageEvent` for the writer.
//! - `tokens`: tiktoken estimates when no usage was reported.
//! - `usage_scan`: the top-level `usage` of a whole answer, found as it streams past.
//! - `usage_wire`: each provider's usage and stream events as borrowed structs.
//! - `request_metrics`: the per-request metrics, their handles registered once.
//! - `money`, `pricing`: exact arithmetic for cost, markup and currency.
//! - `balances`: the seam in front of prepaid balances (`Local` today).
//! - `billing`: prepaid holds before sending, capped charges at the end.
//! - `ledger`: balances and reservations in memory (prepaid accounts).
//! - `sink`: the bounded channel and the batch writer.
//! - `spill`: the local file the writer falls back to when the database refuses.

pub mod attempts;
pub mod balances;
pub mod billing;

pub mod ledger;
pub mod meter;
pub mod observe;
pub mod pricing;
pub mod request_metrics;
pub mod service;
pub mod sink;
pub mod spill;
pub mod tokens;
pub mod usage_scan;
pub mod usage_wire;

pub use crate::domain::usage::{UsageEvent, UsageSource};
pub use crate::domain::{bounds, money};
