//! Rate limits across instances: the GCRA of `domain::gcra`, run as one Lua script
//! per request (EVALSHA through [`redis::Script`], loaded on first use), so all
//! instances share one TAT per key and a limit of L admits exactly L in total.
//!
//! Time is Redis's own clock (`TIME`, microseconds), so instances with skewed
//! clocks still agree. Microseconds rather than the local limiter's nanoseconds: Lua
//! numbers are doubles, exact below 2^53, and the Unix time in µs (~1.8e15) fits
//! while in ns it would not. `T` is rounded up to a whole µs, so we never admit more
//! than the quota (an under-grant below 1 in 1,000 at 1,000 requests per second).
//!
//! The key names the quota, so editing a key's limit starts it over with a full
//! bucket, as the local limiter does. It expires when the bucket is full again, so
//! idle keys cost Redis nothing.

use std::sync::LazyLock;
use std::time::Duration;

use crate::domain::gcra::{Decision, Quota};

use super::{Cluster, ClusterError, Concern};

/// KEYS[1] = TAT key; ARGV[1] = T (µs), ARGV[2] = C (µs).
/// Returns {allowed, remaining, reset_after_us, retry_after_us}.
const GCRA: &str = r"
local now_t = redis.call('TIME')
local now = tonumber(now_t[1]) * 1000000 + tonumber(now_t[2])
local t = tonumber(ARGV[1])
local c = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local new = math.max(tat, now) + t
local debt = new - now
if debt > c then
  local reset = math.max(tat - now, 0)
  local retry = math.max(tat + t - c - now, 0)
  return {0, 0, reset, retry}
end
redis.call('SET', KEYS[1], string.format('%d', new), 'PX', math.floor(debt / 1000) + 1000)
return {1, math.floor((c - debt) / t), debt, 0}
";

static SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(GCRA));

/// `T` and `C` of the quota in whole microseconds, `T` rounded up.
fn params_us(quota: &Quota) -> (u64, u64) {
    let period_us = quota.period.as_secs().saturating_mul(1_000_000);
    let t = period_us.div_ceil(u64::from(quota.requests.max(1))).max(1);
    (t, t.saturating_mul(u64::from(quota.burst.max(1))))
}

impl Cluster {
    /// Counts one request of `kid` against `quota`, across every instance.
    pub async fn check_rate(&self, kid: &str, quota: &Quota) -> Result<Decision, ClusterError> {
        let (t, c) = params_us(quota);
        let key = self.key(&[
            "rl",
            kid,
            &quota.requests.to_string(),
            &quota.period.as_secs().to_string(),
            &quota.burst.to_string(),
        ]);
        let answer: redis::RedisResult<(i64, i64, i64, i64)> = SCRIPT
            .key(key)
            .arg(t)
            .arg(c)
            .invoke_async(&mut self.conn())
            .await;
        let (allowed, remaining, reset_us, retry_us) = self.observe(Concern::Limits, answer)?;
        let us = |v: i64| Duration::from_micros(u64::try_from(v).unwrap_or(0));
        Ok(Decision {
            allowed: allowed == 1,
            limit: quota.requests,
            remaining: u32::try_from(remaining).unwrap_or(0),
            reset_after: us(reset_us),
            retry_after: us(retry_us),
        })
    }
}
