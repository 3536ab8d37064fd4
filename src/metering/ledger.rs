//! Balances in memory, so a prepaid check costs no database round trip after an
//! account's first request, and concurrent requests cannot overdraw: each request
//! reserves a pessimistic estimate before it is forwarded and settles the real
//! charge when it ends. The database stays the record: the usage writer persists
//! the charges (in the same transaction as the usage rows) and tells the ledger.
//!
//! `available = balance − unpersisted − reserved`, where `balance` is the last known
//! database balance, `unpersisted` the settled charges not yet written, and
//! `reserved` the estimates of requests in flight. The arithmetic saturates: the
//! amounts are bounded (`metering::bounds`), so it never has to, but a panic or a
//! wrap here would stop billing for everyone.

use std::collections::HashMap;

use parking_lot::{Mutex, MutexGuard};

use crate::store::{BillingMode, Store, StoreError};

/// Money held for one request until it settles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub account_id: String,
    pub amount_micro: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountTerms {
    pub currency: String,
    pub mode: BillingMode,
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(
        "the account's balance ({available} micro-units available) cannot cover this request's estimated {needed}"
    )]
    Insufficient { available: i64, needed: i64 },
    #[error("account `{0}` does not exist")]
    UnknownAccount(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The shared balance store (Redis) did not answer.
    #[error(transparent)]
    Shared(#[from] crate::cluster::ClusterError),
}

#[derive(Debug)]
struct Entry {
    terms: AccountTerms,
    balance: i64,
    unpersisted: i64,
    reserved: i64,
}

pub struct Ledger {
    store: Store,
    accounts: Mutex<HashMap<String, Entry>>,
}

impl Ledger {
    pub fn new(store: Store) -> Self {
        Ledger {
            store,
            accounts: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        self.accounts.lock()
    }

    /// The account's currency and billing mode (loaded once, then from memory).
    pub async fn terms(&self, account_id: &str) -> Result<AccountTerms, LedgerError> {
        if let Some(e) = self.lock().get(account_id) {
            return Ok(e.terms.clone());
        }
        let billing = self
            .store
            .account_billing(account_id)
            .await?
            .ok_or_else(|| LedgerError::UnknownAccount(account_id.to_owned()))?;
        let terms = AccountTerms {
            currency: billing.currency.clone(),
            mode: billing.billing_mode,
        };
        self.lock().entry(account_id.to_owned()).or_insert(Entry {
            terms: terms.clone(),
            balance: billing.balance_micro,
            unpersisted: 0,
            reserved: 0,
        });
        Ok(terms)
    }

    /// Holds `amount_micro` for a request of a prepaid account; postpaid accounts
    /// get no reservation. Call [`Ledger::terms`] first (it loads the account).
    pub fn reserve(
        &self,
        account_id: &str,
        amount_micro: i64,
    ) -> Result<Option<Reservation>, LedgerError> {
        let mut accounts = self.lock();
        let e = accounts
            .get_mut(account_id)
            .ok_or_else(|| LedgerError::UnknownAccount(account_id.to_owned()))?;
        if e.terms.mode == BillingMode::Postpaid {
            return Ok(None);
        }
        let available = e
            .balance
            .saturating_sub(e.unpersisted)
            .saturating_sub(e.reserved);
        if available < amount_micro.max(1) {
            return Err(LedgerError::Insufficient {
                available,
                needed: amount_micro.max(1),
            });
        }
        e.reserved = e.reserved.saturating_add(amount_micro);
        Ok(Some(Reservation {
            account_id: account_id.to_owned(),
            amount_micro,
        }))
    }

    /// Releases a reservation and books the real charge (not yet persisted).
    pub fn settle(&self, reservation: Option<&Reservation>, account_id: &str, charge_micro: i64) {
        let mut accounts = self.lock();
        if let Some(r) = reservation
            && let Some(e) = accounts.get_mut(&r.account_id)
        {
            e.reserved = e.reserved.saturating_sub(r.amount_micro);
        }
        if let Some(e) = accounts.get_mut(account_id) {
            e.unpersisted = e.unpersisted.saturating_add(charge_micro);
        }
    }

    /// The writer committed these charges to the database.
    pub fn persisted(&self, account_id: &str, charge_micro: i64) {
        if let Some(e) = self.lock().get_mut(account_id) {
            e.balance = e.balance.saturating_sub(charge_micro);
            e.unpersisted = e.unpersisted.saturating_sub(charge_micro);
        }
    }

    /// Re-reads every known account's balance and terms, so changes made by another
    /// process (the CLI) are seen. Called by the usage writer between batches, so it
    /// never races with [`Ledger::persisted`].
    pub async fn refresh_all(&self) {
        let ids: Vec<String> = self.lock().keys().cloned().collect();
        for id in ids {
            if let Err(e) = self.reload(&id).await {
                tracing::warn!(error = %e, account = %id, "balance refresh failed");
            }
        }
    }

    /// The accounts this process has loaded.
    pub fn account_ids(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// The account changed in the database (credit, billing settings): reload it,
    /// keeping what is in flight.
    pub async fn reload(&self, account_id: &str) -> Result<(), LedgerError> {
        self.load_billing(account_id).await.map(drop)
    }

    /// Like [`reload`](Self::reload), returning the database balance (`None`: the
    /// account is gone).
    pub async fn load_billing(&self, account_id: &str) -> Result<Option<i64>, LedgerError> {
        let Some(billing) = self.store.account_billing(account_id).await? else {
            self.lock().remove(account_id);
            return Ok(None);
        };
        let balance = billing.balance_micro;
        let mut accounts = self.lock();
        match accounts.get_mut(account_id) {
            Some(e) => {
                e.balance = billing.balance_micro;
                e.terms = AccountTerms {
                    currency: billing.currency,
                    mode: billing.billing_mode,
                };
            }
            None => {
                accounts.insert(
                    account_id.to_owned(),
                    Entry {
                        terms: AccountTerms {
                            currency: billing.currency,
                            mode: billing.billing_mode,
                        },
                        balance: billing.balance_micro,
                        unpersisted: 0,
                        reserved: 0,
                    },
                );
            }
        }
        Ok(Some(balance))
    }
}
