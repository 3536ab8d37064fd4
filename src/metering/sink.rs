//! The usage writer: requests hand their finished `UsageEvent` to a bounded channel
//! and move on; one task commits them in batches, in one transaction with the
//! rollups and balance changes.
//!
//! Promises, and how they are kept:
//! - **Committed within ~50 ms.** The writer takes what is queued every
//!   [`COMMIT_WINDOW`] (25 ms) and commits it, so a `kill -9` loses at most the
//!   last window plus the commit in flight.
//! - **No bursts.** A transaction holds at most [`BATCH_MAX`] rows, so none takes
//!   milliseconds of CPU (`bench/usage_writer.sh`); a window that collected more
//!   is committed as several small transactions back to back, without waiting for
//!   the next window (WAL commits without fsync are cheap; many small ones cost
//!   about what one large one does).
//! - **Nothing dropped when the database refuses.** A batch the database refuses
//!   (locked, full, I/O error) is appended to the spill file (`metering::spill`,
//!   fsynced) instead of growing in memory; while the database keeps failing, new
//!   batches go straight there, and every `RETRY_AFTER` the writer replays the file.
//!   Replays are idempotent (unique event ids), so no row or charge is doubled. Only
//!   when the spill file refuses too (full, or the disk is) do events wait in memory.
//! - **Counters tell the truth.** `tollgate_usage_written_total` counts rows
//!   committed, nothing else.
//! - **Shutdown.** The server closes the sink after the last request; the writer
//!   commits what is queued, spills what the database will not take before the
//!   deadline, and reports what is left ([`Unwritten`]) so the process can exit
//!   non-zero and say where it is. The next start replays the spill file first.
//! - **[`UsageSink::flush`]** is a barrier: it resolves once everything queued before
//!   it has been committed (or, if the database refused it, spilled).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::UsageEvent;
use super::balances::Balances;
use super::bounds::clamp_event;
use super::spill::SpillFile;
use crate::alerts::Alerts;
use crate::store::{Store, StoreError};

/// Most rows in one transaction: about 1.4 ms of CPU per commit in the dev
/// profile, against 7–8 ms for 250 rows before the writer was reworked
/// (bench/RESULTS.md, "Usage writer").
pub const BATCH_MAX: usize = 128;
/// How long events collect before a commit: half the 50 ms a crash may lose, the
/// other half is for the commit itself.
pub const COMMIT_WINDOW: Duration = Duration::from_millis(25);
/// After the database refused a batch, how long new batches go straight to the
/// spill file before the database is tried again.
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// How often balances are re-read, to see credits made by another process.
const REFRESH_EVERY: Duration = Duration::from_secs(5);
/// Of the shutdown deadline, what is kept back for spilling after the database
/// has been tried.
const SPILL_RESERVE: Duration = Duration::from_secs(2);

/// What goes through the channel.
// Events are nearly every message: boxing them would add an allocation per
// request to save a few hundred bytes on the rare flush.
#[allow(clippy::large_enum_variant)]
enum Queued {
    Event(UsageEvent),
    /// Resolve once everything before it is committed.
    Flush(oneshot::Sender<()>),
}

/// Where finished requests send their usage. Cheap to clone.
#[derive(Clone)]
pub struct UsageSink {
    tx: mpsc::Sender<Queued>,
    overflow: Arc<Mutex<Vec<UsageEvent>>>,
}

impl UsageSink {
    /// Queues an event; never blocks, never drops.
    pub fn record(&self, event: UsageEvent) {
        match self.tx.try_send(Queued::Event(event)) {
            Ok(()) => {}
            Err(
                mpsc::error::TrySendError::Full(Queued::Event(event))
                | mpsc::error::TrySendError::Closed(Queued::Event(event)),
            ) => {
                metrics::counter!("tollgate_usage_spilled_total").increment(1);
                self.overflow.lock().push(event);
            }
            Err(_) => {}
        }
    }

    /// Resolves once every event recorded before this call has been committed
    /// (or spilled, if the database refused it). Returns at once if the writer
    /// has stopped.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Queued::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

/// Where the writer spills, and how much.
#[derive(Debug, Clone)]
pub struct SpillConfig {
    pub path: PathBuf,
    pub max_bytes: u64,
}

/// Usage that was not committed when the writer stopped.
#[derive(Debug, thiserror::Error)]
pub enum Unwritten {
    #[error(
        "{rows} usage events could not be written to the database before exit; they are in the spill file {path} and the next start writes them"
    )]
    Spilled { rows: u64, path: PathBuf },
    #[error(
        "{lost} usage events were lost: neither the database nor the spill file {path} took them ({spilled} others are in the spill file for the next start)"
    )]
    Lost {
        lost: u64,
        spilled: u64,
        path: PathBuf,
    },
    #[error(
        "the usage writer did not stop within {0:?}; what it still held in memory is lost (see the spill file beside the database)"
    )]
    TimedOut(Duration),
}

