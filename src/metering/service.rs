//! `Metering`: closes a request's draft into a priced `UsageEvent` and hands it to
//! the writer. Runs once per request, at its end (also from a dropped body, so it
//! never awaits).

use std::sync::Arc;

use super::ledger::Ledger;
use super::meter::{Meter, TokenCounts};
use super::money::{Currency, ExchangeRates, MicroUnits};
use super::observe::Observer;
use super::pricing::{self, Prices, Tokens};
use super::sink::UsageSink;
use super::{UsageEvent, UsageSource, tokens};

pub struct Metering {
    pub sink: UsageSink,
    pub ledger: Arc<Ledger>,
    pub rates: ExchangeRates,
}

impl Metering {
    /// Prices and records the request behind `meter`. `status` is what the caller
    /// got (200 for a stream, even one cut short), `error_code` empty on success.
    pub fn finish(
        &self,
        meter: &Meter,
        status: u16,
        error_code: &str,
        observer: Option<&mut Observer>,
    ) {
        let latency = meter.started.elapsed();
        let event = meter.with(|d| {
            let route = d.route.clone();
            let (tokens, source) = match (&route, observer) {
                (None, _) => (TokenCounts::default(), UsageSource::None),
                (Some(_), None) => (TokenCounts::default(), UsageSource::None),
                (Some(_), Some(obs)) => match obs.reported() {
                    Some(t) => (t, UsageSource::Reported),
                    None if obs.delivered_text.is_empty() && !obs.completed => {
                        // The stream never started: nothing to bill.
                        (TokenCounts::default(), UsageSource::None)
                    }
                    None => (
                        TokenCounts {
                            input: tokens::count(&tokens::request_text(&d.request_body)),
                            output: tokens::count(&obs.delivered_text),
                            cached: 0,
                        },
                        UsageSource::Estimated,
                    ),
                },
            };
            let prices = route.as_ref().and_then(|r| r.prices).map(|(i, o, c)| Prices {
                input: i,
                output: o,
                cached_input: c,
            });
            let cost = prices
                .map(|p| {
                    pricing::cost(
                        &p,
                        &Tokens {
                            input: tokens.input,
                            output: tokens.output,
                            cached_input: tokens.cached,
                        },
                    )
                    .unwrap_or(MicroUnits(i64::MAX))
                })
                .unwrap_or_default();
            let byok = route.as_ref().is_some_and(|r| r.byok);
            let currency = if d.currency.is_empty() { "USD".to_owned() } else { d.currency.clone() };
            let charge = if byok || d.account_id.is_empty() {
                MicroUnits::ZERO
            } else {
                Currency::parse(&currency)
                    .and_then(|c| pricing::charge(cost, d.key_markup_bps.unwrap_or(0), &c, &self.rates))
                    .unwrap_or_else(|e| {
                        tracing::error!(error = %e, account = %d.account_id, "cannot price a request; charging nothing");
                        MicroUnits::ZERO
                    })
            };
            self.ledger.settle(d.reservation.take().as_ref(), &d.account_id, charge.0);
            let ttfb = d.ttfb.unwrap_or(latency);
            UsageEvent {
                id: uuid::Uuid::now_v7().to_string(),
                ts_ms: meter.started_ms,
                request_id: std::mem::take(&mut d.request_id),
                account_id: d.account_id.clone(),
                kid: d.kid.clone(),
                user_id: std::mem::take(&mut d.user_id),
                endpoint: std::mem::take(&mut d.endpoint),
                provider: route.as_ref().map(|r| r.provider.clone()).unwrap_or_default(),
                model_requested: route.as_ref().map(|r| r.model_requested.clone()).unwrap_or_default(),
                model_served: route.as_ref().map(|r| r.model_served.clone()).unwrap_or_default(),
                status,
                error_code: error_code.to_owned(),
                input_tokens: tokens.input as i64,
                output_tokens: tokens.output as i64,
                cached_tokens: tokens.cached as i64,
                usage_source: source,
                cost_micro_usd: cost.0,
                charge_micro: charge.0,
                currency,
                latency_ms: latency.as_millis() as i64,
                ttfb_ms: ttfb.as_millis() as i64,
                client_ip: std::mem::take(&mut d.client_ip),
                session_id: std::mem::take(&mut d.session_id),
                app_version: std::mem::take(&mut d.app_version),
                byok,
                streamed: route.as_ref().is_some_and(|r| r.streamed),
            }
        });
        metrics::counter!(
            "tollgate_requests_total",
            "route" => event.endpoint.clone(),
            "status" => event.status.to_string(),
            "provider" => event.provider.clone()
        )
        .increment(1);
        metrics::histogram!("tollgate_request_duration_seconds", "route" => event.endpoint.clone())
            .record(latency.as_secs_f64());
        if !event.provider.is_empty() {
            metrics::histogram!("tollgate_upstream_ttfb_seconds", "provider" => event.provider.clone())
                .record(event.ttfb_ms as f64 / 1000.0);
        }
        metrics::counter!("tollgate_tokens_total", "direction" => "input")
            .increment(event.input_tokens as u64);
        metrics::counter!("tollgate_tokens_total", "direction" => "output")
            .increment(event.output_tokens as u64);
        metrics::counter!("tollgate_spend_micro_usd_total")
            .increment(event.cost_micro_usd.max(0) as u64);
        self.sink.record(event);
    }
}
