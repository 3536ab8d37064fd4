//! The attempt loop: one request tried on the deployments of its model, then on
//! its fallback models, at most `[routing] max_attempts` times in all.
//!
//! - Targets: the resolved model first, then each `fallbacks` entry the catalog
//!   resolves to a provider with credentials, that the key may use, that the
//!   translator table can reach from the caller's format, and that a deployment
//!   serves. A fallback of another provider is translated from the caller's body
//!   (its format stays the caller's); its request is built once, when first tried.
//! - Each try picks a deployment (`routing::Deployments::pick`): a healthy one
//!   this request has not used, on the first target that has one. With none left,
//!   the deployment whose cooldown ends first goes again, so a provider's only
//!   deployment is retried (with backoff) and a request is never refused untried.
//! - Failures are judged by `routing::retry`: 429/5xx/connect/timeout cool the
//!   deployment and may be retried; anything else ends the loop at once.
//! - The caller's body `Bytes` is reused for every try, never re-read. For a
//!   Gemini target its image links are fetched and inlined first, once per request
//!   (`inline_images`); a link that cannot be inlined is the caller's 400 for the
//!   model they asked for, and skips a fallback.
//! - Streams: a try is over when the upstream's response head arrives; a 2xx is
//!   committed (its bytes go to the caller), so a stream never fails over after its
//!   first byte reached the client.
//! - BYOK: only the caller's key, on the caller's provider; no deployments, no
//!   fallbacks, no cooldown (the caller's account is not the gateway's to judge).
//!
//! Every failed try that another try follows is recorded as its own usage event
//! (same request id, its status and error code, no tokens, no charge); the final
//! failure is the request's own event.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::table::{self, Translation};
use super::{CallerFormat, Routed};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::metering::meter::Meter;
use crate::policy::admit::model_allowed;
use crate::providers::{Account, AnthropicHeaders, Call, UpstreamError, UpstreamResponse};
use crate::routing::cooldown::DeploymentId;
use crate::routing::retry::{self, MAX_HONOURED_RETRY_AFTER};
use crate::routing::{Deployment, Dialect, ProviderKind, Resolved};
use crate::state::AppState;

/// One model the request may be served by.
pub struct Target {
    pub route: Resolved,
    pub translation: Translation,
    /// The upstream request, built when the target is first tried.
    outbound: Option<table::Outbound>,
}

/// The request as every try sees it.
pub struct Plan<'a> {
    pub format: CallerFormat,
    pub body: &'a Bytes,
    pub forwarded: &'a (dyn Fn(&str) -> Bytes + Sync),
    pub stream: bool,
    pub include_usage: bool,
    /// The caller's `stream_options`, as the peek read them.
    pub stream_usage: crate::translate::peek::StreamUsage,
    pub anthropic: AnthropicHeaders,
}

/// What served the request.
pub struct Served {
    pub upstream: UpstreamResponse,
    /// Index into the targets.
    pub target: usize,
    pub attempts: u32,
}