/// Starts the writer. It first replays what an earlier process left in the spill
/// file. Drop every `UsageSink` clone (or call [`Writer::finish`]) to stop it.
pub fn spawn(
    store: Store,
    balances: Balances,
    alerts: Alerts,
    capacity: usize,
    spill: SpillConfig,
) -> (UsageSink, Writer) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let overflow = Arc::new(Mutex::new(Vec::new()));
    let sink = UsageSink {
        tx,
        overflow: overflow.clone(),
    };
    let (drain_tx, drain_rx) = oneshot::channel();
    let (done_tx, done_rx) = oneshot::channel();
    // The writer gets its own thread and single-threaded runtime: a batch of a few
    // hundred rows is milliseconds of CPU, which on a request worker would stall
    // the requests queued behind it; on its own thread the OS time-slices it
    // against the request workers. (On the 2-core bench VM this did not move the
    // c1 p99 — 1.5–1.9 ms metered vs ~0.23 ms unmetered — there the batch simply
    // competes for the same two cores as wrk, the mock and the gateway.) The spill
    // file's blocking I/O happens on this thread too, on purpose.
    let spawned = std::thread::Builder::new()
        .name("usage-writer".into())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => {
                    let spill = SpillFile::open(spill.path, spill.max_bytes);
                    let task = Task::new(store, balances, alerts, spill);
                    let result = rt.block_on(task.run(rx, overflow, drain_rx));
                    let _ = done_tx.send(result);
                }
                Err(e) => tracing::error!(error = %e, "cannot start the usage writer runtime"),
            }
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
    done: oneshot::Receiver<Result<(), Unwritten>>,
    drain: Option<oneshot::Sender<Instant>>,
}

impl Writer {
    /// Commits everything queued so far and stops, within `deadline`: what the
    /// database does not take by then goes to the spill file. Call it after the
    /// last request has finished (the server has stopped). `Err` says what was not
    /// committed and where it is.
    pub async fn finish(mut self, deadline: Duration) -> Result<(), Unwritten> {
        let until = Instant::now() + deadline;
        if let Some(tx) = self.drain.take() {
            let _ = tx.send(until);
        }
        // The writer keeps to `until` itself; the margin covers the spill.
        match tokio::time::timeout(deadline + SPILL_RESERVE * 2, &mut self.done).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) | Err(_) => Err(Unwritten::TimedOut(deadline)),
        }
    }
}

/// Where a committed event came from, for the ledger.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// Settled by this process: the ledger counts it as unpersisted.
    ThisProcess,
    /// Left in the spill file by an earlier process: the ledger never saw it.
    EarlierProcess,
}

struct Task {
    store: Store,
    balances: Balances,
    /// Told each committed charge (balance and daily-spend alerts).
    alerts: Alerts,
    spill: SpillFile,
    /// Records at the head of the spill file that an earlier process wrote.
    earlier: u64,
    /// The database refused a write; until then, batches go to the spill file.
    retry_at: Option<Instant>,
}

impl Task {
    fn new(store: Store, balances: Balances, alerts: Alerts, spill: SpillFile) -> Task {
        let earlier = spill.records();
        if earlier > 0 {
            tracing::warn!(rows = earlier, path = %spill.path().display(), "replaying usage left in the spill file");
        }
        metrics::gauge!("tollgate_usage_spill_file_rows").set(earlier as f64);
        Task {
            store,
            balances,
            alerts,
            spill,
            earlier,
            retry_at: None,
        }
    }

    async fn run(
        mut self,
        mut rx: mpsc::Receiver<Queued>,
        overflow: Arc<Mutex<Vec<UsageEvent>>>,
        mut drain: oneshot::Receiver<Instant>,
    ) -> Result<(), Unwritten> {
        if self.spill.records() > 0 {
            self.replay().await;
        }
        let mut batch: Vec<UsageEvent> = Vec::with_capacity(BATCH_MAX);
        let mut flushes: Vec<oneshot::Sender<()>> = Vec::new();
        let mut refreshed = Instant::now();
        let mut next_take = Instant::now();
        loop {
            if refreshed.elapsed() >= REFRESH_EVERY {
                self.balances.refresh_all().await;
                refreshed = Instant::now();
            }
            // `collect` only moves events into `batch`, so cancelling it loses nothing.
            let stop = tokio::select! {
                biased;
                until = &mut drain => Some(until.unwrap_or_else(|_| Instant::now())),
                closed = collect(&mut rx, &overflow, &mut batch, &mut flushes, &mut next_take) => {
                    closed.then(|| Instant::now() + Duration::from_secs(30))
                }
            };
            if let Some(until) = stop {
                return self.drain(rx, &overflow, batch, flushes, until).await;
            }
            if !batch.is_empty() {
                self.write(&mut batch).await;
            }
            if self.spill.records() > 0 && self.retry_at.is_none_or(|t| Instant::now() >= t) {
                self.replay().await;
            }
            if !flushes.is_empty() && overflow.lock().is_empty() && batch.is_empty() {
                for f in flushes.drain(..) {
                    let _ = f.send(());
                }
            }
        }
    }

