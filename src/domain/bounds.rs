//! The ranges every usage number is held to, and the one place that clamps them.
//!
//! Numbers reported by a provider are input from outside: through BYOK any key can
//! point the gateway at its own endpoint and report `prompt_tokens` near 2^64. Read
//! unchecked, such a value wrapped to `-1` in `usage_events` and pushed the hourly
//! rollups and balances past `i64`, where SQLite silently turns integers into REAL
//! and every later read fails. So: provider counts go through [`reported_tokens`]
//! (called by the observer), every event is clamped by [`clamp_event`] before the
//! writer stores it, and the store refuses a batch holding anything outside these
//! ranges ([`check_event`], in both backends; a bad value is refused, never stored).
//! PostgreSQL also keeps migration `0003`'s CHECK constraint. SQLite's trigger of
//! the same rule ran a sub-program per inserted row, so migration `0080` dropped it
//! for the check in Rust: the values are typed `i64` there, so a range check is all
//! SQLite's `typeof` tests added (`bench/RESULTS.md`, branch `writer`).
//!
//! The limits are far beyond any real request and far enough below `i64::MAX` that
//! the sums of a batch or of an hour cannot overflow.

use serde_json::Value;

use super::UsageEvent;

/// Most tokens one count of one request may claim (10^9; the largest context
/// windows today are ~10^7).
pub const MAX_TOKENS: u64 = 1_000_000_000;
/// Most micro-units (of USD or the account currency) one request may cost or be
/// charged: 10^15, a billion currency units.
pub const MAX_EVENT_MICRO: i64 = 1_000_000_000_000_000;
/// Most micro-units one credit may add or take: also a billion currency units.
pub const MAX_CREDIT_MICRO: i64 = 1_000_000_000_000_000;
/// A balance stays within ±10^18 micro-units (10^12 currency units). Repeated
/// charges or credits can never push it out of `i64`.
pub const MAX_BALANCE_MICRO: i64 = 1_000_000_000_000_000_000;
/// Latencies above a day are clamped (milliseconds).
pub const MAX_LATENCY_MS: i64 = 86_400_000;

/// A token count as a provider reported it: non-negative integers up to
/// [`MAX_TOKENS`]; larger ones are clamped to it, and anything else (negative,
/// fractional, text, missing) counts as 0.
pub fn reported_tokens(v: &Value) -> u64 {
    match v.as_u64() {
        Some(n) => n.min(MAX_TOKENS),
        // `1e30` or `12.0`: numbers, but not u64.
        None => match v.as_f64() {
            Some(f) if f.is_finite() && f >= 1.0 => {
                if f >= MAX_TOKENS as f64 {
                    MAX_TOKENS
                } else {
                    f as u64
                }
            }
            _ => 0,
        },
    }
}

/// Brings every number of `ev` into the range the database accepts.
pub fn clamp_event(ev: &mut UsageEvent) {
    let tokens = |n: i64| n.clamp(0, MAX_TOKENS as i64);
    ev.input_tokens = tokens(ev.input_tokens);
    ev.output_tokens = tokens(ev.output_tokens);
    ev.cached_tokens = tokens(ev.cached_tokens);
    ev.cost_micro_usd = ev.cost_micro_usd.map(|c| c.clamp(0, MAX_EVENT_MICRO));
    ev.charge_micro = ev.charge_micro.clamp(-MAX_EVENT_MICRO, MAX_EVENT_MICRO);
    ev.latency_ms = ev.latency_ms.clamp(0, MAX_LATENCY_MS);
    ev.ttfb_ms = ev.ttfb_ms.clamp(0, MAX_LATENCY_MS);
    ev.ts_ms = ev.ts_ms.max(0);
}

