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

/// `[redis] on_failure`, per concern: what each shared-state check does while Redis
/// cannot answer. The defaults keep today's single-instance behaviour: limits and
/// concurrency caps fail open (availability), balances fail closed (money).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OnFailurePolicy {
    pub limits: OnFailure,
    pub concurrency: OnFailure,
    pub balances: OnFailure,
}

impl Default for OnFailurePolicy {
    fn default() -> Self {
        OnFailurePolicy {
            limits: OnFailure::Open,
            concurrency: OnFailure::Open,
            balances: OnFailure::Closed,
        }
    }
}

impl OnFailure {
    /// The config and log spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            OnFailure::Open => "open",
            OnFailure::Closed => "closed",
        }
    }

    /// `"open"` or `"closed"`.
    pub fn parse(s: &str) -> Option<OnFailure> {
        match s.trim() {
            "open" => Some(OnFailure::Open),
            "closed" => Some(OnFailure::Closed),
            _ => None,
        }
    }
}
