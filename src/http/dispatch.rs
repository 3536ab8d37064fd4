//! What chat-style handlers share: resolving the model for a principal, and turning
//! an upstream answer into the caller's response — relayed as is, translated event
//! by event, or translated whole.

use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::app::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::metering::meter::{Meter, RouteInfo};
use crate::metering::observe::BodyFormat;
use crate::providers::relay::{self, StreamDialect};
use crate::providers::{Account, UpstreamError, UpstreamResponse};
use crate::routing::Resolved;
use crate::routing::byok::{Byok, Endpoint};
use crate::translate::stream::StreamTranslator;

/// Largest non-stream upstream answer we read whole to translate it.
pub const MAX_TRANSLATED_BODY: usize = 32 * 1024 * 1024;

/// Where a request goes: the resolved model and, with BYOK, the caller's credentials.
pub struct Routed {
    pub route: Resolved,
    pub byok: Option<Byok>,
}

impl Routed {
    pub fn account(&self) -> Account<'_> {
        Account::from_byok(self.byok.as_ref())
    }
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
) -> Result<Routed, ApiError> {
    let policy = state.config().byok;
    let byok = Byok::from_headers(headers, endpoint, policy)?;
    if let Some(b) = &byok {
        b.check_resolved_base(policy).await?;
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
    if !may_use(
        state,
        &principal.key,
        model,
        &resolved.upstream_model,
        resolved.provider,
    ) {
        return Err(ApiError::ModelNotAllowed(model.to_owned()));
    }
    Ok(Routed {
        route: resolved,
        byok,
    })
}

/// Whether `key` may use a model: its environment's list (`[keys] env_models`) and
/// its own allowed models and providers. The one rule for routing and `/v1/models`.
pub fn may_use(
    state: &AppState,
    key: &crate::store::KeyRecord,
    requested: &str,
    served: &str,
    provider: crate::routing::ProviderKind,
) -> bool {
    let env_allows = state
        .config()
        .keys
        .env_models
        .get(&key.env)
        .is_none_or(|list| crate::keys::policy::model_listed(list, requested, served, provider));
    env_allows && key.policy.allows_model(requested, served, provider)
}

/// How the caller-facing answer looks, for reading usage out of it.
pub struct Billing<'a> {
    pub meter: &'a Meter,
    pub body: &'a bytes::Bytes,
    pub streamed: bool,
    pub format: BodyFormat,
    /// The caller asked for OpenAI's usage chunk (or the format has none to strip).
    pub caller_wants_usage: bool,
}

/// Records where the request goes and, for a prepaid account, holds a pessimistic
/// estimate of its charge: 402 `insufficient_balance` before anything is sent
/// upstream if the balance cannot cover it. BYOK requests are not charged. With
/// metering off there is nothing to record and no balance is checked.
pub async fn bill(
    state: &AppState,
    principal: &Principal,
    routed: &Routed,
    requested_model: &str,
    b: Billing<'_>,
) -> Result<(), ApiError> {
    if b.meter.is_detached() {
        return Ok(());
    }
    let route = &routed.route;
    let prices = route.entry.as_ref().map(|e| {
        (
            e.input_micro_usd_per_mtok,
            e.output_micro_usd_per_mtok,
            e.cached_input_micro_usd_per_mtok,
        )
    });
    b.meter.with(|d| {
        d.request_body = b.body.clone();
        d.route = Some(RouteInfo {
            provider: route.provider.as_str().to_owned(),
            model_requested: requested_model.to_owned(),
            model_served: route.upstream_model.to_string(),
            prices,
            byok: routed.byok.is_some(),
            streamed: b.streamed,
            format: b.format,
            strip_usage_chunk: b.format == BodyFormat::OpenAiSse && !b.caller_wants_usage,
        });
    });
    if routed.byok.is_some() {
        return Ok(());
    }
    let metering = state.metering();
    let account = principal.key.account_id.as_str();
    let terms = metering
        .ledger
        .terms(account)
        .await
        .map_err(ApiError::internal)?;
    b.meter.with(|d| d.currency = terms.currency.clone());
    if terms.mode != crate::store::BillingMode::Prepaid {
        return Ok(());
    }
    let (input, output, cached) = prices.unwrap_or_default();
    let estimate = crate::metering::pricing::reservation(
        &crate::metering::pricing::Prices {
            input,
            output,
            cached_input: cached,
        },
        b.body.len(),
        max_output_tokens(b.body),
        principal.key.policy.markup_bps(),
        &crate::metering::money::Currency::parse(&terms.currency).map_err(ApiError::internal)?,
        &metering.rates,
    )
    .map_err(ApiError::internal)?;
    match metering.ledger.reserve(account, estimate.0) {
        Ok(reservation) => {
            b.meter.with(|d| d.reservation = reservation);
            Ok(())
        }
        Err(crate::metering::ledger::LedgerError::Insufficient { available, needed }) => {
            Err(ApiError::InsufficientBalance {
                available: crate::metering::money::MicroUnits(available),
                needed: crate::metering::money::MicroUnits(needed),
                currency: terms.currency,
            })
        }
        Err(e) => Err(ApiError::internal(e)),
    }
}

