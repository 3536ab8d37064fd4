//! Billing decisions for one request: before it is sent, hold a pessimistic
//! estimate of its charge on a prepaid account (or refuse it); at its end, the
//! charge, capped by what was held.
//!
//! The estimate is `body bytes / 4` input tokens plus the request's own output
//! limit, else the model's documented maximum output (`ModelEntry::max_output_tokens`),
//! else [`FALLBACK_MAX_OUTPUT`]. Settling never charges more output than that
//! limit nor more than the hold, so an upstream that ignores `max_tokens` cannot
//! drive a prepaid balance below zero by more than what the ledger admitted.

use super::ledger::{LedgerError, Reservation};
use super::money::{Currency, MicroUnits, MoneyError};
use super::pricing::{self, Prices};
use super::service::Metering;
use crate::store::BillingMode;

/// Output limit for a request that names none, for a model whose maximum the
/// catalog does not know.
pub const FALLBACK_MAX_OUTPUT: u64 = 4096;

/// Why a request cannot be billed.
#[derive(Debug, thiserror::Error)]
pub enum BillingError {
    #[error("the balance cannot cover this request")]
    Insufficient {
        available: MicroUnits,
        needed: MicroUnits,
        currency: String,
    },
    /// A prepaid account, a model with no price, and `[billing] unpriced = "refuse"`.
    #[error("model `{model}` has no price")]
    Unpriced { model: String },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// What was decided before sending: the account currency and, for a prepaid
/// account, the money held.
#[derive(Debug)]
pub struct Hold {
    pub currency: String,
    pub reservation: Option<Reservation>,
}

/// What a request may cost at most.
pub struct Estimate<'a> {
    pub prices: Option<Prices>,
    pub body: &'a [u8],
    pub max_output_tokens: u64,
    pub markup_bps: u32,
    /// The model's name when it has no price and unpriced models are refused
    /// (`[billing] unpriced = "refuse"`): a prepaid account gets 402.
    pub refuse_unpriced: Option<&'a str>,
}

/// What a request metered in units other than tokens (audio seconds, speech
/// characters) may cost at most: `units` at `price` micro-USD per million units.
pub struct UnitEstimate {
    pub price: u64,
    pub units: u64,
    pub markup_bps: u32,
}

/// Loads the account's terms and, if it is prepaid, reserves `estimate`.
pub async fn reserve(
    metering: &Metering,
    account: &str,
    estimate: Estimate<'_>,
) -> Result<Hold, BillingError> {
    let unpriced = estimate
        .refuse_unpriced
        .filter(|_| estimate.prices.is_none());
    hold(metering, account, unpriced, |currency, rates| {
        pricing::reservation(
            &estimate.prices.unwrap_or_default(),
            estimate.body.len(),
            estimate.max_output_tokens,
            estimate.markup_bps,
            currency,
            rates,
        )
    })
    .await
}

/// Like [`reserve`], for a request metered in units (see [`UnitEstimate`]).
pub async fn reserve_units(
    metering: &Metering,
    account: &str,
    estimate: UnitEstimate,
) -> Result<Hold, BillingError> {
    hold(metering, account, None, |currency, rates| {
        // The same two roundings as the final bill: units at the "output" price.
        pricing::reservation(
            &Prices {
                output: estimate.price,
                ..Prices::default()
            },
            0,
            estimate.units,
            estimate.markup_bps,
            currency,
            rates,
        )
    })
    .await
}

/// Reserves what `amount` says on a prepaid account; `unpriced` names a model that
/// has no price and may not run on credit (`[billing] unpriced = "refuse"`).
async fn hold(
    metering: &Metering,
    account: &str,
    unpriced: Option<&str>,
    amount: impl FnOnce(&Currency, &super::money::ExchangeRates) -> Result<MicroUnits, MoneyError>,
) -> Result<Hold, BillingError> {
    let terms = metering.balances.terms(account).await?;
    if terms.mode != BillingMode::Prepaid {
        return Ok(Hold {
            currency: terms.currency,
            reservation: None,
        });
    }
    if let Some(model) = unpriced {
        return Err(BillingError::Unpriced {
            model: model.to_owned(),
        });
    }
    let amount = amount(&Currency::parse(&terms.currency)?, &metering.rates)?;
    match metering
        .balances
        .reserve(account, amount.0, metering.balances_on_failure)
        .await
    {
        Ok(reservation) => Ok(Hold {
            currency: terms.currency,
            reservation,
        }),
        Err(LedgerError::Insufficient { available, needed }) => Err(BillingError::Insufficient {
            available: MicroUnits(available),
            needed: MicroUnits(needed),
            currency: terms.currency,
        }),
        Err(e) => Err(e.into()),
    }
}

/// The output limit a request runs under: its own (`peek::BodyFacts::max_output`,
/// read in the one pass over the body), else the model's default, else
/// [`FALLBACK_MAX_OUTPUT`].
pub fn output_allowance(requested: Option<u64>, model_default: Option<u64>) -> u64 {
    requested.or(model_default).unwrap_or(FALLBACK_MAX_OUTPUT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_limit_wins_then_the_model_default() {
        assert_eq!(output_allowance(Some(7), Some(100)), 7);
        assert_eq!(output_allowance(None, Some(16_384)), 16_384);
        assert_eq!(output_allowance(None, None), FALLBACK_MAX_OUTPUT);
    }
}
