//! SQLite side of metering and billing: usage events and their hourly rollups,
//! account balances with the credit audit trail, and the analytics read from them.
//!
//! What belongs together shares one transaction: a batch of events, the rollups it
//! adds to and the balances it draws down are committed together or not at all, and
//! an event id seen before changes nothing, so a retried batch never counts or
//! charges twice. Reports read the rollups (`usage_hourly`, and `usage_ip_hourly`
//! for the client-IP ranking), which outlive the raw events' retention. The batch
//! writer itself is in `write`.

mod texts;
mod write;

use std::collections::BTreeMap;

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::SqliteStore;
use crate::domain::UsageEvent;
use crate::domain::bounds::{MAX_BALANCE_MICRO, check_batch, check_credit};
use crate::store::records::{
    AccountBilling, BillingMode, CreditRecord, GroupBy, UsageQuery, UsageReport, UsageTotals,
    from_ms, to_ms,
};
use crate::store::{BillingStore, StoreError, UsageStore};

/// Raw events deleted per statement when purging, so a large purge never holds the
/// write lock long enough to stall the batch writer.
const PURGE_CHUNK: i64 = 10_000;

/// Read back for tests only; the id as its 16 bytes.
#[cfg(any(test, feature = "test-support"))]
const EVENT_COLUMNS: &str = "id, ts_ms, request_id, account_id, kid, user_id, endpoint, \
     provider, model_requested, model_served, status, error_code, input_tokens, output_tokens, \
     cached_tokens, usage_source, cost_micro_usd, charge_micro, currency, latency_ms, ttfb_ms, \
     client_ip, session_id, app_version, byok, streamed, failed_attempt";

/// `TOTAL` instead of `SUM`: `SUM` fails the whole report with "integer overflow"
/// past `i64`; `TOTAL` is exact below 2^53 (nine billion currency units in
/// micro-units) and saturates beyond, so a report always answers.
const TOTAL_COLUMNS: &str = "CAST(MAX(MIN(TOTAL(requests), 9.0e18), -9.0e18) AS INTEGER) AS requests, \
     CAST(MAX(MIN(TOTAL(errors), 9.0e18), -9.0e18) AS INTEGER) AS errors, \
     CAST(MAX(MIN(TOTAL(auth_failures), 9.0e18), -9.0e18) AS INTEGER) AS auth_failures, \
     CAST(MAX(MIN(TOTAL(attempts_failed), 9.0e18), -9.0e18) AS INTEGER) AS attempts_failed, \
     CAST(MAX(MIN(TOTAL(cost_unknown), 9.0e18), -9.0e18) AS INTEGER) AS cost_unknown, \
     CAST(MAX(MIN(TOTAL(input_tokens), 9.0e18), -9.0e18) AS INTEGER) AS input_tokens, \
     CAST(MAX(MIN(TOTAL(output_tokens), 9.0e18), -9.0e18) AS INTEGER) AS output_tokens, \
     CAST(MAX(MIN(TOTAL(cached_tokens), 9.0e18), -9.0e18) AS INTEGER) AS cached_tokens, \
     CAST(MAX(MIN(TOTAL(cost_micro_usd), 9.0e18), -9.0e18) AS INTEGER) AS cost_micro_usd, \
     CAST(MAX(MIN(TOTAL(charge_micro), 9.0e18), -9.0e18) AS INTEGER) AS charge_micro, \
     CAST(MAX(MIN(TOTAL(latency_ms_sum), 9.0e18), -9.0e18) AS INTEGER) AS latency_ms_sum";

#[async_trait]
impl UsageStore for SqliteStore {
    async fn record_usage(&self, events: &[UsageEvent]) -> Result<u64, StoreError> {
        Ok(self.record_usage_batch(events).await?.inserted)
    }

