//! The PostgreSQL usage writer: the same contract and the same shape as the
//! SQLite one (`store::sqlite::usage::write`). Each statement takes the whole
//! batch as arrays (`UNNEST`), so there is one prepared statement per table for
//! any batch size, reused from the connection's statement cache. No `RETURNING`
//! on the common path: the row count says whether every event was new; when it
//! is short (a replay), the caller rolls back and the batch is written again with
//! `RETURNING id` to learn which events were new. Rollups and charges are folded
//! in memory (`usage_fold`) and written once per row and account.

use std::collections::HashSet;

use sqlx::PgConnection;

use crate::domain::UsageEvent;
use crate::domain::bounds::MAX_BALANCE_MICRO;
use crate::store::usage_fold::{self, Folded};
use crate::store::{Recorded, StoreError};

const EVENT_INSERT: &str = "INSERT INTO usage_events (id, ts_ms, request_id, account_id, kid, \
     user_id, endpoint, provider, model_requested, model_served, status, error_code, \
     input_tokens, output_tokens, cached_tokens, usage_source, cost_micro_usd, charge_micro, \
     currency, latency_ms, ttfb_ms, client_ip, session_id, app_version, byok, streamed, \
     failed_attempt) \
     SELECT * FROM UNNEST($1::uuid[], $2::bigint[], $3::text[], $4::text[], $5::text[], \
     $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::bigint[], $12::text[], \
     $13::bigint[], $14::bigint[], $15::bigint[], $16::text[], $17::bigint[], $18::bigint[], \
     $19::text[], $20::bigint[], $21::bigint[], $22::text[], $23::text[], $24::text[], \
     $25::boolean[], $26::boolean[], $27::boolean[]) \
     ON CONFLICT (id, ts_ms) DO NOTHING";

/// The same, saying which rows went in: only for a batch that met stored events.
const EVENT_INSERT_RETURNING: &str = "INSERT INTO usage_events (id, ts_ms, request_id, \
     account_id, kid, user_id, endpoint, provider, model_requested, model_served, status, \
     error_code, input_tokens, output_tokens, cached_tokens, usage_source, cost_micro_usd, \
     charge_micro, currency, latency_ms, ttfb_ms, client_ip, session_id, app_version, byok, \
     streamed, failed_attempt) \
     SELECT * FROM UNNEST($1::uuid[], $2::bigint[], $3::text[], $4::text[], $5::text[], \
     $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::bigint[], $12::text[], \
     $13::bigint[], $14::bigint[], $15::bigint[], $16::text[], $17::bigint[], $18::bigint[], \
     $19::text[], $20::bigint[], $21::bigint[], $22::text[], $23::text[], $24::text[], \
     $25::boolean[], $26::boolean[], $27::boolean[]) \
     ON CONFLICT (id, ts_ms) DO NOTHING RETURNING id::text";

