//! Deployment cooldowns across instances: the shared half of
//! `routing::cooldown`'s state machine, one Redis hash per deployment
//! (`<prefix>:cd:<provider>/<name>`) changed only by Lua scripts, so every instance
//! skips a deployment another one saw fail, and exactly one instance probes it once
//! the cooldown ends.
//!
//! The hash holds `v` (a version, bumped by every change), `tripped` (0/1: out of
//! rotation until a success), `until` (cooldown end, unix ms), `probe` (the probe
//! lease end, unix ms) and `cooldowns` (how many cooldowns it entered). Each script
//! publishes the new state on one channel, inside the script, so the message order
//! is the order of the changes; subscribers adopt a state only if its version is
//! not older than theirs, which makes a late periodic read harmless.
//!
//! - `COOL` (a cooling failure): starts a cooldown, or extends the current one.
//! - `CLAIM` (the half-open probe): compare-and-set on `probe`: succeeds only for
//!   a tripped deployment whose cooldown and last probe lease are over.
//! - `RECOVER` (a success): clears the trip, but only the cooldown the caller knew
//!   of (by its `cooldowns` count), so a stale success cannot end a newer cooldown
//!   started elsewhere.
//!
//! Times are the callers' unix milliseconds (the same clock `routing` compares
//! against); instance clocks a few ms apart change nothing at cooldowns of seconds.
//! Lua numbers are doubles: unix ms (~1.8e12) and the counters are exact. A hash
//! lives a day after its last change, so deployments removed from the config do
//! not stay in Redis.

use std::sync::LazyLock;
use std::time::Duration;

use futures_util::StreamExt;

use super::{Cluster, ClusterError, Concern};

/// The hash's fields, in the order the scripts and reads return them.
const FIELDS: [&str; 5] = ["v", "tripped", "until", "probe", "cooldowns"];

/// How long a deployment's hash outlives its last change.
const STATE_TTL: Duration = Duration::from_secs(24 * 3600);

/// KEYS[1] = hash; ARGV = now, until, ttl ms, channel, deployment.
/// Returns {started, v, tripped, until, probe, cooldowns}.
const COOL: &str = r"
local function s(x) return string.format('%d', x) end
local h = redis.call('HMGET', KEYS[1], 'v', 'tripped', 'until', 'cooldowns')
local v = tonumber(h[1] or '0') + 1
local now = tonumber(ARGV[1])
local want = math.max(tonumber(ARGV[2]), now)
local untilv = tonumber(h[3] or '0')
local cooldowns = tonumber(h[4] or '0')
local started = 0
if h[2] == '1' and now < untilv then
  untilv = math.max(untilv, want)
else
  untilv = want
  cooldowns = cooldowns + 1
  started = 1
end
redis.call('HSET', KEYS[1], 'v', s(v), 'tripped', '1', 'until', s(untilv), 'probe', '0', 'cooldowns', s(cooldowns))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', ARGV[4], s(v) .. ' 1 ' .. s(untilv) .. ' 0 ' .. s(cooldowns) .. ' ' .. ARGV[5])
return {started, v, 1, untilv, 0, cooldowns}
";

/// KEYS[1] = hash; ARGV = now, lease end, ttl ms, channel, deployment.
/// Returns {claimed, v, tripped, until, probe, cooldowns}.
const CLAIM: &str = r"
local function s(x) return string.format('%d', x) end
local h = redis.call('HMGET', KEYS[1], 'v', 'tripped', 'until', 'probe', 'cooldowns')
local v = tonumber(h[1] or '0')
local tripped = h[2] == '1'
local untilv = tonumber(h[3] or '0')
local probe = tonumber(h[4] or '0')
local cooldowns = tonumber(h[5] or '0')
local now = tonumber(ARGV[1])
if not tripped or now < untilv or now < probe then
  return {0, v, tripped and 1 or 0, untilv, probe, cooldowns}
end
v = v + 1
probe = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'v', s(v), 'probe', s(probe))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', ARGV[4], s(v) .. ' 1 ' .. s(untilv) .. ' ' .. s(probe) .. ' ' .. s(cooldowns) .. ' ' .. ARGV[5])
return {1, v, 1, untilv, probe, cooldowns}
";