/// The targets for `routed`: its own model, then its fallbacks (module doc).
pub fn targets(
    state: &AppState,
    principal: &Principal,
    format: CallerFormat,
    requested: &str,
    routed: &Routed,
    first: Translation,
) -> Result<Vec<Target>, ApiError> {
    let deployments = state.deployments();
    let primary = &routed.route;
    // The caller's own account (BYOK or vault): their key only, no deployments or fallbacks.
    let byok = routed.on_callers_account();
    // Without a deployment for the model itself, only its fallbacks can serve.
    if !byok
        && !deployments.any_serving(primary.provider, &primary.upstream_model)
        && state.catalog().fallbacks(requested).is_empty()
    {
        return Err(if state.upstreams().has_credentials(primary.provider) {
            UpstreamError::NoDeployment {
                provider: primary.provider,
                model: primary.upstream_model.to_string(),
            }
        } else {
            UpstreamError::NotConfigured(primary.provider)
        }
        .into());
    }
    let mut out = vec![Target {
        route: primary.clone(),
        translation: first,
        outbound: None,
    }];
    if byok {
        return Ok(out);
    }
    let upstreams = state.upstreams();
    for id in state.catalog().fallbacks(requested) {
        let Some(route) = state
            .catalog()
            .resolve(id, |p| upstreams.has_credentials(p))
        else {
            tracing::debug!(fallback = %id, "fallback model is not in the catalog; skipped");
            continue;
        };
        let usable = upstreams.has_credentials(route.provider)
            && deployments.any_serving(route.provider, &route.upstream_model)
            && model_allowed(
                &state.config().keys.env_models,
                &principal.key,
                id,
                &route.upstream_model,
                route.provider,
            )
            && !out.iter().any(|t| {
                t.route.provider == route.provider && t.route.upstream_model == route.upstream_model
            });
        if !usable {
            continue;
        }
        if let Some(translation) = table::translation_for(format, route.provider) {
            out.push(Target {
                route,
                translation,
                outbound: None,
            });
        }
    }
    Ok(out)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// One deployment this request used, and what its last failure allows.
struct Used {
    id: DeploymentId,
    tries: u32,
    /// Its last failure's `Retry-After`.
    retry_after: Option<Duration>,
    /// Not to be tried again in this request (a long `Retry-After`).
    barred: bool,
}

/// A failed try waiting to be recorded once another try follows it.
struct Failed {
    provider: ProviderKind,
    model: String,
    error: UpstreamError,
}

/// Tries the targets until one answers with a 2xx, a failure is final, or the
/// attempts run out (module doc).
pub async fn send(
    state: &AppState,
    meter: &Meter,
    routed: &Routed,
    targets: &mut [Target],
    plan: &Plan<'_>,
) -> Result<Served, ApiError> {
    let routing = &state.config().routing;
    let deployments = state.deployments();
    let upstreams = state.upstreams();
    let mut used: Vec<Used> = Vec::new();
    let mut pending: Option<Failed> = None;
    // The body with its image links inlined, once a Gemini target needed it
    // (`None` inside: it had none).
    let mut inlined: Option<Option<Bytes>> = None;
    let mut attempt = 0u32;
    while attempt < routing.max_attempts {
        // Which target, on which deployment (none: the caller's BYOK key).
        let now = now_ms();
        let skip: Vec<DeploymentId> = used.iter().map(|u| u.id).collect();
        let choice: Option<(usize, Option<&Deployment>)> = if routed.on_callers_account() {
            match used.first() {
                Some(u) if u.barred => None,
                _ => Some((0, None)),
            }
        } else {
            let barred: Vec<DeploymentId> =
                used.iter().filter(|u| u.barred).map(|u| u.id).collect();
            let mut picked = None;
            for (i, t) in targets.iter().enumerate() {
                if let Some(d) = deployments
                    .pick(t.route.provider, &t.route.upstream_model, &skip, now)
                    .await
                {
                    picked = Some((i, Some(d)));
                    break;
                }
            }
            picked.or_else(|| {
                targets.iter().enumerate().find_map(|(i, t)| {
                    deployments
                        .soonest_back(t.route.provider, &t.route.upstream_model, &barred, now)
                        .map(|d| (i, Some(d)))
                })
            })
        };
        let Some((index, deployment)) = choice else {
            break;
        };
        let key = deployment.map_or(
            DeploymentId {
                provider: targets[index].route.provider,
                index: usize::MAX,
            },
            |d| d.id,
        );
        // A try on a deployment already used waits: backoff, or a short Retry-After.
        if let Some(u) = used.iter().find(|u| u.id == key) {
            let backoff = retry::backoff(u.tries, &mut rand::rng());
            let wait = u
                .retry_after
                .filter(|r| *r <= MAX_HONOURED_RETRY_AFTER)
                .map_or(backoff, |r| r.max(backoff));
            tokio::time::sleep(wait).await;
        }
        if let Some(f) = pending.take() {
            record_failed(state, meter, routed, &f);
        }
        attempt += 1;

        let target = &mut targets[index];
        let provider = target.route.provider;
        let model: &str = &target.route.upstream_model;
        if target.outbound.is_none() {
            let body = if provider.dialect() == Dialect::Gemini {
                if inlined.is_none() {
                    let images = upstreams.images();
                    inlined = Some(
                        match super::inline_images::inline(images, plan.format, plan.body).await {
                            Ok(body) => body,
                            // The model the caller asked for cannot take the image.
                            Err(e) if index == 0 => return Err(e),
                            // A fallback: its translator refuses the link, so it is skipped.
                            Err(_) => None,
                        },
                    );
                }
                inlined
                    .as_ref()
                    .and_then(Option::as_ref)
                    .unwrap_or(plan.body)
            } else {
                plan.body
            };
            let built = (target.translation.request)(&table::Ctx {
                body,
                forwarded: (plan.forwarded)(model),
                upstream_model: model,
                stream: plan.stream,
                include_usage: plan.include_usage,
                stream_usage: plan.stream_usage,
            });
            match built {
                Ok(o) => target.outbound = Some(o),
                // The caller's body cannot go to the model they asked for: their error.
                Err(e) if index == 0 => return Err(e),
                Err(e) => {
                    tracing::debug!(error = %e, model, "fallback cannot take this request; skipped");
                    attempt -= 1;
                    target.outbound = None;
                    // Make this target unpickable: mark its deployments used.
                    for d in deployments.serving(provider, model) {
                        used.push(Used {
                            id: d.id,
                            tries: 1,
                            retry_after: None,
                            barred: true,
                        });
                    }
                    continue;
                }
            }
        }
        let Some(outbound) = target.outbound.as_ref() else {
            continue;
        };
        let empty = AnthropicHeaders::default();
        let account = match (deployment, routed.on_callers_account()) {
            (_, true) => routed.account(),
            (Some(d), false) => Account::Deployment(d.id.index),
            (None, false) => Account::Gateway,
        };
        let call = upstreams.adapter(provider)?.send(Call {
            operation: outbound.operation,
            model,
            body: outbound.body.clone(),
            account,
            headers: if target.translation.pass_anthropic_headers {
                &plan.anthropic
            } else {
                &empty
            },
        });
        let result = match routing.attempt_first_byte_timeout {
            Some(t) => tokio::time::timeout(t, call)
                .await
                .unwrap_or(Err(UpstreamError::Timeout { provider })),
            None => call.await,
        };
        let deployment_name = deployment.map_or("byok", |d| &*d.name);
        match result {
            Ok(upstream) => {
                if let Some(d) = deployment {
                    deployments.succeeded(d);
                }
                served_attempts(provider).increment(1);
                tracing::debug!(%provider, model, deployment = deployment_name, attempt, "served");
                return Ok(Served {
                    upstream,
                    target: index,
                    attempts: attempt,
                });
            }
            Err(error) => {
                let verdict = retry::judge(&error, routing.retry_on);
                if let Some(d) = deployment {
                    deployments.failed(d, verdict.failure, now_ms()).await;
                }
                metrics::counter!("tollgate_upstream_attempts_total", "provider" => provider.as_str(), "outcome" => if verdict.retry { "retryable" } else { "failed" }).increment(1);
                tracing::info!(%provider, model, deployment = deployment_name, attempt, error = %error, retry = verdict.retry, "upstream attempt failed");
                if !verdict.retry {
                    return Err(error.into());
                }
                match used.iter_mut().find(|u| u.id == key) {
                    Some(u) => {
                        u.tries += 1;
                        u.retry_after = verdict.retry_after;
                        u.barred |= !verdict.same_deployment_again();
                    }
                    None => used.push(Used {
                        id: key,
                        tries: 1,
                        retry_after: verdict.retry_after,
                        barred: !verdict.same_deployment_again(),
                    }),
                }
                pending = Some(Failed {
                    provider,
                    model: model.to_owned(),
                    error,
                });
            }
        }
    }
    Err(match pending {
        Some(f) => f.error.into(),
        None => UpstreamError::NoDeployment {
            provider: routed.route.provider,
            model: routed.route.upstream_model.to_string(),
        }
        .into(),
    })
}

/// A failed try another try followed: its own usage event.
fn record_failed(state: &AppState, meter: &Meter, routed: &Routed, f: &Failed) {
    if meter.is_detached() {
        return;
    }
    let status = f.error.status().as_u16();
    let code = f.error.code();
    state.metering().record_failed_attempt(
        meter,
        crate::metering::attempts::FailedAttempt {
            provider: f.provider.as_str(),
            model_served: &f.model,
            status,
            error_code: &code,
            byok: routed.on_callers_account(),
        },
    );
}

/// `tollgate_upstream_attempts_total{outcome="ok"}` of a provider, registered at
/// first use (after the recorder is installed) and kept: the macro looked the
/// labelled counter up in the registry on every request (0.8k instructions,
/// callgrind). Failures are rare and keep the macro.
fn served_attempts(provider: crate::domain::ProviderKind) -> &'static metrics::Counter {
    use crate::domain::ProviderKind;
    static SERVED: [std::sync::OnceLock<metrics::Counter>; ProviderKind::ALL.len()] =
        [const { std::sync::OnceLock::new() }; ProviderKind::ALL.len()];
    let index = ProviderKind::ALL
        .iter()
        .position(|p| *p == provider)
        .unwrap_or(0);
    SERVED[index].get_or_init(|| {
        // A handle made before the recorder exists would record nowhere, forever.
        crate::telemetry::install_metrics();
        metrics::counter!("tollgate_upstream_attempts_total", "provider" => provider.as_str(), "outcome" => "ok")
    })
}
