//! The request pipeline every model route runs: peek → route → reserve → send →
//! translate → respond; settlement happens when the response body ends (the
//! meter). Admission (auth, scope, IP, limits) ran before, in the gate.
//!
//! A route is a `RouteSpec` (which caller format, which BYOK endpoint, what the
//! body must carry); a provider is an adapter (`providers::adapter`); what goes
//! between them is the translator table (`table`). Adding a route or a provider is
//! an entry there, not a new match in a handler.
//!
//! - `attempts`: the attempt loop over deployments and fallback models.
//! - `table`: (caller format, upstream dialect) → request and response translation.
//! - `respond`: an upstream's 2xx answer as the caller's response.
//! - `embeddings`: Gemini embeddings in OpenAI's shape.
//! - `inline_images`: image links fetched and inlined for Gemini.
//! - `audio`: transcriptions (multipart) and speech, OpenAI or Deepgram.
//! - `vault`: end users' calls, on a key from their vault.

pub mod attempts;
pub mod audio;
pub mod embeddings;
pub mod inline_images;
pub mod respond;
pub mod table;
pub mod vault;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use crate::auth::Principal;
use crate::config::UnpricedPolicy;
use crate::error::ApiError;
use crate::metering::billing::{self, Estimate};
use crate::metering::meter::{Meter, RouteInfo};
use crate::metering::observe::{BodyFormat, UsagePlan};
use crate::metering::pricing::Prices;
use crate::policy::PolicyError;
use crate::policy::admit::model_allowed;
use crate::providers::{Account, AnthropicHeaders, Call, UpstreamError};
use crate::routing::Resolved;
use crate::routing::byok::{Byok, Endpoint};
use crate::state::AppState;
use crate::translate::peek::{BodyFacts, ChatPeek, Shape, named_body};

pub use table::CallerFormat;

// Header names made at compile time: a `&str` name is parsed again on every
// lookup or insert (2.3k instructions per request for these five, callgrind).
const ANTHROPIC_VERSION: HeaderName = HeaderName::from_static("anthropic-version");
const ANTHROPIC_BETA: HeaderName = HeaderName::from_static("anthropic-beta");
const X_TOLLGATE_MODEL: HeaderName = HeaderName::from_static("x-tollgate-model");
const X_TOLLGATE_PROVIDER: HeaderName = HeaderName::from_static("x-tollgate-provider");
const X_TOLLGATE_ATTEMPTS: HeaderName = HeaderName::from_static("x-tollgate-attempts");

/// What a route is, as the pipeline needs it.
#[derive(Debug, Clone, Copy)]
pub struct RouteSpec {
    pub format: CallerFormat,
    /// The BYOK support-matrix entry.
    pub endpoint: Endpoint,
    /// What the body must carry besides `model`.
    pub shape: Shape,
}

/// Where a request goes: the resolved model and, with BYOK, the caller's
/// credentials, or for an end user, the vault key it runs on.
pub struct Routed {
    pub route: Resolved,
    pub byok: Option<Byok>,
    pub vault: Option<crate::vault::Chosen>,
}

impl Routed {
    pub fn account(&self) -> Account<'_> {
        match &self.vault {
            Some(chosen) => Account::Vault(&chosen.credential),
            None => Account::from_byok(self.byok.as_ref()),
        }
    }

    /// Whether the call runs on the caller's own provider account (BYOK or vault):
    /// metered, but not charged.
    pub fn on_callers_account(&self) -> bool {
        self.byok.is_some() || self.vault.is_some()
    }
}

/// One model request, from the caller's body to the caller's response.
pub async fn run(
    state: &AppState,
    principal: &Principal,
    meter: &Meter,
    headers: &HeaderMap,
    body: Bytes,
    spec: RouteSpec,
) -> Result<Response, ApiError> {
    let (body, vendor) = vault::take_vendor(principal, body)?;
    let peek = ChatPeek::parse_as(&body, spec.shape)?;
    let target = Target {
        model: &peek.model,
        stream: peek.stream,
    };
    run_for(
        state,
        principal,
        meter,
        headers,
        &body,
        spec,
        target,
        peek.facts,
        vendor,
        |m| peek.with_model(&body, m),
    )
    .await
}

/// A request whose model and streaming are named outside its body (Gemini's
/// `models/{model}:streamGenerateContent`).
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub model: &'a str,
    pub stream: bool,
}

/// [`run`] for a route that names the model in its path: the body (a JSON object)
/// is forwarded as is.
pub async fn run_named(
    state: &AppState,
    principal: &Principal,
    meter: &Meter,
    headers: &HeaderMap,
    body: Bytes,
    spec: RouteSpec,
    target: Target<'_>,
) -> Result<Response, ApiError> {
    let facts = named_body(&body)
        .map_err(|_| ApiError::InvalidJson("the body must be a JSON object".into()))?;
    run_for(
        state,
        principal,
        meter,
        headers,
        &body,
        spec,
        target,
        facts,
        None,
        |_| body.clone(),
    )
    .await
}

