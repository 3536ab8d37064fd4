//! Money as integers: [`MicroUnits`] (1e-6 of a currency), [`Currency`] codes and
//! USD-based [`ExchangeRates`].
//!
//! DESIGN §4: no floats past config parsing. Every amount is an `i64` count of
//! micro-units; products are taken in `i128` and divided once, at the end.
//!
//! # The rounding rule
//!
//! There is one: **round half away from zero at the final micro-unit**
//! (`0.5 → 1`, `-0.5 → -1`, `2.5 → 3`, `0.4999… → 0`). It lives in
//! [`MicroUnits::from_ratio`] and nothing else rounds. Half away from zero is
//! symmetric, so a refund of a charge rounds to minus that charge, and it is what
//! people expect from a receipt (bankers' rounding surprises customers).
//!
//! Nothing here panics on overflow: results that leave the `i64` range, and
//! intermediate products that leave `i128`, are [`MoneyError::Overflow`].

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Micro-units in one unit (1 USD = 1,000,000 micro-USD).
pub const MICROS_PER_UNIT: i64 = 1_000_000;

/// Digits after the decimal point: a micro-unit is the smallest amount.
const DECIMALS: usize = 6;

/// An amount in micro-units (1e-6) of some currency.
///
/// Serializes as a bare integer (`12500000`); use [`MicroUnits::to_decimal_string`]
/// for people.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct MicroUnits(pub i64);

impl MicroUnits {
    pub const ZERO: MicroUnits = MicroUnits(0);

    /// The exact decimal form with always six decimals: `12.500000`,
    /// `-0.001234`, `0.000000`. [`MicroUnits::parse_decimal`] reads it back.
    pub fn to_decimal_string(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        // `unsigned_abs` keeps i64::MIN exact.
        let magnitude = self.0.unsigned_abs();
        let per_unit = MICROS_PER_UNIT.unsigned_abs();
        format!("{sign}{}.{:06}", magnitude / per_unit, magnitude % per_unit)
    }

    /// Reads a plain decimal: an optional `-`, at least one digit, and optionally
    /// `.` followed by 1 to 6 digits (`12.5` → 12,500,000; `-0.000001` → -1).
    ///
    /// Refused: more than 6 decimals (they would have to be rounded), `+`,
    /// exponents, spaces, separators, `.5` and `5.`. Out of `i64` range is
    /// [`MoneyError::Overflow`].
    pub fn parse_decimal(s: &str) -> Result<Self, MoneyError> {
        let invalid = |reason: &'static str| MoneyError::InvalidDecimal {
            input: s.to_owned(),
            reason,
        };
        let (negative, body) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (whole, fraction) = match body.split_once('.') {
            Some((whole, fraction)) => (whole, Some(fraction)),
            None => (body, None),
        };
        if whole.is_empty() {
            return Err(invalid("it needs a digit before the decimal point"));
        }
        let all_digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(whole) {
            return Err(invalid(
                "only digits, one `.` and a leading `-` are allowed",
            ));
        }
        let fraction = fraction.unwrap_or("0");
        if fraction.is_empty() {
            return Err(invalid("it needs a digit after the decimal point"));
        }
        if !all_digits(fraction) {
            return Err(invalid(
                "only digits, one `.` and a leading `-` are allowed",
            ));
        }
        if fraction.len() > DECIMALS {
            return Err(invalid("it has more than 6 decimals"));
        }

