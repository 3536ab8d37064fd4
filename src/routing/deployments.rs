//! The gateway's deployments per provider and the choice among them: weighted at
//! random over the deployments that serve the model and are healthy (or half-open,
//! for the one probe), skipping those this request already tried.
//!
//! Built once from the config; health lives behind [`CooldownStore`]. Choosing is
//! a scan of a provider's few deployments and one short lock per candidate, no I/O
//! (except claiming a half-open probe, which in distributed mode asks Redis).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use serde::Serialize;

use super::cooldown::{Availability, CooldownStore, DeploymentId, LocalCooldowns};
use super::shared_cooldown::SharedCooldowns;
use crate::cluster::Cluster;
use crate::config::Config;
use crate::domain::{OnFailure, ProviderKind};

/// One deployment as routing sees it (its key stays in `providers`).
#[derive(Debug)]
pub struct Deployment {
    pub id: DeploymentId,
    pub name: Arc<str>,
    pub weight: u32,
    /// Upstream model names it serves; `None`: all.
    models: Option<HashSet<String>>,
    /// `host[:port]` of its base URL, for the admin view (never the path or query).
    host: String,
    /// Its `tollgate_deployment_healthy` handle, registered at first use (after the
    /// recorder is installed): set on every success, it cost a label String and a
    /// registry lookup per request (0.9k instructions, callgrind).
    healthy: std::sync::OnceLock<metrics::Gauge>,
}

impl Deployment {
    fn healthy_gauge(&self) -> &metrics::Gauge {
        self.healthy.get_or_init(|| {
            metrics::gauge!("tollgate_deployment_healthy", "provider" => self.id.provider.as_str(), "deployment" => self.name.to_string())
        })
    }

    pub fn serves(&self, model: &str) -> bool {
        self.models.as_ref().is_none_or(|m| m.contains(model))
    }
}

/// How a failed call reflects on the deployment that made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// 429, 5xx, connect error, timeout: cool it down, for at least this long
    /// (a provider's `Retry-After` may ask for more than `cooldown_secs`).
    Cooling { at_least: Duration },
    /// A failure about the request, not the deployment (a 400).
    Other,
}

pub struct Deployments {
    by_provider: HashMap<ProviderKind, Vec<Deployment>>,
    health: Arc<dyn CooldownStore>,
    cooldown: Duration,
}

impl Deployments {
    /// Every provider's deployments, with health kept in this process.
    pub fn local(config: &Config) -> Deployments {
        let by_provider = Self::from_config(config);
        let ids = by_provider.values().flatten().map(|d| d.id);
        let health = LocalCooldowns::new(ids);
        Deployments {
            by_provider,
            health,
            cooldown: config.routing.cooldown,
        }
    }

    /// With health shared by every instance on `cluster`'s Redis, and the tasks
    /// that keep this instance's view of it current (to be aborted on shutdown).
    pub fn shared(
        config: &Config,
        cluster: Cluster,
        on_failure: OnFailure,
    ) -> (Deployments, Vec<tokio::task::JoinHandle<()>>) {
        let by_provider = Self::from_config(config);
        let ids = by_provider
            .values()
            .flatten()
            .map(|d| (d.id, d.name.to_string()));
        let store = SharedCooldowns::new(ids, cluster, on_failure);
        let tasks = store.spawn_background();
        let deployments = Deployments {
            by_provider,
            health: store,
            cooldown: config.routing.cooldown,
        };
        (deployments, tasks)
    }

    fn from_config(config: &Config) -> HashMap<ProviderKind, Vec<Deployment>> {
        config
            .providers
            .iter()
            .map(|(&provider, cfg)| {
                let list = cfg
                    .deployments()
                    .into_iter()
                    .enumerate()
                    .map(|(index, d)| {
                        let host = reqwest::Url::parse(&d.base_url)
                            .ok()
                            .and_then(|u| {
                                let host = u.host_str()?.to_owned();
                                Some(match u.port() {
                                    Some(p) => format!("{host}:{p}"),
                                    None => host,
                                })
                            })
                            .unwrap_or_default();
                        Deployment {
                            id: DeploymentId { provider, index },
                            name: d.name.as_str().into(),
                            weight: d.weight,
                            models: d.models.map(|m| m.into_iter().collect()),
                            host,
                            healthy: std::sync::OnceLock::new(),
                        }
                    })
                    .collect();
                (provider, list)
            })
            .collect()
    }

