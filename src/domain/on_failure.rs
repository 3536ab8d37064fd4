//! What a shared-state backend does when it cannot answer (DESIGN §3: fail open or
//! fail closed, counted in a metric). Used by the limits (`policy::Limits`) and the
//! balances (`metering::balances`).

/// What to do when a state backend (limits, balances) cannot answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnFailure {
    /// Go ahead without the check (counted in a metric, logged).
    #[default]
    Open,
    /// Refuse the request.
    Closed,
}