    /// Writes a batch in one transaction (see the module doc) and says what it
    /// changed.
    ///
    /// The transaction is begun, committed and rolled back by hand, on the writer
    /// connection. When SQLite fails a statement with SQLITE_FULL or an I/O error
    /// it may roll the transaction back by itself; sqlx's transaction guard then
    /// loses track (its ROLLBACK fails, its depth counter stays up), and that
    /// connection went on opening savepoints instead of transactions and holding
    /// the write lock, so after the disk had room again every batch failed with
    /// "database is locked". Here a failure always ends in our own ROLLBACK, and a
    /// connection that cannot roll back is closed instead of returned to the pool.
    async fn record_usage_batch(&self, events: &[UsageEvent]) -> Result<Recorded, StoreError> {
        if events.is_empty() {
            return Ok(Recorded::default());
        }
        // Out-of-range numbers refuse the whole batch, before any write
        // (`check_event`; SQLite's per-row trigger did this until migration 0080).
        check_batch(events).map_err(StoreError::OutOfRange)?;
        // The one writer connection: its statement cache keeps the batch's
        // statements prepared.
        let mut conn = self.writer.acquire().await?;
        for mode in [write::Mode::AllNew, write::Mode::RowByRow] {
            // IMMEDIATE takes the write lock now (waiting up to the busy timeout),
            // rather than failing to upgrade halfway through the batch.
            sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
            match write::write_batch(&mut conn, events, mode).await {
                Ok(Some(recorded)) => {
                    return match sqlx::query("COMMIT").execute(&mut *conn).await {
                        Ok(_) => Ok(recorded),
                        Err(e) => {
                            end_failed_transaction(conn).await;
                            Err(e.into())
                        }
                    };
                }
                // Some event was stored before: undo, and write it row by row.
                Ok(None) => {
                    if let Err(e) = sqlx::query("ROLLBACK").execute(&mut *conn).await {
                        end_failed_transaction(conn).await;
                        return Err(e.into());
                    }
                }
                Err(e) => {
                    end_failed_transaction(conn).await;
                    return Err(e);
                }
            }
        }
        Err(StoreError::Corrupt {
            table: "usage_events",
            detail: "a row-by-row batch reported a stored event".into(),
        })
    }