    /// The deployments of `provider` serving `model`, in config order.
    pub fn serving<'a, 'm>(
        &'a self,
        provider: ProviderKind,
        model: &'m str,
    ) -> impl Iterator<Item = &'a Deployment> + use<'a, 'm> {
        self.by_provider
            .get(&provider)
            .into_iter()
            .flatten()
            .filter(move |d| d.serves(model))
    }

    /// Whether any deployment of `provider` serves `model`.
    pub fn any_serving(&self, provider: ProviderKind, model: &str) -> bool {
        self.serving(provider, model).next().is_some()
    }

    /// A weighted random pick among the deployments serving `model` that are
    /// healthy or half-open (claiming the probe), leaving out `skip`. `None` when
    /// every one is cooling, probing elsewhere or skipped.
    pub async fn pick(
        &self,
        provider: ProviderKind,
        model: &str,
        skip: &[DeploymentId],
        now_ms: u64,
    ) -> Option<&Deployment> {
        let open: Vec<(&Deployment, Availability)> = self
            .serving(provider, model)
            .filter(|d| !skip.contains(&d.id))
            .filter_map(|d| match self.health.availability(d.id, now_ms) {
                a @ (Availability::Healthy | Availability::HalfOpen) => Some((d, a)),
                Availability::Cooling { .. } | Availability::Probing => None,
            })
            .collect();
        // The order is drawn before any claim is awaited (the thread's RNG must not
        // live across an await: the request's future would not be `Send`).
        let order = weighted_order(open, &mut rand::rng());
        for (d, availability) in order {
            if availability == Availability::Healthy || self.health.claim_probe(d.id, now_ms).await
            {
                return Some(d);
            }
        }
        None
    }

    /// The last resort when nothing is available: the deployment serving `model`
    /// (outside `exclude`) whose cooldown ends first, cooling or not, so a request
    /// is never refused without a try (a provider's only deployment keeps serving).
    pub fn soonest_back(
        &self,
        provider: ProviderKind,
        model: &str,
        exclude: &[DeploymentId],
        now_ms: u64,
    ) -> Option<&Deployment> {
        self.serving(provider, model)
            .filter(|d| !exclude.contains(&d.id))
            .min_by_key(|d| match self.health.availability(d.id, now_ms) {
                Availability::Cooling { until_ms } => until_ms,
                _ => 0,
            })
    }

    pub fn succeeded(&self, d: &Deployment) {
        self.health.record_success(d.id);
        d.healthy_gauge().set(1.0);
    }

    pub async fn failed(&self, d: &Deployment, failure: Failure, now_ms: u64) {
        match failure {
            Failure::Other => self.health.record_other_failure(d.id),
            Failure::Cooling { at_least } => {
                let cool = self.cooldown.max(at_least);
                let until =
                    now_ms.saturating_add(u64::try_from(cool.as_millis()).unwrap_or(u64::MAX));
                if self
                    .health
                    .record_cooling_failure(d.id, now_ms, until)
                    .await
                {
                    tracing::warn!(provider = %d.id.provider, deployment = %d.name, cooldown_ms = cool.as_millis() as u64, "deployment cooling down");
                    metrics::counter!("tollgate_deployment_cooldowns_total", "provider" => d.id.provider.as_str(), "deployment" => d.name.to_string()).increment(1);
                }
                d.healthy_gauge().set(0.0);
            }
        }
    }

    /// Every provider with at least one deployment, for `GET /admin/providers`.
    pub fn view(&self, now_ms: u64) -> Vec<ProviderView> {
        let mut out: Vec<ProviderView> = self
            .by_provider
            .iter()
            .filter(|(_, list)| !list.is_empty())
            .map(|(&provider, list)| ProviderView {
                provider: provider.as_str(),
                deployments: list
                    .iter()
                    .map(|d| {
                        let h = self.health.view(d.id, now_ms);
                        let (health, cooldown_until_ms) = match h.availability {
                            Availability::Healthy => ("healthy", None),
                            Availability::Cooling { until_ms } => ("cooling", Some(until_ms)),
                            Availability::HalfOpen | Availability::Probing => {
                                ("half_open", h.cooled_until_ms)
                            }
                        };
                        DeploymentView {
                            name: d.name.to_string(),
                            host: d.host.clone(),
                            weight: d.weight,
                            models: d.models.as_ref().map(|m| {
                                let mut v: Vec<String> = m.iter().cloned().collect();
                                v.sort();
                                v
                            }),
                            health,
                            cooldown_until: cooldown_until_ms.map(rfc3339),
                            cooldowns: h.cooldowns,
                            recent_requests: h.recent_calls,
                            recent_error_rate: (h.recent_error_rate * 1000.0).round() / 1000.0,
                        }
                    })
                    .collect(),
            })
            .collect();
        out.sort_by_key(|p| p.provider);
        out
    }
}