/// Sums saturate at ±9·10^18 (computed in NUMERIC) instead of failing the batch.
const HOUR_UPSERT: &str = "INSERT INTO usage_hourly AS h (hour_ms, account_id, kid, provider, \
     model_served, status, currency, requests, errors, auth_failures, attempts_failed, \
     cost_unknown, input_tokens, output_tokens, cached_tokens, cost_micro_usd, charge_micro, \
     latency_ms_sum) \
     SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], \
     $6::bigint[], $7::text[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], \
     $12::bigint[], $13::bigint[], $14::bigint[], $15::bigint[], $16::bigint[], $17::bigint[], \
     $18::bigint[]) \
     ON CONFLICT (hour_ms, account_id, kid, provider, model_served, status, currency) DO UPDATE SET \
     requests = LEAST(GREATEST(h.requests::numeric + excluded.requests, -9000000000000000000), 9000000000000000000)::bigint, \
     errors = LEAST(GREATEST(h.errors::numeric + excluded.errors, -9000000000000000000), 9000000000000000000)::bigint, \
     auth_failures = LEAST(GREATEST(h.auth_failures::numeric + excluded.auth_failures, -9000000000000000000), 9000000000000000000)::bigint, \
     attempts_failed = LEAST(GREATEST(h.attempts_failed::numeric + excluded.attempts_failed, -9000000000000000000), 9000000000000000000)::bigint, \
     cost_unknown = LEAST(GREATEST(h.cost_unknown::numeric + excluded.cost_unknown, -9000000000000000000), 9000000000000000000)::bigint, \
     input_tokens = LEAST(GREATEST(h.input_tokens::numeric + excluded.input_tokens, -9000000000000000000), 9000000000000000000)::bigint, \
     output_tokens = LEAST(GREATEST(h.output_tokens::numeric + excluded.output_tokens, -9000000000000000000), 9000000000000000000)::bigint, \
     cached_tokens = LEAST(GREATEST(h.cached_tokens::numeric + excluded.cached_tokens, -9000000000000000000), 9000000000000000000)::bigint, \
     cost_micro_usd = LEAST(GREATEST(h.cost_micro_usd::numeric + excluded.cost_micro_usd, -9000000000000000000), 9000000000000000000)::bigint, \
     charge_micro = LEAST(GREATEST(h.charge_micro::numeric + excluded.charge_micro, -9000000000000000000), 9000000000000000000)::bigint, \
     latency_ms_sum = LEAST(GREATEST(h.latency_ms_sum::numeric + excluded.latency_ms_sum, -9000000000000000000), 9000000000000000000)::bigint";

const IP_UPSERT: &str = "INSERT INTO usage_ip_hourly AS h (hour_ms, account_id, kid, \
     client_ip, requests) \
     SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[]) \
     ON CONFLICT (hour_ms, account_id, kid, client_ip) DO UPDATE SET \
     requests = LEAST(h.requests::numeric + excluded.requests, 9000000000000000000)::bigint";

/// An account that does not exist matches no row; the balance saturates at the
/// floor instead of leaving the integer range.
const CHARGE: &str = "UPDATE accounts SET balance_micro = \
     LEAST(GREATEST(balance_micro - $1, -$3::bigint), $3::bigint) WHERE id = $2";

/// See `store::sqlite::usage::write::Mode`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    AllNew,
    Returning,
}

/// One column of the batch as an array parameter.
macro_rules! column {
    ($rows:expr, |$e:ident| $value:expr) => {
        $rows.iter().map(|$e| $value).collect::<Vec<_>>()
    };
}

