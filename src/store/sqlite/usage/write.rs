//! The SQLite usage writer: one batch of events, its rollups and its balance
//! changes in one transaction, on the store's single writer connection.
//!
//! Why it is cheap (issue 16; `bench/usage_writer.sh` has the figures):
//! - Every statement is one of a fixed set (multi-row INSERTs of
//!   `usage_fold::PIECE_SIZES` rows), prepared once on the writer connection and
//!   reused from its statement cache: no batch parses SQL.
//! - No `RETURNING`: the row count says whether every event was new, which it is
//!   except on a replay. Then (rarely) the batch is rolled back and written again
//!   one row at a time, to learn exactly which events were new.
//! - Rollups and charges are folded in memory (`usage_fold`) and written once per
//!   row and account per batch.
//! - A row costs 3 B-tree inserts (rowid table, UNIQUE id, ts_ms), each at the
//!   right edge, since both the row id and the UUIDv7 grow with time, and no
//!   trigger: the range rule is checked in Rust before the batch (migration 0080).
//! - Text values that repeat across the batch are bound as one shared `Arc<str>`
//!   (`texts`), not copied per row.

use std::sync::Arc;

use sqlx::{Sqlite, SqliteConnection};

use super::Recorded;
use super::texts::Column;
use crate::domain::UsageEvent;
use crate::domain::bounds::MAX_BALANCE_MICRO;
use crate::store::StoreError;
use crate::store::usage_fold::{self, Folded, PIECE_SIZES, pieces};

const EVENT_INSERT: &str = "INSERT INTO usage_events (id, ts_ms, request_id, account_id, kid, \
     user_id, endpoint, provider, model_requested, model_served, status, error_code, \
     input_tokens, output_tokens, cached_tokens, usage_source, cost_micro_usd, charge_micro, \
     currency, latency_ms, ttfb_ms, client_ip, session_id, app_version, byok, streamed, \
     failed_attempt) VALUES ";
/// One row's values. The text columns that are usually empty (user, error code,
/// session, app version) are bound as NULL when empty and stored as `''`:
/// binding a NULL costs SQLite no copy, binding text (sqlx binds it
/// `SQLITE_TRANSIENT`) an allocation and a copy per value.
const EVENT_ROW: &str = "(?, ?, ?, ?, ?, coalesce(?, ''), ?, ?, ?, ?, ?, coalesce(?, ''), \
     ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, coalesce(?, ''), coalesce(?, ''), ?, ?, ?)";
/// Only a known id is skipped: any other violation still fails the batch.
const EVENT_ON_CONFLICT: &str = " ON CONFLICT (id) DO NOTHING";

const HOUR_UPSERT: &str = "INSERT INTO usage_hourly (hour_ms, account_id, kid, provider, \
     model_served, status, currency, requests, errors, auth_failures, attempts_failed, \
     cost_unknown, input_tokens, output_tokens, cached_tokens, cost_micro_usd, charge_micro, \
     latency_ms_sum) VALUES ";
const HOUR_PARAMS: usize = 18;
/// Sums saturate at ±9·10^18 instead of overflowing (SQLite would turn an
/// overflowing sum into REAL, which the STRICT table of migration 0080 refuses).
const HOUR_ON_CONFLICT: &str = " ON CONFLICT (hour_ms, account_id, kid, provider, \
     model_served, status, currency) DO UPDATE SET \
     requests = MAX(MIN(requests + excluded.requests, 9000000000000000000), -9000000000000000000), \
     errors = MAX(MIN(errors + excluded.errors, 9000000000000000000), -9000000000000000000), \
     auth_failures = MAX(MIN(auth_failures + excluded.auth_failures, 9000000000000000000), -9000000000000000000), \
     attempts_failed = MAX(MIN(attempts_failed + excluded.attempts_failed, 9000000000000000000), -9000000000000000000), \
     cost_unknown = MAX(MIN(cost_unknown + excluded.cost_unknown, 9000000000000000000), -9000000000000000000), \
     input_tokens = MAX(MIN(input_tokens + excluded.input_tokens, 9000000000000000000), -9000000000000000000), \
     output_tokens = MAX(MIN(output_tokens + excluded.output_tokens, 9000000000000000000), -9000000000000000000), \
     cached_tokens = MAX(MIN(cached_tokens + excluded.cached_tokens, 9000000000000000000), -9000000000000000000), \
     cost_micro_usd = MAX(MIN(cost_micro_usd + excluded.cost_micro_usd, 9000000000000000000), -9000000000000000000), \
     charge_micro = MAX(MIN(charge_micro + excluded.charge_micro, 9000000000000000000), -9000000000000000000), \
     latency_ms_sum = MAX(MIN(latency_ms_sum + excluded.latency_ms_sum, 9000000000000000000), -9000000000000000000)";