/// KEYS[1] = hash; ARGV = cooldowns the caller saw, ttl ms, channel, deployment.
/// Returns {v, tripped, until, probe, cooldowns}.
const RECOVER: &str = r"
local function s(x) return string.format('%d', x) end
local h = redis.call('HMGET', KEYS[1], 'v', 'tripped', 'until', 'probe', 'cooldowns')
local v = tonumber(h[1] or '0')
local untilv = tonumber(h[3] or '0')
local probe = tonumber(h[4] or '0')
local cooldowns = tonumber(h[5] or '0')
if h[2] ~= '1' or cooldowns ~= tonumber(ARGV[1]) then
  return {v, h[2] == '1' and 1 or 0, untilv, probe, cooldowns}
end
v = v + 1
redis.call('HSET', KEYS[1], 'v', s(v), 'tripped', '0', 'probe', '0')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PUBLISH', ARGV[3], s(v) .. ' 0 ' .. s(untilv) .. ' 0 ' .. s(cooldowns) .. ' ' .. ARGV[4])
return {v, 0, untilv, 0, cooldowns}
";

static COOL_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(COOL));
static CLAIM_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(CLAIM));
static RECOVER_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(RECOVER));

/// A deployment's shared health as Redis holds it (all zero: never cooled).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SharedHealth {
    /// Bumped by every change; a state older than one already seen is stale.
    pub version: u64,
    /// Out of rotation (cooling or half-open) until a success.
    pub tripped: bool,
    /// When the current (or last) cooldown ends, unix ms; 0: it never cooled.
    pub cooled_until_ms: u64,
    /// A probe holds the half-open slot until this time, unix ms.
    pub probe_until_ms: u64,
    pub cooldowns: u64,
}

impl SharedHealth {
    /// From the scripts' `{v, tripped, until, probe, cooldowns}`.
    fn from_reply(r: &[i64]) -> SharedHealth {
        let at = |i: usize| r.get(i).map_or(0, |&n| u64::try_from(n).unwrap_or(0));
        SharedHealth {
            version: at(0),
            tripped: at(1) == 1,
            cooled_until_ms: at(2),
            probe_until_ms: at(3),
            cooldowns: at(4),
        }
    }

    /// `<v> <tripped> <until> <probe> <cooldowns> <deployment>`, as published.
    fn decode(payload: &str) -> Option<(SharedHealth, &str)> {
        let mut parts = payload.splitn(6, ' ');
        let mut num = || parts.next()?.parse::<u64>().ok();
        let health = SharedHealth {
            version: num()?,
            tripped: num()? == 1,
            cooled_until_ms: num()?,
            probe_until_ms: num()?,
            cooldowns: num()?,
        };
        let deployment = parts.next().filter(|d| !d.is_empty())?;
        Some((health, deployment))
    }
}

/// One published change: which deployment (`<provider>/<name>`) and its new state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CooldownChange {
    pub deployment: String,
    pub health: SharedHealth,
}

/// A live subscription to cooldown changes; ends when the connection is lost.
pub struct CooldownChanges {
    stream: redis::aio::PubSubStream,
}

