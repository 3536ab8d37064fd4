//! SQLite SQL of the alert tables (`0050_alerts.sql`).

use async_trait::async_trait;
use sqlx::Row;
use time::OffsetDateTime;

use super::SqliteStore;
use crate::store::records::{from_ms, to_ms};
use crate::store::{AlertOverrides, AlertStore, NewEvent, SeenIp, StoreError};

fn to_u32(v: Option<i64>) -> Option<u32> {
    v.and_then(|v| u32::try_from(v).ok())
}

#[async_trait]
impl AlertStore for SqliteStore {
    async fn insert_alert(&self, event: &NewEvent, dedup_key: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO webhook_events (id, type, account_id, created_at, data, dedup_key) \
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (dedup_key) DO NOTHING",
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
        // No transaction: one that reads first and then writes cannot take SQLite's
        // write lock when another writer got in between (it fails at once, whatever
        // the busy timeout). The evaluator is the only writer of this table in a
        // process, and the outbox's unique index settles races between processes.
        let last: Option<i64> =
            sqlx::query("SELECT last_seen_at FROM key_seen_ips WHERE key_id = ? AND ip = ?")
                .bind(key_id)
                .bind(ip)
                .fetch_optional(&self.pool)
                .await?
                .map(|r| r.try_get("last_seen_at"))
                .transpose()?;
        let other = sqlx::query("SELECT 1 FROM key_seen_ips WHERE key_id = ? AND ip <> ? LIMIT 1")
            .bind(key_id)
            .bind(ip)
            .fetch_optional(&self.pool)
            .await?
            .is_some();
        sqlx::query(
            "INSERT INTO key_seen_ips (key_id, ip, first_seen_at, last_seen_at) \
             VALUES (?, ?, ?, ?) ON CONFLICT (key_id, ip) \
             DO UPDATE SET last_seen_at = MAX(last_seen_at, excluded.last_seen_at)",
        )
        .bind(key_id)
        .bind(ip)
        .bind(to_ms(now))
        .bind(to_ms(now))
        .execute(&self.pool)
        .await?;
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
             balance_low_micro, spend_daily_micro FROM account_alert_settings WHERE account_id = ?",
        )
        .bind(account_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(AlertOverrides {
                auth_failures: to_u32(r.try_get("auth_failures")?),
                auth_failures_window_secs: to_u32(r.try_get("auth_failures_window_secs")?),
                new_ip_days: to_u32(r.try_get("new_ip_days")?),
                rate_limit_near_pct: to_u32(r.try_get("rate_limit_near_pct")?),
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
             spend_daily_micro, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (account_id) DO UPDATE SET auth_failures = excluded.auth_failures, \
             auth_failures_window_secs = excluded.auth_failures_window_secs, \
             new_ip_days = excluded.new_ip_days, \
             rate_limit_near_pct = excluded.rate_limit_near_pct, \
             balance_low_micro = excluded.balance_low_micro, \
             spend_daily_micro = excluded.spend_daily_micro, updated_at = excluded.updated_at",
        )
        .bind(account_id)
        .bind(o.auth_failures.map(i64::from))
        .bind(o.auth_failures_window_secs.map(i64::from))
        .bind(o.new_ip_days.map(i64::from))
        .bind(o.rate_limit_near_pct.map(i64::from))
        .bind(o.balance_low_micro)
        .bind(o.spend_daily_micro)
        .bind(to_ms(now))
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! Run on both backends (`store::testing::on_every_backend`).
    use time::OffsetDateTime;

    use crate::store::testing::on_every_backend;
    use crate::store::{AlertOverrides, EventFilter, NewEvent, Store};

    async fn alerts_are_written_once_per_dedup_key_on(s: Store) {
        let a = NewEvent::now(
            "alert.rate_limited",
            "acct",
            serde_json::json!({"key_id": "k"}),
        );
        let b = NewEvent::now(
            "alert.rate_limited",
            "acct",
            serde_json::json!({"key_id": "k"}),
        );
        assert!(s.insert_alert(&a, "alert.rate_limited|k|1").await.unwrap());
        assert!(!s.insert_alert(&b, "alert.rate_limited|k|1").await.unwrap());
        assert!(s.insert_alert(&b, "alert.rate_limited|k|2").await.unwrap());
        // Events without a key (key lifecycle) never collide.
        for _ in 0..2 {
            s.insert_event(&NewEvent::now("key.created", "acct", serde_json::json!({})))
                .await
                .unwrap();
        }
        let listed = s
            .list_events(&EventFilter {
                limit: 10,
                ..EventFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(listed.len(), 4);
    }

    async fn seen_addresses_remember_the_last_use_on(s: Store) {
        let t0 = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let first = s.note_key_ip("k1", "192.0.2.1", t0).await.unwrap();
        assert_eq!((first.last_seen, first.other_addresses), (None, false));
        let later = t0 + time::Duration::days(2);
        let again = s.note_key_ip("k1", "192.0.2.1", later).await.unwrap();
        assert_eq!(
            again.last_seen.map(|t| t.unix_timestamp()),
            Some(t0.unix_timestamp())
        );
        assert!(!again.other_addresses);
        // An older note never moves last_seen back.
        s.note_key_ip("k1", "192.0.2.1", t0).await.unwrap();
        let other = s.note_key_ip("k1", "192.0.2.2", later).await.unwrap();
        assert_eq!((other.last_seen, other.other_addresses), (None, true));
        let back = s.note_key_ip("k1", "192.0.2.1", later).await.unwrap();
        assert_eq!(
            back.last_seen.map(|t| t.unix_timestamp()),
            Some(later.unix_timestamp())
        );
        let k2 = s.note_key_ip("k2", "192.0.2.1", later).await.unwrap();
        assert!(!k2.other_addresses, "per key");
    }

    async fn overrides_round_trip_on(s: Store) {
        assert_eq!(s.alert_overrides("acct").await.unwrap(), None);
        let o = AlertOverrides {
            auth_failures: Some(2),
            rate_limit_near_pct: Some(90),
            balance_low_micro: Some(5_000_000),
            ..AlertOverrides::default()
        };
        let now = OffsetDateTime::now_utc();
        s.set_alert_overrides("acct", &o, now).await.unwrap();
        assert_eq!(s.alert_overrides("acct").await.unwrap(), Some(o));
        s.set_alert_overrides("acct", &AlertOverrides::default(), now)
            .await
            .unwrap();
        assert_eq!(
            s.alert_overrides("acct").await.unwrap(),
            Some(AlertOverrides::default())
        );
    }

    async fn nothing(_: Store) {}

    #[tokio::test]
    async fn alerts_are_written_once_per_dedup_key() {
        on_every_backend(nothing, alerts_are_written_once_per_dedup_key_on).await;
    }

    #[tokio::test]
    async fn seen_addresses_remember_the_last_use() {
        on_every_backend(nothing, seen_addresses_remember_the_last_use_on).await;
    }

    #[tokio::test]
    async fn overrides_round_trip() {
        on_every_backend(nothing, overrides_round_trip_on).await;
    }
}