const IP_UPSERT: &str =
    "INSERT INTO usage_ip_hourly (hour_ms, account_id, kid, client_ip, requests) VALUES ";
const IP_PARAMS: usize = 5;
const IP_ON_CONFLICT: &str = " ON CONFLICT (hour_ms, account_id, kid, client_ip) DO UPDATE SET \
     requests = MIN(requests + excluded.requests, 9000000000000000000)";

/// An account that does not exist (no foreign key here) simply matches no row.
/// The balance saturates at the floor instead of leaving the integer range.
const CHARGE: &str = "UPDATE accounts SET balance_micro = \
     MIN(MAX(balance_micro - ?1, -?3), ?3) WHERE id = ?2";

/// The SQL of one multi-row statement per piece size, built once.
struct Statements([String; PIECE_SIZES.len()]);

impl Statements {
    fn build(head: &str, params: usize, tail: &str) -> Statements {
        Self::with_row(head, &format!("({})", vec!["?"; params].join(", ")), tail)
    }

    fn with_row(head: &str, row: &str, tail: &str) -> Statements {
        Statements(PIECE_SIZES.map(|rows| format!("{head}{}{tail}", vec![row; rows].join(", "))))
    }

    /// `'static`: the statements live in statics, built once per process.
    fn for_rows(&'static self, rows: usize) -> Result<&'static str, StoreError> {
        PIECE_SIZES
            .iter()
            .position(|s| *s == rows)
            .map(|i| self.0[i].as_str())
            .ok_or_else(|| StoreError::Corrupt {
                table: "usage_events",
                detail: format!("no statement for {rows} rows"),
            })
    }
}

static EVENTS: std::sync::LazyLock<Statements> =
    std::sync::LazyLock::new(|| Statements::with_row(EVENT_INSERT, EVENT_ROW, EVENT_ON_CONFLICT));
static HOURS: std::sync::LazyLock<Statements> =
    std::sync::LazyLock::new(|| Statements::build(HOUR_UPSERT, HOUR_PARAMS, HOUR_ON_CONFLICT));
static IPS: std::sync::LazyLock<Statements> =
    std::sync::LazyLock::new(|| Statements::build(IP_UPSERT, IP_PARAMS, IP_ON_CONFLICT));

/// Whether every event must be new (the common case) or may have been stored
/// before (a replay, or a batch repeating an id).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// Insert in multi-row pieces; `Ok(None)` if any event was already stored,
    /// and the caller rolls back and writes the batch again [`Mode::RowByRow`].
    AllNew,
    /// One row per statement, keeping only the events that were really inserted.
    RowByRow,
}

/// Writes `events` inside the caller's transaction. `Ok(None)`: in
/// [`Mode::AllNew`], some event was stored before; nothing is usable, roll back.
pub(super) async fn write_batch(
    conn: &mut SqliteConnection,
    events: &[UsageEvent],
    mode: Mode,
) -> Result<Option<Recorded>, StoreError> {
    let fresh: Vec<&UsageEvent> = match mode {
        Mode::AllNew => {
            let mut inserted = 0u64;
            for piece in pieces(events) {
                inserted += insert_events(conn, piece.iter()).await?;
            }
            if inserted != events.len() as u64 {
                return Ok(None);
            }
            events.iter().collect()
        }
        Mode::RowByRow => {
            let mut fresh = Vec::new();
            for e in events {
                if insert_events(conn, std::iter::once(e)).await? == 1 {
                    fresh.push(e);
                }
            }
            fresh
        }
    };
    let inserted = fresh.len() as u64;
    let folded = usage_fold::fold(fresh);
    write_rollups(conn, &folded).await?;
    let mut applied = Vec::with_capacity(folded.charges.len());
    for (account_id, charge) in folded.charges.into_iter().filter(|(_, c)| *c != 0) {
        let charge = charge.clamp(-MAX_BALANCE_MICRO, MAX_BALANCE_MICRO);
        sqlx::query(CHARGE)
            .bind(charge)
            .bind(account_id)
            .bind(MAX_BALANCE_MICRO)
            .execute(&mut *conn)
            .await?;
        applied.push((account_id.to_owned(), charge));
    }
    Ok(Some(Recorded {
        inserted,
        charges: applied,
    }))
}