/// Writes `events` inside the caller's transaction. `Ok(None)`: in
/// [`Mode::AllNew`], some event was stored before; roll back and try
/// [`Mode::Returning`].
pub(super) async fn write_batch(
    conn: &mut PgConnection,
    events: &[UsageEvent],
    mode: Mode,
) -> Result<Option<Recorded>, StoreError> {
    // The canonical text of each id's UUID: what PostgreSQL parses, and what
    // `RETURNING id::text` gives back.
    let ids: Vec<String> = column!(events, |e| uuid::Uuid::from_bytes(e.id_bytes()).to_string());
    let sql = match mode {
        Mode::AllNew => EVENT_INSERT,
        Mode::Returning => EVENT_INSERT_RETURNING,
    };
    let q = sqlx::query(sql)
        .bind(&ids[..])
        .bind(column!(events, |e| e.ts_ms))
        .bind(column!(events, |e| e.request_id.as_str()))
        .bind(column!(events, |e| e.account_id.as_str()))
        .bind(column!(events, |e| e.kid.as_str()))
        .bind(column!(events, |e| e.user_id.as_str()))
        .bind(column!(events, |e| e.endpoint.as_str()))
        .bind(column!(events, |e| e.provider.as_str()))
        .bind(column!(events, |e| e.model_requested.as_str()))
        .bind(column!(events, |e| e.model_served.as_str()))
        .bind(column!(events, |e| i64::from(e.status)))
        .bind(column!(events, |e| e.error_code.as_str()))
        .bind(column!(events, |e| e.input_tokens))
        .bind(column!(events, |e| e.output_tokens))
        .bind(column!(events, |e| e.cached_tokens))
        .bind(column!(events, |e| e.usage_source.as_str()))
        .bind(column!(events, |e| e.cost_micro_usd))
        .bind(column!(events, |e| e.charge_micro))
        .bind(column!(events, |e| e.currency.as_str()))
        .bind(column!(events, |e| e.latency_ms))
        .bind(column!(events, |e| e.ttfb_ms))
        .bind(column!(events, |e| e.client_ip.as_str()))
        .bind(column!(events, |e| e.session_id.as_str()))
        .bind(column!(events, |e| e.app_version.as_str()))
        .bind(column!(events, |e| e.byok))
        .bind(column!(events, |e| e.streamed))
        .bind(column!(events, |e| e.failed_attempt));
    let fresh: Vec<&UsageEvent> = match mode {
        Mode::AllNew => {
            if q.execute(&mut *conn).await?.rows_affected() != events.len() as u64 {
                return Ok(None);
            }
            events.iter().collect()
        }
        Mode::Returning => {
            use sqlx::Row;
            let rows = q.fetch_all(&mut *conn).await?;
            let mut new_ids: HashSet<String> = rows
                .iter()
                .map(|r| r.try_get::<String, _>(0))
                .collect::<Result<_, _>>()?;
            // Only the first occurrence of a new id was inserted; `remove` picks it.
            events
                .iter()
                .zip(&ids)
                .filter(|(_, id)| new_ids.remove(id.as_str()))
                .map(|(e, _)| e)
                .collect()
        }
    };
    let inserted = fresh.len() as u64;
    let folded = usage_fold::fold(fresh);
    write_rollups(conn, &folded).await?;
    // Accounts in sorted order, so concurrent batches lock them in the same order
    // (no deadlock).
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

async fn write_rollups(conn: &mut PgConnection, f: &Folded<'_>) -> Result<(), StoreError> {
    if !f.hours.is_empty() {
        let (keys, sums): (Vec<_>, Vec<_>) = f.hours.iter().unzip();
        sqlx::query(HOUR_UPSERT)
            .bind(column!(keys, |k| k.hour_ms))
            .bind(column!(keys, |k| k.account_id))
            .bind(column!(keys, |k| k.kid))
            .bind(column!(keys, |k| k.provider))
            .bind(column!(keys, |k| k.model_served))
            .bind(column!(keys, |k| i64::from(k.status)))
            .bind(column!(keys, |k| k.currency))
            .bind(column!(sums, |s| s.requests))
            .bind(column!(sums, |s| s.errors))
            .bind(column!(sums, |s| s.auth_failures))
            .bind(column!(sums, |s| s.attempts_failed))
            .bind(column!(sums, |s| s.cost_unknown))
            .bind(column!(sums, |s| s.input_tokens))
            .bind(column!(sums, |s| s.output_tokens))
            .bind(column!(sums, |s| s.cached_tokens))
            .bind(column!(sums, |s| s.cost_micro_usd))
            .bind(column!(sums, |s| s.charge_micro))
            .bind(column!(sums, |s| s.latency_ms_sum))
            .execute(&mut *conn)
            .await?;
    }
    if !f.ips.is_empty() {
        let (keys, counts): (Vec<_>, Vec<&i64>) = f.ips.iter().unzip();
        sqlx::query(IP_UPSERT)
            .bind(column!(keys, |k| k.hour_ms))
            .bind(column!(keys, |k| k.account_id))
            .bind(column!(keys, |k| k.kid))
            .bind(column!(keys, |k| k.client_ip))
            .bind(column!(counts, |n| **n))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
