//! SQLite side of metering and billing: usage events and their hourly rollups,
//! account balances with the credit audit trail, and the analytics read from them.
//!
//! What belongs together shares one transaction: a batch of events, the rollups it
//! adds to and the balances it draws down are committed together or not at all, and
//! an event id seen before changes nothing, so a retried batch never counts or
//! charges twice. Reports read the rollups, which outlive the raw events' retention;
//! only the client-IP ranking needs the raw rows.

use std::collections::{BTreeMap, HashSet};

use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::StoreError;
use super::records::{
    AccountBilling, BillingMode, CreditRecord, GroupBy, HOUR_MS, UsageQuery, UsageReport,
    UsageTotals, from_ms, to_ms,
};
use super::sqlite::SqliteStore;
use crate::metering::{UsageEvent, UsageSource};

/// Events per multi-row INSERT: 26 variables each stays well under SQLite's limit
/// of 32,766 per statement.
const EVENT_CHUNK: usize = 500;
/// Rollup rows per multi-row UPSERT (15 variables each).
const ROLLUP_CHUNK: usize = 1_000;
/// Raw events deleted per statement when purging, so a large purge never holds the
/// write lock long enough to stall the batch writer.
const PURGE_CHUNK: i64 = 10_000;

const EVENT_COLUMNS: &str = "id, ts_ms, request_id, account_id, kid, user_id, endpoint, \
     provider, model_requested, model_served, status, error_code, input_tokens, output_tokens, \
     cached_tokens, usage_source, cost_micro_usd, charge_micro, currency, latency_ms, ttfb_ms, \
     client_ip, session_id, app_version, byok, streamed";

const ROLLUP_UPSERT: &str = "INSERT INTO usage_hourly (hour_ms, account_id, kid, provider, \
     model_served, status, requests, errors, auth_failures, input_tokens, output_tokens, \
     cached_tokens, cost_micro_usd, charge_micro, latency_ms_sum) ";

const ROLLUP_ON_CONFLICT: &str = " ON CONFLICT (hour_ms, account_id, kid, provider, \
     model_served, status) DO UPDATE SET \
     requests = requests + excluded.requests, \
     errors = errors + excluded.errors, \
     auth_failures = auth_failures + excluded.auth_failures, \
     input_tokens = input_tokens + excluded.input_tokens, \
     output_tokens = output_tokens + excluded.output_tokens, \
     cached_tokens = cached_tokens + excluded.cached_tokens, \
     cost_micro_usd = cost_micro_usd + excluded.cost_micro_usd, \
     charge_micro = charge_micro + excluded.charge_micro, \
     latency_ms_sum = latency_ms_sum + excluded.latency_ms_sum";

const TOTAL_COLUMNS: &str = "SUM(requests) AS requests, SUM(errors) AS errors, \
     SUM(auth_failures) AS auth_failures, SUM(input_tokens) AS input_tokens, \
     SUM(output_tokens) AS output_tokens, SUM(cached_tokens) AS cached_tokens, \
     SUM(cost_micro_usd) AS cost_micro_usd, SUM(charge_micro) AS charge_micro, \
     SUM(latency_ms_sum) AS latency_ms_sum";

/// One `usage_hourly` row's identity, borrowed from the events of a batch.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct RollupKey<'a> {
    hour_ms: i64,
    account_id: &'a str,
    kid: &'a str,
    provider: &'a str,
    model_served: &'a str,
    status: u16,
}

