//! PostgreSQL SQL of the webhook tables (`migrations/postgres/0040_webhooks.sql`),
//! the same semantics as `sqlite/webhooks.rs`. Several gateways may run the worker
//! at once: fan-out locks the events it takes and claims lease rows, both with
//! `FOR UPDATE SKIP LOCKED`, so no event is fanned out twice and no delivery is
//! leased to two workers.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{Postgres, QueryBuilder, Row};
use time::OffsetDateTime;

use super::PgStore;
use crate::store::records::{from_ms, to_ms};
use crate::store::webhook_records::{delivery_id, events_json, wants};
use crate::store::{
    AttemptOutcome, DeliveryRecord, DeliveryStatus, EventFilter, NewEvent, StoreError,
    WebhookRecord, WebhookStore, WebhookUpdate,
};

const HOOK_SELECT: &str = "SELECT id, account_id, url, events, description, secret_sealed, \
     prev_secret_sealed, prev_secret_until, created_at, updated_at FROM webhooks";

const EVENT_SELECT: &str =
    "SELECT id, type, account_id, created_at, data::text AS data FROM webhook_events";

const DELIVERY_SELECT: &str = "SELECT d.id, d.webhook_id, d.status, d.attempts, d.last_error, \
     d.last_status, d.next_attempt_at, d.created_at, d.delivered_at, \
     e.id AS event_id, e.type, e.account_id, e.created_at AS event_created_at, \
     e.data::text AS data \
     FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id";

/// Serialises `announce_expired_keys` across gateways (its NOT EXISTS check and
/// insert must not interleave): a transaction-scoped advisory lock.
const ANNOUNCE_LOCK: i64 = 0x7467_686f_6f6b_0001;

fn corrupt(table: &'static str, detail: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        table,
        detail: detail.into(),
    }
}

fn hook_from_row(row: &PgRow) -> Result<WebhookRecord, StoreError> {
    let events: String = row.try_get("events")?;
    let events: Vec<String> =
        serde_json::from_str(&events).map_err(|e| corrupt("webhooks", e.to_string()))?;
    Ok(WebhookRecord {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        url: row.try_get("url")?,
        events,
        description: row.try_get("description")?,
        secret_sealed: row.try_get("secret_sealed")?,
        prev_secret_sealed: row.try_get("prev_secret_sealed")?,
        prev_secret_until: row
            .try_get::<Option<i64>, _>("prev_secret_until")?
            .map(from_ms),
        created_at: from_ms(row.try_get("created_at")?),
        updated_at: from_ms(row.try_get("updated_at")?),
    })
}

fn event_from_row(row: &PgRow, id: &str, created: &str) -> Result<NewEvent, StoreError> {
    let data: String = row.try_get("data")?;
    Ok(NewEvent {
        id: row.try_get(id)?,
        kind: row.try_get("type")?,
        account_id: row.try_get("account_id")?,
        created_at: from_ms(row.try_get(created)?),
        data: serde_json::from_str(&data).map_err(|e| corrupt("webhook_events", e.to_string()))?,
    })
}

fn delivery_from_row(row: &PgRow) -> Result<DeliveryRecord, StoreError> {
    let status: String = row.try_get("status")?;
    Ok(DeliveryRecord {
        id: row.try_get("id")?,
        webhook_id: row.try_get("webhook_id")?,
        event: event_from_row(row, "event_id", "event_created_at")?,
        status: DeliveryStatus::parse(&status)
            .ok_or_else(|| corrupt("webhook_deliveries", format!("status {status:?}")))?,
        attempts: u32::try_from(row.try_get::<i32, _>("attempts")?).unwrap_or(u32::MAX),
        last_error: row.try_get("last_error")?,
        last_status: row
            .try_get::<Option<i32>, _>("last_status")?
            .and_then(|s| u16::try_from(s).ok()),
        next_attempt_at: from_ms(row.try_get("next_attempt_at")?),
        created_at: from_ms(row.try_get("created_at")?),
        delivered_at: row.try_get::<Option<i64>, _>("delivered_at")?.map(from_ms),
    })
}

