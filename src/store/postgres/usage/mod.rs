//! PostgreSQL side of metering and billing: usage events (partitioned by UTC day),
//! their hourly rollups, account balances with the credit audit trail, and the
//! analytics read from them. The same contract as the SQLite backend: a batch of
//! events, the rollups it adds to and the balances it draws down commit together
//! or not at all, and an event seen before changes nothing.
//!
//! Partitions: `usage_events_pYYYYMMDD` covers one UTC day of `ts_ms`. They are
//! created [`DAYS_AHEAD`] days ahead on start (`migrate`) and at every retention
//! run (hourly); events outside them land in `usage_events_default`, and are
//! moved into a day partition when it is created. Retention drops every day
//! partition wholly before the cutoff and deletes only what is left before it in
//! the one partition the cutoff falls in (and the default partition). The batch
//! writer itself is in `write`.

mod write;

use std::collections::BTreeMap;

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Postgres, QueryBuilder, Row};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::PgStore;
use crate::domain::UsageEvent;
use crate::domain::bounds::{MAX_BALANCE_MICRO, check_batch, check_credit};
use crate::store::Recorded;
use crate::store::records::{
    AccountBilling, BillingMode, CreditRecord, DAY_MS, GroupBy, UsageQuery, UsageReport,
    UsageTotals, from_ms, to_ms,
};
use crate::store::{BillingStore, StoreError, UsageStore};

/// Day partitions kept ready ahead of today.
pub const DAYS_AHEAD: i64 = 7;
/// Serializes partition changes across gateways sharing the database.
const PARTITION_LOCK: i64 = 0x746f_6c6c_7061_7274; // "tollpart"

/// Read back for tests only; the uuid id as text.
#[cfg(any(test, feature = "test-support"))]
const EVENT_COLUMNS: &str = "id::text AS id, ts_ms, request_id, account_id, kid, user_id, \
     endpoint, provider, model_requested, model_served, status, error_code, input_tokens, \
     output_tokens, cached_tokens, usage_source, cost_micro_usd, charge_micro, currency, \
     latency_ms, ttfb_ms, client_ip, session_id, app_version, byok, streamed, failed_attempt";

/// `SUM` of BIGINT is NUMERIC in PostgreSQL (no overflow); clamped back to BIGINT.
const TOTAL_COLUMNS: &str = "LEAST(GREATEST(COALESCE(SUM(requests), 0), -9000000000000000000), 9000000000000000000)::bigint AS requests, \
     LEAST(GREATEST(COALESCE(SUM(errors), 0), -9000000000000000000), 9000000000000000000)::bigint AS errors, \
     LEAST(GREATEST(COALESCE(SUM(auth_failures), 0), -9000000000000000000), 9000000000000000000)::bigint AS auth_failures, \
     LEAST(GREATEST(COALESCE(SUM(attempts_failed), 0), -9000000000000000000), 9000000000000000000)::bigint AS attempts_failed, \
     LEAST(GREATEST(COALESCE(SUM(cost_unknown), 0), -9000000000000000000), 9000000000000000000)::bigint AS cost_unknown, \
     LEAST(GREATEST(COALESCE(SUM(input_tokens), 0), -9000000000000000000), 9000000000000000000)::bigint AS input_tokens, \
     LEAST(GREATEST(COALESCE(SUM(output_tokens), 0), -9000000000000000000), 9000000000000000000)::bigint AS output_tokens, \
     LEAST(GREATEST(COALESCE(SUM(cached_tokens), 0), -9000000000000000000), 9000000000000000000)::bigint AS cached_tokens, \
     LEAST(GREATEST(COALESCE(SUM(cost_micro_usd), 0), -9000000000000000000), 9000000000000000000)::bigint AS cost_micro_usd, \
     LEAST(GREATEST(COALESCE(SUM(charge_micro), 0), -9000000000000000000), 9000000000000000000)::bigint AS charge_micro, \
     LEAST(GREATEST(COALESCE(SUM(latency_ms_sum), 0), -9000000000000000000), 9000000000000000000)::bigint AS latency_ms_sum";

/// The name of the partition holding the UTC day that starts at `day_ms`.
pub fn partition_name(day_ms: i64) -> String {
    let d = from_ms(day_ms).date();
    format!(
        "usage_events_p{:04}{:02}{:02}",
        d.year(),
        u8::from(d.month()),
        d.day()
    )
}

fn day_start(ts_ms: i64) -> i64 {
    ts_ms - ts_ms.rem_euclid(DAY_MS)
}