/// The text columns of `usage_events` that repeat across a batch (see `texts`).
#[derive(Default)]
struct EventTexts<'e> {
    account_id: Column<'e>,
    kid: Column<'e>,
    user_id: Column<'e>,
    endpoint: Column<'e>,
    provider: Column<'e>,
    model_requested: Column<'e>,
    model_served: Column<'e>,
    error_code: Column<'e>,
    usage_source: Column<'e>,
    currency: Column<'e>,
    client_ip: Column<'e>,
    session_id: Column<'e>,
    app_version: Column<'e>,
}

/// One multi-row INSERT of `rows` (a piece size); how many were inserted.
async fn insert_events<'e>(
    conn: &mut SqliteConnection,
    rows: impl ExactSizeIterator<Item = &'e UsageEvent>,
) -> Result<u64, StoreError> {
    let sql = EVENTS.for_rows(rows.len())?;
    let mut t = EventTexts::default();
    let mut q = sqlx::query::<Sqlite>(sql);
    for e in rows {
        q = q
            .bind(e.id_bytes().to_vec())
            .bind(e.ts_ms)
            .bind(Arc::<str>::from(e.request_id.as_str()))
            .bind(t.account_id.get(&e.account_id))
            .bind(t.kid.get(&e.kid))
            .bind(t.user_id.get_or_null(&e.user_id))
            .bind(t.endpoint.get(&e.endpoint))
            .bind(t.provider.get(&e.provider))
            .bind(t.model_requested.get(&e.model_requested))
            .bind(t.model_served.get(&e.model_served))
            .bind(i64::from(e.status))
            .bind(t.error_code.get_or_null(&e.error_code))
            .bind(e.input_tokens)
            .bind(e.output_tokens)
            .bind(e.cached_tokens)
            .bind(t.usage_source.get(e.usage_source.as_str()))
            .bind(e.cost_micro_usd)
            .bind(e.charge_micro)
            .bind(t.currency.get(&e.currency))
            .bind(e.latency_ms)
            .bind(e.ttfb_ms)
            .bind(t.client_ip.get(&e.client_ip))
            .bind(t.session_id.get_or_null(&e.session_id))
            .bind(t.app_version.get_or_null(&e.app_version))
            .bind(e.byok)
            .bind(e.streamed)
            .bind(e.failed_attempt);
    }
    Ok(q.execute(&mut *conn).await?.rows_affected())
}

async fn write_rollups(conn: &mut SqliteConnection, f: &Folded<'_>) -> Result<(), StoreError> {
    let hours: Vec<_> = f.hours.iter().collect();
    for piece in pieces(&hours) {
        let mut q = sqlx::query::<Sqlite>(HOURS.for_rows(piece.len())?);
        for (k, s) in piece {
            q = q
                .bind(k.hour_ms)
                .bind(k.account_id)
                .bind(k.kid)
                .bind(k.provider)
                .bind(k.model_served)
                .bind(i64::from(k.status))
                .bind(k.currency)
                .bind(s.requests)
                .bind(s.errors)
                .bind(s.auth_failures)
                .bind(s.attempts_failed)
                .bind(s.cost_unknown)
                .bind(s.input_tokens)
                .bind(s.output_tokens)
                .bind(s.cached_tokens)
                .bind(s.cost_micro_usd)
                .bind(s.charge_micro)
                .bind(s.latency_ms_sum);
        }
        q.execute(&mut *conn).await?;
    }
    let ips: Vec<_> = f.ips.iter().collect();
    for piece in pieces(&ips) {
        let mut q = sqlx::query::<Sqlite>(IPS.for_rows(piece.len())?);
        for (k, n) in piece {
            q = q
                .bind(k.hour_ms)
                .bind(k.account_id)
                .bind(k.kid)
                .bind(k.client_ip)
                .bind(**n);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// The event INSERT for `rows` rows (a piece size), for tests that look at its plan.
#[cfg(test)]
pub(super) fn event_insert_sql(rows: usize) -> &'static str {
    EVENTS.for_rows(rows).unwrap_or_default()
}
