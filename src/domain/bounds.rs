//! The ranges every usage number is held to, and the one place that clamps them.
//!
//! Numbers reported by a provider are input from outside: through BYOK any key can
//! point the gateway at its own endpoint and report `prompt_tokens` near 2^64. Read
//! unchecked, such a value wrapped to `-1` in `usage_events` and pushed the hourly
//! rollups and balances past `i64`, where SQLite silently turns integers into REAL
//! and every later read fails. So: provider counts go through [`reported_tokens`]
//! (called by the observer), every event is clamped by [`clamp_event`] before the
//! writer stores it, and migration `0003` makes the database refuse anything outside
//! these ranges (a bad value is refused, never stored).
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
    fn credits_beyond_the_limit_are_refused() {
        assert_eq!(check_credit(-MAX_CREDIT_MICRO), Ok(-MAX_CREDIT_MICRO));
        assert!(check_credit(MAX_CREDIT_MICRO + 1).is_err());
        assert!(check_credit(i64::MIN).is_err());
    }
}
