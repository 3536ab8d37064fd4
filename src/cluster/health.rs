//! Per-concern outage tracking: one log line when Redis stops answering a concern,
//! one when it answers again, and a counter for every failed call in between
//! (`tollgate_redis_failures_total{concern}`), so a long outage does not flood the
//! log with one line per request.

use std::sync::atomic::{AtomicBool, Ordering};

use super::ClusterError;

/// What a Redis call was for; the metric's `concern` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concern {
    Limits = 0,
    Concurrency = 1,
    Balances = 2,
    Invalidation = 3,
    /// Deployment cooldowns (`cooldown`).
    Cooldowns = 4,
}

impl Concern {
    pub const ALL: [Concern; 5] = [
        Concern::Limits,
        Concern::Concurrency,
        Concern::Balances,
        Concern::Invalidation,
        Concern::Cooldowns,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Concern::Limits => "limits",
            Concern::Concurrency => "concurrency",
            Concern::Balances => "balances",
            Concern::Invalidation => "invalidation",
            Concern::Cooldowns => "cooldowns",
        }
    }
}

pub(super) struct Health {
    concern: Concern,
    down: AtomicBool,
}

impl Health {
    pub(super) fn new(concern: Concern) -> Health {
        Health {
            concern,
            down: AtomicBool::new(false),
        }
    }

    pub(super) fn failed(&self, e: &ClusterError) {
        metrics::counter!("tollgate_redis_failures_total", "concern" => self.concern.as_str())
            .increment(1);
        // Only the call that flips the flag logs: once per outage, not per request.
        if !self.down.swap(true, Ordering::Relaxed) {
            tracing::error!(
                concern = self.concern.as_str(),
                error = %e,
                "redis is not answering; this concern follows [redis] on_failure until it is back (reconnecting with backoff)"
            );
        }
    }

    pub(super) fn answered(&self) {
        // A relaxed load first: the healthy path does no write.
        if self.down.load(Ordering::Relaxed) && self.down.swap(false, Ordering::Relaxed) {
            tracing::warn!(concern = self.concern.as_str(), "redis answers again");
        }
    }

    pub(super) fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }
}
