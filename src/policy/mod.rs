//! Policy: may this principal make this request? Scopes, client IPs, rate and
//! concurrency limits (DESIGN §2: auth says who, policy says whether).
//!
//! Everything here is pure and runs on every request: no I/O, no axum, no database,
//! no clock reads except where a function says so (`LocalRateLimiter::check`), and no
//! lock held longer than a map lookup. Callers hand in what they already know (the
//! key's quota, its allowlist, the socket peer) and get a decision back; turning a
//! refusal into a 403 or 429 body is `error.rs`'s job.
//!
//! - `admit`: the gate's one decision (`admit`) and the model rule (`model_allowed`),
//!   with the limit backends behind `Limits`.
//! - `ip_allowlist`: per-key IP allowlists and the client address behind trusted
//!   proxies.
//! - `rate_limit`: GCRA per key (`gcra`), and the in-process registry (`local`).
//! - `concurrency`: per-key cap on requests in flight, with a permit a streaming body
//!   can hold.

pub mod admit;
pub mod concurrency;
pub use crate::domain::ip_allowlist;
pub mod rate_limit;

pub use admit::{Admission, Facts, Limit, Limits, LimitsOnFailure, OnFailure, PolicyError, admit};
pub use concurrency::{ConcurrencyLimiter, ConcurrencyPermit};
pub use ip_allowlist::{IpAllowlist, IpAllowlistError, client_ip};
pub use rate_limit::{Decision, LocalRateLimiter, Period, Quota, QuotaError};