/// Refuses an event with a number outside the ranges above (the same rule as the
/// CHECK constraint of PostgreSQL's migration 0003). The writer clamps first
/// ([`clamp_event`]), so this only fails for events that bypassed it.
pub fn check_event(ev: &UsageEvent) -> Result<(), String> {
    let tokens = 0..=MAX_TOKENS as i64;
    let latency = 0..=MAX_LATENCY_MS;
    let fields = [
        ("input_tokens", tokens.contains(&ev.input_tokens)),
        ("output_tokens", tokens.contains(&ev.output_tokens)),
        ("cached_tokens", tokens.contains(&ev.cached_tokens)),
        (
            "cost_micro_usd",
            ev.cost_micro_usd
                .is_none_or(|c| (0..=MAX_EVENT_MICRO).contains(&c)),
        ),
        (
            "charge_micro",
            (-MAX_EVENT_MICRO..=MAX_EVENT_MICRO).contains(&ev.charge_micro),
        ),
        ("latency_ms", latency.contains(&ev.latency_ms)),
        ("ttfb_ms", latency.contains(&ev.ttfb_ms)),
    ];
    match fields.iter().find(|(_, ok)| !ok) {
        None => Ok(()),
        Some((name, _)) => Err(format!(
            "usage event {}: {name} is out of range; the writer clamps usage numbers \
             (domain::bounds::clamp_event) before storing them",
            ev.id
        )),
    }
}

/// [`check_event`] for a whole batch: the first event out of range refuses it,
/// before anything is written (both stores call this first).
pub fn check_batch(events: &[UsageEvent]) -> Result<(), String> {
    events.iter().try_for_each(check_event)
}

/// A credit amount, refused (with the reason) when it is outside ±[`MAX_CREDIT_MICRO`].
pub fn check_credit(amount_micro: i64) -> Result<i64, String> {
    if amount_micro.unsigned_abs() > MAX_CREDIT_MICRO.unsigned_abs() {
        return Err(format!(
            "`amount` must be between -{0} and {0}",
            super::money::MicroUnits(MAX_CREDIT_MICRO).to_decimal_string()
        ));
    }
    Ok(amount_micro)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn provider_counts_are_clamped_never_wrapped() {
        assert_eq!(reported_tokens(&json!(12)), 12);
        assert_eq!(reported_tokens(&json!(u64::MAX)), MAX_TOKENS);
        assert_eq!(reported_tokens(&json!(1e30)), MAX_TOKENS);
        assert_eq!(reported_tokens(&json!(7.9)), 7);
        for zero in [
            json!(-1),
            json!(-1e30),
            json!("12"),
            json!(null),
            json!(0.5),
        ] {
            assert_eq!(reported_tokens(&zero), 0, "{zero}");
        }
    }

    #[test]
    fn events_out_of_range_are_refused_and_clamping_fixes_them() {
        let ok = UsageEvent {
            id: "e".into(),
            ts_ms: 1,
            request_id: "r".into(),
            account_id: "a".into(),
            kid: "k".into(),
            user_id: String::new(),
            endpoint: "/v1/chat/completions".into(),
            provider: "openai".into(),
            model_requested: "m".into(),
            model_served: "m".into(),
            status: 200,
            error_code: String::new(),
            input_tokens: MAX_TOKENS as i64,
            output_tokens: 0,
            cached_tokens: 0,
            usage_source: crate::domain::UsageSource::Reported,
            cost_micro_usd: None,
            charge_micro: -MAX_EVENT_MICRO,
            currency: "USD".into(),
            latency_ms: MAX_LATENCY_MS,
            ttfb_ms: 0,
            client_ip: String::new(),
            session_id: String::new(),
            app_version: String::new(),
            byok: false,
            streamed: false,
            failed_attempt: false,
        };
        assert_eq!(check_event(&ok), Ok(()));
        let bad: [fn(&mut UsageEvent); 8] = [
            |e| e.input_tokens = -1,
            |e| e.output_tokens = MAX_TOKENS as i64 + 1,
            |e| e.cached_tokens = i64::MIN,
            |e| e.cost_micro_usd = Some(-1),
            |e| e.cost_micro_usd = Some(MAX_EVENT_MICRO + 1),
            |e| e.charge_micro = -MAX_EVENT_MICRO - 1,
            |e| e.latency_ms = MAX_LATENCY_MS + 1,
            |e| e.ttfb_ms = -1,
        ];
        for (i, spoil) in bad.iter().enumerate() {
            let mut ev = ok.clone();
            spoil(&mut ev);
            assert!(check_event(&ev).is_err(), "case {i}: {ev:?}");
            clamp_event(&mut ev);
            assert_eq!(check_event(&ev), Ok(()), "case {i} after clamping");
        }
    }

    #[test]
    fn credits_beyond_the_limit_are_refused() {
        assert_eq!(check_credit(-MAX_CREDIT_MICRO), Ok(-MAX_CREDIT_MICRO));
        assert!(check_credit(MAX_CREDIT_MICRO + 1).is_err());
        assert!(check_credit(i64::MIN).is_err());
    }
}
