//! Deployment health shared by every instance (`[redis]`): the
//! [`CooldownStore`] of distributed mode.
//!
//! Redis holds the state machine's shared part, one hash per deployment, changed
//! by Lua scripts that publish each new state (`crate::cluster`'s cooldown
//! scripts). Each instance keeps a [`LocalCooldowns`] as its mirror:
//!
//! - reads (`availability`, `view`) and successes on a healthy deployment touch
//!   only the mirror, so the hot path does no I/O;
//! - a cooling failure updates the mirror at once (this instance stops picking
//!   the deployment immediately), then runs `COOL` in Redis and adopts its answer;
//! - claiming the half-open probe is `CLAIM` in Redis (compare-and-set), so one
//!   request on one instance probes;
//! - a success on a tripped deployment runs `RECOVER` in the background;
//! - a subscriber adopts every published state, and on every (re)subscribe and
//!   every [`RECONCILE_EVERY`] reads all states, for messages lost while
//!   disconnected.
//!
//! When Redis does not answer (counted in
//! `tollgate_redis_failures_total{concern="cooldowns"}`, logged once per outage),
//! the mirror is the state: cooldowns go on per instance. A probe claim then
//! follows `[redis] on_failure.cooldowns`: `open` claims it locally, `closed`
//! claims nothing (the deployment comes back when Redis answers, or as the last
//! resort when nothing else can serve). Once Redis answers again its state wins.
//!
//! The recent error rate and request count of `GET /admin/providers` stay per
//! instance (counting every call in Redis would put a write on the hot path).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;

use super::cooldown::{
    Availability, CooldownStore, DeploymentId, HealthView, LocalCooldowns, PROBE_LEASE_MS,
};
use crate::cluster::{Cluster, SharedHealth};
use crate::domain::OnFailure;

/// How often every deployment's state is read from Redis, besides the published
/// changes: the bound on how long a lost message can leave an instance behind.
pub const RECONCILE_EVERY: Duration = Duration::from_secs(5);

/// The distributed [`CooldownStore`] (module doc).
pub struct SharedCooldowns {
    mirror: Arc<LocalCooldowns>,
    cluster: Cluster,
    /// `<provider>/<deployment name>`: the id every instance knows it by.
    names: HashMap<DeploymentId, String>,
    by_name: HashMap<String, DeploymentId>,
    on_failure: OnFailure,
}

impl SharedCooldowns {
    /// A store for these deployments (id and name), sharing `cluster`'s Redis.
    pub fn new(
        deployments: impl IntoIterator<Item = (DeploymentId, String)>,
        cluster: Cluster,
        on_failure: OnFailure,
    ) -> Arc<SharedCooldowns> {
        let names: HashMap<DeploymentId, String> = deployments
            .into_iter()
            .map(|(id, name)| (id, format!("{}/{name}", id.provider.as_str())))
            .collect();
        let by_name = names.iter().map(|(&id, n)| (n.clone(), id)).collect();
        Arc::new(SharedCooldowns {
            mirror: LocalCooldowns::new(names.keys().copied()),
            cluster,
            names,
            by_name,
            on_failure,
        })
    }

    /// Follows the published changes and reconciles periodically, until aborted.
    pub fn spawn_background(self: &Arc<Self>) -> Vec<tokio::task::JoinHandle<()>> {
        if self.names.is_empty() {
            return Vec::new();
        }
        vec![
            tokio::spawn(follow(self.clone())),
            tokio::spawn(reconcile(self.clone())),
        ]
    }

    fn adopt(&self, name: &str, health: &SharedHealth) {
        if let Some(&id) = self.by_name.get(name) {
            self.mirror.adopt(id, health);
        }
    }

    /// Reads every deployment's state from Redis into the mirror.
    async fn read_all(&self) {
        let names: Vec<&str> = self.names.values().map(String::as_str).collect();
        // A failure is counted and logged by the cluster; the next round retries.
        if let Ok(states) = self.cluster.deployment_health(&names).await {
            for (name, state) in names.iter().zip(&states) {
                self.adopt(name, state);
            }
        }
    }
}

impl CooldownStore for SharedCooldowns {
    fn availability(&self, id: DeploymentId, now_ms: u64) -> Availability {
        self.mirror.availability(id, now_ms)
    }