    /// Test support: caps the database at its current size (`Some`) or lifts the
    /// cap (`None`) on every pooled connection, so writes fail with SQLITE_FULL as
    /// on a full disk. `PRAGMA max_page_count` is per connection, hence all of them.
    #[cfg(any(test, feature = "test-support"))]
    async fn limit_size_for_tests(&self, capped: bool) -> Result<(), StoreError> {
        let mut conns = Vec::new();
        for _ in 0..self.pool.options().get_max_connections() {
            conns.push(self.pool.acquire().await?);
        }
        conns.push(self.writer.acquire().await?);
        for conn in &mut conns {
            let pages: i64 = if capped {
                sqlx::query_scalar("PRAGMA page_count")
                    .fetch_one(&mut **conn)
                    .await?
            } else {
                4_294_967_294
            };
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "PRAGMA max_page_count = {pages}"
            )))
            .execute(&mut **conn)
            .await?;
        }
        Ok(())
    }

    async fn purge_usage_before(&self, ts_ms: i64) -> Result<u64, StoreError> {
        let mut purged = 0;
        loop {
            let n = sqlx::query(
                "DELETE FROM usage_events WHERE rowid IN \
                 (SELECT rowid FROM usage_events WHERE ts_ms < ?1 LIMIT ?2)",
            )
            .bind(ts_ms)
            .bind(PURGE_CHUNK)
            .execute(&self.pool)
            .await?
            .rows_affected();
            purged += n;
            if n < PURGE_CHUNK as u64 {
                return Ok(purged);
            }
        }
    }

    #[cfg(any(test, feature = "test-support"))]
    async fn count_usage_events(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM usage_events")
            .fetch_one(&self.pool)
            .await?;
        Ok(n.max(0) as u64)
    }

    #[cfg(any(test, feature = "test-support"))]
    async fn usage_events_for_request(
        &self,
        request_id: &str,
    ) -> Result<Vec<UsageEvent>, StoreError> {
        // No index on request_id: this is for tests and rare debugging, and every
        // index slows the batch writer.
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM usage_events WHERE request_id = ? ORDER BY ts_ms, seq"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(request_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(event_from_row).collect()
    }

    async fn usage_report(&self, q: &UsageQuery) -> Result<UsageReport, StoreError> {
        let (from, to) = q.window();
        let mut report = UsageReport {
            from_ms: from,
            to_ms: to,
            ..UsageReport::default()
        };
        if from >= to {
            return Ok(report);
        }
        // Fixed expressions chosen by the enum; nothing from the caller reaches the SQL.
        let group_expr = match q.group_by {
            GroupBy::None => "''",
            GroupBy::Key => "kid",
            GroupBy::Model => "model_served",
            GroupBy::Provider => "provider",
            GroupBy::Status => "status",
            GroupBy::Hour => "hour_ms",
            // Floor to the UTC day (86400000 = DAY_MS), also before 1970: `%` truncates.
            GroupBy::Day => "hour_ms - (((hour_ms % 86400000) + 86400000) % 86400000)",
        };
        let mut sql = QueryBuilder::<Sqlite>::new("SELECT ");
        sql.push(group_expr)
            .push(" AS g, currency, ")
            .push(TOTAL_COLUMNS)
            .push(" FROM usage_hourly WHERE hour_ms >= ")
            .push_bind(from)
            .push(" AND hour_ms < ")
            .push_bind(to);
        push_filters(&mut sql, q);
        // Per currency too: charges in different currencies are never added up.
        sql.push(" GROUP BY g, currency");
        let rows = sql.build().fetch_all(&self.pool).await?;

        let mut by_key: BTreeMap<GroupKey, UsageTotals> = BTreeMap::new();
        for row in &rows {
            let totals = totals_from_row(row)?;
            report.totals.add(&totals);
            let key = match q.group_by {
                GroupBy::None => continue,
                GroupBy::Status | GroupBy::Hour | GroupBy::Day => {
                    GroupKey::Number(row.try_get("g")?)
                }
                GroupBy::Key | GroupBy::Model | GroupBy::Provider => {
                    GroupKey::Text(row.try_get("g")?)
                }
            };
            by_key.entry(key).or_default().add(&totals);
        }
        let mut groups: Vec<_> = by_key.into_iter().collect();
        match q.group_by {
            GroupBy::Status | GroupBy::Hour | GroupBy::Day => groups.sort_by(|a, b| a.0.cmp(&b.0)),
            _ => groups.sort_by(|a, b| b.1.requests.cmp(&a.1.requests).then(a.0.cmp(&b.0))),
        }
        report.groups = groups
            .into_iter()
            .map(|(key, totals)| (key.render(q.group_by), totals))
            .collect();
        Ok(report)
    }

    async fn top_client_ips(
        &self,
        q: &UsageQuery,
        limit: u32,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        let (from, to) = q.window();
        if from >= to || limit == 0 {
            return Ok(Vec::new());
        }
        let mut sql = QueryBuilder::<Sqlite>::new(
            "SELECT client_ip, CAST(MIN(TOTAL(requests), 9.0e18) AS INTEGER) AS n \
             FROM usage_ip_hourly WHERE hour_ms >= ",
        );
        sql.push_bind(from).push(" AND hour_ms < ").push_bind(to);
        push_filters(&mut sql, q);
        sql.push(" GROUP BY client_ip ORDER BY n DESC, client_ip LIMIT ")
            .push_bind(i64::from(limit));
        let rows = sql.build().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                let n: i64 = row.try_get("n")?;
                Ok((row.try_get("client_ip")?, n.max(0) as u64))
            })
            .collect()
    }
}

/// What a committed batch changed: events that were new, and what was taken from
/// each account's balance.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub inserted: u64,
    pub charges: Vec<(String, i64)>,
}

/// Rolls back whatever is left of a failed transaction. "No transaction is active"
/// (SQLite already rolled back) is the expected failure; any other means the
/// connection's state is unknown, so it is closed rather than reused.
async fn end_failed_transaction(mut conn: sqlx::pool::PoolConnection<Sqlite>) {
    match sqlx::query("ROLLBACK").execute(&mut *conn).await {
        Ok(_) => {}
        Err(sqlx::Error::Database(e)) if e.message().contains("no transaction is active") => {}
        Err(e) => {
            tracing::warn!(error = %e, "rollback failed; closing that database connection");
            let _ = conn.close().await;
        }
    }
}