/// The most output a request may produce: its own limit, else 4096.
fn max_output_tokens(body: &[u8]) -> u64 {
    #[derive(serde::Deserialize)]
    struct Limits {
        #[serde(default)]
        max_tokens: Option<u64>,
        #[serde(default)]
        max_completion_tokens: Option<u64>,
        #[serde(default)]
        max_output_tokens: Option<u64>,
    }
    serde_json::from_slice::<Limits>(body)
        .ok()
        .and_then(|l| {
            l.max_completion_tokens
                .or(l.max_tokens)
                .or(l.max_output_tokens)
        })
        .unwrap_or(4096)
}

/// A 2xx upstream answer in the caller's own dialect: streamed either way, never buffered.
pub fn relay_response(
    upstream: UpstreamResponse,
    dialect: StreamDialect,
    idle: Duration,
) -> Response {
    let status = upstream.status;
    let provider = upstream.provider;
    let is_stream = upstream.is_event_stream();
    let content_type = upstream
        .content_type
        .clone()
        .unwrap_or(HeaderValue::from_static("application/json"));
    let body = if is_stream {
        Body::from_stream(relay::sse(upstream.response, provider, dialect, idle))
    } else {
        Body::from_stream(relay::passthrough(upstream.response, idle))
    };
    let mut res = Response::new(body);
    *res.status_mut() = status;
    res.headers_mut().insert(header::CONTENT_TYPE, content_type);
    if is_stream {
        stream_headers(&mut res);
    }
    res
}

/// A 2xx upstream answer in another dialect: a stream goes through `translator`
/// event by event; a whole answer through `whole`.
pub async fn translated_response(
    upstream: UpstreamResponse,
    translator: Box<dyn StreamTranslator>,
    whole: impl FnOnce(&Value) -> Result<Value, crate::translate::anthropic::TranslateError>,
    idle: Duration,
) -> Result<Response, ApiError> {
    if upstream.is_event_stream() {
        let body = Body::from_stream(relay::translated(upstream.response, translator, idle));
        let mut res = Response::new(body);
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        stream_headers(&mut res);
        return Ok(res);
    }
    let provider = upstream.provider;
    let value = upstream.json(MAX_TRANSLATED_BODY).await?;
    let out = whole(&value).map_err(|e| UpstreamError::Protocol {
        provider,
        detail: format!("cannot translate the answer: {e}"),
    })?;
    Ok(Json(out).into_response())
}

fn stream_headers(res: &mut Response) {
    let headers = res.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Tells nginx-style proxies in front of us not to buffer the stream.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
}

/// The caller's body as JSON (already validated as an object by `ChatPeek`).
pub fn body_json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::InvalidJson(e.to_string()))
}

/// Sends an OpenAI-shaped chat request to Gemini (translated), streamed or not.
pub async fn call_gemini(
    upstreams: &crate::providers::Upstreams,
    model: &str,
    stream: bool,
    chat_request: &Value,
    account: Account<'_>,
) -> Result<UpstreamResponse, ApiError> {
    let translated = crate::translate::gemini::chat_request_to_gemini(chat_request)?;
    let method = if stream {
        crate::providers::GeminiMethod::StreamGenerate
    } else {
        crate::providers::GeminiMethod::Generate
    };
    Ok(upstreams
        .gemini
        .call(method, model, to_bytes(&translated), account)
        .await?)
}

pub fn to_bytes(v: &Value) -> bytes::Bytes {
    bytes::Bytes::from(serde_json::to_vec(v).unwrap_or_default())
}