        // Leading zeros never grow the value, so checked arithmetic on digits is
        // enough to reject long inputs without a length limit.
        let mut magnitude: u128 = 0;
        for digit in whole.bytes() {
            magnitude = magnitude
                .checked_mul(10)
                .and_then(|m| m.checked_add(u128::from(digit - b'0')))
                .ok_or(MoneyError::Overflow)?;
        }
        let mut fraction_micros: u128 = 0;
        for i in 0..DECIMALS {
            let digit = fraction.as_bytes().get(i).map_or(0, |d| d - b'0');
            fraction_micros = fraction_micros * 10 + u128::from(digit);
        }
        let magnitude = magnitude
            .checked_mul(MICROS_PER_UNIT.unsigned_abs().into())
            .and_then(|m| m.checked_add(fraction_micros))
            .ok_or(MoneyError::Overflow)?;
        let magnitude = i128::try_from(magnitude).map_err(|_| MoneyError::Overflow)?;
        let value = if negative { -magnitude } else { magnitude };
        i64::try_from(value)
            .map(MicroUnits)
            .map_err(|_| MoneyError::Overflow)
    }

    pub fn checked_add(self, other: MicroUnits) -> Result<MicroUnits, MoneyError> {
        self.0
            .checked_add(other.0)
            .map(MicroUnits)
            .ok_or(MoneyError::Overflow)
    }

    pub fn checked_sub(self, other: MicroUnits) -> Result<MicroUnits, MoneyError> {
        self.0
            .checked_sub(other.0)
            .map(MicroUnits)
            .ok_or(MoneyError::Overflow)
    }

    /// `numerator / denominator` micro-units, **the** rounding step: half away
    /// from zero at the final micro-unit. The caller builds the exact numerator in
    /// `i128` and divides once, so no intermediate result is ever rounded.
    ///
    /// A zero denominator is [`MoneyError::Overflow`] (the quotient is unbounded),
    /// as is a quotient outside `i64`.
    pub fn from_ratio(numerator: i128, denominator: u64) -> Result<MicroUnits, MoneyError> {
        if denominator == 0 {
            return Err(MoneyError::Overflow);
        }
        let denominator = i128::from(denominator);
        // Rust's `/` truncates toward zero and `%` takes the numerator's sign.
        let quotient = numerator / denominator;
        let remainder = (numerator % denominator).unsigned_abs();
        let half_or_more = remainder >= denominator.unsigned_abs() - remainder;
        let rounded = match (half_or_more, numerator < 0) {
            (false, _) => quotient,
            // |quotient| ≤ |numerator| / denominator, so ±1 stays in i128 whenever
            // the remainder is non-zero.
            (true, false) => quotient + 1,
            (true, true) => quotient - 1,
        };
        i64::try_from(rounded)
            .map(MicroUnits)
            .map_err(|_| MoneyError::Overflow)
    }
}

impl fmt::Display for MicroUnits {
    /// Same as [`MicroUnits::to_decimal_string`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_decimal_string())
    }
}

impl FromStr for MicroUnits {
    type Err = MoneyError;

    /// Same as [`MicroUnits::parse_decimal`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MicroUnits::parse_decimal(s)
    }
}

/// ISO 4217-ish currency code: 3 uppercase ASCII letters (`USD`, `TRY`).
///
/// Lowercase is refused rather than folded, so every stored or configured code has
/// one spelling. Serializes as the code string.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    pub const USD: Currency = Currency(*b"USD");

    pub fn parse(s: &str) -> Result<Currency, MoneyError> {
        match s.as_bytes() {
            &[a, b, c] if [a, b, c].iter().all(u8::is_ascii_uppercase) => Ok(Currency([a, b, c])),
            _ => Err(MoneyError::InvalidCurrency(s.to_owned())),
        }
    }

    #[allow(
        clippy::expect_used,
        reason = "parse_code admits only ASCII letters, so the bytes are UTF-8"
    )]
    pub fn as_str(&self) -> &str {
        // Only `parse` and `USD` build a Currency: always 3 ASCII letters.
        std::str::from_utf8(&self.0).expect("a Currency holds ASCII letters")
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Currency({})", self.as_str())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::parse(s)
    }
}

impl serde::Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Currency::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Exchange rates: units of a currency per 1 USD, as micro-units
/// (TRY 34.25 → `MicroUnits(34_250_000)`). USD is always present and always 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeRates {
    per_usd: BTreeMap<Currency, MicroUnits>,
}

impl ExchangeRates {
    /// Validates and stores the rates. Each rate must be positive; USD may be
    /// listed only as exactly 1; a currency may be listed once.
    pub fn new(
        rates: impl IntoIterator<Item = (Currency, MicroUnits)>,
    ) -> Result<Self, MoneyError> {
        let one = MicroUnits(MICROS_PER_UNIT);
        let mut per_usd = BTreeMap::from([(Currency::USD, one)]);
        let mut seen_usd = false;
        for (currency, rate) in rates {
            if currency == Currency::USD {
                if rate != one {
                    return Err(MoneyError::UsdRateNotOne(rate));
                }
                if std::mem::replace(&mut seen_usd, true) {
                    return Err(MoneyError::DuplicateRate(currency));
                }
                continue;
            }
            if rate.0 <= 0 {
                return Err(MoneyError::NonPositiveRate { currency, rate });
            }
            if per_usd.insert(currency, rate).is_some() {
                return Err(MoneyError::DuplicateRate(currency));
            }
        }
        Ok(ExchangeRates { per_usd })
    }

