//! Pricing: tokens → provider cost (micro-USD) → what the account pays (micro-units
//! of its currency), and the pessimistic reservation taken before forwarding.
//!
//! Pure integer arithmetic (DESIGN §4); no I/O, no floats, no panics on overflow.
//!
//! # Where rounding happens
//!
//! With the one rule of [`super::money`] (half away from zero at the final
//! micro-unit), exactly twice on the way from tokens to a bill:
//!
//! 1. [`cost`]: the token × price products are summed exactly in pico-USD
//!    (tokens × micro-USD per million tokens) and divided by 1e6 once. This is the
//!    provider cost recorded on the usage row.
//! 2. [`charge`]: `cost × (10000 + markup_bps) × rate` is one exact `i128` product,
//!    divided by `10000 × 1e6` once. Markup and currency are never rounded on
//!    their own.
//!
//! The charge starts from the *recorded* (rounded) cost rather than the exact one
//! on purpose: any charge can then be recomputed from its usage row,
//! `round(cost_micro_usd × (10000 + bps) × rate / 1e10)`.
//!
//! [`reservation`] goes through the same two steps with estimated tokens, so it is
//! never below the final charge of a request that used no more than the estimate.

use super::money::{Currency, ExchangeRates, MICROS_PER_UNIT, MicroUnits, MoneyError};

/// Basis points in 100 % (1 % = 100 bp).
const BPS_PER_UNIT: u64 = 10_000;

/// Tokens per million: prices are per million tokens.
const TOKENS_PER_MTOK: u64 = 1_000_000;

pub use crate::domain::key_type::{KeyType, UnknownKeyType};

/// Token counts of one request.
///
/// `input` includes the cached tokens (OpenAI's convention); those are billed at
/// the cached price. Should a producer break that and report more cached than
/// input tokens, every cached token is still billed at the cached price and no
/// uncached input is billed: nothing is billed twice and nothing is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tokens {
    pub input: u64,
    pub output: u64,
    pub cached_input: u64,
}

/// The model's prices, micro-USD per million tokens (`ModelEntry`'s
/// `*_micro_usd_per_mtok`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Prices {
    pub input: u64,
    pub output: u64,
    pub cached_input: u64,
}

/// Provider cost in micro-USD:
/// `((input − cached)·input_price + cached·cached_price + output·output_price) / 1e6`,
/// summed exactly and rounded once at the end.
pub fn cost(prices: &Prices, tokens: &Tokens) -> Result<MicroUnits, MoneyError> {
    let uncached = tokens.input.saturating_sub(tokens.cached_input);
    let pico_usd = [
        (uncached, prices.input),
        (tokens.cached_input, prices.cached_input),
        (tokens.output, prices.output),
    ]
    .into_iter()
    // u64 × u64 always fits u128; only the sum can overflow.
    .try_fold(0u128, |sum, (n, price)| {
        sum.checked_add(u128::from(n) * u128::from(price))
    })
    .ok_or(MoneyError::Overflow)?;
    let pico_usd = i128::try_from(pico_usd).map_err(|_| MoneyError::Overflow)?;
    MicroUnits::from_ratio(pico_usd, TOKENS_PER_MTOK)
}

/// What the account pays: `cost × (1 + markup_bps/10000)`, converted to
/// `currency`, as one exact product rounded once at the end:
/// `round(cost_usd × (10000 + markup_bps) × rate / (10000 × 1e6))`.
///
/// A negative cost (a refund) gives the exact negative of the positive charge.
pub fn charge(
    cost_usd: MicroUnits,
    markup_bps: u32,
    currency: &Currency,
    rates: &ExchangeRates,
) -> Result<MicroUnits, MoneyError> {
    let rate = rates.rate(currency)?;
    let markup_factor = i128::from(BPS_PER_UNIT) + i128::from(markup_bps);
    let exact = i128::from(cost_usd.0)
        .checked_mul(markup_factor)
        .and_then(|v| v.checked_mul(i128::from(rate.0)))
        .ok_or(MoneyError::Overflow)?;
    // 1e4 × 1e6 = 1e10 fits u64.
    MicroUnits::from_ratio(exact, BPS_PER_UNIT * MICROS_PER_UNIT.unsigned_abs())
}