impl SqliteStore {
    pub async fn record_usage(&self, events: &[UsageEvent]) -> Result<u64, StoreError> {
        if events.is_empty() {
            return Ok(0);
        }
        let mut tx = self.pool.begin().await?;
        let mut new_ids: HashSet<String> = HashSet::new();
        for chunk in events.chunks(EVENT_CHUNK) {
            let mut q =
                QueryBuilder::<Sqlite>::new(format!("INSERT INTO usage_events ({EVENT_COLUMNS}) "));
            q.push_values(chunk, |mut row, e| {
                row.push_bind(e.id.as_str())
                    .push_bind(e.ts_ms)
                    .push_bind(e.request_id.as_str())
                    .push_bind(e.account_id.as_str())
                    .push_bind(e.kid.as_str())
                    .push_bind(e.user_id.as_str())
                    .push_bind(e.endpoint.as_str())
                    .push_bind(e.provider.as_str())
                    .push_bind(e.model_requested.as_str())
                    .push_bind(e.model_served.as_str())
                    .push_bind(i64::from(e.status))
                    .push_bind(e.error_code.as_str())
                    .push_bind(e.input_tokens)
                    .push_bind(e.output_tokens)
                    .push_bind(e.cached_tokens)
                    .push_bind(e.usage_source.as_str())
                    .push_bind(e.cost_micro_usd)
                    .push_bind(e.charge_micro)
                    .push_bind(e.currency.as_str())
                    .push_bind(e.latency_ms)
                    .push_bind(e.ttfb_ms)
                    .push_bind(e.client_ip.as_str())
                    .push_bind(e.session_id.as_str())
                    .push_bind(e.app_version.as_str())
                    .push_bind(e.byok)
                    .push_bind(e.streamed);
            });
            // Only a known id is skipped (any other violation still fails the batch),
            // and RETURNING lists just the rows actually inserted.
            q.push(" ON CONFLICT (id) DO NOTHING RETURNING id");
            // Batch sizes vary; caching a statement per size would only churn the cache.
            let ids: Vec<String> = q
                .build_query_scalar()
                .persistent(false)
                .fetch_all(&mut *tx)
                .await?;
            new_ids.extend(ids);
        }
        let inserted = new_ids.len() as u64;

        // Only the first occurrence of a new id was inserted; `remove` picks exactly it.
        let mut rollups: BTreeMap<RollupKey<'_>, UsageTotals> = BTreeMap::new();
        let mut charges: BTreeMap<&str, i64> = BTreeMap::new();
        for e in events.iter().filter(|e| new_ids.remove(&e.id)) {
            let key = RollupKey {
                hour_ms: e.ts_ms - e.ts_ms.rem_euclid(HOUR_MS),
                account_id: &e.account_id,
                kid: &e.kid,
                provider: &e.provider,
                model_served: &e.model_served,
                status: e.status,
            };
            rollups.entry(key).or_default().add(&event_totals(e));
            if !e.account_id.is_empty() {
                let charge = charges.entry(&e.account_id).or_default();
                *charge = charge.saturating_add(e.charge_micro);
            }
        }

        let rollups: Vec<_> = rollups.into_iter().collect();
        for chunk in rollups.chunks(ROLLUP_CHUNK) {
            let mut q = QueryBuilder::<Sqlite>::new(ROLLUP_UPSERT);
            q.push_values(chunk, |mut row, (k, t)| {
                row.push_bind(k.hour_ms)
                    .push_bind(k.account_id)
                    .push_bind(k.kid)
                    .push_bind(k.provider)
                    .push_bind(k.model_served)
                    .push_bind(i64::from(k.status))
                    .push_bind(count_to_db(t.requests))
                    .push_bind(count_to_db(t.errors))
                    .push_bind(count_to_db(t.auth_failures))
                    .push_bind(t.input_tokens)
                    .push_bind(t.output_tokens)
                    .push_bind(t.cached_tokens)
                    .push_bind(t.cost_micro_usd)
                    .push_bind(t.charge_micro)
                    .push_bind(t.latency_ms_sum);
            });
            q.push(ROLLUP_ON_CONFLICT);
            q.build().persistent(false).execute(&mut *tx).await?;
        }

        // An account that does not exist (no foreign key here) simply matches no row.
        for (account_id, charge) in charges.into_iter().filter(|(_, c)| *c != 0) {
            sqlx::query("UPDATE accounts SET balance_micro = balance_micro - ?1 WHERE id = ?2")
                .bind(charge)
                .bind(account_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(inserted)
    }

    pub async fn purge_usage_before(&self, ts_ms: i64) -> Result<u64, StoreError> {
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

    pub async fn count_usage_events(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM usage_events")
            .fetch_one(&self.pool)
            .await?;
        Ok(n.max(0) as u64)
    }

    pub async fn usage_events_for_request(
        &self,
        request_id: &str,
    ) -> Result<Vec<UsageEvent>, StoreError> {
        // No index on request_id: this is for tests and rare debugging, and every
        // index slows the batch writer.
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM usage_events WHERE request_id = ? ORDER BY ts_ms, id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(request_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(event_from_row).collect()
    }

    pub async fn account_billing(&self, id: &str) -> Result<Option<AccountBilling>, StoreError> {
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

    pub async fn set_account_billing(
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

    pub async fn credit_account(
        &self,
        id: &str,
        amount_micro: i64,
        actor: &str,
        note: &str,
        now: OffsetDateTime,
    ) -> Result<Option<i64>, StoreError> {
        // The UPDATE comes first so the transaction takes the write lock at once
        // (a read first could not upgrade if another writer got in between).
        let mut tx = self.pool.begin().await?;
        let balance: Option<i64> = sqlx::query_scalar(
            "UPDATE accounts SET balance_micro = balance_micro + ?1 WHERE id = ?2 \
             RETURNING balance_micro",
        )
        .bind(amount_micro)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(balance) = balance else {
            return Ok(None);
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

    pub async fn account_credits(&self, id: &str) -> Result<Vec<CreditRecord>, StoreError> {
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

    pub async fn usage_report(&self, q: &UsageQuery) -> Result<UsageReport, StoreError> {
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
            .push(" AS g, ")
            .push(TOTAL_COLUMNS)
            .push(" FROM usage_hourly WHERE hour_ms >= ")
            .push_bind(from)
            .push(" AND hour_ms < ")
            .push_bind(to);
        push_filters(&mut sql, q);
        sql.push(" GROUP BY g");
        let rows = sql.build().fetch_all(&self.pool).await?;

        let mut groups = Vec::with_capacity(rows.len());
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
            groups.push((key, totals));
        }
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

    pub async fn top_client_ips(
        &self,
        q: &UsageQuery,
        limit: u32,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        let (from, to) = q.window();
        if from >= to || limit == 0 {
            return Ok(Vec::new());
        }
        let mut sql = QueryBuilder::<Sqlite>::new(
            "SELECT client_ip, COUNT(*) AS n FROM usage_events WHERE client_ip <> '' AND ts_ms >= ",
        );
        sql.push_bind(from).push(" AND ts_ms < ").push_bind(to);
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

fn push_filters(sql: &mut QueryBuilder<Sqlite>, q: &UsageQuery) {
    if let Some(account_id) = &q.account_id {
        sql.push(" AND account_id = ").push_bind(account_id.clone());
    }
    if let Some(kid) = &q.kid {
        sql.push(" AND kid = ").push_bind(kid.clone());
    }
}

/// One event as a rollup increment.
fn event_totals(e: &UsageEvent) -> UsageTotals {
    UsageTotals {
        requests: 1,
        errors: u64::from(e.status >= 400),
        auth_failures: u64::from(e.status == 401),
        input_tokens: e.input_tokens,
        output_tokens: e.output_tokens,
        cached_tokens: e.cached_tokens,
        cost_micro_usd: e.cost_micro_usd,
        charge_micro: e.charge_micro,
        latency_ms_sum: e.latency_ms,
        avg_latency_ms: 0,
    }
}

fn count_to_db(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
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
        input_tokens: row.try_get("input_tokens")?,
        output_tokens: row.try_get("output_tokens")?,
        cached_tokens: row.try_get("cached_tokens")?,
        cost_micro_usd: row.try_get("cost_micro_usd")?,
        charge_micro: row.try_get("charge_micro")?,
        latency_ms_sum: row.try_get("latency_ms_sum")?,
        avg_latency_ms: 0,
    });
    Ok(totals)
}

fn event_from_row(row: &SqliteRow) -> Result<UsageEvent, StoreError> {
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
            "reported" => UsageSource::Reported,
            "estimated" => UsageSource::Estimated,
            "none" => UsageSource::None,
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
    })
}

fn corrupt(table: &'static str, detail: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        table,
        detail: detail.into(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use time::macros::datetime;

    use super::*;
    use crate::store::{Account, DAY_MS, Store, UsageQueryError};

    const T0: i64 = 1_738_368_000_000; // 2025-02-01T00:00:00Z

    async fn store() -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/t.db", dir.path().display());
        let store = Store::open(&url).await.unwrap();
        for id in ["acme", "globex"] {
            store
                .create_account(&Account {
                    id: id.into(),
                    name: id.into(),
                    created_at: from_ms(T0),
                    disabled_at: None,
                })
                .await
                .unwrap();
        }
        (store, dir)
    }

    fn event(
        n: u32,
        ts_ms: i64,
        account_id: &str,
        kid: &str,
        model: &str,
        status: u16,
    ) -> UsageEvent {
        UsageEvent {
            id: format!("ev-{n:05}"),
            ts_ms,
            request_id: format!("req-{n:05}"),
            account_id: account_id.into(),
            kid: kid.into(),
            user_id: String::new(),
            endpoint: "/v1/chat/completions".into(),
            provider: if model.starts_with("claude") {
                "anthropic"
            } else {
                "openai"
            }
            .into(),
            model_requested: model.into(),
            model_served: model.into(),
            status,
            error_code: if status >= 400 {
                "boom".into()
            } else {
                String::new()
            },
            input_tokens: i64::from(n % 7) * 10,
            output_tokens: i64::from(n % 5) * 3,
            cached_tokens: i64::from(n % 3),
            usage_source: UsageSource::Reported,
            cost_micro_usd: i64::from(n % 11) * 100,
            charge_micro: if account_id.is_empty() {
                0
            } else {
                i64::from(n % 11) * 150
            },
            currency: "USD".into(),
            latency_ms: i64::from(n % 13) * 10,
            ttfb_ms: i64::from(n % 13) * 5,
            client_ip: format!("10.0.0.{}", n % 4),
            session_id: String::new(),
            app_version: String::new(),
            byok: false,
            streamed: n.is_multiple_of(2),
        }
    }

    /// A spread of events over three days: two accounts, three keys, two
    /// providers, several statuses, unauthenticated failures.
    fn spread(count: u32) -> Vec<UsageEvent> {
        let keys = [
            ("acme", "kid_a1"),
            ("acme", "kid_a2"),
            ("globex", "kid_g1"),
            ("", ""),
        ];
        let models = ["gpt-4o", "gpt-4o-mini", "claude-sonnet"];
        let statuses = [200, 200, 200, 400, 401, 429, 502];
        (0..count)
            .map(|n| {
                let (account, kid) = keys[n as usize % keys.len()];
                let status = if kid.is_empty() {
                    401
                } else {
                    statuses[n as usize % statuses.len()]
                };
                let ts = T0 - DAY_MS + i64::from(n) * 217_003; // ~3 days for 1,200 events
                event(
                    n,
                    ts,
                    account,
                    kid,
                    models[n as usize % models.len()],
                    status,
                )
            })
            .collect()
    }

    fn whole(from_ms: i64, to_ms: i64, group_by: GroupBy) -> UsageQuery {
        UsageQuery {
            group_by,
            ..UsageQuery::new(from_ms, to_ms).unwrap()
        }
    }

    fn expected_totals<'a>(events: impl IntoIterator<Item = &'a UsageEvent>) -> UsageTotals {
        let mut t = UsageTotals::default();
        for e in events {
            t.add(&event_totals(e));
        }
        t
    }

    fn group_key(e: &UsageEvent, group_by: GroupBy) -> String {
        let bucket = |size: i64| {
            from_ms(e.ts_ms - e.ts_ms.rem_euclid(size))
                .format(&Rfc3339)
                .unwrap()
        };
        match group_by {
            GroupBy::None => String::new(),
            GroupBy::Key => e.kid.clone(),
            GroupBy::Model => e.model_served.clone(),
            GroupBy::Provider => e.provider.clone(),
            GroupBy::Status => e.status.to_string(),
            GroupBy::Hour => bucket(HOUR_MS),
            GroupBy::Day => bucket(DAY_MS),
        }
    }

    #[tokio::test]
    async fn rollups_equal_the_sum_of_events_per_group() {
        let (store, _dir) = store().await;
        let events = spread(1_200);
        // One batch larger than an insert chunk, then uneven ones as the writer sends.
        let (big, rest) = events.split_at(EVENT_CHUNK * 2 + 100);
        assert_eq!(store.record_usage(big).await.unwrap(), big.len() as u64);
        for batch in rest.chunks(17) {
            assert_eq!(store.record_usage(batch).await.unwrap(), batch.len() as u64);
        }
        assert_eq!(store.count_usage_events().await.unwrap(), 1_200);

        let (from, to) = (T0 - 2 * DAY_MS, T0 + 3 * DAY_MS);
        let filters: [(Option<&str>, Option<&str>); 4] = [
            (None, None),
            (Some("acme"), None),
            (None, Some("kid_g1")),
            (Some(""), None),
        ];
        for (account, kid) in filters {
            let matching: Vec<&UsageEvent> = events
                .iter()
                .filter(|e| account.is_none_or(|a| e.account_id == a))
                .filter(|e| kid.is_none_or(|k| e.kid == k))
                .collect();
            assert!(!matching.is_empty());
            for group_by in GroupBy::ALL {
                let q = UsageQuery {
                    account_id: account.map(str::to_owned),
                    kid: kid.map(str::to_owned),
                    ..whole(from, to, group_by)
                };
                let report = store.usage_report(&q).await.unwrap();
                let context = format!("{account:?} {kid:?} {group_by:?}");
                assert_eq!(
                    report.totals,
                    expected_totals(matching.iter().copied()),
                    "{context}"
                );
                if group_by == GroupBy::None {
                    assert!(report.groups.is_empty(), "{context}");
                    continue;
                }
                let mut expected: HashMap<String, Vec<&UsageEvent>> = HashMap::new();
                for e in &matching {
                    expected.entry(group_key(e, group_by)).or_default().push(e);
                }
                let got: HashMap<String, UsageTotals> = report.groups.iter().cloned().collect();
                assert_eq!(
                    got.len(),
                    report.groups.len(),
                    "duplicate group keys: {context}"
                );
                let expected: HashMap<String, UsageTotals> = expected
                    .into_iter()
                    .map(|(k, evs)| (k, expected_totals(evs)))
                    .collect();
                assert_eq!(got, expected, "{context}");
            }
        }
    }

    #[tokio::test]
    async fn groups_are_ordered() {
        let (store, _dir) = store().await;
        store.record_usage(&spread(300)).await.unwrap();
        let (from, to) = (T0 - 2 * DAY_MS, T0 + 3 * DAY_MS);
        for group_by in [GroupBy::Hour, GroupBy::Day] {
            let r = store
                .usage_report(&whole(from, to, group_by))
                .await
                .unwrap();
            let keys: Vec<&String> = r.groups.iter().map(|g| &g.0).collect();
            assert!(keys.is_sorted(), "{group_by:?}: {keys:?}");
        }
        let r = store
            .usage_report(&whole(from, to, GroupBy::Status))
            .await
            .unwrap();
        let statuses: Vec<u16> = r.groups.iter().map(|g| g.0.parse().unwrap()).collect();
        assert!(statuses.is_sorted());
        let r = store
            .usage_report(&whole(from, to, GroupBy::Model))
            .await
            .unwrap();
        assert!(
            r.groups
                .windows(2)
                .all(|w| w[0].1.requests >= w[1].1.requests)
        );
    }

    #[tokio::test]
    async fn hour_and_day_buckets_are_utc() {
        let (store, _dir) = store().await;
        let at = |t: OffsetDateTime| to_ms(t);
        let events = [
            event(
                1,
                at(datetime!(2025-01-31 23:59:59.999 UTC)),
                "acme",
                "kid_a1",
                "gpt-4o",
                200,
            ),
            // Midnight UTC, written with an offset: still the 1st of February.
            event(
                2,
                at(datetime!(2025-02-01 03:00 +03:00)),
                "acme",
                "kid_a1",
                "gpt-4o",
                200,
            ),
            event(
                3,
                at(datetime!(2025-02-01 00:30 UTC)),
                "acme",
                "kid_a1",
                "gpt-4o",
                500,
            ),
            event(
                4,
                at(datetime!(2025-02-01 01:00 UTC)),
                "acme",
                "kid_a1",
                "gpt-4o",
                200,
            ),
            event(
                5,
                at(datetime!(2025-02-02 00:00 UTC)),
                "acme",
                "kid_a1",
                "gpt-4o",
                200,
            ),
        ];
        store.record_usage(&events).await.unwrap();
        let (from, to) = (T0 - DAY_MS, T0 + 2 * DAY_MS);

        let r = store
            .usage_report(&whole(from, to, GroupBy::Hour))
            .await
            .unwrap();
        let hours: Vec<(&str, u64)> = r
            .groups
            .iter()
            .map(|(k, t)| (k.as_str(), t.requests))
            .collect();
        assert_eq!(
            hours,
            [
                ("2025-01-31T23:00:00Z", 1),
                ("2025-02-01T00:00:00Z", 2),
                ("2025-02-01T01:00:00Z", 1),
                ("2025-02-02T00:00:00Z", 1),
            ]
        );
        assert_eq!(r.groups[1].1.errors, 1);

        let r = store
            .usage_report(&whole(from, to, GroupBy::Day))
            .await
            .unwrap();
        let days: Vec<(&str, u64)> = r
            .groups
            .iter()
            .map(|(k, t)| (k.as_str(), t.requests))
            .collect();
        assert_eq!(
            days,
            [
                ("2025-01-31T00:00:00Z", 1),
                ("2025-02-01T00:00:00Z", 3),
                ("2025-02-02T00:00:00Z", 1),
            ]
        );
    }

    #[tokio::test]
    async fn reports_cover_whole_hours() {
        let (store, _dir) = store().await;
        let events = [
            event(1, T0 - 1, "acme", "kid_a1", "gpt-4o", 200), // the hour before
            event(2, T0 + 5 * 60_000, "acme", "kid_a1", "gpt-4o", 200),
            event(3, T0 + 55 * 60_000, "acme", "kid_a1", "gpt-4o", 200),
            event(4, T0 + HOUR_MS, "acme", "kid_a1", "gpt-4o", 200), // the hour after
        ];
        store.record_usage(&events).await.unwrap();
        // [00:10, 00:50) lies inside one hour: the report covers [00:00, 01:00).
        let q = whole(T0 + 10 * 60_000, T0 + 50 * 60_000, GroupBy::None);
        assert_eq!(q.window(), (T0, T0 + HOUR_MS));
        let r = store.usage_report(&q).await.unwrap();
        assert_eq!((r.from_ms, r.to_ms), (T0, T0 + HOUR_MS));
        assert_eq!(r.totals.requests, 2);
        // The IP ranking reads raw events over the same window.
        let ips = store.top_client_ips(&q, 10).await.unwrap();
        assert_eq!(ips.iter().map(|(_, n)| n).sum::<u64>(), 2);
    }

    #[tokio::test]
    async fn a_retried_batch_counts_and_charges_once() {
        let (store, _dir) = store().await;
        let events = spread(60);
        let q = whole(T0 - 2 * DAY_MS, T0 + 3 * DAY_MS, GroupBy::Key);
        assert_eq!(store.record_usage(&events).await.unwrap(), 60);
        let report = store.usage_report(&q).await.unwrap();
        let balance = store
            .account_billing("acme")
            .await
            .unwrap()
            .unwrap()
            .balance_micro;

        assert_eq!(store.record_usage(&events).await.unwrap(), 0);
        // Half old, half new, and a duplicate id inside the batch.
        let mut more = spread(90)[30..].to_vec();
        more.push(more[40].clone());
        assert_eq!(store.record_usage(&more).await.unwrap(), 30);
        assert_eq!(store.count_usage_events().await.unwrap(), 90);

        let all = spread(90);
        let after = store.usage_report(&q).await.unwrap();
        assert_eq!(after.totals, expected_totals(&all));
        assert_ne!(after, report);
        let acme_charges: i64 = all
            .iter()
            .filter(|e| e.account_id == "acme")
            .map(|e| e.charge_micro)
            .sum();
        let first_charges: i64 = events
            .iter()
            .filter(|e| e.account_id == "acme")
            .map(|e| e.charge_micro)
            .sum();
        assert_eq!(balance, -first_charges);
        let billing = store.account_billing("acme").await.unwrap().unwrap();
        assert_eq!(billing.balance_micro, -acme_charges);
    }

    #[tokio::test]
    async fn charges_draw_down_each_account() {
        let (store, _dir) = store().await;
        store
            .credit_account("globex", 1_000_000, "cli", "top-up", from_ms(T0))
            .await
            .unwrap();
        let mut events = spread(200);
        // An account that does not exist is no reason to lose the batch.
        events.push(event(9_999, T0, "ghost", "kid_x", "gpt-4o", 200));
        store.record_usage(&events).await.unwrap();
        let charged = |account: &str| -> i64 {
            events
                .iter()
                .filter(|e| e.account_id == account)
                .map(|e| e.charge_micro)
                .sum()
        };
        assert!(charged("acme") > 0 && charged("globex") > 0);
        let acme = store.account_billing("acme").await.unwrap().unwrap();
        assert_eq!(acme.balance_micro, -charged("acme"));
        let globex = store.account_billing("globex").await.unwrap().unwrap();
        assert_eq!(globex.balance_micro, 1_000_000 - charged("globex"));
        // Usage charges are not credits: the audit trail only has the top-up.
        assert_eq!(store.account_credits("globex").await.unwrap().len(), 1);
        assert_eq!(store.account_billing("ghost").await.unwrap(), None);
    }

    #[tokio::test]
    async fn credits_are_audited() {
        let (store, _dir) = store().await;
        let billing = store.account_billing("acme").await.unwrap().unwrap();
        assert_eq!(
            billing,
            AccountBilling {
                currency: "USD".into(),
                billing_mode: BillingMode::Postpaid,
                balance_micro: 0
            }
        );
        let t1 = from_ms(T0);
        let t2 = from_ms(T0 + 1_000);
        let balance = store
            .credit_account("acme", 5_000_000, "kid_mgmt", "invoice 7", t1)
            .await;
        assert_eq!(balance.unwrap(), Some(5_000_000));
        let balance = store
            .credit_account("acme", -1_250_000, "cli", "refund error", t2)
            .await;
        assert_eq!(balance.unwrap(), Some(3_750_000));
        assert_eq!(
            store
                .credit_account("nobody", 1, "cli", "", t2)
                .await
                .unwrap(),
            None
        );
        assert!(store.account_credits("nobody").await.unwrap().is_empty());

        let credits = store.account_credits("acme").await.unwrap();
        let trail: Vec<_> = credits
            .iter()
            .map(|c| {
                (
                    c.account_id.as_str(),
                    c.amount_micro,
                    c.balance_after_micro,
                    c.actor.as_str(),
                    c.note.as_str(),
                    c.created_at,
                )
            })
            .collect();
        assert_eq!(
            trail,
            [
                ("acme", 5_000_000, 5_000_000, "kid_mgmt", "invoice 7", t1),
                ("acme", -1_250_000, 3_750_000, "cli", "refund error", t2),
            ]
        );
        assert_ne!(credits[0].id, credits[1].id);
        assert_eq!(
            store
                .account_billing("acme")
                .await
                .unwrap()
                .unwrap()
                .balance_micro,
            3_750_000
        );
        assert!(store.account_credits("globex").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn billing_settings_change_independently() {
        let (store, _dir) = store().await;
        assert!(
            store
                .set_account_billing("acme", Some("TRY"), None)
                .await
                .unwrap()
        );
        assert!(
            store
                .set_account_billing("acme", None, Some(BillingMode::Prepaid))
                .await
                .unwrap()
        );
        let billing = store.account_billing("acme").await.unwrap().unwrap();
        assert_eq!(billing.currency, "TRY");
        assert_eq!(billing.billing_mode, BillingMode::Prepaid);
        assert!(store.set_account_billing("acme", None, None).await.unwrap());
        assert!(
            !store
                .set_account_billing("nobody", None, None)
                .await
                .unwrap()
        );
        assert!(
            !store
                .set_account_billing("nobody", Some("EUR"), Some(BillingMode::Postpaid))
                .await
                .unwrap()
        );
        // The other account is untouched.
        let globex = store.account_billing("globex").await.unwrap().unwrap();
        assert_eq!(
            (globex.currency.as_str(), globex.billing_mode),
            ("USD", BillingMode::Postpaid)
        );
    }

    #[tokio::test]
    async fn purge_drops_raw_events_and_keeps_rollups() {
        let (store, _dir) = store().await;
        let events = spread(400);
        store.record_usage(&events).await.unwrap();
        let q = whole(T0 - 2 * DAY_MS, T0 + 3 * DAY_MS, GroupBy::Hour);
        let before = store.usage_report(&q).await.unwrap();

        let old = events.iter().filter(|e| e.ts_ms < T0).count() as u64;
        assert!(old > 0 && old < 400);
        assert_eq!(store.purge_usage_before(T0).await.unwrap(), old);
        assert_eq!(store.count_usage_events().await.unwrap(), 400 - old);
        assert_eq!(store.purge_usage_before(T0).await.unwrap(), 0);
        assert_eq!(store.usage_report(&q).await.unwrap(), before);

        let kept = events.iter().find(|e| e.ts_ms >= T0).unwrap();
        let gone = events.iter().find(|e| e.ts_ms < T0).unwrap();
        assert_eq!(
            store
                .usage_events_for_request(&kept.request_id)
                .await
                .unwrap(),
            std::slice::from_ref(kept)
        );
        assert!(
            store
                .usage_events_for_request(&gone.request_id)
                .await
                .unwrap()
                .is_empty()
        );
        // Client IPs come from raw events, so only what is left counts.
        let ips = store.top_client_ips(&q, 100).await.unwrap();
        assert_eq!(ips.iter().map(|(_, n)| n).sum::<u64>(), 400 - old);

        // Idempotency rests on the raw rows: a purged event sent again counts again,
        // so retries must arrive well within retention.
        assert_eq!(
            store
                .record_usage(std::slice::from_ref(gone))
                .await
                .unwrap(),
            1
        );
        let after = store.usage_report(&q).await.unwrap();
        assert_eq!(after.totals.requests, before.totals.requests + 1);
    }

    #[tokio::test]
    async fn events_round_trip_every_field() {
        let (store, _dir) = store().await;
        let mut e = event(7, T0 + 123, "acme", "kid_a1", "gpt-4o", 200);
        e.user_id = "user-1".into();
        e.model_requested = "fast".into();
        e.usage_source = UsageSource::Estimated;
        e.session_id = "sess".into();
        e.app_version = "1.2.3".into();
        e.byok = true;
        e.streamed = true;
        e.currency = "TRY".into();
        let mut other = event(8, T0 + 100, "", "", "", 401);
        other.request_id = e.request_id.clone();
        other.usage_source = UsageSource::None;
        store
            .record_usage(&[e.clone(), other.clone()])
            .await
            .unwrap();
        let got = store.usage_events_for_request(&e.request_id).await.unwrap();
        assert_eq!(got, [other, e]); // by time
    }

    #[tokio::test]
    async fn top_client_ips_rank_and_filter() {
        let (store, _dir) = store().await;
        let mut events = Vec::new();
        for (n, (ip, account)) in [
            ("10.0.0.1", "acme"),
            ("10.0.0.1", "acme"),
            ("10.0.0.1", "globex"),
            ("10.0.0.2", "acme"),
            ("10.0.0.2", "acme"),
            ("10.0.0.2", "acme"),
            ("10.0.0.3", "acme"),
            ("", "acme"),
        ]
        .into_iter()
        .enumerate()
        {
            let mut e = event(n as u32, T0 + n as i64, account, "kid", "gpt-4o", 200);
            e.client_ip = ip.into();
            events.push(e);
        }
        store.record_usage(&events).await.unwrap();
        let q = whole(T0, T0 + HOUR_MS, GroupBy::None);
        let ips = store.top_client_ips(&q, 10).await.unwrap();
        assert_eq!(
            ips,
            [
                ("10.0.0.1".into(), 3),
                ("10.0.0.2".into(), 3),
                ("10.0.0.3".into(), 1)
            ]
        );
        let acme = UsageQuery {
            account_id: Some("acme".into()),
            ..q.clone()
        };
        let ips = store.top_client_ips(&acme, 1).await.unwrap();
        assert_eq!(ips, [("10.0.0.2".into(), 3)]);
        assert!(store.top_client_ips(&q, 0).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn query_validation() {
        assert_eq!(UsageQuery::new(T0, T0), Err(UsageQueryError::EmptyRange));
        assert_eq!(
            UsageQuery::new(T0, T0 - 1),
            Err(UsageQueryError::EmptyRange)
        );
        let q = UsageQuery::new(T0 - 1, T0).unwrap();
        assert_eq!(q.window(), (T0 - HOUR_MS, T0));
        assert_eq!(
            UsageQuery::new(T0, T0 + 1).unwrap().window(),
            (T0, T0 + HOUR_MS)
        );
        assert_eq!(
            UsageQuery::new(T0, T0 + HOUR_MS).unwrap().window(),
            (T0, T0 + HOUR_MS)
        );
        // Before 1970 the hour still floors (not truncates toward zero).
        assert_eq!(
            UsageQuery::new(-1, 1).unwrap().window(),
            (-HOUR_MS, HOUR_MS)
        );
        for g in GroupBy::ALL {
            assert_eq!(g.as_str().parse(), Ok(g));
        }
        assert_eq!("week".parse::<GroupBy>(), Err(()));
        assert_eq!("Day".parse::<GroupBy>(), Err(()));
        assert_eq!("prepaid".parse(), Ok(BillingMode::Prepaid));
        assert_eq!("postpaid".parse(), Ok(BillingMode::Postpaid));
        assert_eq!("credit".parse::<BillingMode>(), Err(()));

        // The store answers an empty or inverted range with an empty report.
        let (store, _dir) = store().await;
        store.record_usage(&spread(50)).await.unwrap();
        let inverted = UsageQuery {
            from_ms: T0 + DAY_MS,
            to_ms: T0 - DAY_MS,
            account_id: None,
            kid: None,
            group_by: GroupBy::Hour,
        };
        assert_eq!(inverted.validate(), Err(UsageQueryError::EmptyRange));
        let r = store.usage_report(&inverted).await.unwrap();
        assert_eq!((r.totals, r.groups.len()), (UsageTotals::default(), 0));
        assert!(
            store
                .top_client_ips(&inverted, 10)
                .await
                .unwrap()
                .is_empty()
        );
        // A range with no events is empty too, not an error.
        let r = store
            .usage_report(&whole(T0 + 10 * DAY_MS, T0 + 11 * DAY_MS, GroupBy::Day))
            .await
            .unwrap();
        assert_eq!((r.totals.requests, r.groups.len()), (0, 0));
    }
}
