//! A batch of new usage events folded in memory into what the rollup tables and
//! balances gain from it, so each backend writes one upsert per rollup row and one
//! update per account per batch, never one per event. Shared by both backends:
//! the counting rules live here once.
//!
//! The rules: a failed attempt (`UsageEvent::failed_attempt`) counts in
//! `attempts_failed` only, never as a request, an error or latency (its request's
//! own row does that); an unknown cost counts in `cost_unknown` and adds nothing to
//! the cost sum; the client-IP rollup counts requests, not attempts.

use std::collections::BTreeMap;

use crate::domain::UsageEvent;
use crate::store::records::HOUR_MS;

/// One `usage_hourly` row's identity, borrowed from the events of a batch.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct HourKey<'a> {
    pub hour_ms: i64,
    pub account_id: &'a str,
    pub kid: &'a str,
    pub provider: &'a str,
    pub model_served: &'a str,
    pub status: u16,
    pub currency: &'a str,
}

/// What one `usage_hourly` row gains. Plain integers: folding allocates nothing
/// per event.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HourSums {
    pub requests: i64,
    pub errors: i64,
    pub auth_failures: i64,
    pub attempts_failed: i64,
    pub cost_unknown: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cached_tokens: i64,
    pub cost_micro_usd: i64,
    pub charge_micro: i64,
    pub latency_ms_sum: i64,
}

/// One `usage_ip_hourly` row's identity.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct IpKey<'a> {
    pub hour_ms: i64,
    pub account_id: &'a str,
    pub kid: &'a str,
    pub client_ip: &'a str,
}

/// A batch, folded. Sorted maps: rows and accounts are written in key order, so
/// concurrent writers (PostgreSQL) take their row locks in the same order.
#[derive(Debug, Default)]
pub struct Folded<'a> {
    pub hours: BTreeMap<HourKey<'a>, HourSums>,
    pub ips: BTreeMap<IpKey<'a>, i64>,
    /// What each account is charged (events without an account skip this).
    pub charges: BTreeMap<&'a str, i64>,
}

/// The start of the UTC hour holding `ts_ms`, also before 1970.
pub fn hour_of(ts_ms: i64) -> i64 {
    ts_ms - ts_ms.rem_euclid(HOUR_MS)
}

/// Folds `events` (each one new: the caller has dropped replays).
pub fn fold<'a>(events: impl IntoIterator<Item = &'a UsageEvent>) -> Folded<'a> {
    let mut f = Folded::default();
    for e in events {
        let hour_ms = hour_of(e.ts_ms);
        let s = f
            .hours
            .entry(HourKey {
                hour_ms,
                account_id: &e.account_id,
                kid: &e.kid,
                provider: &e.provider,
                model_served: &e.model_served,
                status: e.status,
                currency: &e.currency,
            })
            .or_default();
        if e.failed_attempt {
            s.attempts_failed = s.attempts_failed.saturating_add(1);
        } else {
            s.requests = s.requests.saturating_add(1);
            s.errors = s.errors.saturating_add(i64::from(e.status >= 400));
            s.auth_failures = s.auth_failures.saturating_add(i64::from(e.status == 401));
            s.latency_ms_sum = s.latency_ms_sum.saturating_add(e.latency_ms);
            s.cost_unknown = s
                .cost_unknown
                .saturating_add(i64::from(e.cost_micro_usd.is_none()));
            if !e.client_ip.is_empty() {
                let n = f
                    .ips
                    .entry(IpKey {
                        hour_ms,
                        account_id: &e.account_id,
                        kid: &e.kid,
                        client_ip: &e.client_ip,
                    })
                    .or_default();
                *n = n.saturating_add(1);
            }
        }
        s.input_tokens = s.input_tokens.saturating_add(e.input_tokens);
        s.output_tokens = s.output_tokens.saturating_add(e.output_tokens);
        s.cached_tokens = s.cached_tokens.saturating_add(e.cached_tokens);
        s.cost_micro_usd = s
            .cost_micro_usd
            .saturating_add(e.cost_micro_usd.unwrap_or(0));
        s.charge_micro = s.charge_micro.saturating_add(e.charge_micro);
        if !e.account_id.is_empty() {
            let charge = f.charges.entry(&e.account_id).or_default();
            *charge = charge.saturating_add(e.charge_micro);
        }
    }
    f
}

/// Fixed statement sizes, largest first: a batch of any length is cut into pieces
/// of these sizes (`pieces(70, ..)` is 64, 4, 2), so a backend prepares one
/// statement per size and then reuses it from its statement cache, instead of
/// parsing a new statement for every batch length.
pub const PIECE_SIZES: [usize; 7] = [64, 32, 16, 8, 4, 2, 1];

/// Cuts `items` into pieces of the sizes in [`PIECE_SIZES`].
pub fn pieces<T>(mut items: &[T]) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        let size = PIECE_SIZES.into_iter().find(|s| *s <= items.len())?;
        let (piece, rest) = items.split_at(size);
        items = rest;
        Some(piece)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::UsageSource;

    fn event(status: u16, failed_attempt: bool, cost: Option<i64>) -> UsageEvent {
        UsageEvent {
            id: uuid::Uuid::now_v7().to_string(),
            ts_ms: 7_200_123,
            request_id: "r".into(),
            account_id: "a".into(),
            kid: "k".into(),
            user_id: String::new(),
            endpoint: "/v1/chat/completions".into(),
            provider: "openai".into(),
            model_requested: "m".into(),
            model_served: "m".into(),
            status,
            error_code: String::new(),
            input_tokens: 10,
            output_tokens: 5,
            cached_tokens: 0,
            usage_source: UsageSource::Reported,
            cost_micro_usd: cost,
            charge_micro: cost.unwrap_or(0) * 2,
            currency: "USD".into(),
            latency_ms: 40,
            ttfb_ms: 10,
            client_ip: "10.0.0.1".into(),
            session_id: String::new(),
            app_version: String::new(),
            byok: false,
            streamed: false,
            failed_attempt,
        }
    }

    #[test]
    fn failed_attempts_and_unknown_costs_have_their_own_counts() {
        let events = [
            event(503, true, Some(0)),
            event(503, true, Some(0)),
            event(503, false, Some(0)),
            event(200, false, Some(30)),
            event(200, false, None),
        ];
        let f = fold(&events);
        let sums: Vec<_> = f.hours.values().cloned().collect();
        let (ok, failed) = (&sums[0], &sums[1]);
        assert_eq!(f.hours.keys().next().map(|k| k.hour_ms), Some(7_200_000));
        assert_eq!(
            (ok.requests, ok.cost_unknown, ok.cost_micro_usd, ok.errors),
            (2, 1, 30, 0)
        );
        assert_eq!(
            (
                failed.requests,
                failed.errors,
                failed.attempts_failed,
                failed.latency_ms_sum
            ),
            (1, 1, 2, 40),
            "the two failed attempts are neither requests nor errors"
        );
        assert_eq!(f.ips.values().copied().collect::<Vec<_>>(), vec![3]);
        assert_eq!(f.charges["a"], 60);
    }

    #[test]
    fn pieces_use_fixed_sizes_and_cover_everything() {
        for n in 0..300usize {
            let items: Vec<usize> = (0..n).collect();
            let cut: Vec<&[usize]> = pieces(&items).collect();
            assert!(cut.iter().all(|p| PIECE_SIZES.contains(&p.len())));
            assert_eq!(cut.concat(), items);
            assert!(cut.len() <= n / 64 + PIECE_SIZES.len());
        }
    }
}
