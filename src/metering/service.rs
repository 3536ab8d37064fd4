//! `Metering`: closes a request's draft into a priced `UsageEvent` and hands it to
//! the writer. Runs once per request, at its end (also from a dropped body, so it
//! never awaits).
//!
//! The draft's lock is held only to move its fields out. Token estimates (tiktoken
//! over the request and the delivered text, for streams cut short or answers
//! without usage) run on a blocking thread, never on a runtime worker and never
//! under the lock; pricing, settlement and the event follow there.
//!
//! A prepaid request is never charged more than it reserved: output past the
//! reserved `max_tokens` (an upstream that ignores the limit) is not billed, and
//! the charge is capped at the reservation. That bounds any overdraw by what the
//! ledger admitted.

use std::sync::Arc;
use std::time::Duration;

use super::balances::Balances;
use super::ledger::Reservation;
use super::meter::{Draft, Meter, RouteInfo, TokenCounts};
use super::money::{Currency, ExchangeRates, MicroUnits};
use super::observe::Observer;
use super::pricing::{self, Tokens};
use super::request_metrics::RequestMetrics;
use super::sink::UsageSink;
use super::{UsageEvent, UsageSource, tokens};

#[derive(Clone)]
pub struct Metering {
    pub sink: UsageSink,
    pub balances: Balances,
    /// What a prepaid hold does when the balance backend cannot answer
    /// (`[redis] on_failure.balances`; closed by default: never overdraw).
    pub balances_on_failure: crate::domain::OnFailure,
    pub rates: ExchangeRates,
    /// The per-request metrics, their handles registered once.
    pub metrics: Arc<RequestMetrics>,
}

/// How a request's tokens are known at its end.
enum Measured {
    Known(TokenCounts, UsageSource),
    /// Count them: the request body and the text the caller received.
    Estimate {
        request_body: bytes::Bytes,
        delivered: String,
    },
}

