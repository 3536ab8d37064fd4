//! `admit`: the one policy decision in front of every gated route — may this
//! principal, from this address, use this scope now (IP allowlist, scope, rate
//! limit, concurrency cap) — and `model_allowed`, the one rule for which models a
//! key may use (routing and `/v1/models` both ask it).
//!
//! Refusals are `PolicyError`s; `error.rs` renders them (403/429). The limiter and
//! the concurrency cap sit behind `Limits`, an async, fallible seam with an
//! explicit `OnFailure` policy per concern: `Local` (in this process, cannot fail)
//! and `Shared` (Redis, `crate::cluster`, exact across instances).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use super::concurrency::{ConcurrencyLimiter, ConcurrencyPermit};
use super::rate_limit::{Decision, LocalRateLimiter, Quota};
use crate::auth::Principal;
use crate::cluster::Cluster;
use crate::domain::ProviderKind;
use crate::keys::{KeyEnv, Scope};
use crate::store::KeyRecord;

/// What a refusal says about the key's rate limit (also sent on success).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateState {
    pub limit: u32,
    pub remaining: u32,
    /// When the key's bucket is full again.
    pub reset_at: SystemTime,
    /// When the next request would be allowed (zero when allowed now).
    pub retry_after: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("requests from {0} are not allowed for this key")]
    IpNotAllowed(IpAddr),
    #[error("this key lacks the `{0}` scope")]
    MissingScope(Scope),
    #[error("rate limit exceeded")]
    RateLimited(RateState),
    #[error("this key already has {0} requests in flight, its limit")]
    ConcurrencyLimited(u32),
    #[error("this key may not use model `{0}`")]
    ModelNotAllowed(String),
    /// The limit backend failed and the policy is to fail closed.
    #[error("the {limit} backend is unavailable: {source}", limit = .0.as_str(), source = .1)]
    LimitsUnavailable(Limit, #[source] LimitError),
}

/// A limit backend that could not answer.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LimitError(pub String);

pub use crate::domain::OnFailure;

/// Where rate and concurrency state lives.
#[derive(Clone, Copy)]
pub enum Limits<'a> {
    /// In this process: exact for one instance.
    Local {
        rate: &'a LocalRateLimiter,
        concurrency: &'a ConcurrencyLimiter,
    },
    /// In Redis: exact across every instance sharing it.
    Shared(&'a Cluster),
}

impl Limits<'_> {
    pub async fn check_rate(&self, kid: &str, quota: &Quota) -> Result<Decision, LimitError> {
        match self {
            Limits::Local { rate, .. } => Ok(rate.check(kid, quota)),
            Limits::Shared(cluster) => cluster
                .check_rate(kid, quota)
                .await
                .map_err(|e| LimitError(e.to_string())),
        }
    }

    /// A permit, or `None` when `max` requests are already in flight.
    pub async fn acquire(
        &self,
        kid: &str,
        max: u32,
    ) -> Result<Option<ConcurrencyPermit>, LimitError> {
        match self {
            Limits::Local { concurrency, .. } => Ok(concurrency.try_acquire(kid, max)),
            Limits::Shared(cluster) => cluster
                .acquire(kid, max)
                .await
                .map(|lease| lease.map(ConcurrencyPermit::shared))
                .map_err(|e| LimitError(e.to_string())),
        }
    }
}

/// What the gate knows about the request.
pub struct Facts<'a> {
    pub scope: Scope,
    pub ip: IpAddr,
    pub now: SystemTime,
    pub limits: Limits<'a>,
    /// What the rate limit and the concurrency cap do when their backend fails.
    pub on_failure: LimitsOnFailure,
}

/// `[redis] on_failure` for the two limits the gate checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LimitsOnFailure {
    pub rate: OnFailure,
    pub concurrency: OnFailure,
}

/// An admitted request: its rate state (for headers) and its concurrency permit,
/// to be held until the response body is done.
pub struct Admission {
    pub rate: Option<RateState>,
    pub permit: Option<ConcurrencyPermit>,
}

pub async fn admit(principal: &Principal, facts: &Facts<'_>) -> Result<Admission, PolicyError> {
    let key = &principal.key;
    let policy = &key.policy;
    if !policy.ip_allowlist.is_empty() && !policy.ip_allowlist.allows(facts.ip) {
        return Err(PolicyError::IpNotAllowed(facts.ip));
    }
    if !policy.scopes.contains(facts.scope) {
        return Err(PolicyError::MissingScope(facts.scope));
    }
    let kid = key.kid.as_str();
    let rate = match &policy.rate_limit {
        None => None,
        Some(quota) => match backend(
            facts.on_failure.rate,
            Limit::Rate,
            facts.limits.check_rate(kid, quota).await,
        )? {
            None => None,
            Some(d) => {
                let state = RateState {
                    limit: d.limit,
                    remaining: d.remaining,
                    reset_at: facts.now + d.reset_after,
                    retry_after: d.retry_after,
                };
                if !d.allowed {
                    metrics::counter!("tollgate_rate_limited_total", "limit" => "rate")
                        .increment(1);
                    return Err(PolicyError::RateLimited(state));
                }
                Some(state)
            }
        },
    };
    let permit = match policy.max_concurrency {
        None => None,
        Some(max) => match backend(
            facts.on_failure.concurrency,
            Limit::Concurrency,
            facts.limits.acquire(kid, max).await,
        )? {
            None => None,
            Some(Some(permit)) => Some(permit),
            Some(None) => {
                metrics::counter!("tollgate_rate_limited_total", "limit" => "concurrency")
                    .increment(1);
                return Err(PolicyError::ConcurrencyLimited(max));
            }
        },
    };
    Ok(Admission { rate, permit })
}

/// A backend answer, or what the failure policy makes of its failure (`None`:
/// admitted without this limit).
/// (The backend logs the outage once; this counts each request it touched.)
fn backend<T>(
    on_failure: OnFailure,
    limit: Limit,
    answer: Result<T, LimitError>,
) -> Result<Option<T>, PolicyError> {
    match answer {
        Ok(v) => Ok(Some(v)),
        Err(e) => {
            metrics::counter!("tollgate_limits_failed_total").increment(1);
            match on_failure {
                OnFailure::Open => Ok(None),
                OnFailure::Closed => Err(PolicyError::LimitsUnavailable(limit, e)),
            }
        }
    }
}

/// Which limit's backend failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Rate,
    Concurrency,
}

impl Limit {
    pub const fn as_str(self) -> &'static str {
        match self {
            Limit::Rate => "rate-limit",
            Limit::Concurrency => "concurrency-cap",
        }
    }
}

/// Whether `key` may use a model: its environment's list (`[keys] env_models`) and
/// its own allowed models and providers. The one rule for routing and `/v1/models`.
pub fn model_allowed(
    env_models: &BTreeMap<KeyEnv, Vec<String>>,
    key: &KeyRecord,
    requested: &str,
    served: &str,
    provider: ProviderKind,
) -> bool {
    let env_allows = env_models
        .get(&key.env)
        .is_none_or(|list| crate::keys::policy::model_listed(list, requested, served, provider));
    env_allows && key.policy.allows_model(requested, served, provider)
}