#[allow(
    clippy::too_many_arguments,
    reason = "one private step of run and run_named"
)]
async fn run_for(
    state: &AppState,
    principal: &Principal,
    meter: &Meter,
    headers: &HeaderMap,
    body: &Bytes,
    spec: RouteSpec,
    target: Target<'_>,
    facts: BodyFacts,
    vendor: Option<crate::vault::Vendor>,
    forwarded: impl Fn(&str) -> Bytes + Sync,
) -> Result<Response, ApiError> {
    let BodyFacts {
        stream_usage,
        max_output,
    } = facts;
    let routed = route(
        state,
        principal,
        headers,
        spec.endpoint,
        target.model,
        vendor,
    )
    .await?;
    let provider = routed.route.provider;
    if let Some(answer) = table::local_count(spec.format, provider.dialect()) {
        let text = crate::metering::tokens::request_text(body);
        let n = tokio::task::spawn_blocking(move || crate::metering::tokens::count(&text))
            .await
            .map_err(ApiError::internal)?;
        return Ok(axum::Json(answer(n)).into_response());
    }
    let translation = table::translation_for(spec.format, provider).ok_or_else(|| {
        UpstreamError::Unsupported {
            provider,
            model: target.model.to_string(),
        }
    })?;
    let body_format = spec.format.body_format(target.stream);
    let usage = UsagePlan::new(
        !meter.is_detached(),
        stream_usage.asked(),
        body_format == BodyFormat::OpenAiSse,
    );
    let request = Request {
        model: target.model,
        body,
        max_output,
        format: body_format,
        usage,
    };
    if !spec.format.is_count() {
        reserve(state, principal, meter, &routed, &request).await?;
    }
    // Failed tries are recorded before the request ends (`attempts`): they need
    // whose request it is now, not when the meter closes.
    meter.with(|d| {
        d.account_id = principal.key.account_id.clone();
        d.kid = principal.key.kid.as_str().to_owned();
    });

    let anthropic = AnthropicHeaders {
        version: headers.get(&ANTHROPIC_VERSION).cloned(),
        beta: headers.get(&ANTHROPIC_BETA).cloned(),
    };
    if spec.format == CallerFormat::OpenAiEmbeddings
        && provider.dialect() == crate::routing::Dialect::Gemini
    {
        let upstream_model = &*routed.route.upstream_model;
        let outbound = (translation.request)(&table::Ctx {
            body,
            forwarded: forwarded(upstream_model),
            upstream_model,
            stream: false,
            include_usage: false,
            stream_usage,
        })?;
        if let Some(parts) = embeddings::split_batch(&outbound.body) {
            // Over Gemini's batch limit: one call per chunk (no retries across
            // deployments: each chunk is its own call), answers joined in order.
            let upstreams = state.upstreams();
            let mut answers = Vec::with_capacity(parts.len());
            for part in parts {
                let upstream = upstreams
                    .adapter(provider)?
                    .send(Call {
                        operation: outbound.operation,
                        model: upstream_model,
                        body: part,
                        account: routed.account(),
                        headers: &AnthropicHeaders::default(),
                    })
                    .await?;
                answers.push(upstream.json(respond::MAX_TRANSLATED_BODY).await?);
            }
            let joined = embeddings::join_batches(&answers)?;
            return Ok(
                axum::Json(embeddings::from_gemini(&joined, body, target.model)?).into_response(),
            );
        }
    }
    let mut targets = attempts::targets(
        state,
        principal,
        spec.format,
        target.model,
        &routed,
        translation,
    )?;
    let plan = attempts::Plan {
        format: spec.format,
        body,
        forwarded: &forwarded,
        stream: target.stream,
        include_usage: usage.include,
        stream_usage,
        anthropic,
    };
    let served = attempts::send(state, meter, &routed, &mut targets, &plan).await?;
    let chosen = &targets[served.target];
    if served.target > 0 {
        served_by_fallback(meter, &chosen.route);
    }
    let upstreams = state.upstreams();
    let mut response = respond::respond(
        served.upstream,
        &chosen.translation.respond,
        respond::Answer {
            model: target.model,
            request: body,
            include_usage: usage.include,
            idle: upstreams.timeouts().idle_timeout,
        },
    )
    .await?;
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&chosen.route.upstream_model) {
        h.insert(X_TOLLGATE_MODEL, v);
    }
    h.insert(
        X_TOLLGATE_PROVIDER,
        HeaderValue::from_static(chosen.route.provider.as_str()),
    );
    h.insert(X_TOLLGATE_ATTEMPTS, HeaderValue::from(served.attempts));
    Ok(response)
}