    /// Commits `batch`, or spills it if the database refuses (or has just
    /// refused). `batch` is empty afterwards unless the spill file refused too.
    async fn write(&mut self, batch: &mut Vec<UsageEvent>) {
        batch.iter_mut().for_each(clamp_event);
        if self.retry_at.is_none_or(|t| Instant::now() >= t) {
            match self.commit(batch, Origin::ThisProcess).await {
                Ok(()) => {
                    self.retry_at = None;
                    batch.clear();
                    return;
                }
                Err(e) => self.refused(&e, batch.len()),
            }
        }
        self.spill_batch(batch);
        if !batch.is_empty() {
            // Neither the database nor the file: hold on, and do not spin.
            tokio::time::sleep(RETRY_AFTER).await;
        }
    }

    fn refused(&mut self, e: &StoreError, rows: usize) {
        metrics::counter!("tollgate_usage_write_errors_total").increment(1);
        tracing::error!(error = %e, rows, path = %self.spill.path().display(),
            "the database refused usage; spilling to the spill file and retrying");
        self.retry_at = Some(Instant::now() + RETRY_AFTER);
    }

    fn spill_batch(&mut self, batch: &mut Vec<UsageEvent>) {
        match self.spill.append(batch) {
            Ok(()) => {
                metrics::counter!("tollgate_usage_spill_file_written_total")
                    .increment(batch.len() as u64);
                metrics::gauge!("tollgate_usage_spill_file_rows").set(self.spill.records() as f64);
                batch.clear();
            }
            Err(e) => {
                tracing::error!(error = %e, rows = batch.len(), "cannot spill usage; keeping it in memory");
            }
        }
    }

    /// One transaction; the counter and the ledger learn only what was committed.
    async fn commit(&self, batch: &[UsageEvent], origin: Origin) -> Result<(), StoreError> {
        let recorded = self.store.record_usage_batch(batch).await?;
        metrics::counter!("tollgate_usage_written_total").increment(recorded.inserted);
        for (account_id, charge) in &recorded.charges {
            match origin {
                Origin::ThisProcess => {
                    self.balances.persisted(account_id, *charge).await;
                    self.alerts.settled(account_id, *charge);
                }
                Origin::EarlierProcess => {
                    if let Err(e) = self.balances.reload(account_id).await {
                        tracing::warn!(error = %e, account = %account_id, "balance reload failed");
                    }
                }
            }
        }
        Ok(())
    }

