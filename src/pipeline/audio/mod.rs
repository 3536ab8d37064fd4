//! `/v1/audio/transcriptions` and `/v1/audio/speech`, in OpenAI's contract,
//! served by OpenAI (passed through) or Deepgram (translated, see
//! `translate::deepgram`).
//!
//! Metering: a transcription is billed in audio seconds (rounded up), speech
//! in input characters, each at the model's catalog price per million units
//! (`ModelEntry::input_micro_usd_per_mtok`). The usage event records them in
//! `input_tokens`. A prepaid account holds the estimate first: the WAV
//! header's duration, or for other audio a pessimistic one second per 2 000
//! bytes (16 kbit/s); speech its exact character count.

pub mod upload;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use serde_json::Value;

use super::{Routed, route};
use crate::auth::Principal;
use crate::domain::Dialect;
use crate::error::ApiError;
use crate::metering::UsageSource;
use crate::metering::billing::{self, UnitEstimate};
use crate::metering::meter::{Meter, RouteInfo, TokenCounts};
use crate::metering::observe::BodyFormat;
use crate::metering::pricing::Prices;
use crate::providers::relay;
use crate::providers::{AnthropicHeaders, Call, Lang, Operation, Upload, UpstreamError};
use crate::routing::byok::Endpoint;
use crate::state::AppState;
use crate::translate::deepgram::{self as dg, SpeechFormat};

/// The largest transcription answer read back from the upstream.
const MAX_ANSWER: usize = 16 * 1024 * 1024;

/// Bytes a second of audio is assumed to take at least, for the estimate of a
/// file whose duration the gateway cannot read (16 kbit/s).
const MIN_BYTES_PER_SECOND: u64 = 2_000;

