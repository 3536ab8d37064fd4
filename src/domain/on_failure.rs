//! What a shared-state backend does when it cannot answer (DESIGN §3: fail open or
//! fail closed, counted in a metric). Used by the limits (`policy::Limits`), the
//! balances (`metering::balances`) and the deployment cooldowns
//! (`routing::shared_cooldown`).

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
/// concurrency caps fail open (availability), balances fail closed (money),
/// cooldowns fail open (each instance goes on with its own view of its deployments).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OnFailurePolicy {
    pub limits: OnFailure,
    pub concurrency: OnFailure,
    pub balances: OnFailure,
    /// Open: cooldowns and half-open probes go on per instance. Closed: no probe
    /// of a cooled deployment without the shared claim (it comes back only when
    /// Redis answers, or as the last resort when nothing else can serve).
    pub cooldowns: OnFailure,
}

impl Default for OnFailurePolicy {
    fn default() -> Self {
        OnFailurePolicy {
            limits: OnFailure::Open,
            concurrency: OnFailure::Open,
            balances: OnFailure::Closed,
            cooldowns: OnFailure::Open,
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
