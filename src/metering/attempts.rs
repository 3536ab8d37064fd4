//! A failed upstream try that another try followed (`pipeline::attempts`): its own
//! usage event, with the request's id, the try's provider, model, status and error
//! code, no tokens and no charge, marked `failed_attempt` so reports count it as a
//! failed attempt and not as another request. The request's own event (written
//! when it ends) records what finally served it, or its final failure.

use super::meter::Meter;
use super::service::Metering;
use super::{UsageEvent, UsageSource};

/// What the attempt loop knows of a failed try.
pub struct FailedAttempt<'a> {
    pub provider: &'a str,
    pub model_served: &'a str,
    /// The status the caller would have seen for this failure.
    pub status: u16,
    pub error_code: &'a str,
    pub byok: bool,
}

impl Metering {
    pub fn record_failed_attempt(&self, meter: &Meter, a: FailedAttempt<'_>) {
        let latency = meter.started.elapsed();
        let event = meter.with(|d| UsageEvent {
            id: uuid::Uuid::now_v7().to_string(),
            ts_ms: meter.started_ms,
            request_id: d.request_id.clone(),
            account_id: d.account_id.clone(),
            kid: d.kid.clone(),
            user_id: d.user_id.clone(),
            endpoint: d.endpoint.clone(),
            provider: a.provider.to_owned(),
            model_requested: d
                .route
                .as_ref()
                .map(|r| r.model_requested.clone())
                .unwrap_or_default(),
            model_served: a.model_served.to_owned(),
            status: a.status,
            error_code: a.error_code.to_owned(),
            input_tokens: 0,
            output_tokens: 0,
            cached_tokens: 0,
            usage_source: UsageSource::None,
            cost_micro_usd: Some(0),
            charge_micro: 0,
            currency: if d.currency.is_empty() {
                "USD".to_owned()
            } else {
                d.currency.clone()
            },
            latency_ms: latency.as_millis() as i64,
            ttfb_ms: latency.as_millis() as i64,
            client_ip: d.client_ip.clone(),
            session_id: d.session_id.clone(),
            app_version: d.app_version.clone(),
            byok: a.byok,
            streamed: d.route.as_ref().is_some_and(|r| r.streamed),
            failed_attempt: true,
        });
        self.sink.record(event);
    }
}
