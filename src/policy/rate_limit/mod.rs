//! Request rate limits per key: GCRA, `{requests, period, burst}` (DESIGN §1.3).
//!
//! - `gcra`: the algorithm on one key's state, with `now` as an argument; the
//!   [`Decision`] carries what the `X-RateLimit-*` headers and the 429 body need.
//! - `local`: a bounded per-kid registry of states for a single instance.
//!
//! A Redis-backed limiter for several instances belongs beside these and must make the
//! same decisions as `gcra` for the same arrivals.

pub use crate::domain::gcra;
pub mod local;

pub use gcra::{Decision, GcraState, MAX_REFILL, ParsePeriodError, Period, Quota, QuotaError};
pub use local::LocalRateLimiter;
