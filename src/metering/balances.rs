//! The seam in front of prepaid balances, as `policy::Limits` is for rate and
//! concurrency: billing reserves and settles through [`Balances`], whatever holds
//! the money. `Local` is the in-process [`Ledger`] (exact for one instance); a
//! shared backend for several instances (Redis) is one more variant with the same
//! async, fallible calls, and its outages are handled by an explicit
//! [`OnFailure`]: `Open` admits without a hold (logged, counted in
//! `tollgate_balances_failed_total`), `Closed` refuses.
//!
//! Loading an account's terms is never failed open: without the account's
//! currency and mode no charge can be computed.

use std::sync::Arc;

use super::ledger::{AccountTerms, Ledger, LedgerError, Reservation};
use crate::domain::OnFailure;

/// Where prepaid balances are held between a request and the usage writer.
#[derive(Clone)]
pub enum Balances {
    /// In this process; the usage writer tells it what was persisted.
    Local(Arc<Ledger>),
}

impl Balances {
    /// The account's currency and billing mode.
    pub async fn terms(&self, account_id: &str) -> Result<AccountTerms, LedgerError> {
        match self {
            Balances::Local(ledger) => ledger.terms(account_id).await,
        }
    }

    /// Holds `amount_micro` for one request of a prepaid account (`None` for a
    /// postpaid one). A backend that cannot answer is handled per `on_failure`.
    pub async fn reserve(
        &self,
        account_id: &str,
        amount_micro: i64,
        on_failure: OnFailure,
    ) -> Result<Option<Reservation>, LedgerError> {
        let held = match self {
            Balances::Local(ledger) => ledger.reserve(account_id, amount_micro),
        };
        match held {
            Err(LedgerError::Store(e)) => {
                metrics::counter!("tollgate_balances_failed_total").increment(1);
                match on_failure {
                    OnFailure::Open => {
                        tracing::warn!(error = %e, account = account_id, "balance backend failed; admitting without a hold (fail open)");
                        Ok(None)
                    }
                    OnFailure::Closed => Err(LedgerError::Store(e)),
                }
            }
            other => other,
        }
    }

    /// Re-reads an account from the database after an admin change (a credit, new
    /// billing settings), so the next request sees it.
    pub async fn reload(&self, account_id: &str) -> Result<(), LedgerError> {
        match self {
            Balances::Local(ledger) => ledger.reload(account_id).await,
        }
    }

    /// Releases a hold and books the request's real charge.
    pub fn settle(&self, reservation: Option<&Reservation>, account_id: &str, charge_micro: i64) {
        match self {
            Balances::Local(ledger) => ledger.settle(reservation, account_id, charge_micro),
        }
    }
}