/// A group's key as read, so numbers sort as numbers before they become strings.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum GroupKey {
    Number(i64),
    Text(String),
}

#[async_trait]
impl BillingStore for SqliteStore {
    async fn account_billing(&self, id: &str) -> Result<Option<AccountBilling>, StoreError> {
        let row =
            sqlx::query("SELECT currency, billing_mode, balance_micro FROM accounts WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|row| {
            let mode: String = row.try_get("billing_mode")?;
            Ok(AccountBilling {
                currency: row.try_get("currency")?,
                billing_mode: mode
                    .parse()
                    .map_err(|_| corrupt("accounts", format!("billing_mode {mode:?}")))?,
                balance_micro: row.try_get("balance_micro")?,
            })
        })
        .transpose()
    }

    async fn set_account_billing(
        &self,
        id: &str,
        currency: Option<&str>,
        mode: Option<BillingMode>,
    ) -> Result<bool, StoreError> {
        if currency.is_none() && mode.is_none() {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts WHERE id = ?")
                .bind(id)
                .fetch_one(&self.pool)
                .await?;
            return Ok(n == 1);
        }
        let mut q = QueryBuilder::<Sqlite>::new("UPDATE accounts SET ");
        let mut set = q.separated(", ");
        if let Some(currency) = currency {
            set.push("currency = ").push_bind_unseparated(currency);
        }
        if let Some(mode) = mode {
            set.push("billing_mode = ")
                .push_bind_unseparated(mode.as_str());
        }
        q.push(" WHERE id = ").push_bind(id);
        let changed = q.build().execute(&self.pool).await?.rows_affected();
        Ok(changed == 1)
    }

    async fn credit_account(
        &self,
        id: &str,
        amount_micro: i64,
        actor: &str,
        note: &str,
        now: OffsetDateTime,
    ) -> Result<Option<i64>, StoreError> {
        // The UPDATE comes first so the transaction takes the write lock at once
        // (a read first could not upgrade if another writer got in between).
        let amount_micro = check_credit(amount_micro).map_err(StoreError::OutOfRange)?;
        let mut tx = self.pool.begin().await?;
        // Both within range, so the sum cannot overflow; a balance that would leave
        // ±MAX_BALANCE_MICRO matches no row.
        let balance: Option<i64> = sqlx::query_scalar(
            "UPDATE accounts SET balance_micro = balance_micro + ?1 WHERE id = ?2 \
             AND balance_micro + ?1 BETWEEN -?3 AND ?3 RETURNING balance_micro",
        )
        .bind(amount_micro)
        .bind(id)
        .bind(MAX_BALANCE_MICRO)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(balance) = balance else {
            let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM accounts WHERE id = ?")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            return match exists {
                Some(_) => Err(StoreError::OutOfRange(format!(
                    "the balance would leave the range ±{}",
                    crate::domain::money::MicroUnits(MAX_BALANCE_MICRO).to_decimal_string()
                ))),
                None => Ok(None),
            };
        };
        sqlx::query(
            "INSERT INTO account_credits (id, account_id, amount_micro, balance_after_micro, \
             actor, note, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(id)
        .bind(amount_micro)
        .bind(balance)
        .bind(actor)
        .bind(note)
        .bind(to_ms(now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(balance))
    }

    async fn account_credits(&self, id: &str) -> Result<Vec<CreditRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, account_id, amount_micro, balance_after_micro, actor, note, created_at \
             FROM account_credits WHERE account_id = ? ORDER BY created_at, id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(CreditRecord {
                    id: row.try_get("id")?,
                    account_id: row.try_get("account_id")?,
                    amount_micro: row.try_get("amount_micro")?,
                    balance_after_micro: row.try_get("balance_after_micro")?,
                    actor: row.try_get("actor")?,
                    note: row.try_get("note")?,
                    created_at: from_ms(row.try_get("created_at")?),
                })
            })
            .collect()
    }
}

impl GroupKey {
    fn render(self, group_by: GroupBy) -> String {
        match (self, group_by) {
            (GroupKey::Number(ms), GroupBy::Hour | GroupBy::Day) => from_ms(ms)
                .format(&Rfc3339)
                .unwrap_or_else(|_| ms.to_string()),
            (GroupKey::Number(n), _) => n.to_string(),
            (GroupKey::Text(s), _) => s,
        }
    }
}