/// Everything taken out of the draft, owned, so the rest runs without its lock.
struct Closing {
    draft: Draft,
    route: Option<RouteInfo>,
    reservation: Option<Reservation>,
    status: u16,
    error_code: String,
    latency: Duration,
    started_ms: i64,
    images: u64,
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
        let mut draft = meter.with(std::mem::take);
        let route = draft.route.take();
        let reservation = draft.reservation.take();
        let images = observer.as_ref().map_or(0, |o| o.images());
        let counted = draft.tokens.take();
        let measured = match (&route, observer) {
            (None, _) | (Some(_), None) => {
                Measured::Known(TokenCounts::default(), UsageSource::None)
            }
            // Counted by the route itself (audio seconds, speech characters).
            (Some(_), Some(_)) if counted.is_some() => match counted {
                Some((t, source)) => Measured::Known(t, source),
                None => Measured::Known(TokenCounts::default(), UsageSource::None),
            },
            (Some(_), Some(obs)) => match obs.reported() {
                Some(t) => Measured::Known(t, UsageSource::Reported),
                None => {
                    let delivered = obs.take_delivered_text();
                    if delivered.is_empty() && !obs.completed() {
                        // The stream never started: nothing to bill.
                        Measured::Known(TokenCounts::default(), UsageSource::None)
                    } else {
                        Measured::Estimate {
                            request_body: std::mem::take(&mut draft.request_body),
                            delivered,
                        }
                    }
                }
            },
        };
        let closing = Closing {
            draft,
            route,
            reservation,
            status,
            error_code: error_code.to_owned(),
            latency,
            started_ms: meter.started_ms,
            images,
        };
        match measured {
            Measured::Known(t, source) => self.complete(closing, t, source),
            Measured::Estimate {
                request_body,
                delivered,
            } => {
                let count = move || TokenCounts {
                    input: tokens::count(&tokens::request_text(&request_body)),
                    output: tokens::count(&delivered),
                    cached: 0,
                };
                match tokio::runtime::Handle::try_current() {
                    Ok(rt) => {
                        let this = self.clone();
                        let span = tracing::Span::current();
                        rt.spawn_blocking(move || {
                            span.in_scope(|| {
                                this.complete(closing, count(), UsageSource::Estimated)
                            })
                        });
                    }
                    Err(_) => self.complete(closing, count(), UsageSource::Estimated),
                }
            }
        }
    }

    /// Prices the tokens, settles the reservation and records the event.
    fn complete(&self, c: Closing, tokens: TokenCounts, source: UsageSource) {
        let Closing {
            mut draft,
            route,
            reservation,
            status,
            error_code,
            latency,
            started_ms,
            images,
        } = c;
        let d = &mut draft;
        let prices = route.as_ref().and_then(|r| r.prices);
        let cost_of = |t: &TokenCounts| {
            prices
                .map(|p| {
                    pricing::cost(
                        &p,
                        &Tokens {
                            input: t.input,
                            output: t.output,
                            cached_input: t.cached,
                        },
                    )
                    .unwrap_or(MicroUnits(i64::MAX))
                })
                .unwrap_or_default()
        };
        let cost = cost_of(&tokens);
        // What the caller is billed for: no more output than the reservation covered.
        let billed_cost = match (&reservation, &route) {
            (Some(_), Some(r)) if tokens.output > r.max_output_tokens => cost_of(&TokenCounts {
                output: r.max_output_tokens,
                ..tokens
            }),
            _ => cost,
        };
        // A routed model without a price has an unknown cost, recorded as such (not
        // as 0, which would read as free); it is charged nothing. A request that
        // never reached routing cost nothing upstream.
        let cost_known = route.is_none() || prices.is_some();
        let byok = route.as_ref().is_some_and(|r| r.byok);
        let currency = if d.currency.is_empty() {
            "USD".to_owned()
        } else {
            std::mem::take(&mut d.currency)
        };
        let mut charge = if byok || d.account_id.is_empty() {
            MicroUnits::ZERO
        } else {
            Currency::parse(&currency)
                .and_then(|c| {
                    pricing::charge(billed_cost, d.key_markup_bps.unwrap_or(0), &c, &self.rates)
                })
                .unwrap_or_else(|e| {
                    tracing::error!(error = %e, account = %d.account_id, "cannot price a request; charging nothing");
                    MicroUnits::ZERO
                })
        };
        if let Some(r) = &reservation
            && charge.0 > r.amount_micro
        {
            self.metrics.charge_capped();
            charge = MicroUnits(r.amount_micro);
        }
        self.balances
            .settle(reservation.as_ref(), &d.account_id, charge.0);
        let ttfb = d.ttfb.unwrap_or(latency);
        let streamed = route.as_ref().is_some_and(|r| r.streamed);
        // Every string moves out of the draft and the route: none is copied.
        let (provider, model_requested, model_served) = route
            .map(|r| (r.provider, r.model_requested, r.model_served))
            .unwrap_or_default();
        let event = UsageEvent {
            // The request's own UUID when the gateway made it (one per request),
            // else a new one: a caller's x-request-id need not be unique.
            id: d
                .request_uuid
                .take()
                .unwrap_or_else(uuid::Uuid::now_v7)
                .to_string(),
            ts_ms: started_ms,
            request_id: std::mem::take(&mut d.request_id),
            account_id: std::mem::take(&mut d.account_id),
            kid: std::mem::take(&mut d.kid),
            user_id: std::mem::take(&mut d.user_id),
            endpoint: std::mem::take(&mut d.endpoint),
            provider,
            model_requested,
            model_served,
            status,
            error_code,
            input_tokens: tokens.input as i64,
            output_tokens: tokens.output as i64,
            cached_tokens: tokens.cached as i64,
            usage_source: source,
            cost_micro_usd: cost_known.then_some(cost.0),
            charge_micro: charge.0,
            currency,
            latency_ms: latency.as_millis() as i64,
            ttfb_ms: ttfb.as_millis() as i64,
            client_ip: std::mem::take(&mut d.client_ip),
            session_id: std::mem::take(&mut d.session_id),
            app_version: std::mem::take(&mut d.app_version),
            byok,
            streamed,
            failed_attempt: false,
        };
        let m = &self.metrics;
        m.request(
            &event.endpoint,
            event.status,
            &event.provider,
            latency.as_secs_f64(),
        );
        if !event.provider.is_empty() {
            m.ttfb(&event.provider, event.ttfb_ms as f64 / 1000.0);
        }
        if images > 0 {
            m.images(&event.model_served, images);
        }
        m.tokens(event.input_tokens as u64, event.output_tokens as u64);
        m.spend(event.cost_micro_usd.unwrap_or(0).max(0) as u64);
        self.sink.record(event);
    }
}