/// Makes sure day partitions exist from yesterday to [`DAYS_AHEAD`] days ahead.
pub async fn ensure_partitions(pool: &PgPool, now: OffsetDateTime) -> Result<(), StoreError> {
    let today = day_start(to_ms(now));
    create_partitions(pool, today - DAY_MS, today + DAYS_AHEAD * DAY_MS).await
}

/// Creates the day partitions covering `[from_ms, to_ms]` that are missing,
/// moving rows that had landed in the default partition into them.
pub async fn create_partitions(pool: &PgPool, from_ms: i64, to_ms: i64) -> Result<(), StoreError> {
    let mut day = day_start(from_ms);
    while day <= to_ms {
        let name = partition_name(day);
        let exists: Option<String> = sqlx::query_scalar("SELECT to_regclass($1)::text")
            .bind(&name)
            .fetch_one(pool)
            .await?;
        if exists.is_none() {
            let mut tx = pool.begin().await?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(PARTITION_LOCK)
                .execute(&mut *tx)
                .await?;
            let exists: Option<String> = sqlx::query_scalar("SELECT to_regclass($1)::text")
                .bind(&name)
                .fetch_one(&mut *tx)
                .await?;
            if exists.is_none() {
                let end = day + DAY_MS;
                // DDL takes no bind parameters; the name and bounds are ours (digits).
                for sql in [
                    format!(
                        "CREATE TABLE {name} (LIKE usage_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
                    ),
                    format!(
                        "WITH moved AS (DELETE FROM usage_events_default WHERE ts_ms >= {day} \
                         AND ts_ms < {end} RETURNING *) INSERT INTO {name} SELECT * FROM moved"
                    ),
                    format!(
                        "ALTER TABLE usage_events ATTACH PARTITION {name} FOR VALUES FROM ({day}) TO ({end})"
                    ),
                ] {
                    sqlx::query(sqlx::AssertSqlSafe(sql))
                        .persistent(false)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            tx.commit().await?;
        }
        day += DAY_MS;
    }
    Ok(())
}

/// The day partitions that exist, as (name, first ms of the day), oldest first.
pub async fn day_partitions(pool: &PgPool) -> Result<Vec<(String, i64)>, StoreError> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = 'usage_events'::regclass AND c.relname LIKE 'usage\\_events\\_p%' \
         ORDER BY c.relname",
    )
    .fetch_all(pool)
    .await?;
    Ok(names
        .into_iter()
        .filter_map(|name| {
            let digits = name.strip_prefix("usage_events_p")?;
            let format = time::macros::format_description!("[year][month][day]");
            let date = time::Date::parse(digits, &format).ok()?;
            Some((name, to_ms(date.midnight().assume_utc())))
        })
        .collect())
}

#[async_trait]
impl UsageStore for PgStore {
    async fn record_usage(&self, events: &[UsageEvent]) -> Result<u64, StoreError> {
        Ok(self.record_usage_batch(events).await?.inserted)
    }

    async fn record_usage_batch(&self, events: &[UsageEvent]) -> Result<Recorded, StoreError> {
        if events.is_empty() {
            return Ok(Recorded::default());
        }
        // Out-of-range numbers refuse the whole batch, before any write
        // (`check_event`; SQLite's per-row trigger did this until migration 0080).
        check_batch(events).map_err(StoreError::OutOfRange)?;
        // The guard rolls back on any error (dropped uncommitted); PostgreSQL never
        // ends a transaction behind the client's back, unlike SQLite on SQLITE_FULL.
        for mode in [write::Mode::AllNew, write::Mode::Returning] {
            let mut tx = self.pool.begin().await?;
            match write::write_batch(&mut tx, events, mode).await? {
                Some(recorded) => {
                    tx.commit().await?;
                    return Ok(recorded);
                }
                // Some event was stored before: undo, and learn which were new.
                None => tx.rollback().await?,
            }
        }
        Err(StoreError::Corrupt {
            table: "usage_events",
            detail: "a RETURNING batch reported a stored event".into(),
        })
    }

    /// Test support: makes every rollup write fail, as on a full disk, with a
    /// constraint no row meets (`NOT VALID`: existing rows are not checked).
    #[cfg(any(test, feature = "test-support"))]
    async fn limit_size_for_tests(&self, capped: bool) -> Result<(), StoreError> {
        let sql = if capped {
            "ALTER TABLE usage_hourly ADD CONSTRAINT tests_disk_full CHECK (false) NOT VALID"
        } else {
            "ALTER TABLE usage_hourly DROP CONSTRAINT IF EXISTS tests_disk_full"
        };
        sqlx::query(sql).execute(&self.pool).await?;
        Ok(())
    }