    fn claim_probe(&self, id: DeploymentId, now_ms: u64) -> BoxFuture<'_, bool> {
        Box::pin(async move {
            let Some(name) = self.names.get(&id) else {
                return false;
            };
            let lease = now_ms.saturating_add(PROBE_LEASE_MS);
            match self
                .cluster
                .claim_deployment_probe(name, now_ms, lease)
                .await
            {
                Ok((claimed, state)) => {
                    self.mirror.adopt(id, &state);
                    claimed
                }
                Err(_) => match self.on_failure {
                    OnFailure::Open => self.mirror.claim_probe_now(id, now_ms),
                    OnFailure::Closed => false,
                },
            }
        })
    }

    fn record_success(&self, id: DeploymentId) {
        let tripped = self.mirror.tripped(id);
        self.mirror.record_success(id);
        let (Some(cooldowns), Some(name)) = (tripped, self.names.get(&id)) else {
            return;
        };
        // Off the request's path: the answer is already on its way to the caller.
        let (cluster, mirror, name) = (self.cluster.clone(), self.mirror.clone(), name.clone());
        tokio::spawn(async move {
            if let Ok(state) = cluster.recover_deployment(&name, cooldowns).await {
                mirror.adopt(id, &state);
            }
        });
    }

    fn record_cooling_failure(
        &self,
        id: DeploymentId,
        now_ms: u64,
        until_ms: u64,
    ) -> BoxFuture<'_, bool> {
        Box::pin(async move {
            let started_here = self.mirror.cool_now(id, now_ms, until_ms);
            let Some(name) = self.names.get(&id) else {
                return started_here;
            };
            match self.cluster.cool_deployment(name, now_ms, until_ms).await {
                Ok((started, state)) => {
                    self.mirror.adopt(id, &state);
                    started
                }
                Err(_) => started_here,
            }
        })
    }

    fn record_other_failure(&self, id: DeploymentId) {
        self.mirror.record_other_failure(id);
    }

    fn view(&self, id: DeploymentId, now_ms: u64) -> HealthView {
        self.mirror.view(id, now_ms)
    }
}

/// Adopts every published change; resubscribes (reading every state first) when
/// the subscription ends or cannot be made.
async fn follow(store: Arc<SharedCooldowns>) {
    loop {
        // A failed subscribe is logged once per outage by the cluster.
        if let Ok(mut changes) = store.cluster.cooldown_changes().await {
            // Changes made before this subscription were not seen: read them.
            store.read_all().await;
            while let Some(change) = changes.next().await {
                store.adopt(&change.deployment, &change.health);
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Reads every state every [`RECONCILE_EVERY`].
async fn reconcile(store: Arc<SharedCooldowns>) {
    let mut tick = tokio::time::interval(RECONCILE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        store.read_all().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ProviderKind;

    const A: DeploymentId = DeploymentId {
        provider: ProviderKind::OpenAi,
        index: 0,
    };

    fn store(cluster: &Cluster, on_failure: OnFailure) -> Arc<SharedCooldowns> {
        SharedCooldowns::new([(A, "a".to_owned())], cluster.clone(), on_failure)
    }

    fn machine_redis(prefix: &str) -> Cluster {
        let url = std::env::var("TOLLGATE_TEST_REDIS_URL")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        Cluster::open(&url, prefix).expect("url parses")
    }

    #[tokio::test]
    async fn a_cooldown_on_one_instance_is_seen_and_probed_once_across_both() {
        let prefix = format!("tgtest-{}", uuid::Uuid::new_v4().simple());
        let cluster = machine_redis(&prefix);
        let (one, two) = (
            store(&cluster, OnFailure::Open),
            store(&cluster, OnFailure::Open),
        );
        let tasks = two.spawn_background();
        assert!(one.record_cooling_failure(A, 1_000, 31_000).await);
        // `two` learns it from the published change (or its first full read).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while two.availability(A, 2_000) == Availability::Healthy {
            assert!(tokio::time::Instant::now() < deadline, "never published");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(
            two.availability(A, 2_000),
            Availability::Cooling { until_ms: 31_000 }
        );
        assert_eq!(two.view(A, 2_000).cooldowns, 1);
        // A failure seen by the second instance while cooling is not a new cooldown.
        assert!(!two.record_cooling_failure(A, 3_000, 33_000).await);
        // Half-open: exactly one of the two claims the probe.
        let (a, b) = tokio::join!(one.claim_probe(A, 40_000), two.claim_probe(A, 40_000));
        assert!(a ^ b, "one probe across instances: {a} {b}");
        for t in tasks {
            t.abort();
        }
    }

    #[tokio::test]
    async fn without_redis_the_mirror_decides_as_on_failure_says() {
        let down = Cluster::open("redis://127.0.0.1:1", "tgtest-down").expect("url parses");
        for (policy, probes) in [(OnFailure::Open, true), (OnFailure::Closed, false)] {
            let s = store(&down, policy);
            assert!(
                s.record_cooling_failure(A, 0, 10).await,
                "cooled locally: this instance skips it"
            );
            assert_eq!(s.availability(A, 5), Availability::Cooling { until_ms: 10 });
            assert_eq!(s.availability(A, 10), Availability::HalfOpen);
            assert_eq!(s.claim_probe(A, 10).await, probes, "{policy:?}");
        }
    }
}