impl CooldownChanges {
    /// The next change (malformed messages are skipped), or `None` once the
    /// connection is gone (subscribe again, and read every state: some may be lost).
    pub async fn next(&mut self) -> Option<CooldownChange> {
        loop {
            let msg = self.stream.next().await?;
            let Ok(payload) = msg.get_payload::<String>() else {
                continue;
            };
            if let Some((health, deployment)) = SharedHealth::decode(&payload) {
                return Some(CooldownChange {
                    deployment: deployment.to_owned(),
                    health,
                });
            }
        }
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Cluster {
    fn cooldown_key(&self, deployment: &str) -> String {
        self.key(&["cd", deployment])
    }

    fn cooldown_channel(&self) -> String {
        self.key(&["cd", "changed"])
    }

    /// A cooling failure of `deployment` at `now_ms`, cooling it until `until_ms`:
    /// `(started, state)`, `started` when this began a cooldown (it was not
    /// cooling already).
    pub async fn cool_deployment(
        &self,
        deployment: &str,
        now_ms: u64,
        until_ms: u64,
    ) -> Result<(bool, SharedHealth), ClusterError> {
        let reply: redis::RedisResult<Vec<i64>> = COOL_SCRIPT
            .key(self.cooldown_key(deployment))
            .arg(now_ms)
            .arg(until_ms)
            .arg(ms(STATE_TTL))
            .arg(self.cooldown_channel())
            .arg(deployment)
            .invoke_async(&mut self.conn())
            .await;
        let r = self.observe(Concern::Cooldowns, reply)?;
        Ok((
            r.first() == Some(&1),
            SharedHealth::from_reply(r.get(1..).unwrap_or_default()),
        ))
    }

    /// Takes the half-open probe of `deployment` until `lease_until_ms`, if its
    /// cooldown and any earlier probe lease are over: `(claimed, state)`.
    pub async fn claim_deployment_probe(
        &self,
        deployment: &str,
        now_ms: u64,
        lease_until_ms: u64,
    ) -> Result<(bool, SharedHealth), ClusterError> {
        let reply: redis::RedisResult<Vec<i64>> = CLAIM_SCRIPT
            .key(self.cooldown_key(deployment))
            .arg(now_ms)
            .arg(lease_until_ms)
            .arg(ms(STATE_TTL))
            .arg(self.cooldown_channel())
            .arg(deployment)
            .invoke_async(&mut self.conn())
            .await;
        let r = self.observe(Concern::Cooldowns, reply)?;
        Ok((
            r.first() == Some(&1),
            SharedHealth::from_reply(r.get(1..).unwrap_or_default()),
        ))
    }

    /// A success on `deployment`: back in rotation, if its cooldown count is still
    /// `cooldowns` (the cooldown the caller knew of). The state after.
    pub async fn recover_deployment(
        &self,
        deployment: &str,
        cooldowns: u64,
    ) -> Result<SharedHealth, ClusterError> {
        let reply: redis::RedisResult<Vec<i64>> = RECOVER_SCRIPT
            .key(self.cooldown_key(deployment))
            .arg(cooldowns)
            .arg(ms(STATE_TTL))
            .arg(self.cooldown_channel())
            .arg(deployment)
            .invoke_async(&mut self.conn())
            .await;
        let r = self.observe(Concern::Cooldowns, reply)?;
        Ok(SharedHealth::from_reply(&r))
    }

    /// The shared state of each of `deployments`, in order (one pipelined round trip).
    pub async fn deployment_health(
        &self,
        deployments: &[&str],
    ) -> Result<Vec<SharedHealth>, ClusterError> {
        let mut pipe = redis::pipe();
        for d in deployments {
            pipe.cmd("HMGET").arg(self.cooldown_key(d)).arg(&FIELDS[..]);
        }
        type Row = (
            Option<u64>,
            Option<u64>,
            Option<u64>,
            Option<u64>,
            Option<u64>,
        );
        let rows: redis::RedisResult<Vec<Row>> = pipe.query_async(&mut self.conn()).await;
        Ok(self
            .observe(Concern::Cooldowns, rows)?
            .into_iter()
            .map(|(v, tripped, until, probe, cooldowns)| SharedHealth {
                version: v.unwrap_or(0),
                tripped: tripped == Some(1),
                cooled_until_ms: until.unwrap_or(0),
                probe_until_ms: probe.unwrap_or(0),
                cooldowns: cooldowns.unwrap_or(0),
            })
            .collect())
    }

    /// Subscribes to every instance's cooldown changes.
    pub async fn cooldown_changes(&self) -> Result<CooldownChanges, ClusterError> {
        let pubsub = self
            .subscribe(self.cooldown_channel(), Concern::Cooldowns)
            .await?;
        Ok(CooldownChanges {
            stream: pubsub.into_on_message(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_states_decode_and_junk_does_not() {
        let (h, d) = SharedHealth::decode("7 1 1800000000123 0 2 openai/eu west").unwrap();
        assert_eq!(d, "openai/eu west", "the name is the rest of the line");
        assert_eq!(
            h,
            SharedHealth {
                version: 7,
                tripped: true,
                cooled_until_ms: 1_800_000_000_123,
                probe_until_ms: 0,
                cooldowns: 2,
            }
        );
        assert!(SharedHealth::decode("7 1 x 0 2 openai/a").is_none());
        assert!(SharedHealth::decode("7 1 1 0 2").is_none());
        assert!(SharedHealth::decode("").is_none());
    }
}