    async fn purge_usage_before(&self, ts_ms: i64) -> Result<u64, StoreError> {
        // The retention run is also the periodic partition maintenance.
        ensure_partitions(&self.pool, OffsetDateTime::now_utc()).await?;
        let mut purged = 0u64;
        for (name, day) in day_partitions(&self.pool).await? {
            if day + DAY_MS > ts_ms {
                break;
            }
            let mut tx = self.pool.begin().await?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(PARTITION_LOCK)
                .execute(&mut *tx)
                .await?;
            let n: i64 =
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {name}")))
                    .persistent(false)
                    .fetch_one(&mut *tx)
                    .await?;
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE IF EXISTS {name}")))
                .persistent(false)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            purged += n.max(0) as u64;
        }
        // What is left before the cutoff: part of one day, and the default partition.
        let n = sqlx::query("DELETE FROM usage_events WHERE ts_ms < $1")
            .bind(ts_ms)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(purged + n)
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
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM usage_events WHERE request_id = $1 ORDER BY ts_ms, id"
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
            GroupBy::None => "''::text",
            GroupBy::Key => "kid",
            GroupBy::Model => "model_served",
            GroupBy::Provider => "provider",
            GroupBy::Status => "status",
            GroupBy::Hour => "hour_ms",
            GroupBy::Day => "hour_ms - (((hour_ms % 86400000) + 86400000) % 86400000)",
        };
        let mut sql = QueryBuilder::<Postgres>::new("SELECT ");
        sql.push(group_expr)
            .push(" AS g, currency, ")
            .push(TOTAL_COLUMNS)
            .push(" FROM usage_hourly WHERE hour_ms >= ")
            .push_bind(from)
            .push(" AND hour_ms < ")
            .push_bind(to);
        push_filters(&mut sql, q);
        // Per currency too: charges in different currencies are never added up.
        sql.push(" GROUP BY 1, currency");
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
        let mut sql = QueryBuilder::<Postgres>::new(
            "SELECT client_ip, LEAST(SUM(requests), 9000000000000000000)::bigint AS n \
             FROM usage_ip_hourly WHERE hour_ms >= ",
        );
        sql.push_bind(from).push(" AND hour_ms < ").push_bind(to);
        push_filters(&mut sql, q);
        // COLLATE "C": the same byte order as SQLite's for ties.
        sql.push(" GROUP BY client_ip ORDER BY n DESC, client_ip COLLATE \"C\" LIMIT ")
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

/// A group's key as read, so numbers sort as numbers before they become strings.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum GroupKey {
    Number(i64),
    Text(String),
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

#[async_trait]
impl BillingStore for PgStore {
    async fn account_billing(&self, id: &str) -> Result<Option<AccountBilling>, StoreError> {
        let row =
            sqlx::query("SELECT currency, billing_mode, balance_micro FROM accounts WHERE id = $1")
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
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts WHERE id = $1")
                .bind(id)
                .fetch_one(&self.pool)
                .await?;
            return Ok(n == 1);
        }
        let mut q = QueryBuilder::<Postgres>::new("UPDATE accounts SET ");
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
        let amount_micro = check_credit(amount_micro).map_err(StoreError::OutOfRange)?;
        let mut tx = self.pool.begin().await?;
        // One statement reads and writes the balance under its row lock; a balance
        // that would leave ±MAX_BALANCE_MICRO matches no row.
        let balance: Option<i64> = sqlx::query_scalar(
            "UPDATE accounts SET balance_micro = balance_micro + $1 WHERE id = $2 \
             AND balance_micro + $1 BETWEEN -$3::bigint AND $3::bigint RETURNING balance_micro",
        )
        .bind(amount_micro)
        .bind(id)
        .bind(MAX_BALANCE_MICRO)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(balance) = balance else {
            let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM accounts WHERE id = $1")
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
             actor, note, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
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
             FROM account_credits WHERE account_id = $1 ORDER BY created_at, id",
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

fn push_filters(sql: &mut QueryBuilder<Postgres>, q: &UsageQuery) {
    if let Some(account_id) = &q.account_id {
        sql.push(" AND account_id = ").push_bind(account_id.clone());
    }
    if let Some(kid) = &q.kid {
        sql.push(" AND kid = ").push_bind(kid.clone());
    }
}

fn count_from_db(row: &PgRow, column: &str) -> Result<u64, StoreError> {
    let n: i64 = row.try_get(column)?;
    u64::try_from(n).map_err(|_| corrupt("usage_hourly", format!("{column} = {n}")))
}

fn totals_from_row(row: &PgRow) -> Result<UsageTotals, StoreError> {
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
fn event_from_row(row: &PgRow) -> Result<UsageEvent, StoreError> {
    let status: i64 = row.try_get("status")?;
    let source: String = row.try_get("usage_source")?;
    Ok(UsageEvent {
        id: row.try_get("id")?,
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
