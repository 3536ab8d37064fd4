//! The usage writer: requests hand their finished `UsageEvent` to a bounded channel
//! and move on; one task writes them in batches (every ~100 ms, up to 2,000 rows), in one
//! transaction with the rollups and balance changes.
//!
//! Nothing is dropped: when the channel is full, events spill into an overflow list
//! the writer drains first (counted in `tollgate_usage_spilled_total`). A failed
//! write keeps its batch and retries. On shutdown the server closes the sink after
//! the last request has finished, and the writer drains everything before exiting.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::mpsc;

use super::UsageEvent;
use super::ledger::Ledger;
use crate::store::Store;

const BATCH_MAX: usize = 2_000;
const BATCH_EVERY: Duration = Duration::from_millis(100);
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// How often balances are re-read, to see credits made by another process.
const REFRESH_EVERY: Duration = Duration::from_secs(5);

/// Where finished requests send their usage. Cheap to clone.
#[derive(Clone)]
pub struct UsageSink {
    tx: mpsc::Sender<UsageEvent>,
    overflow: Arc<Mutex<Vec<UsageEvent>>>,
}

impl UsageSink {
    /// Queues an event; never blocks, never drops.
    pub fn record(&self, event: UsageEvent) {
        match self.tx.try_send(event) {
            Ok(()) => {}
            Err(
                mpsc::error::TrySendError::Full(event) | mpsc::error::TrySendError::Closed(event),
            ) => {
                metrics::counter!("tollgate_usage_spilled_total").increment(1);
                self.overflow.lock().push(event);
            }
        }
    }
}

/// Starts the writer. To flush everything, drop every `UsageSink` clone or call
/// [`Writer::finish`], which tells the writer to drain and waits for it.
pub fn spawn(store: Store, ledger: Arc<Ledger>, capacity: usize) -> (UsageSink, Writer) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let overflow = Arc::new(Mutex::new(Vec::new()));
    let sink = UsageSink {
        tx,
        overflow: overflow.clone(),
    };
    let (drain_tx, drain_rx) = tokio::sync::oneshot::channel();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    // The writer gets its own thread and single-threaded runtime: a batch of a few
    // hundred rows is milliseconds of CPU, which on a request worker would stall
    // the requests queued behind it; on its own thread the OS time-slices it
    // against the request workers. (On the 2-core bench VM this did not move the
    // c1 p99 — 1.5–1.9 ms metered vs ~0.23 ms unmetered — there the batch simply
    // competes for the same two cores as wrk, the mock and the gateway.)
    let spawned = std::thread::Builder::new()
        .name("usage-writer".into())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(run(store, ledger, rx, overflow, drain_rx)),
                Err(e) => tracing::error!(error = %e, "cannot start the usage writer runtime"),
            }
            let _ = done_tx.send(());
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the usage writer thread; usage will queue in memory");
    }
    (
        sink,
        Writer {
            done: done_rx,
            drain: Some(drain_tx),
        },
    )
}

pub struct Writer {
    done: tokio::sync::oneshot::Receiver<()>,
    drain: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Writer {
    /// Writes everything queued so far and stops, waiting at most `deadline`. Call it
    /// after the last request has finished (the server has stopped).
    pub async fn finish(mut self, deadline: Duration) {
        if let Some(tx) = self.drain.take() {
            let _ = tx.send(());
        }
        if tokio::time::timeout(deadline, &mut self.done)
            .await
            .is_err()
        {
            tracing::error!(
                "usage writer did not finish before the deadline; some usage may be unwritten"
            );
        }
    }
}

async fn run(
    store: Store,
    ledger: Arc<Ledger>,
    mut rx: mpsc::Receiver<UsageEvent>,
    overflow: Arc<Mutex<Vec<UsageEvent>>>,
    mut drain: tokio::sync::oneshot::Receiver<()>,
) {
    let mut batch: Vec<UsageEvent> = Vec::with_capacity(BATCH_MAX);
    let mut refreshed = tokio::time::Instant::now();
    loop {
        if refreshed.elapsed() >= REFRESH_EVERY {
            ledger.refresh_all().await;
            refreshed = tokio::time::Instant::now();
        }
        // `collect` only moves events into `batch`, so cancelling it loses nothing.
        let closed = tokio::select! {
            biased;
            _ = &mut drain => {
                rx.close();
                while let Some(ev) = rx.recv().await {
                    batch.push(ev);
                }
                true
            }
            closed = collect(&mut rx, &overflow, &mut batch) => closed,
        };
        if !batch.is_empty() {
            write(&store, &ledger, &mut batch).await;
        }
        if closed {
            // Senders are gone: take what is left in the overflow, then stop.
            let rest: Vec<UsageEvent> = std::mem::take(&mut *overflow.lock());
            batch.extend(rest);
            while !batch.is_empty() {
                write(&store, &ledger, &mut batch).await;
            }
            return;
        }
    }
}

/// Fills `batch` from the overflow and the channel until it is full or
/// `BATCH_EVERY` has passed since the first event. Returns true when closed.
async fn collect(
    rx: &mut mpsc::Receiver<UsageEvent>,
    overflow: &Mutex<Vec<UsageEvent>>,
    batch: &mut Vec<UsageEvent>,
) -> bool {
    batch.append(&mut overflow.lock());
    if batch.is_empty() {
        // Wake up now and then even without traffic, for the balance refresh.
        match tokio::time::timeout(REFRESH_EVERY, rx.recv()).await {
            Ok(Some(ev)) => batch.push(ev),
            Ok(None) => return true,
            Err(_) => return false,
        }
    }
    // Sleep through the batch window instead of waking per event: a request then
    // costs one uncontended channel push, not a cross-thread wake-up. The queue
    // holds `[usage] queue_capacity` events, far more than one window's worth.
    tokio::time::sleep(BATCH_EVERY).await;
    metrics::gauge!("tollgate_usage_queue_depth").set(rx.len() as f64);
    while batch.len() < BATCH_MAX {
        match rx.try_recv() {
            Ok(ev) => batch.push(ev),
            Err(mpsc::error::TryRecvError::Empty) => break,
            Err(mpsc::error::TryRecvError::Disconnected) => return true,
        }
    }
    false
}

async fn write(store: &Store, ledger: &Ledger, batch: &mut Vec<UsageEvent>) {
    loop {
        match store.record_usage(batch).await {
            Ok(_) => {
                for ev in batch.iter().filter(|e| !e.account_id.is_empty()) {
                    ledger.persisted(&ev.account_id, ev.charge_micro);
                }
                metrics::counter!("tollgate_usage_written_total").increment(batch.len() as u64);
                batch.clear();
                return;
            }
            Err(e) => {
                metrics::counter!("tollgate_usage_write_errors_total").increment(1);
                tracing::error!(error = %e, rows = batch.len(), "writing usage failed; retrying");
                tokio::time::sleep(RETRY_AFTER).await;
            }
        }
    }
}