#[async_trait]
impl WebhookStore for PgStore {
    async fn insert_webhook(&self, hook: &WebhookRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO webhooks (id, account_id, url, events, description, secret_sealed, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&hook.id)
        .bind(&hook.account_id)
        .bind(&hook.url)
        .bind(events_json(&hook.events))
        .bind(&hook.description)
        .bind(&hook.secret_sealed)
        .bind(to_ms(hook.created_at))
        .bind(to_ms(hook.updated_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn webhook(&self, id: &str) -> Result<Option<WebhookRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("{HOOK_SELECT} WHERE id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(hook_from_row).transpose()
    }

    async fn list_webhooks(&self, account: Option<&str>) -> Result<Vec<WebhookRecord>, StoreError> {
        let mut q = QueryBuilder::<Postgres>::new(HOOK_SELECT);
        if let Some(account) = account {
            q.push(" WHERE account_id = ").push_bind(account.to_owned());
        }
        q.push(" ORDER BY created_at, id");
        let rows = q.build().fetch_all(&self.pool).await?;
        rows.iter().map(hook_from_row).collect()
    }

    async fn update_webhook(
        &self,
        id: &str,
        update: &WebhookUpdate,
        now: OffsetDateTime,
    ) -> Result<Option<WebhookRecord>, StoreError> {
        let mut q = QueryBuilder::<Postgres>::new("UPDATE webhooks SET updated_at = ");
        q.push_bind(to_ms(now));
        if let Some(url) = &update.url {
            q.push(", url = ").push_bind(url.clone());
        }
        if let Some(events) = &update.events {
            q.push(", events = ").push_bind(events_json(events));
        }
        if let Some(description) = &update.description {
            q.push(", description = ").push_bind(description.clone());
        }
        q.push(" WHERE id = ").push_bind(id.to_owned());
        q.push(
            " RETURNING id, account_id, url, events, description, secret_sealed, \
                prev_secret_sealed, prev_secret_until, created_at, updated_at",
        );
        let row = q.build().fetch_optional(&self.pool).await?;
        row.as_ref().map(hook_from_row).transpose()
    }

    async fn rotate_webhook_secret(
        &self,
        id: &str,
        new_sealed: &str,
        prev_sealed: &str,
        prev_until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Option<WebhookRecord>, StoreError> {
        let row = sqlx::query(
            "UPDATE webhooks SET secret_sealed = $1, prev_secret_sealed = $2, \
             prev_secret_until = $3, updated_at = $4 WHERE id = $5 \
             RETURNING id, account_id, url, events, description, secret_sealed, \
             prev_secret_sealed, prev_secret_until, created_at, updated_at",
        )
        .bind(new_sealed)
        .bind(prev_sealed)
        .bind(to_ms(prev_until))
        .bind(to_ms(now))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(hook_from_row).transpose()
    }

    async fn delete_webhook(&self, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM webhooks WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn insert_event(&self, event: &NewEvent) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO webhook_events (id, type, account_id, created_at, data) \
             VALUES ($1, $2, $3, $4, $5::jsonb)",
        )
        .bind(&event.id)
        .bind(&event.kind)
        .bind(&event.account_id)
        .bind(to_ms(event.created_at))
        .bind(event.data.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn fan_out_events(&self, limit: u32, now: OffsetDateTime) -> Result<u64, StoreError> {
        let now = to_ms(now);
        let mut tx = self.pool.begin().await?;
        // Locked until commit; another gateway's worker skips them (and takes the next).
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{EVENT_SELECT} WHERE NOT fanned_out ORDER BY created_at, id LIMIT $1 \
             FOR UPDATE SKIP LOCKED"
        )))
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let hooks = sqlx::query(sqlx::AssertSqlSafe(HOOK_SELECT.to_owned()))
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(hook_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        // One batch insert for every (webhook, event) pair and one update for the events.
        let mut ids = Vec::new();
        let mut hook_ids = Vec::new();
        let mut event_ids = Vec::new();
        let mut fanned = Vec::with_capacity(rows.len());
        for row in &rows {
            let event = event_from_row(row, "id", "created_at")?;
            for hook in hooks.iter().filter(|h| wants(h, &event)) {
                ids.push(delivery_id());
                hook_ids.push(hook.id.clone());
                event_ids.push(event.id.clone());
            }
            fanned.push(event.id);
        }
        if !ids.is_empty() {
            sqlx::query(
                "INSERT INTO webhook_deliveries (id, webhook_id, event_id, status, \
                 next_attempt_at, created_at) \
                 SELECT u.id, u.webhook_id, u.event_id, 'pending', $4, $4 \
                 FROM UNNEST($1::text[], $2::text[], $3::text[]) AS u(id, webhook_id, event_id) \
                 ON CONFLICT (webhook_id, event_id) DO NOTHING",
            )
            .bind(ids)
            .bind(hook_ids)
            .bind(event_ids)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        let count = sqlx::query("UPDATE webhook_events SET fanned_out = TRUE WHERE id = ANY($1)")
            .bind(fanned)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(count)
    }

    async fn insert_direct_delivery(
        &self,
        webhook_id: &str,
        event: &NewEvent,
    ) -> Result<String, StoreError> {
        let id = delivery_id();
        let now = to_ms(event.created_at);
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO webhook_events (id, type, account_id, created_at, data, fanned_out) \
             VALUES ($1, $2, $3, $4, $5::jsonb, TRUE)",
        )
        .bind(&event.id)
        .bind(&event.kind)
        .bind(&event.account_id)
        .bind(now)
        .bind(event.data.to_string())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO webhook_deliveries (id, webhook_id, event_id, status, next_attempt_at, \
             created_at) VALUES ($1, $2, $3, 'pending', $4, $4)",
        )
        .bind(&id)
        .bind(webhook_id)
        .bind(&event.id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn claim_due_deliveries(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        // One statement: rows another worker is leasing right now are skipped, and a
        // row it leased is no longer due (lease_until > now) once it commits.
        let ids: Vec<String> = sqlx::query_scalar(
            "UPDATE webhook_deliveries SET lease_until = $1 WHERE id IN ( \
             SELECT id FROM webhook_deliveries WHERE status = 'pending' \
             AND next_attempt_at <= $2 AND lease_until <= $2 \
             ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING id",
        )
        .bind(to_ms(lease_until))
        .bind(to_ms(now))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{DELIVERY_SELECT} WHERE d.id = ANY($1) ORDER BY d.next_attempt_at, d.id"
        )))
        .bind(ids)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(delivery_from_row).collect()
    }

    async fn finish_attempt(
        &self,
        delivery_id: &str,
        outcome: &AttemptOutcome,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let now = to_ms(now);
        let (status, error, code, next, delivered) = match outcome {
            AttemptOutcome::Delivered { status } => (
                DeliveryStatus::Delivered,
                None,
                Some(*status),
                now,
                Some(now),
            ),
            AttemptOutcome::Retry {
                error,
                status,
                next_attempt_at,
            } => (
                DeliveryStatus::Pending,
                Some(error.clone()),
                *status,
                to_ms(*next_attempt_at),
                None,
            ),
            AttemptOutcome::GiveUp { error, status } => (
                DeliveryStatus::Failed,
                Some(error.clone()),
                *status,
                now,
                None,
            ),
        };
        sqlx::query(
            "UPDATE webhook_deliveries SET status = $1, attempts = attempts + 1, \
             last_error = $2, last_status = $3, next_attempt_at = $4, delivered_at = $5, \
             lease_until = 0 WHERE id = $6",
        )
        .bind(status.as_str())
        .bind(error)
        .bind(code.map(i32::from))
        .bind(next)
        .bind(delivered)
        .bind(delivery_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn deliveries(
        &self,
        webhook_id: &str,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{DELIVERY_SELECT} WHERE d.webhook_id = $1 \
             ORDER BY d.created_at DESC, d.id DESC LIMIT $2"
        )))
        .bind(webhook_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(delivery_from_row).collect()
    }

    async fn redeliver(
        &self,
        webhook_id: &str,
        delivery_id: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $1, \
             lease_until = 0, delivered_at = NULL WHERE id = $2 AND webhook_id = $3",
        )
        .bind(to_ms(now))
        .bind(delivery_id)
        .bind(webhook_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn announce_expired_keys(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        // Two gateways announcing at once would both pass the NOT EXISTS check; the
        // lock makes the second wait and then see the first's rows (READ COMMITTED
        // takes the insert's snapshot after the lock).
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(ANNOUNCE_LOCK)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query(
            "INSERT INTO webhook_events (id, type, account_id, created_at, data) \
             SELECT 'evt_' || replace(gen_random_uuid()::text, '-', ''), 'key.expired', \
               k.account_id, $1, \
               jsonb_build_object('key_id', k.id, 'kid', k.kid, 'name', k.name, \
                 'account_id', k.account_id, 'env', k.env, 'kind', k.kind, \
                 'expires_at', to_char(to_timestamp(k.expires_at / 1000) AT TIME ZONE 'UTC', \
                   'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), \
                 'revoked_at', NULL) \
             FROM api_keys k WHERE k.revoked_at IS NULL AND k.expires_at <= $1 \
               AND k.expires_at > $1 - 604800000 \
               AND NOT EXISTS (SELECT 1 FROM webhook_events e WHERE e.type = 'key.expired' \
                 AND e.data->>'key_id' = k.id)",
        )
        .bind(to_ms(now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    async fn list_events(&self, filter: &EventFilter) -> Result<Vec<NewEvent>, StoreError> {
        let mut q = QueryBuilder::<Postgres>::new(EVENT_SELECT);
        q.push(" WHERE 1 = 1");
        if let Some(prefix) = &filter.type_prefix {
            q.push(" AND starts_with(type, ")
                .push_bind(prefix.clone())
                .push(")");
        }
        if let Some(kind) = &filter.kind {
            q.push(" AND type = ").push_bind(kind.clone());
        }
        if let Some(account) = &filter.account_id {
            q.push(" AND account_id = ").push_bind(account.clone());
        }
        if let Some(key) = &filter.key_id {
            q.push(" AND data->>'key_id' = ").push_bind(key.clone());
        }
        if let Some(since) = filter.since {
            q.push(" AND created_at >= ").push_bind(to_ms(since));
        }
        q.push(" ORDER BY created_at DESC, id DESC LIMIT ")
            .push_bind(i64::from(filter.limit));
        let rows = q.build().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| event_from_row(r, "id", "created_at"))
            .collect()
    }
}
