//! Prepaid balances across instances: the arithmetic of `metering::ledger`, held in
//! one Redis hash per account and changed only by Lua scripts, so concurrent
//! reservations on different instances cannot both spend the same money.
//!
//! ```text
//! available = balance − unpersisted − reserved
//! ```
//!
//! - `balance`: the last database balance read (the database stays the record);
//! - `unpersisted`: settled charges, from every instance, that no usage writer has
//!   committed yet;
//! - `reserved`: the holds of requests in flight on every instance.
//!
//! A writer that commits charges moves them from `unpersisted` into `balance` and
//! bumps `epoch`. Re-reading the database balance (an admin credit, a CLI change) is
//! optimistic: read `epoch`, read the database, write `balance` only if `epoch` did
//! not move meanwhile, else retry. A commit lands in the database before its epoch
//! bump, so a read that might have missed it always sees the bump and retries: the
//! same charge is never both in the database balance we write and subtracted again.
//!
//! Amounts pass as decimal strings into `HINCRBY` (exact 64-bit integers); only the
//! comparison in `RESERVE` uses Lua doubles, exact up to 2^53 micro-units.
//!
//! Known limit: an instance that dies between settling and committing leaves its
//! unpersisted charges (and the holds of its in-flight requests) counted, which
//! errs towards refusing, never towards overdrawing.

use std::sync::LazyLock;

use super::{Cluster, ClusterError, Concern};

/// KEYS[1] = account hash; ARGV[1] = amount. {1, available} held, {0, available}
/// insufficient, {-1, 0} unknown here (seed it first).
const RESERVE: &str = r"
local h = redis.call('HMGET', KEYS[1], 'balance', 'unpersisted', 'reserved')
if not h[1] then
  return {-1, 0}
end
local available = tonumber(h[1]) - tonumber(h[2] or '0') - tonumber(h[3] or '0')
local need = math.max(tonumber(ARGV[1]), 1)
if available < need then
  return {0, available}
end
redis.call('HINCRBY', KEYS[1], 'reserved', ARGV[1])
return {1, available}
";

/// KEYS[1] = account held on, KEYS[2] = account charged; ARGV = negated hold, charge.
const SETTLE: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 and ARGV[1] ~= '0' then
  redis.call('HINCRBY', KEYS[1], 'reserved', ARGV[1])
end
if redis.call('EXISTS', KEYS[2]) == 1 and ARGV[2] ~= '0' then
  redis.call('HINCRBY', KEYS[2], 'unpersisted', ARGV[2])
end
return 1
";

/// KEYS[1] = account; ARGV[1] = negated committed charge.
const PERSISTED: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HINCRBY', KEYS[1], 'balance', ARGV[1])
  redis.call('HINCRBY', KEYS[1], 'unpersisted', ARGV[1])
  redis.call('HINCRBY', KEYS[1], 'epoch', 1)
end
return 1
";

/// KEYS[1] = account; ARGV = expected epoch ('' = none yet), database balance.
const SET_BALANCE: &str = r"
local epoch = redis.call('HGET', KEYS[1], 'epoch') or ''
if epoch ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'balance', ARGV[2])
return 1
";

static RESERVE_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(RESERVE));
static SETTLE_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(SETTLE));
static PERSISTED_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(PERSISTED));
static SET_BALANCE_SCRIPT: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(SET_BALANCE));

/// The outcome of [`Cluster::reserve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reserved {
    Held,
    Insufficient {
        available: i64,
    },
    /// Redis has no balance for this account yet: seed it from the database.
    Unknown,
}

/// How many commits an account had when its database balance was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalanceEpoch(String);

impl Cluster {
    fn account_key(&self, account_id: &str) -> String {
        self.key(&["bal", account_id])
    }

    /// Holds `amount_micro` on the account if its available balance covers it.
    pub async fn reserve(
        &self,
        account_id: &str,
        amount_micro: i64,
    ) -> Result<Reserved, ClusterError> {
        let answer: redis::RedisResult<(i64, i64)> = RESERVE_SCRIPT
            .key(self.account_key(account_id))
            .arg(amount_micro.max(0))
            .invoke_async(&mut self.conn())
            .await;
        Ok(match self.observe(Concern::Balances, answer)? {
            (1, _) => Reserved::Held,
            (0, available) => Reserved::Insufficient { available },
            _ => Reserved::Unknown,
        })
    }

    /// Releases a hold of `held_micro` on `held_on` and books `charge_micro` on
    /// `account_id` as settled but not yet committed.
    pub async fn settle(
        &self,
        held_on: &str,
        held_micro: i64,
        account_id: &str,
        charge_micro: i64,
    ) -> Result<(), ClusterError> {
        let answer: redis::RedisResult<i64> = SETTLE_SCRIPT
            .key(self.account_key(held_on))
            .key(self.account_key(account_id))
            .arg(held_micro.saturating_neg())
            .arg(charge_micro)
            .invoke_async(&mut self.conn())
            .await;
        self.observe(Concern::Balances, answer).map(drop)
    }

    /// A usage writer committed `charge_micro` of this account to the database.
    pub async fn persisted(&self, account_id: &str, charge_micro: i64) -> Result<(), ClusterError> {
        let answer: redis::RedisResult<i64> = PERSISTED_SCRIPT
            .key(self.account_key(account_id))
            .arg(charge_micro.saturating_neg())
            .invoke_async(&mut self.conn())
            .await;
        self.observe(Concern::Balances, answer).map(drop)
    }

    /// Read before the database balance, for [`set_balance`](Self::set_balance).
    pub async fn balance_epoch(&self, account_id: &str) -> Result<BalanceEpoch, ClusterError> {
        let answer: redis::RedisResult<Option<String>> = redis::cmd("HGET")
            .arg(self.account_key(account_id))
            .arg("epoch")
            .query_async(&mut self.conn())
            .await;
        Ok(BalanceEpoch(
            self.observe(Concern::Balances, answer)?.unwrap_or_default(),
        ))
    }

    /// Stores the database balance read after `epoch`, unless a commit landed since
    /// (`false`: read again).
    pub async fn set_balance(
        &self,
        account_id: &str,
        epoch: &BalanceEpoch,
        balance_micro: i64,
    ) -> Result<bool, ClusterError> {
        let answer: redis::RedisResult<i64> = SET_BALANCE_SCRIPT
            .key(self.account_key(account_id))
            .arg(&epoch.0)
            .arg(balance_micro)
            .invoke_async(&mut self.conn())
            .await;
        Ok(self.observe(Concern::Balances, answer)? == 1)
    }

    /// The account's `(balance, unpersisted, reserved)` as Redis holds them (tests).
    pub async fn balance_parts(&self, account_id: &str) -> Result<(i64, i64, i64), ClusterError> {
        let answer: redis::RedisResult<(Option<i64>, Option<i64>, Option<i64>)> =
            redis::cmd("HMGET")
                .arg(self.account_key(account_id))
                .arg("balance")
                .arg("unpersisted")
                .arg("reserved")
                .query_async(&mut self.conn())
                .await;
        let (b, u, r) = self.observe(Concern::Balances, answer)?;
        Ok((b.unwrap_or(0), u.unwrap_or(0), r.unwrap_or(0)))
    }
}
