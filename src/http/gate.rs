//! The gate in front of every gateway and management route: who is calling
//! (auth), then `policy::admit` decides from where (IP allowlist), for what
//! (scope), how often (rate limit) and how much at once (concurrency cap). All of
//! it is in memory on a cached key. The principal rides on the response (refused
//! or not) for the meter to record; the gate writes no metering fields.
//!
//! The concurrency permit rides inside the response body, so a stream holds its
//! slot until the last byte is sent or the client goes away.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::SystemTime;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use time::OffsetDateTime;

use crate::alerts::{Outcome, RateUse};
use crate::auth::{AuthError, Principal, presented_key};
use crate::error::{ApiError, ErrorParts, RateLimitInfo};
use crate::http::hold::holding;
use crate::keys::{ApiKey, Scope};
use crate::policy::admit::{Facts, Limits, LimitsOnFailure, PolicyError, RateState, admit};
use crate::policy::ip_allowlist::client_ip;
use crate::state::AppState;

/// Gate state: the app and the scope the guarded routes need.
#[derive(Clone)]
pub struct Gate {
    pub state: AppState,
    pub scope: Scope,
    /// For a route whose scope depends on the request (Gemini's `:verb` paths):
    /// picks it, instead of `scope`.
    pub scope_of: Option<fn(&Request) -> Scope>,
}

pub async fn guard(
    State(gate): State<Gate>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let state = &gate.state;
    let client = request_ip(state, &req);
    let principal = match req.extensions_mut().remove::<SessionPrincipal>() {
        Some(SessionPrincipal(p)) => p,
        None => authenticate(state, req.headers(), client)
            .await
            .inspect_err(|e| {
                let parts = e.parts();
                tell_auth_failure(state, req.headers(), client, &parts);
                metrics::counter!("tollgate_auth_failures_total", "code" => parts.code.into_owned())
                    .increment(1);
            })?,
    };
    tracing::Span::current().record("kid", principal.key.kid.as_str());
    // Who was refused or admitted is the meter's to record (from the response).
    let admitted = admit(
        &principal,
        &Facts {
            scope: gate.scope_of.map_or(gate.scope, |pick| pick(&req)),
            ip: client,
            now: SystemTime::now(),
            limits: match state.cluster() {
                Some(cluster) => Limits::Shared(cluster),
                None => Limits::Local {
                    rate: state.rate_limiter(),
                    concurrency: state.concurrency(),
                },
            },
            on_failure: LimitsOnFailure {
                rate: state.on_failure().limits,
                concurrency: state.on_failure().concurrency,
            },
        },
    )
    .await;
    let admission = match admitted {
        Ok(a) => a,
        Err(e) => {
            match &e {
                PolicyError::RateLimited(s) => {
                    tell_use(state, &principal, client, Some(s), Outcome::RateLimited)
                }
                _ => tell_use(state, &principal, client, None, Outcome::Refused),
            }
            let mut res = ApiError::from(e).into_response();
            res.extensions_mut().insert(principal);
            return Ok(res);
        }
    };

    tell_use(
        state,
        &principal,
        client,
        admission.rate.as_ref(),
        Outcome::Admitted,
    );
    req.extensions_mut().insert(principal.clone());
    let mut res = next.run(req).await;
    res.extensions_mut().insert(principal);
    if let Some(state) = admission.rate {
        RateLimitInfo::from(state).write_headers(res.headers_mut());
    }
    if let Some(permit) = admission.permit {
        res = res.map(|body| holding(body, permit));
    }
    Ok(res)
}

/// Hands a key's use (admitted or refused by policy) to the alert evaluator: a
/// `try_send`, no I/O. End users' tokens are not keys.
fn tell_use(
    state: &AppState,
    principal: &Principal,
    client: IpAddr,
    rate: Option<&RateState>,
    outcome: Outcome,
) {
    if principal.user().is_some() {
        return;
    }
    let rate = rate.map(|s| RateUse {
        limit: s.limit,
        remaining: s.remaining,
        retry_after: s.retry_after,
    });
    state
        .alerts()
        .key_used(&principal.key, client, rate, outcome);
}

/// Hands a failed authentication to the alert evaluator (no I/O: a parse and a
/// `try_send`). A request that presented nothing is not a failed attempt.
fn tell_auth_failure(state: &AppState, headers: &HeaderMap, client: IpAddr, e: &ErrorParts) {
    let status = e.status.as_u16();
    if !(status == 401 || status == 429) || e.code == "missing_api_key" {
        return;
    }
    let kid = presented_key(headers, state.alt_header())
        .ok()
        .flatten()
        .and_then(|k| ApiKey::parse(&state.config().keys.prefix, k).ok())
        .map(|k| k.kid);
    state.alerts().auth_failed(kid, client);
}

async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    client: IpAddr,
) -> Result<Principal, ApiError> {
    let presented = presented_key(headers, state.alt_header())?.ok_or(AuthError::Missing)?;
    // Never one of our keys (their fields are joined by `_`): an end user's token.
    if crate::users::looks_like_jwt(presented) {
        return Ok(state.users().authenticate(presented).await?);
    }
    Ok(state
        .auth()
        .authenticate(presented, client, OffsetDateTime::now_utc())
        .await?)
}

/// The socket peer, or, behind a trusted proxy, the right-most untrusted
/// `X-Forwarded-For` entry.
pub(crate) fn caller_ip(state: &AppState, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
    let trusted = &state.config().server.trusted_proxies;
    if trusted.is_empty() {
        return peer.to_canonical();
    }
    let xff: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let joined = xff.join(",");
    client_ip(
        peer,
        (!joined.is_empty()).then_some(joined.as_str()),
        trusted,
    )
}

/// The caller's address for this request. Without connection info (a router driven
/// without a socket) the address is unspecified, which no allowlist contains.
/// Computed once per request (by the meter when it runs, else here).
pub(crate) fn request_ip(state: &AppState, req: &Request) -> IpAddr {
    if let Some(ClientIp(ip)) = req.extensions().get::<ClientIp>() {
        return *ip;
    }
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ci| ci.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    caller_ip(state, peer, req.headers())
}

/// A caller already authenticated by a dashboard session (`http::ui`), set only by
/// its forwarding handler (extensions never come from the wire). The gate still
/// admits it (scope, IP allowlist, rate limit) like a presented key.
#[derive(Debug, Clone)]
pub(crate) struct SessionPrincipal(pub Principal);

/// The caller's address, once worked out, for later layers of the same request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientIp(pub IpAddr);