    /// Units of `currency` per 1 USD, in micro-units.
    pub fn rate(&self, currency: &Currency) -> Result<MicroUnits, MoneyError> {
        self.per_usd
            .get(currency)
            .copied()
            .ok_or(MoneyError::UnknownCurrency(*currency))
    }

    /// Every known currency with its rate, in code order (USD included).
    pub fn iter(&self) -> impl Iterator<Item = (Currency, MicroUnits)> + '_ {
        self.per_usd.iter().map(|(c, r)| (*c, *r))
    }

    /// `usd × rate`, rounded once (half away from zero).
    pub fn convert_from_usd(
        &self,
        usd: MicroUnits,
        to: &Currency,
    ) -> Result<MicroUnits, MoneyError> {
        let rate = self.rate(to)?;
        // |i64 × i64| < 2^126: cannot overflow i128.
        let exact = i128::from(usd.0) * i128::from(rate.0);
        MicroUnits::from_ratio(exact, MICROS_PER_UNIT.unsigned_abs())
    }
}

impl Default for ExchangeRates {
    /// USD only.
    fn default() -> Self {
        ExchangeRates {
            per_usd: BTreeMap::from([(Currency::USD, MicroUnits(MICROS_PER_UNIT))]),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error(
        "amount out of range: it does not fit in ±9223372036854.775807 units; \
         check the token counts, prices, markup and exchange rate"
    )]
    Overflow,
    #[error("`{input}` is not a decimal amount: {reason}; write e.g. `12.5` or `-0.000001`")]
    InvalidDecimal { input: String, reason: &'static str },
    #[error("`{0}` is not a currency code; use 3 uppercase letters, e.g. `USD` or `TRY`")]
    InvalidCurrency(String),
    #[error("no exchange rate for `{0}`; add it to the configured exchange rates")]
    UnknownCurrency(Currency),
    #[error(
        "the exchange rate for `{currency}` is {rate}; it must be above 0 \
         (units of {currency} per 1 USD, e.g. 34.25)"
    )]
    NonPositiveRate {
        currency: Currency,
        rate: MicroUnits,
    },
    #[error("the exchange rate for USD is {0}; USD is always 1, so remove it or set it to 1")]
    UsdRateNotOne(MicroUnits),
    #[error("the exchange rate for `{0}` is given twice; keep one")]
    DuplicateRate(Currency),
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn m(v: i64) -> MicroUnits {
        MicroUnits(v)
    }

    fn try_rates() -> ExchangeRates {
        let try_ = Currency::parse("TRY").unwrap();
        ExchangeRates::new([(try_, MicroUnits::parse_decimal("34.25").unwrap())]).unwrap()
    }

    #[test]
    fn formats_exactly_with_six_decimals() {
        assert_eq!(m(12_500_000).to_decimal_string(), "12.500000");
        assert_eq!(m(-1_234).to_decimal_string(), "-0.001234");
        assert_eq!(m(1).to_decimal_string(), "0.000001");
        assert_eq!(m(-1).to_decimal_string(), "-0.000001");
        assert_eq!(m(0).to_decimal_string(), "0.000000");
        assert_eq!(m(-1_000_000).to_decimal_string(), "-1.000000");
        assert_eq!(m(i64::MAX).to_decimal_string(), "9223372036854.775807");
        assert_eq!(m(i64::MIN).to_decimal_string(), "-9223372036854.775808");
        assert_eq!(m(-1_234).to_string(), "-0.001234");
    }

    #[test]
    fn parses_plain_decimals() {
        let cases = [
            ("12.5", 12_500_000),
            ("12", 12_000_000),
            ("0.000001", 1),
            ("-0.001234", -1_234),
            ("34.25", 34_250_000),
            ("007.10", 7_100_000),
            ("-0", 0),
            ("-0.0", 0),
            ("9223372036854.775807", i64::MAX),
            ("-9223372036854.775808", i64::MIN),
        ];
        for (input, want) in cases {
            assert_eq!(MicroUnits::parse_decimal(input), Ok(m(want)), "{input}");
            assert_eq!(input.parse::<MicroUnits>(), Ok(m(want)), "{input}");
        }
    }

    #[test]
    fn refuses_malformed_decimals() {
        for input in [
            "",
            "-",
            ".",
            ".5",
            "5.",
            "-.5",
            "+1",
            "1e3",
            " 1",
            "1 ",
            "1,5",
            "1_000",
            "1.2.3",
            "--1",
            "1.-5",
            "0x10",
            "1.1234567",
            "0.0000001",
            "1.5000000",
            "NaN",
            "١",
        ] {
            assert!(
                matches!(
                    MicroUnits::parse_decimal(input),
                    Err(MoneyError::InvalidDecimal { .. })
                ),
                "{input:?} should be refused"
            );
        }
        let err = MicroUnits::parse_decimal("1.1234567").unwrap_err();
        assert_eq!(
            err.to_string(),
            "`1.1234567` is not a decimal amount: it has more than 6 decimals; \
             write e.g. `12.5` or `-0.000001`"
        );
    }