pub async fn transcribe(
    state: &AppState,
    principal: &Principal,
    meter: &Meter,
    headers: &HeaderMap,
    body: Body,
    timed_out: fn(&(dyn std::error::Error + 'static)) -> bool,
) -> Result<Response, ApiError> {
    let limits = upload::Limits {
        max_bytes: state.max_body_bytes(),
        timeout: state.config().server.body_read_timeout,
        timed_out,
    };
    let t = upload::read(headers, body, limits).await?;
    let routed = route(state, principal, headers, Endpoint::Audio, &t.model, None).await?;
    let provider = routed.route.provider;
    let wav = upload::wav_seconds(&t.file);
    let estimate = wav.map_or_else(
        || (t.file.len() as u64).div_ceil(MIN_BYTES_PER_SECOND),
        dg::billed_seconds,
    );
    reserve(state, principal, meter, &routed, &t.model, estimate, false).await?;
    let upstream_model = routed.route.upstream_model.clone();
    let language = t.language.as_deref().and_then(Lang::new);
    let (body, content_type) = match provider.dialect() {
        Dialect::Deepgram => (t.file.clone(), t.file_type),
        Dialect::OpenAi => upload::to_openai(&t, &upstream_model)?,
        _ => {
            return Err(UpstreamError::Unsupported {
                provider,
                model: t.model.clone(),
            }
            .into());
        }
    };
    let upstreams = state.upstreams();
    let answer = upstreams
        .adapter(provider)?
        .send(Call {
            operation: Operation::Transcription(Upload {
                content_type,
                language,
            }),
            model: &upstream_model,
            body,
            account: routed.account(),
            headers: &AnthropicHeaders::default(),
        })
        .await?;
    let protocol = |detail: String| UpstreamError::Protocol { provider, detail };
    let (body, content_type, seconds, source) = if provider.dialect() == Dialect::Deepgram {
        let value = answer.json(MAX_ANSWER).await?;
        let listen = dg::parse_listen(&value)
            .map_err(|e| protocol(format!("cannot read the transcription: {e}")))?;
        let body = dg::render(&listen, t.format, t.language.as_deref());
        (
            body,
            HeaderValue::from_static(t.format.content_type()),
            dg::billed_seconds(listen.duration),
            UsageSource::Reported,
        )
    } else {
        let content_type = answer
            .content_type
            .clone()
            .unwrap_or(HeaderValue::from_static(t.format.content_type()));
        let body = answer.read_whole(MAX_ANSWER).await.map_err(protocol)?;
        match reported_seconds(&body) {
            Some(s) => (body, content_type, s, UsageSource::Reported),
            None => (body, content_type, estimate, UsageSource::Estimated),
        }
    };
    meter.with(|d| {
        d.tokens = Some((
            TokenCounts {
                input: seconds,
                ..TokenCounts::default()
            },
            source,
        ));
    });
    let mut res = Response::new(Body::from(body));
    res.headers_mut().insert(header::CONTENT_TYPE, content_type);
    Ok(res)
}

/// Seconds an OpenAI transcription answer reports: `usage.seconds` (json,
/// verbose_json) or `duration` (verbose_json).
fn reported_seconds(body: &[u8]) -> Option<u64> {
    let v: Value = serde_json::from_slice(body).ok()?;
    v.pointer("/usage/seconds")
        .and_then(Value::as_f64)
        .or_else(|| v["duration"].as_f64())
        .map(dg::billed_seconds)
}

/// `/v1/audio/speech` (JSON `model`, `input`, `voice`, `response_format`,
/// `speed`): the audio streamed to the caller as it arrives.
pub async fn speech(
    state: &AppState,
    principal: &Principal,
    meter: &Meter,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let mut req: Value =
        serde_json::from_slice(&body).map_err(|e| ApiError::InvalidJson(e.to_string()))?;
    if !req.is_object() {
        return Err(ApiError::InvalidJson(
            "the body must be a JSON object".into(),
        ));
    }
    let model = match &req["model"] {
        Value::String(m) if !m.is_empty() => m.clone(),
        Value::Null => return Err(ApiError::MissingField("model")),
        _ => {
            return Err(ApiError::invalid_field(
                "model",
                "`model` is a model id string",
            ));
        }
    };
    let input = match &req["input"] {
        Value::String(s) if !s.trim().is_empty() => s.clone(),
        Value::Null => return Err(ApiError::MissingField("input")),
        Value::String(_) => {
            return Err(ApiError::invalid_field(
                "input",
                "`input` is empty; send the text to speak",
            ));
        }
        _ => return Err(ApiError::invalid_field("input", "`input` is a string")),
    };
    let format = match &req["response_format"] {
        Value::Null => SpeechFormat::Mp3,
        Value::String(f) => SpeechFormat::parse(f).ok_or_else(|| {
            ApiError::invalid_field(
                "response_format",
                format!(
                    "`response_format` `{f}` is not supported; use {}",
                    SpeechFormat::NAMES
                ),
            )
        })?,
        _ => {
            return Err(ApiError::invalid_field(
                "response_format",
                format!("`response_format` is one of {}", SpeechFormat::NAMES),
            ));
        }
    };
    match &req["speed"] {
        Value::Null => {}
        v if v.as_f64().is_some_and(|s| (0.25..=4.0).contains(&s)) => {}
        _ => {
            return Err(ApiError::invalid_field(
                "speed",
                "`speed` is a number from 0.25 to 4",
            ));
        }
    }
    let routed = route(state, principal, headers, Endpoint::Audio, &model, None).await?;
    let provider = routed.route.provider;
    let characters = input.chars().count() as u64;
    reserve(state, principal, meter, &routed, &model, characters, true).await?;
    let upstream_model = routed.route.upstream_model.clone();
    let outbound = match provider.dialect() {
        Dialect::Deepgram => Bytes::from(serde_json::json!({"text": input}).to_string()),
        Dialect::OpenAi => {
            req["model"] = Value::String(upstream_model.to_string());
            Bytes::from(req.to_string())
        }
        _ => {
            return Err(UpstreamError::Unsupported { provider, model }.into());
        }
    };
    let upstreams = state.upstreams();
    let answer = upstreams
        .adapter(provider)?
        .send(Call {
            operation: Operation::Speech(format),
            model: &upstream_model,
            body: outbound,
            account: routed.account(),
            headers: &AnthropicHeaders::default(),
        })
        .await?;
    let content_type = match provider.dialect() {
        Dialect::OpenAi => answer
            .content_type
            .clone()
            .unwrap_or(HeaderValue::from_static(format.content_type())),
        _ => HeaderValue::from_static(format.content_type()),
    };
    meter.with(|d| {
        d.tokens = Some((
            TokenCounts {
                input: characters,
                ..TokenCounts::default()
            },
            UsageSource::Reported,
        ));
    });
    let idle = upstreams.timeouts().idle_timeout;
    let mut res = Response::new(Body::from_stream(relay::passthrough(answer.body, idle)));
    *res.status_mut() = StatusCode::OK;
    res.headers_mut().insert(header::CONTENT_TYPE, content_type);
    Ok(res)
}

/// Records the route and, for a prepaid account, holds `units` at the model's
/// price per million units. BYOK requests are not charged.
async fn reserve(
    state: &AppState,
    principal: &Principal,
    meter: &Meter,
    routed: &Routed,
    requested_model: &str,
    units: u64,
    streamed: bool,
) -> Result<(), ApiError> {
    if meter.is_detached() {
        return Ok(());
    }
    let route = &routed.route;
    let price = route.entry.as_ref().map(|e| e.input_micro_usd_per_mtok);
    meter.with(|d| {
        d.route = Some(RouteInfo {
            provider: route.provider.as_str().to_owned(),
            model_requested: requested_model.to_owned(),
            model_served: route.upstream_model.to_string(),
            prices: price.map(|p| Prices {
                input: p,
                ..Prices::default()
            }),
            max_output_tokens: 0,
            byok: routed.on_callers_account(),
            streamed,
            format: BodyFormat::Opaque,
            strip_usage_chunk: false,
        });
    });
    if routed.on_callers_account() {
        return Ok(());
    }
    let hold = billing::reserve_units(
        state.metering(),
        principal.key.account_id.as_str(),
        UnitEstimate {
            price: price.unwrap_or(0),
            units,
            markup_bps: principal.key.policy.markup_bps(),
        },
    )
    .await?;
    meter.with(|d| {
        d.currency = hold.currency;
        d.reservation = hold.reservation;
    });
    Ok(())
}
