//! Key changes (revocation, rotation, policy edits, account changes) broadcast to
//! every instance, so each drops its cached record at once instead of at its next
//! database poll.
//!
//! A change is one `INCR` of a version counter and one `PUBLISH` on a channel.
//! Subscribers evict on every message. Pub/sub is fire-and-forget, so a message
//! sent while an instance was disconnected is lost; the version counter is the
//! reconciliation: an instance that finds it different from what it last saw (after
//! a reconnect, or on its periodic check) knows it may have missed a message and
//! drops its whole cache.

use std::time::Duration;

use futures_util::StreamExt;

use super::{Cluster, ClusterError, Concern};

/// How long subscribing may take before it counts as failed.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(2);
const ALL: &str = "*";

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyChange {
    /// One key, by kid.
    Key(String),
    /// Anything (an account-wide change): drop every cached record.
    All,
}

impl KeyChange {
    fn encode(&self) -> &str {
        match self {
            KeyChange::Key(kid) => kid,
            KeyChange::All => ALL,
        }
    }

    fn decode(payload: &str) -> KeyChange {
        match payload {
            ALL => KeyChange::All,
            kid => KeyChange::Key(kid.to_owned()),
        }
    }
}

/// A live subscription to key changes; ends when the connection is lost.
pub struct KeyChanges {
    stream: redis::aio::PubSubStream,
}

impl KeyChanges {
    /// The next change, or `None` once the connection is gone (subscribe again).
    pub async fn next(&mut self) -> Option<KeyChange> {
        let msg = self.stream.next().await?;
        let payload: String = msg.get_payload().unwrap_or_else(|_| ALL.to_owned());
        Some(KeyChange::decode(&payload))
    }
}

impl Cluster {
    fn channel(&self) -> String {
        self.key(&["keys", "changed"])
    }

    fn version_key(&self) -> String {
        self.key(&["keys", "version"])
    }

    /// Tells every instance (this one included) that `change` happened.
    pub async fn publish_key_change(&self, change: &KeyChange) -> Result<(), ClusterError> {
        let sent: redis::RedisResult<(i64, i64)> = redis::pipe()
            .atomic()
            .cmd("INCR")
            .arg(self.version_key())
            .cmd("PUBLISH")
            .arg(self.channel())
            .arg(change.encode())
            .query_async(&mut self.conn())
            .await;
        self.observe(Concern::Invalidation, sent).map(drop)
    }

    /// The number of changes ever published (0 before the first).
    pub async fn key_version(&self) -> Result<i64, ClusterError> {
        let v: redis::RedisResult<Option<i64>> = redis::cmd("GET")
            .arg(self.version_key())
            .query_async(&mut self.conn())
            .await;
        Ok(self.observe(Concern::Invalidation, v)?.unwrap_or(0))
    }

    /// Subscribes on a connection of its own (pub/sub cannot share the multiplexed one).
    pub async fn key_changes(&self) -> Result<KeyChanges, ClusterError> {
        let pubsub = self
            .subscribe(self.channel(), Concern::Invalidation)
            .await?;
        Ok(KeyChanges {
            stream: pubsub.into_on_message(),
        })
    }

    /// A pub/sub connection of its own subscribed to `channel` (pub/sub cannot
    /// share the multiplexed connection), failures counted under `concern`.
    pub(super) async fn subscribe(
        &self,
        channel: String,
        concern: Concern,
    ) -> Result<redis::aio::PubSub, ClusterError> {
        let client = self.0.client.clone();
        let subscribed = tokio::time::timeout(SUBSCRIBE_TIMEOUT, async move {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        })
        .await
        .unwrap_or_else(|_| {
            Err(redis::RedisError::from((
                redis::ErrorKind::Io,
                "subscribing timed out",
            )))
        });
        self.observe(concern, subscribed)
    }
}