    #[test]
    fn parse_detects_overflow() {
        for input in [
            "9223372036854.775808",
            "-9223372036854.775809",
            "9999999999999999999999",
            "340282366920938463463374607431768211456",
            &"9".repeat(200),
        ] {
            assert_eq!(
                MicroUnits::parse_decimal(input),
                Err(MoneyError::Overflow),
                "{input}"
            );
        }
        // Leading zeros are not overflow.
        let padded = format!("{}1.5", "0".repeat(200));
        assert_eq!(MicroUnits::parse_decimal(&padded), Ok(m(1_500_000)));
    }

    #[test]
    fn checked_add_and_sub_report_overflow() {
        assert_eq!(m(2).checked_add(m(3)), Ok(m(5)));
        assert_eq!(m(2).checked_sub(m(3)), Ok(m(-1)));
        assert_eq!(m(i64::MAX).checked_add(m(1)), Err(MoneyError::Overflow));
        assert_eq!(m(i64::MIN).checked_sub(m(1)), Err(MoneyError::Overflow));
        assert_eq!(m(i64::MIN).checked_add(m(-1)), Err(MoneyError::Overflow));
    }

    #[test]
    fn from_ratio_rounds_half_away_from_zero() {
        let cases: [(i128, u64, i64); 14] = [
            (15, 10, 2),   // 1.5 → 2
            (25, 10, 3),   // 2.5 → 3 (bankers' would give 2)
            (-15, 10, -2), // -1.5 → -2
            (-25, 10, -3), // -2.5 → -3
            (14, 10, 1),   // 1.4 → 1
            (16, 10, 2),   // 1.6 → 2
            (-14, 10, -1), // -1.4 → -1
            (-16, 10, -2), // -1.6 → -2
            (5, 10, 1),    // 0.5 → 1
            (-5, 10, -1),  // -0.5 → -1
            (4, 10, 0),    // 0.4 → 0
            (1, 3, 0),     // 0.333… → 0
            (2, 3, 1),     // 0.666… → 1
            (499_999, 1_000_000, 0),
        ];
        for (n, d, want) in cases {
            assert_eq!(MicroUnits::from_ratio(n, d), Ok(m(want)), "{n}/{d}");
        }
        assert_eq!(MicroUnits::from_ratio(7, 1), Ok(m(7)));
        assert_eq!(
            MicroUnits::from_ratio(i128::MAX, u64::MAX),
            Err(MoneyError::Overflow)
        );
        assert_eq!(MicroUnits::from_ratio(1, 0), Err(MoneyError::Overflow));
        assert_eq!(
            MicroUnits::from_ratio(i128::from(i64::MIN), 1),
            Ok(m(i64::MIN))
        );
        assert_eq!(
            MicroUnits::from_ratio(i128::from(i64::MAX) + 1, 1),
            Err(MoneyError::Overflow)
        );
        // Rounding up across the i64 edge is caught too.
        assert_eq!(
            MicroUnits::from_ratio(i128::from(i64::MAX) * 2 + 1, 2),
            Err(MoneyError::Overflow)
        );
        // i128::MIN / u64::MAX = -(2^63 + 0.5…) → rounds away, below i64::MIN.
        assert_eq!(
            MicroUnits::from_ratio(i128::MIN, u64::MAX),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            MicroUnits::from_ratio(i128::MIN, 1),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn currency_is_three_uppercase_letters() {
        assert_eq!(Currency::parse("USD"), Ok(Currency::USD));
        assert_eq!(Currency::parse("TRY").unwrap().as_str(), "TRY");
        assert_eq!("EUR".parse::<Currency>().unwrap().to_string(), "EUR");
        for bad in ["usd", "Usd", "US", "USDT", "", "U$D", "US1", "ÜSD", " US"] {
            assert_eq!(
                Currency::parse(bad),
                Err(MoneyError::InvalidCurrency(bad.to_owned())),
                "{bad:?}"
            );
        }
        assert_eq!(format!("{:?}", Currency::USD), "Currency(USD)");
    }

    #[test]
    fn currency_serializes_as_its_code() {
        let try_ = Currency::parse("TRY").unwrap();
        assert_eq!(serde_json::to_string(&try_).unwrap(), r#""TRY""#);
        assert_eq!(serde_json::from_str::<Currency>(r#""TRY""#).unwrap(), try_);
        assert!(serde_json::from_str::<Currency>(r#""try""#).is_err());
        assert_eq!(serde_json::to_string(&m(-5)).unwrap(), "-5");
    }

    #[test]
    fn converts_usd_to_try_at_34_25() {
        let rates = try_rates();
        let try_ = Currency::parse("TRY").unwrap();
        assert_eq!(rates.rate(&try_), Ok(m(34_250_000)));
        // 1 USD = 34.25 TRY.
        assert_eq!(
            rates.convert_from_usd(m(1_000_000), &try_),
            Ok(m(34_250_000))
        );
        // 510 × 34.25 = 17,467.5 → 17,468 (half away from zero).
        assert_eq!(rates.convert_from_usd(m(510), &try_), Ok(m(17_468)));
        assert_eq!(rates.convert_from_usd(m(-510), &try_), Ok(m(-17_468)));
        // 1 × 34.25 = 34.25 → 34.
        assert_eq!(rates.convert_from_usd(m(1), &try_), Ok(m(34)));
        // USD is the identity.
        assert_eq!(rates.convert_from_usd(m(510), &Currency::USD), Ok(m(510)));
        assert_eq!(
            rates.convert_from_usd(m(i64::MAX), &try_),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn unknown_currency_is_an_error() {
        let eur = Currency::parse("EUR").unwrap();
        assert_eq!(
            try_rates().convert_from_usd(m(1), &eur),
            Err(MoneyError::UnknownCurrency(eur))
        );
        assert_eq!(
            ExchangeRates::default().rate(&eur),
            Err(MoneyError::UnknownCurrency(eur))
        );
        assert_eq!(
            ExchangeRates::default().convert_from_usd(m(42), &Currency::USD),
            Ok(m(42))
        );
    }

    #[test]
    fn exchange_rates_are_validated() {
        let try_ = Currency::parse("TRY").unwrap();
        assert_eq!(
            ExchangeRates::new([(try_, m(0))]),
            Err(MoneyError::NonPositiveRate {
                currency: try_,
                rate: m(0)
            })
        );
        assert_eq!(
            ExchangeRates::new([(try_, m(-1))]),
            Err(MoneyError::NonPositiveRate {
                currency: try_,
                rate: m(-1)
            })
        );
        assert_eq!(
            ExchangeRates::new([(Currency::USD, m(2_000_000))]),
            Err(MoneyError::UsdRateNotOne(m(2_000_000)))
        );
        assert_eq!(
            ExchangeRates::new([(try_, m(1)), (try_, m(1))]),
            Err(MoneyError::DuplicateRate(try_))
        );
        assert_eq!(
            ExchangeRates::new([(Currency::USD, m(1_000_000)), (Currency::USD, m(1_000_000))]),
            Err(MoneyError::DuplicateRate(Currency::USD))
        );
        let rates =
            ExchangeRates::new([(Currency::USD, m(1_000_000)), (try_, m(34_250_000))]).unwrap();
        assert_eq!(
            rates.iter().collect::<Vec<_>>(),
            [(try_, m(34_250_000)), (Currency::USD, m(1_000_000))]
        );
        assert_eq!(ExchangeRates::new([]), Ok(ExchangeRates::default()));
    }

    proptest! {
        #[test]
        fn parse_reads_back_every_formatted_amount(v in any::<i64>()) {
            let text = m(v).to_decimal_string();
            prop_assert_eq!(MicroUnits::parse_decimal(&text), Ok(m(v)));
        }

        #[test]
        fn rounding_is_symmetric(n in any::<i64>(), d in 1..=u64::MAX) {
            let n = i128::from(n);
            let up = MicroUnits::from_ratio(n, d).unwrap();
            let down = MicroUnits::from_ratio(-n, d).unwrap();
            prop_assert_eq!(i128::from(up.0), -i128::from(down.0));
        }

        #[test]
        fn rounding_is_within_half_a_micro(n in any::<i64>(), d in 1..=1_000_000_000u64) {
            let n = i128::from(n);
            let q = i128::from(MicroUnits::from_ratio(n, d).unwrap().0);
            let d = i128::from(d);
            // |n/d − q| ≤ 1/2  ⇔  |n − q·d| · 2 ≤ d
            prop_assert!((n - q * d).abs() * 2 <= d);
        }
    }
}