    /// Commits the spill file's events, then removes it. Stops at the first
    /// refusal (what was committed is skipped next time: ids are unique).
    async fn replay(&mut self) {
        let (events, skipped) = match self.spill.read() {
            Ok(read) => read,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the usage spill file");
                self.retry_at = Some(Instant::now() + RETRY_AFTER);
                return;
            }
        };
        if skipped > 0 {
            tracing::warn!(lines = skipped, path = %self.spill.path().display(),
                "skipped unreadable lines in the usage spill file (a write cut by a crash)");
        }
        let earlier = usize::try_from(self.earlier).unwrap_or(usize::MAX);
        let (from_earlier, from_us) = events.split_at(earlier.min(events.len()));
        for (part, origin) in [
            (from_earlier, Origin::EarlierProcess),
            (from_us, Origin::ThisProcess),
        ] {
            for chunk in part.chunks(BATCH_MAX) {
                if let Err(e) = self.commit(chunk, origin).await {
                    self.refused(&e, chunk.len());
                    return;
                }
            }
        }
        match self.spill.clear() {
            Ok(()) => {
                tracing::info!(
                    rows = events.len(),
                    "usage from the spill file is in the database"
                );
                self.earlier = 0;
                self.retry_at = None;
                metrics::gauge!("tollgate_usage_spill_file_rows").set(0.0);
            }
            // Harmless: the next replay finds every id already stored.
            Err(e) => tracing::error!(error = %e, "cannot remove the replayed usage spill file"),
        }
    }

    /// Shutdown: commit what is queued until `until`, spill the rest.
    async fn drain(
        mut self,
        mut rx: mpsc::Receiver<Queued>,
        overflow: &Mutex<Vec<UsageEvent>>,
        mut batch: Vec<UsageEvent>,
        mut flushes: Vec<oneshot::Sender<()>>,
        until: Instant,
    ) -> Result<(), Unwritten> {
        rx.close();
        while let Some(q) = rx.recv().await {
            match q {
                Queued::Event(ev) => batch.push(ev),
                Queued::Flush(f) => flushes.push(f),
            }
        }
        batch.append(&mut overflow.lock());
        batch.iter_mut().for_each(clamp_event);
        let db_until = until.checked_sub(SPILL_RESERVE).unwrap_or(until);
        let mut lost = 0u64;
        let mut db_ok = self.retry_at.is_none();
        for chunk in batch.chunks(BATCH_MAX) {
            if db_ok && Instant::now() < db_until {
                match tokio::time::timeout_at(db_until, self.commit(chunk, Origin::ThisProcess))
                    .await
                {
                    Ok(Ok(())) => continue,
                    Ok(Err(e)) => self.refused(&e, chunk.len()),
                    Err(_) => tracing::error!(
                        rows = chunk.len(),
                        "the database did not take usage before the shutdown deadline"
                    ),
                }
                db_ok = false;
            }
            if let Err(e) = self.spill.append(chunk) {
                tracing::error!(error = %e, rows = chunk.len(), "usage lost at shutdown");
                lost += chunk.len() as u64;
            }
        }
        if db_ok && self.spill.records() > 0 && Instant::now() < db_until {
            self.retry_at = None;
            let _ = tokio::time::timeout_at(db_until, self.replay()).await;
        }
        for f in flushes {
            let _ = f.send(());
        }
        let path = self.spill.path().to_owned();
        let spilled = self.spill.records();
        if lost > 0 {
            Err(Unwritten::Lost {
                lost,
                spilled,
                path,
            })
        } else if spilled > 0 {
            Err(Unwritten::Spilled {
                rows: spilled,
                path,
            })
        } else {
            Ok(())
        }
    }
}

/// Waits for the next take (every [`COMMIT_WINDOW`], from the first event after an
/// idle spell), then moves up to [`BATCH_MAX`] events into `batch`, the overflow
/// first. A flush request ends the wait early. Returns true when every sender is
/// gone.
async fn collect(
    rx: &mut mpsc::Receiver<Queued>,
    overflow: &Mutex<Vec<UsageEvent>>,
    batch: &mut Vec<UsageEvent>,
    flushes: &mut Vec<oneshot::Sender<()>>,
    next_take: &mut Instant,
) -> bool {
    take_overflow(overflow, batch);
    if batch.is_empty() && flushes.is_empty() && rx.is_empty() {
        // Wake up now and then even without traffic, for the balance refresh.
        match tokio::time::timeout(REFRESH_EVERY, rx.recv()).await {
            Ok(Some(Queued::Event(ev))) => batch.push(ev),
            Ok(Some(Queued::Flush(f))) => flushes.push(f),
            Ok(None) => return true,
            Err(_) => return false,
        }
        // After an idle spell the window starts with this event.
        *next_take = (*next_take).max(Instant::now() + COMMIT_WINDOW);
    }
    // Sleep through the window instead of waking per event: a request then costs
    // one uncontended channel push, not a cross-thread wake-up. The queue holds
    // `[usage] queue_capacity` events, far more than one window's worth.
    // A backlog of a batch or more (a busy window, or the database was slow) is
    // taken at once, in batches of BATCH_MAX.
    if flushes.is_empty() && batch.len() + rx.len() < BATCH_MAX {
        tokio::time::sleep_until(*next_take).await;
    }
    *next_take = Instant::now() + COMMIT_WINDOW;
    metrics::gauge!("tollgate_usage_queue_depth").set(rx.len() as f64);
    take_overflow(overflow, batch);
    while batch.len() < BATCH_MAX {
        match rx.try_recv() {
            Ok(Queued::Event(ev)) => batch.push(ev),
            Ok(Queued::Flush(f)) => flushes.push(f),
            Err(mpsc::error::TryRecvError::Empty) => break,
            Err(mpsc::error::TryRecvError::Disconnected) => return true,
        }
    }
    false
}

/// Moves overflow events into `batch`, never past [`BATCH_MAX`].
fn take_overflow(overflow: &Mutex<Vec<UsageEvent>>, batch: &mut Vec<UsageEvent>) {
    let mut o = overflow.lock();
    let n = BATCH_MAX.saturating_sub(batch.len()).min(o.len());
    batch.extend(o.drain(..n));
}