fn push_filters(sql: &mut QueryBuilder<Sqlite>, q: &UsageQuery) {
    if let Some(account_id) = &q.account_id {
        sql.push(" AND account_id = ").push_bind(account_id.clone());
    }
    if let Some(kid) = &q.kid {
        sql.push(" AND kid = ").push_bind(kid.clone());
    }
}

fn count_from_db(row: &SqliteRow, column: &str) -> Result<u64, StoreError> {
    let n: i64 = row.try_get(column)?;
    u64::try_from(n).map_err(|_| corrupt("usage_hourly", format!("{column} = {n}")))
}

fn totals_from_row(row: &SqliteRow) -> Result<UsageTotals, StoreError> {
    let mut totals = UsageTotals::default();
    // `add` computes the average from the sums.
    totals.add(&UsageTotals {
        requests: count_from_db(row, "requests")?,
        errors: count_from_db(row, "errors")?,
        auth_failures: count_from_db(row, "auth_failures")?,
        attempts_failed: count_from_db(row, "attempts_failed")?,
        cost_unknown_requests: count_from_db(row, "cost_unknown")?,
        input_tokens: row.try_get("input_tokens")?,
        output_tokens: row.try_get("output_tokens")?,
        cached_tokens: row.try_get("cached_tokens")?,
        cost_micro_usd: row.try_get("cost_micro_usd")?,
        charge_micro: row.try_get("charge_micro")?,
        charges: BTreeMap::from([(row.try_get("currency")?, row.try_get("charge_micro")?)]),
        latency_ms_sum: row.try_get("latency_ms_sum")?,
        avg_latency_ms: 0,
    });
    Ok(totals)
}

#[cfg(any(test, feature = "test-support"))]
fn event_from_row(row: &SqliteRow) -> Result<UsageEvent, StoreError> {
    let status: i64 = row.try_get("status")?;
    let source: String = row.try_get("usage_source")?;
    let id: Vec<u8> = row.try_get("id")?;
    // 16 bytes: a UUID; anything else is a non-UUID id an old database kept as is.
    let id = match uuid::Uuid::from_slice(&id) {
        Ok(u) => u.to_string(),
        Err(_) => String::from_utf8_lossy(&id).into_owned(),
    };
    Ok(UsageEvent {
        id,
        ts_ms: row.try_get("ts_ms")?,
        request_id: row.try_get("request_id")?,
        account_id: row.try_get("account_id")?,
        kid: row.try_get("kid")?,
        user_id: row.try_get("user_id")?,
        endpoint: row.try_get("endpoint")?,
        provider: row.try_get("provider")?,
        model_requested: row.try_get("model_requested")?,
        model_served: row.try_get("model_served")?,
        status: u16::try_from(status)
            .map_err(|_| corrupt("usage_events", format!("status {status}")))?,
        error_code: row.try_get("error_code")?,
        input_tokens: row.try_get("input_tokens")?,
        output_tokens: row.try_get("output_tokens")?,
        cached_tokens: row.try_get("cached_tokens")?,
        usage_source: match source.as_str() {
            "reported" => crate::domain::UsageSource::Reported,
            "estimated" => crate::domain::UsageSource::Estimated,
            "none" => crate::domain::UsageSource::None,
            other => return Err(corrupt("usage_events", format!("usage_source {other:?}"))),
        },
        cost_micro_usd: row.try_get("cost_micro_usd")?,
        charge_micro: row.try_get("charge_micro")?,
        currency: row.try_get("currency")?,
        latency_ms: row.try_get("latency_ms")?,
        ttfb_ms: row.try_get("ttfb_ms")?,
        client_ip: row.try_get("client_ip")?,
        session_id: row.try_get("session_id")?,
        app_version: row.try_get("app_version")?,
        byok: row.try_get("byok")?,
        streamed: row.try_get("streamed")?,
        failed_attempt: row.try_get("failed_attempt")?,
    })
}

fn corrupt(table: &'static str, detail: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        table,
        detail: detail.into(),
    }
}

#[cfg(test)]
mod tests;
