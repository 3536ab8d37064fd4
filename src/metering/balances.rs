//! The seam in front of prepaid balances, as `policy::Limits` is for rate and
//! concurrency: billing reserves and settles through [`Balances`], whatever holds
//! the money. `Local` is the in-process [`Ledger`] (exact for one instance);
//! `Shared` keeps the money in Redis (`crate::cluster`, exact across instances)
//! and uses the ledger only for each account's terms. Outages of a shared backend
//! are handled by an explicit [`OnFailure`] (`[redis] on_failure.balances`): `Open`
//! admits without a hold (counted in `tollgate_balances_failed_total`), `Closed`
//! refuses with 503 `balance_unavailable`.
//!
//! Loading an account's terms is never failed open: without the account's
//! currency and mode no charge can be computed.
//!
//! Both keep the ledger's contract: the database is the record (the usage writer
//! commits charges with the usage rows, then calls [`Balances::persisted`]), and
//! `available = balance − unpersisted − reserved`.

use std::sync::Arc;

use super::ledger::{AccountTerms, Ledger, LedgerError, Reservation};
use crate::cluster::{Cluster, Reserved};
use crate::domain::OnFailure;

/// How often a balance read is retried when commits keep landing meanwhile.
const SEED_ATTEMPTS: usize = 5;

/// Where prepaid balances are held between a request and the usage writer.
#[derive(Clone)]
pub enum Balances {
    /// In this process; the usage writer tells it what was persisted.
    Local(Arc<Ledger>),
    /// In Redis, shared by every instance; `ledger` holds only the terms here.
    Shared {
        ledger: Arc<Ledger>,
        cluster: Cluster,
    },
}

impl Balances {
    fn ledger(&self) -> &Ledger {
        match self {
            Balances::Local(ledger) | Balances::Shared { ledger, .. } => ledger,
        }
    }

    /// The account's currency and billing mode.
    pub async fn terms(&self, account_id: &str) -> Result<AccountTerms, LedgerError> {
        self.ledger().terms(account_id).await
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
            Balances::Shared { ledger, cluster } => {
                shared_reserve(ledger, cluster, account_id, amount_micro).await
            }
        };
        match held {
            Err(e @ (LedgerError::Store(_) | LedgerError::Shared(_))) => {
                metrics::counter!("tollgate_balances_failed_total").increment(1);
                match on_failure {
                    OnFailure::Open => {
                        tracing::debug!(error = %e, account = account_id, "balance backend failed; admitting without a hold (fail open)");
                        Ok(None)
                    }
                    OnFailure::Closed => Err(e),
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
            Balances::Shared { ledger, cluster } => seed(ledger, cluster, account_id).await,
        }
    }

    /// Re-reads every account this process knows (changes made by the CLI or
    /// another process). Called by the usage writer between batches.
    pub async fn refresh_all(&self) {
        match self {
            Balances::Local(ledger) => ledger.refresh_all().await,
            Balances::Shared { ledger, cluster } => {
                for id in ledger.account_ids() {
                    if let Err(e) = seed(ledger, cluster, &id).await {
                        tracing::debug!(error = %e, account = %id, "balance refresh failed");
                    }
                }
            }
        }
    }

    /// Releases a hold and books the request's real charge.
    pub fn settle(&self, reservation: Option<&Reservation>, account_id: &str, charge_micro: i64) {
        match self {
            Balances::Local(ledger) => ledger.settle(reservation, account_id, charge_micro),
            Balances::Shared { cluster, .. } => {
                let (held_on, held) = match reservation {
                    Some(r) => (r.account_id.clone(), r.amount_micro),
                    None => (account_id.to_owned(), 0),
                };
                if held == 0 && charge_micro == 0 {
                    return;
                }
                let cluster = cluster.clone();
                let account_id = account_id.to_owned();
                // Called from sync code (a response body's end): the two increments
                // run on their own. They commute with `persisted`, so their order
                // against the writer does not matter. A failure is counted and
                // logged by the cluster; the hold then stays counted (see
                // `cluster::balance`: errs towards refusing).
                if let Ok(rt) = tokio::runtime::Handle::try_current() {
                    rt.spawn(async move {
                        let _ = cluster
                            .settle(&held_on, held, &account_id, charge_micro)
                            .await;
                    });
                }
            }
        }
    }

    /// The usage writer committed `charge_micro` of this account to the database.
    pub async fn persisted(&self, account_id: &str, charge_micro: i64) {
        match self {
            Balances::Local(ledger) => ledger.persisted(account_id, charge_micro),
            Balances::Shared { cluster, .. } => {
                // Counted and logged by the cluster on failure.
                let _ = cluster.persisted(account_id, charge_micro).await;
            }
        }
    }
}

async fn shared_reserve(
    ledger: &Ledger,
    cluster: &Cluster,
    account_id: &str,
    amount_micro: i64,
) -> Result<Option<Reservation>, LedgerError> {
    let mut seeded = false;
    loop {
        match cluster.reserve(account_id, amount_micro).await? {
            Reserved::Held => {
                return Ok(Some(Reservation {
                    account_id: account_id.to_owned(),
                    amount_micro,
                }));
            }
            Reserved::Insufficient { available } => {
                return Err(LedgerError::Insufficient {
                    available,
                    needed: amount_micro.max(1),
                });
            }
            Reserved::Unknown if !seeded => {
                seed(ledger, cluster, account_id).await?;
                seeded = true;
            }
            Reserved::Unknown => {
                return Err(LedgerError::UnknownAccount(account_id.to_owned()));
            }
        }
    }
}

/// Copies the account's database balance into Redis, unless a commit lands while
/// we read it (then reads again; see `cluster::balance`).
async fn seed(ledger: &Ledger, cluster: &Cluster, account_id: &str) -> Result<(), LedgerError> {
    for _ in 0..SEED_ATTEMPTS {
        let epoch = cluster.balance_epoch(account_id).await?;
        let Some(balance) = ledger.load_billing(account_id).await? else {
            return Ok(());
        };
        if cluster.set_balance(account_id, &epoch, balance).await? {
            return Ok(());
        }
    }
    // Commits kept landing: the stored balance is older, which the epoch
    // guard keeps correct (it only lacks a credit made meanwhile).
    tracing::debug!(
        account = account_id,
        "balance refresh lost every race with commits; next refresh retries"
    );
    Ok(())
}
