//! PostgreSQL SQL of the alert tables (`migrations/postgres/0050_alerts.sql`), the
//! same semantics as `sqlite/alerts.rs`.

use async_trait::async_trait;
use sqlx::Row;
use time::OffsetDateTime;

use super::PgStore;
use crate::store::records::{from_ms, to_ms};
use crate::store::{AlertOverrides, AlertStore, NewEvent, SeenIp, StoreError};

fn to_u32(v: Option<i32>) -> Option<u32> {
    v.and_then(|v| u32::try_from(v).ok())
}

#[async_trait]
impl AlertStore for PgStore {
    async fn insert_alert(&self, event: &NewEvent, dedup_key: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO webhook_events (id, type, account_id, created_at, data, dedup_key) \
             VALUES ($1, $2, $3, $4, $5::jsonb, $6) ON CONFLICT (dedup_key) DO NOTHING",
        )
        .bind(&event.id)
        .bind(&event.kind)
        .bind(&event.account_id)
        .bind(to_ms(event.created_at))
        .bind(event.data.to_string())
        .bind(dedup_key)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn note_key_ip(
        &self,
        key_id: &str,
        ip: &str,
        now: OffsetDateTime,
    ) -> Result<SeenIp, StoreError> {
        let mut tx = self.pool.begin().await?;
        let last: Option<i64> =
            sqlx::query("SELECT last_seen_at FROM key_seen_ips WHERE key_id = $1 AND ip = $2")
                .bind(key_id)
                .bind(ip)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.try_get("last_seen_at"))
                .transpose()?;
        let other =
            sqlx::query("SELECT 1 FROM key_seen_ips WHERE key_id = $1 AND ip <> $2 LIMIT 1")
                .bind(key_id)
                .bind(ip)
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
        sqlx::query(
            "INSERT INTO key_seen_ips (key_id, ip, first_seen_at, last_seen_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (key_id, ip) \
             DO UPDATE SET last_seen_at = GREATEST(key_seen_ips.last_seen_at, excluded.last_seen_at)",
        )
        .bind(key_id)
        .bind(ip)
        .bind(to_ms(now))
        .bind(to_ms(now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(SeenIp {
            last_seen: last.map(from_ms),
            other_addresses: other,
        })
    }

    async fn alert_overrides(
        &self,
        account_id: &str,
    ) -> Result<Option<AlertOverrides>, StoreError> {
        let row = sqlx::query(
            "SELECT auth_failures, auth_failures_window_secs, new_ip_days, rate_limit_near_pct, \
             balance_low_micro, spend_daily_micro FROM account_alert_settings WHERE account_id = $1",
        )
        .bind(account_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(AlertOverrides {
                auth_failures: to_u32(r.try_get::<Option<i32>, _>("auth_failures")?),
                auth_failures_window_secs: to_u32(
                    r.try_get::<Option<i32>, _>("auth_failures_window_secs")?,
                ),
                new_ip_days: to_u32(r.try_get::<Option<i32>, _>("new_ip_days")?),
                rate_limit_near_pct: to_u32(r.try_get::<Option<i32>, _>("rate_limit_near_pct")?),
                balance_low_micro: r.try_get("balance_low_micro")?,
                spend_daily_micro: r.try_get("spend_daily_micro")?,
            })
        })
        .transpose()
    }

    async fn set_alert_overrides(
        &self,
        account_id: &str,
        o: &AlertOverrides,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO account_alert_settings (account_id, auth_failures, \
             auth_failures_window_secs, new_ip_days, rate_limit_near_pct, balance_low_micro, \
             spend_daily_micro, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (account_id) DO UPDATE SET auth_failures = excluded.auth_failures, \
             auth_failures_window_secs = excluded.auth_failures_window_secs, \
             new_ip_days = excluded.new_ip_days, \
             rate_limit_near_pct = excluded.rate_limit_near_pct, \
             balance_low_micro = excluded.balance_low_micro, \
             spend_daily_micro = excluded.spend_daily_micro, updated_at = excluded.updated_at",
        )
        .bind(account_id)
        .bind(
            o.auth_failures
                .map(|v| i32::try_from(v).unwrap_or(i32::MAX)),
        )
        .bind(
            o.auth_failures_window_secs
                .map(|v| i32::try_from(v).unwrap_or(i32::MAX)),
        )
        .bind(o.new_ip_days.map(|v| i32::try_from(v).unwrap_or(i32::MAX)))
        .bind(
            o.rate_limit_near_pct
                .map(|v| i32::try_from(v).unwrap_or(i32::MAX)),
        )
        .bind(o.balance_low_micro)
        .bind(o.spend_daily_micro)
        .bind(to_ms(now))
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