/// A pessimistic estimate to reserve before forwarding: input tokens estimated
/// from the body length (`bytes / 4`, rounded up, all at the higher of the input
/// and cached-input prices) plus `max_output_tokens` at the output price, then
/// marked up and converted.
///
/// It is `charge(cost(estimate))`, the same two roundings as the final bill, so a
/// request that uses no more tokens than estimated is never charged more than was
/// reserved.
pub fn reservation(
    prices: &Prices,
    body_bytes: usize,
    max_output_tokens: u64,
    markup_bps: u32,
    currency: &Currency,
    rates: &ExchangeRates,
) -> Result<MicroUnits, MoneyError> {
    let estimated_input =
        u64::try_from(body_bytes.div_ceil(4)).map_err(|_| MoneyError::Overflow)?;
    let pessimistic = Prices {
        input: prices.input.max(prices.cached_input),
        ..*prices
    };
    let estimate = Tokens {
        input: estimated_input,
        output: max_output_tokens,
        cached_input: 0,
    };
    let cost_usd = cost(&pessimistic, &estimate)?;
    charge(cost_usd, markup_bps, currency, rates)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// gpt-4o-mini: 0.15 / 0.60 USD per Mtok, cached input 0.075.
    const GPT_4O_MINI: Prices = Prices {
        input: 150_000,
        output: 600_000,
        cached_input: 75_000,
    };

    fn m(v: i64) -> MicroUnits {
        MicroUnits(v)
    }

    fn try_() -> Currency {
        Currency::parse("TRY").unwrap()
    }

    /// USD, plus TRY at 34.25 per USD.
    fn rates() -> ExchangeRates {
        ExchangeRates::new([(try_(), m(34_250_000))]).unwrap()
    }

    fn usd(cost_usd: i64, bps: u32) -> MicroUnits {
        charge(m(cost_usd), bps, &Currency::USD, &rates()).unwrap()
    }

    #[test]
    fn gpt_4o_mini_cost_is_exact() {
        // 1,234 input of which 200 cached, 567 output:
        //   1,034 × 150,000 = 155,100,000
        //     200 ×  75,000 =  15,000,000
        //     567 × 600,000 = 340,200,000
        //                     510,300,000 pico-USD = 510.3 micro-USD → 510
        let tokens = Tokens {
            input: 1_234,
            output: 567,
            cached_input: 200,
        };
        assert_eq!(cost(&GPT_4O_MINI, &tokens), Ok(m(510)));
        // Without the cache: 1,234 × 150,000 + 340,200,000 = 525,300,000 → 525.
        let uncached = Tokens {
            cached_input: 0,
            ..tokens
        };
        assert_eq!(cost(&GPT_4O_MINI, &uncached), Ok(m(525)));
    }

    #[test]
    fn cost_rounds_half_away_from_zero_once() {
        let p = Prices {
            input: 2_500_000, // 2.5 micro-USD per token
            output: 1_500_000,
            cached_input: 400_000,
        };
        let t = |input, output, cached_input| Tokens {
            input,
            output,
            cached_input,
        };
        assert_eq!(cost(&p, &t(1, 0, 0)), Ok(m(3))); // 2.5 → 3, not bankers' 2
        assert_eq!(cost(&p, &t(0, 1, 0)), Ok(m(2))); // 1.5 → 2
        assert_eq!(cost(&p, &t(1, 0, 1)), Ok(m(0))); // 0.4 → 0
        // Summed before rounding: 0.4 + 1.5 = 1.9 → 2 (per-part rounding gives 0 + 2).
        assert_eq!(cost(&p, &t(1, 1, 1)), Ok(m(2)));
        // 2 × 0.4 = 0.8 → 1 (per-token rounding would give 0).
        assert_eq!(cost(&p, &t(2, 0, 2)), Ok(m(1)));
        assert_eq!(cost(&p, &Tokens::default()), Ok(m(0)));
    }

    #[test]
    fn more_cached_than_input_bills_every_cached_token_once() {
        let tokens = Tokens {
            input: 100,
            output: 0,
            cached_input: 300,
        };
        // 0 uncached; 300 × 75,000 = 22,500,000 pico-USD = 22.5 → 23.
        assert_eq!(cost(&GPT_4O_MINI, &tokens), Ok(m(23)));
    }

    #[test]
    fn cost_detects_overflow() {
        let max = Prices {
            input: u64::MAX,
            output: u64::MAX,
            cached_input: u64::MAX,
        };
        let all = Tokens {
            input: u64::MAX,
            output: u64::MAX,
            cached_input: 0,
        };
        // The sum of products leaves u128.
        assert_eq!(cost(&max, &all), Err(MoneyError::Overflow));
        // One product fits u128 but not i128.
        let one = Tokens {
            input: u64::MAX,
            output: 0,
            cached_input: 0,
        };
        assert_eq!(cost(&max, &one), Err(MoneyError::Overflow));
        // Fits i128 but the micro-USD do not fit i64: 1.8e19 tokens × 1 USD/Mtok.
        let dollar = Prices {
            input: 1_000_000,
            ..Prices::default()
        };
        assert_eq!(cost(&dollar, &one), Err(MoneyError::Overflow));
        // Just inside: i64::MAX tokens at 1 USD/Mtok = i64::MAX micro-USD.
        let inside = Tokens {
            input: i64::MAX as u64,
            ..Tokens::default()
        };
        assert_eq!(cost(&dollar, &inside), Ok(m(i64::MAX)));
    }

    #[test]
    fn key_type_markups() {
        assert_eq!(KeyType::User.default_markup_bps(), 5_000);
        assert_eq!(KeyType::Project.default_markup_bps(), 0);
        assert_eq!(KeyType::PartnerProject.default_markup_bps(), 5_000);
        assert_eq!(KeyType::PartnerCustomer.default_markup_bps(), 3_000);

        // The gpt-4o-mini request above (510 micro-USD), charged in USD per key type.
        let cases = [
            (KeyType::User, 765),            // 510 × 1.5
            (KeyType::Project, 510),         // 510 × 1.0
            (KeyType::PartnerProject, 765),  // 510 × 1.5
            (KeyType::PartnerCustomer, 663), // 510 × 1.3
        ];
        for (key_type, want) in cases {
            assert_eq!(
                usd(510, key_type.default_markup_bps()),
                m(want),
                "{key_type}"
            );
        }
        // An admin-set project markup: 12.34 % of 510 = 62.934 → 572.934 → 573.
        assert_eq!(usd(510, 1_234), m(573));
    }

    #[test]
    fn charge_rounds_half_away_from_zero_once() {
        assert_eq!(usd(1, 5_000), m(2)); // 1.5 → 2
        assert_eq!(usd(-1, 5_000), m(-2)); // -1.5 → -2
        assert_eq!(usd(3, 3_000), m(4)); // 3.9 → 4
        assert_eq!(usd(1, 4_999), m(1)); // 1.4999 → 1
        assert_eq!(usd(5, 1_000), m(6)); // 5.5 → 6
        assert_eq!(usd(-5, 1_000), m(-6)); // -5.5 → -6
        assert_eq!(usd(0, u32::MAX), m(0));
        // 1 micro-USD at 50 % in TRY: 1 × 1.5 × 34.25 = 51.375 → 51. Rounding the
        // markup first would give 2 × 34.25 = 68.5 → 69.
        assert_eq!(charge(m(1), 5_000, &try_(), &rates()), Ok(m(51)));
    }

    #[test]
    fn charge_in_try_at_34_25() {
        let r = rates();
        let try_ = try_();
        // 510 × 34.25 = 17,467.5 → 17,468.
        assert_eq!(charge(m(510), 0, &try_, &r), Ok(m(17_468)));
        assert_eq!(
            charge(m(510), 0, &try_, &r),
            r.convert_from_usd(m(510), &try_)
        );
        // User: 510 × 1.5 × 34.25 = 26,201.25 → 26,201.
        assert_eq!(charge(m(510), 5_000, &try_, &r), Ok(m(26_201)));
        // Partner customer: 510 × 1.3 × 34.25 = 22,707.75 → 22,708.
        assert_eq!(charge(m(510), 3_000, &try_, &r), Ok(m(22_708)));
        // 1 USD at 50 %: 51.375 TRY exactly.
        assert_eq!(charge(m(1_000_000), 5_000, &try_, &r), Ok(m(51_375_000)));
    }

    #[test]
    fn charge_errors() {
        let eur = Currency::parse("EUR").unwrap();
        assert_eq!(
            charge(m(1), 0, &eur, &rates()),
            Err(MoneyError::UnknownCurrency(eur))
        );
        // The product leaves i128.
        assert_eq!(
            charge(m(i64::MAX), u32::MAX, &try_(), &rates()),
            Err(MoneyError::Overflow)
        );
        // The product fits i128; the result does not fit i64.
        assert_eq!(
            charge(m(i64::MAX), 1, &Currency::USD, &rates()),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            charge(m(i64::MAX), 0, &Currency::USD, &rates()),
            Ok(m(i64::MAX))
        );
    }

    #[test]
    fn reservation_estimates_pessimistically() {
        let r = rates();
        // 1,001 bytes → 251 tokens; 1,000 output tokens:
        //   251 × 150,000 + 1,000 × 600,000 = 637,650,000 pico-USD → 638 micro-USD
        //   at 50 %: 957 micro-USD; in TRY: 957 × 34.25 = 32,777.25 → 32,777.
        let usd = reservation(&GPT_4O_MINI, 1_001, 1_000, 5_000, &Currency::USD, &r);
        assert_eq!(usd, Ok(m(957)));
        let try_ = reservation(&GPT_4O_MINI, 1_001, 1_000, 5_000, &try_(), &r);
        assert_eq!(try_, Ok(m(32_777)));

        // bytes / 4 rounded up.
        let input_only = |bytes| {
            let p = Prices {
                input: 1_000_000, // 1 micro-USD per token
                ..Prices::default()
            };
            reservation(&p, bytes, 0, 0, &Currency::USD, &r).unwrap()
        };
        assert_eq!(input_only(0), m(0));
        assert_eq!(input_only(1), m(1));
        assert_eq!(input_only(4), m(1));
        assert_eq!(input_only(5), m(2));
        assert_eq!(input_only(8), m(2));

        // A cached price above the input price is used for the estimate.
        let odd = Prices {
            input: 1_000_000,
            output: 0,
            cached_input: 3_000_000,
        };
        assert_eq!(reservation(&odd, 4, 0, 0, &Currency::USD, &r), Ok(m(3)));
    }

    #[test]
    fn reservation_errors() {
        let eur = Currency::parse("EUR").unwrap();
        assert_eq!(
            reservation(&GPT_4O_MINI, 10, 10, 0, &eur, &rates()),
            Err(MoneyError::UnknownCurrency(eur))
        );
        let max = Prices {
            input: u64::MAX,
            output: u64::MAX,
            cached_input: 0,
        };
        assert_eq!(
            reservation(&max, 8, u64::MAX, 0, &Currency::USD, &rates()),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn key_type_names() {
        for key_type in KeyType::ALL {
            assert_eq!(key_type.as_str().parse(), Ok(key_type));
            let json = serde_json::to_string(&key_type).unwrap();
            assert_eq!(json, format!("\"{}\"", key_type.as_str()));
            assert_eq!(serde_json::from_str::<KeyType>(&json).unwrap(), key_type);
        }
        assert_eq!(
            "partner-customer".parse::<KeyType>(),
            Err(UnknownKeyType("partner-customer".into()))
        );
        assert_eq!(
            "User".parse::<KeyType>().unwrap_err().to_string(),
            "unknown key type `User`; use one of user, project, partner_project, partner_customer"
        );
    }

    proptest! {
        #[test]
        fn reservation_covers_any_usage_within_the_estimate(
            input_price in 0..=100_000_000u64,
            output_price in 0..=400_000_000u64,
            cached_price in 0..=100_000_000u64,
            body_bytes in 0..=4_000_000usize,
            max_output in 0..=1_000_000u64,
            used_in_frac in 0.0..=1.0f64,
            cached_frac in 0.0..=1.0f64,
            used_out_frac in 0.0..=1.0f64,
            markup_bps in 0..=20_000u32,
            in_try in any::<bool>(),
        ) {
            let prices = Prices { input: input_price, output: output_price, cached_input: cached_price };
            let currency = if in_try { try_() } else { Currency::USD };
            let r = rates();
            // Float only to pick test inputs; the arithmetic under test is integer.
            let estimated_in = body_bytes.div_ceil(4) as u64;
            let input = (estimated_in as f64 * used_in_frac) as u64;
            let tokens = Tokens {
                input,
                output: (max_output as f64 * used_out_frac) as u64,
                cached_input: (input as f64 * cached_frac) as u64,
            };
            let reserved = reservation(&prices, body_bytes, max_output, markup_bps, &currency, &r).unwrap();
            let billed = charge(cost(&prices, &tokens).unwrap(), markup_bps, &currency, &r).unwrap();
            prop_assert!(billed <= reserved, "billed {billed} > reserved {reserved}");
        }

        #[test]
        fn zero_markup_in_usd_is_the_cost(c in any::<i64>()) {
            prop_assert_eq!(charge(m(c), 0, &Currency::USD, &rates()), Ok(m(c)));
        }

        #[test]
        fn refunds_mirror_charges(c in -(1i64 << 36)..(1i64 << 36), bps in any::<u32>(), in_try in any::<bool>()) {
            let currency = if in_try { try_() } else { Currency::USD };
            let r = rates();
            let plus = charge(m(c), bps, &currency, &r).unwrap();
            let minus = charge(m(-c), bps, &currency, &r).unwrap();
            prop_assert_eq!(plus.0, -minus.0);
        }
    }
}