/// `open` in a random order where each next one is drawn by weight among those
/// left (so the first is a weighted pick, and a failed probe claim falls to the
/// next weighted pick).
fn weighted_order<'a>(
    mut open: Vec<(&'a Deployment, Availability)>,
    rng: &mut impl Rng,
) -> Vec<(&'a Deployment, Availability)> {
    let mut order = Vec::with_capacity(open.len());
    while !open.is_empty() {
        let total: u64 = open.iter().map(|(d, _)| u64::from(d.weight)).sum();
        let mut ticket = rng.random_range(0..total.max(1));
        let at = open
            .iter()
            .position(|(d, _)| {
                let w = u64::from(d.weight);
                if ticket < w {
                    true
                } else {
                    ticket -= w;
                    false
                }
            })
            .unwrap_or(0);
        order.push(open.swap_remove(at));
    }
    order
}

fn rfc3339(unix_ms: u64) -> String {
    let nanos = i128::from(unix_ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// A provider in `GET /admin/providers`.
#[derive(Debug, Serialize)]
pub struct ProviderView {
    pub provider: &'static str,
    pub deployments: Vec<DeploymentView>,
}

/// A deployment in `GET /admin/providers`: never its key or full base URL.
#[derive(Debug, Serialize)]
pub struct DeploymentView {
    pub name: String,
    pub host: String,
    pub weight: u32,
    pub models: Option<Vec<String>>,
    /// `healthy`, `cooling` or `half_open`.
    pub health: &'static str,
    /// RFC 3339; set while cooling (and half-open: when the cooldown ended).
    pub cooldown_until: Option<String>,
    pub cooldowns: u64,
    pub recent_requests: u32,
    pub recent_error_rate: f64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{RawConfig, RawDeployment};

    fn deployments(weights: &[u32], models: Option<Vec<String>>) -> Deployments {
        let mut raw = RawConfig::default();
        raw.providers.openai.base_url = "http://127.0.0.1:9/v1".into();
        raw.providers.openai.api_key = String::new();
        raw.providers.openai.deployments = weights
            .iter()
            .enumerate()
            .map(|(i, &w)| RawDeployment {
                name: format!("d{i}"),
                base_url: format!("http://127.0.0.{}:9/v1", i + 1),
                api_key: "k".into(),
                weight: w,
                models: models.clone(),
            })
            .collect();
        let config = Config::from_raw(raw, std::env::temp_dir()).unwrap();
        Deployments::local(&config)
    }

    #[tokio::test]
    async fn weights_spread_picks() {
        let d = deployments(&[3, 1], None);
        let mut first = 0;
        for _ in 0..4000 {
            let p = d
                .pick(ProviderKind::OpenAi, "gpt-4o", &[], 0)
                .await
                .unwrap();
            if p.id.index == 0 {
                first += 1;
            }
        }
        // Binomial(4000, 0.75): mean 3000, sd ~27; 10 sd either side.
        assert!((2730..=3270).contains(&first), "{first}");
    }

    #[tokio::test]
    async fn cooling_and_skipped_deployments_are_not_picked() {
        let d = deployments(&[1, 1], None);
        let first = d.by_provider[&ProviderKind::OpenAi].first().unwrap();
        d.failed(
            first,
            Failure::Cooling {
                at_least: Duration::ZERO,
            },
            0,
        )
        .await;
        for _ in 0..50 {
            let p = d
                .pick(ProviderKind::OpenAi, "gpt-4o", &[], 1)
                .await
                .unwrap();
            assert_eq!(p.id.index, 1);
        }
        let second = DeploymentId {
            provider: ProviderKind::OpenAi,
            index: 1,
        };
        assert!(
            d.pick(ProviderKind::OpenAi, "gpt-4o", &[second], 1)
                .await
                .is_none()
        );
        assert_eq!(
            d.soonest_back(ProviderKind::OpenAi, "gpt-4o", &[second], 1)
                .map(|d| d.id.index),
            Some(0)
        );
        // After the cooldown: half-open, one probe.
        let later = 31_000;
        let p = d
            .pick(ProviderKind::OpenAi, "gpt-4o", &[second], later)
            .await;
        assert_eq!(p.map(|d| d.id.index), Some(0));
        assert!(
            d.pick(ProviderKind::OpenAi, "gpt-4o", &[second], later)
                .await
                .is_none()
        );
        let v = d.view(later);
        assert_eq!(v[0].deployments[0].health, "half_open");
        assert_eq!(v[0].deployments[0].host, "127.0.0.1:9");
    }

    #[test]
    fn models_filter_decides_who_serves() {
        let d = deployments(&[1], Some(vec!["gpt-4o".into()]));
        assert!(d.any_serving(ProviderKind::OpenAi, "gpt-4o"));
        assert!(!d.any_serving(ProviderKind::OpenAi, "gpt-4o-mini"));
    }
}
