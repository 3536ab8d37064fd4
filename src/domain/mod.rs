//! Shared value types: the leaf every other module may use, and which uses none of
//! them. Each is pure (no I/O, no clock unless passed in, no axum, no database).
//!
//! - `provider`: `ProviderKind` and its wire `Dialect`.
//! - `key_type`: the billing category of a key and its default markup.
//! - `billing_mode`: prepaid or postpaid.
//! - `money`: integer micro-units, currencies and exchange rates.
//! - `usage`: the usage row (`UsageEvent`) and where its tokens came from.
//! - `bounds`: the range of every usage number and money amount, and the clamp for
//!   provider-reported counts.
//! - `gcra`: quotas (`{requests, period, burst}`) and the GCRA arithmetic on one
//!   key's state, with `now` as an argument.
//! - `on_failure`: fail open or closed when a state backend cannot answer.
//! - `ip_allowlist`: parsed CIDR allowlists and the client address behind trusted
//!   proxies.

pub mod billing_mode;
pub mod bounds;
pub mod gcra;
pub mod ip_allowlist;
pub mod key_type;
pub mod money;
pub mod on_failure;
pub mod provider;
pub mod usage;

pub use billing_mode::BillingMode;
pub use key_type::KeyType;
pub use money::MicroUnits;
pub use on_failure::{OnFailure, OnFailurePolicy};
pub use provider::{Dialect, ProviderKind};
pub use usage::{UsageEvent, UsageSource};