/// A fallback model served: usage records it, at its own prices (the charge stays
/// capped by what was reserved for the model asked for).
fn served_by_fallback(meter: &Meter, route: &Resolved) {
    meter.with(|d| {
        if let Some(r) = d.route.as_mut() {
            r.provider = route.provider.as_str().to_owned();
            r.model_served = route.upstream_model.to_string();
            r.prices = route.entry.as_ref().map(|e| Prices {
                input: e.input_micro_usd_per_mtok,
                output: e.output_micro_usd_per_mtok,
                cached_input: e.cached_input_micro_usd_per_mtok,
            });
        }
    });
}

/// Reads BYOK headers (checked against the support matrix and the SSRF rules),
/// resolves `model` through the catalog, and checks the key may use it.
///
/// With BYOK, aliases pick the caller's provider, and a model the catalog does not
/// know is passed to that provider as is: the caller's own account decides what
/// exists there (e.g. Azure deployment names).
pub async fn route(
    state: &AppState,
    principal: &Principal,
    headers: &HeaderMap,
    endpoint: Endpoint,
    model: &str,
    vendor: Option<crate::vault::Vendor>,
) -> Result<Routed, ApiError> {
    let policy = state.config().byok;
    let byok = Byok::from_headers(headers, endpoint, policy)?;
    if let Some(b) = &byok {
        b.check_resolved_base(policy).await?;
    }
    if byok.is_none()
        && let Some(user) = principal.user()
    {
        return vault::route(state, principal, user, headers, model, vendor).await;
    }
    let upstreams = state.upstreams();
    let resolved = match &byok {
        Some(b) => state
            .catalog()
            .resolve(model, |p| p == b.provider)
            .unwrap_or_else(|| Resolved {
                provider: b.provider,
                upstream_model: model.into(),
                entry: None,
            }),
        None => state
            .catalog()
            .resolve(model, |p| upstreams.has_credentials(p))
            .ok_or_else(|| ApiError::UnknownModel(model.to_owned()))?,
    };
    if let Some(b) = &byok
        && resolved.provider != b.provider
    {
        return Err(ApiError::invalid_field(
            "x-byok-provider",
            format!(
                "model `{model}` is served by {}, but x-byok-provider is {}",
                resolved.provider, b.provider
            ),
        ));
    }
    tracing::Span::current().record("model", &*resolved.upstream_model);
    if !model_allowed(
        &state.config().keys.env_models,
        &principal.key,
        model,
        &resolved.upstream_model,
        resolved.provider,
    ) {
        return Err(PolicyError::ModelNotAllowed(model.to_owned()).into());
    }
    Ok(Routed {
        route: resolved,
        byok,
        vault: None,
    })
}

/// The caller's request as metering sees it.
#[derive(Clone, Copy)]
struct Request<'a> {
    /// The model name the caller sent.
    model: &'a str,
    body: &'a Bytes,
    /// The output limit the body asks for (`peek::BodyFacts`).
    max_output: Option<u64>,
    format: BodyFormat,
    usage: UsagePlan,
}

/// Records where the request goes and, for a prepaid account, holds a pessimistic
/// estimate of its charge: 402 `insufficient_balance` before anything is sent
/// upstream if the balance cannot cover it. BYOK requests are not charged. With
/// metering off there is nothing to record and no balance is checked.
async fn reserve(
    state: &AppState,
    principal: &Principal,
    meter: &Meter,
    routed: &Routed,
    request: &Request<'_>,
) -> Result<(), ApiError> {
    if meter.is_detached() {
        return Ok(());
    }
    let Request {
        model: requested_model,
        body,
        max_output,
        format,
        usage,
    } = *request;
    let route = &routed.route;
    let prices = route.entry.as_ref().map(|e| Prices {
        input: e.input_micro_usd_per_mtok,
        output: e.output_micro_usd_per_mtok,
        cached_input: e.cached_input_micro_usd_per_mtok,
    });
    let max_output_tokens = billing::output_allowance(
        max_output,
        route.entry.as_ref().and_then(|e| e.max_output_tokens),
    );
    meter.with(|d| {
        d.request_body = body.clone();
        d.route = Some(RouteInfo {
            provider: route.provider.as_str().to_owned(),
            model_requested: requested_model.to_owned(),
            model_served: route.upstream_model.to_string(),
            prices,
            max_output_tokens,
            byok: routed.on_callers_account(),
            streamed: format.is_stream(),
            format,
            strip_usage_chunk: usage.strip,
        });
    });
    if routed.on_callers_account() {
        return Ok(());
    }
    let hold = billing::reserve(
        state.metering(),
        principal.key.account_id.as_str(),
        Estimate {
            prices,
            body,
            max_output_tokens,
            markup_bps: principal.key.policy.markup_bps(),
            refuse_unpriced: (state.config().unpriced == UnpricedPolicy::Refuse)
                .then_some(requested_model),
        },
    )
    .await?;
    meter.with(|d| {
        d.currency = hold.currency;
        d.reservation = hold.reservation;
    });
    Ok(())
}
