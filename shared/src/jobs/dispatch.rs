//! The Redis side of dispatch: per-user lanes, the ring of users with work, per-user
//! running leases that enforce the running quota, and the `live` index that makes
//! publishing idempotent. All of it is our own Lua (not apalis-redis: see
//! ARCHITECTURE.md "Job engine"), under the deployment prefix, `<prefix>jobs:*`:
//!
//! | key | type | holds |
//! | --- | --- | --- |
//! | `ring` | LIST | users with work, rotated by every claim (round-robin) |
//! | `ringset` | SET | the same users, so a user is in the ring once |
//! | `lane:<user>` | LIST | the user's queued job ids, oldest first |
//! | `running:<user>` | ZSET | job id → lease expiry (ms, Redis clock) |
//! | `limit:<user>` | STRING | the user's running quota, cached on publish |
//! | `live` | ZSET | job id → `+inf` while in a lane, lease expiry once admitted |
//!
//! A job is *live* while `live` scores it in the future: publishing a live job is a
//! no-op, so re-publishing (API retry, reconciler) never duplicates a delivery. Nothing
//! here is authoritative: a claim proposes (user, job) pairs, in fair rounds (one per user
//! and round, each user up to their free running slots), and the Postgres claim
//! ([`crate::jobs::lease`]) decides. After a FLUSHALL the reconciler re-publishes every
//! queued job and heartbeats re-add running leases.
//!
//! Publishing also announces the new work on the `<prefix>jobs:wake` channel
//! ([`WAKE_CHANNEL`]) from inside the script, so idle workers claim at once; their poll
//! is the fallback when a message is lost.
//!
//! Scripts build key names from the prefix, so this layout does not run on Redis
//! Cluster (one Redis, or a primary with replicas, is the supported deployment).

use std::sync::LazyLock;

use redis::Script;
use uuid::Uuid;

use crate::redis_conn::Redis;

/// Pub/sub channel suffix for job change events.
pub const EVENTS_CHANNEL: &str = "jobs:events";
/// Pub/sub channel suffix for cancellation signals to running workers.
pub const CANCEL_CHANNEL: &str = "jobs:cancel";
/// Pub/sub channel suffix on which publishing announces new work (payload: how many
/// jobs joined a lane), so idle dispatchers claim at once instead of at their next poll.
/// A hint only: a lost message costs one poll interval.
pub const WAKE_CHANNEL: &str = "jobs:wake";

const TIME_MS: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
";

static PUBLISH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{TIME_MS}
local p = ARGV[1]
local published = 0
for i = 2, #ARGV, 3 do
  local job, user, limit = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local score = redis.call('ZSCORE', p .. 'live', job)
  if not score or tonumber(score) <= now then
    redis.call('ZADD', p .. 'live', '+inf', job)
    redis.call('RPUSH', p .. 'lane:' .. user, job)
    redis.call('SET', p .. 'limit:' .. user, limit, 'EX', 86400)
    if redis.call('SADD', p .. 'ringset', user) == 1 then
      redis.call('RPUSH', p .. 'ring', user)
    end
    published = published + 1
  end
end
if published > 0 then
  redis.call('PUBLISH', p .. 'wake', published)
end
return published
"
    ))
});

static CLAIM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{TIME_MS}
local p, lease, deflimit, maxn = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local ring = p .. 'ring'
local out, seen, more = {{}}, {{}}, {{}}
local count = 0
local function admit(user, lane, run)
  local job = redis.call('LPOP', lane)
  if not job then return false end
  redis.call('ZADD', run, now + lease, job)
  redis.call('ZADD', p .. 'live', now + lease, job)
  out[#out + 1] = user
  out[#out + 1] = job
  count = count + 1
  return true
end
-- Round one rotates the ring: one admission per user with work and a free slot.
local n = redis.call('LLEN', ring)
for _ = 1, n do
  if count >= maxn then break end
  local user = redis.call('LMOVE', ring, ring, 'LEFT', 'RIGHT')
  if not user or seen[user] then break end
  seen[user] = true
  local lane, run = p .. 'lane:' .. user, p .. 'running:' .. user
  redis.call('ZREMRANGEBYSCORE', run, '-inf', now)
  if redis.call('LLEN', lane) == 0 then
    redis.call('LREM', ring, 0, user)
    redis.call('SREM', p .. 'ringset', user)
  else
    local limit = tonumber(redis.call('GET', p .. 'limit:' .. user) or deflimit)
    local free = limit - redis.call('ZCARD', run)
    if free > 0 and admit(user, lane, run) and free > 1 then
      more[#more + 1] = {{user, lane, run, free - 1}}
    end
  end
end
-- Further rounds in the same order, one admission per user and round, each user up
-- to their free slots, until `maxn` or nobody has both work and a free slot.
while count < maxn and #more > 0 do
  local next_round = {{}}
  for _, u in ipairs(more) do
    if count >= maxn then break end
    if admit(u[1], u[2], u[3]) and u[4] > 1 then
      u[4] = u[4] - 1
      next_round[#next_round + 1] = u
    end
  end
  more = next_round
end
return out
"
    ))
});

static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local p = ARGV[1]
for i = 2, #ARGV, 3 do
  local user, job, requeue = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  redis.call('ZREM', p .. 'running:' .. user, job)
  if requeue == '1' then
    redis.call('LPUSH', p .. 'lane:' .. user, job)
    redis.call('ZADD', p .. 'live', '+inf', job)
    if redis.call('SADD', p .. 'ringset', user) == 1 then
      redis.call('RPUSH', p .. 'ring', user)
    end
  else
    redis.call('ZREM', p .. 'live', job)
  end
end
return 1
",
    )
});

static RENEW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{TIME_MS}
local p, user, job, lease = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
redis.call('ZADD', p .. 'running:' .. user, now + lease, job)
redis.call('ZADD', p .. 'live', now + lease, job)
return 1
"
    ))
});

static REMOVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local p, user, job = ARGV[1], ARGV[2], ARGV[3]
redis.call('LREM', p .. 'lane:' .. user, 0, job)
redis.call('ZREM', p .. 'running:' .. user, job)
redis.call('ZREM', p .. 'live', job)
return 1
",
    )
});

static RETIRE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local p, channel = ARGV[1], ARGV[2]
for i = 3, #ARGV, 3 do
  local user, job, event = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  redis.call('ZREM', p .. 'running:' .. user, job)
  redis.call('ZREM', p .. 'live', job)
  if event ~= '' then
    redis.call('PUBLISH', channel, event)
  end
end
return 1
",
    )
});

static WAITING: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{TIME_MS}
local p, user, job, deflimit = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local running = redis.call('ZCOUNT', p .. 'running:' .. user, now, '+inf')
local limit = tonumber(redis.call('GET', p .. 'limit:' .. user) or deflimit)
local pos = redis.call('LPOS', p .. 'lane:' .. user, job)
if not pos then pos = -1 end
return {{running, limit, pos}}
"
    ))
});

static LIVE_COUNTS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{TIME_MS}
local live = ARGV[1] .. 'live'
return {{redis.call('ZCARD', live), redis.call('ZCOUNT', live, '-inf', now)}}
"
    ))
});

/// A job as dispatch knows it: its id and owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct JobRef {
    /// Job id.
    pub id: Uuid,
    /// Owner.
    pub user_id: Uuid,
}

/// A job to publish with its owner's running quota (cached for the claim script).
#[derive(Debug, Clone, Copy)]
pub struct Publication {
    /// The job.
    pub job: JobRef,
    /// The owner's running-jobs limit.
    pub running_limit: i64,
}

fn prefix(redis: &Redis) -> String {
    redis.key("jobs:")
}

/// Puts jobs into their owners' lanes unless they are live already; returns how many
/// were added.
pub async fn publish(redis: &Redis, jobs: &[Publication]) -> crate::Result<usize> {
    let mut published = 0;
    for chunk in jobs.chunks(1000) {
        let mut invocation = PUBLISH.prepare_invoke();
        invocation.arg(prefix(redis));
        for p in chunk {
            invocation
                .arg(p.job.id.to_string())
                .arg(p.job.user_id.to_string())
                .arg(p.running_limit);
        }
        let added: usize = invocation.invoke_async(&mut redis.conn()).await?;
        published += added;
    }
    Ok(published)
}

/// Admits up to `max` jobs in fair rounds: round one rotates the ring and admits one
/// job per user with work and a free slot; later rounds admit one more per such user
/// and round, each user only up to their running quota (slots free in
/// `running:<user>`). Every admitted job gets a Redis lease of `lease_ms`. The pairs
/// come back in admission order.
pub async fn claim(
    redis: &Redis,
    max: usize,
    lease_ms: u64,
    default_limit: i64,
) -> crate::Result<Vec<JobRef>> {
    let flat: Vec<String> = CLAIM
        .prepare_invoke()
        .arg(prefix(redis))
        .arg(lease_ms)
        .arg(default_limit)
        .arg(max)
        .invoke_async(&mut redis.conn())
        .await?;
    Ok(flat
        .chunks_exact(2)
        .filter_map(|pair| {
            Some(JobRef {
                user_id: pair[0].parse().ok()?,
                id: pair[1].parse().ok()?,
            })
        })
        .collect())
}

/// Undoes an admission that Postgres did not confirm. `requeue` puts the job back at
/// the head of its lane (the job is still queued, e.g. the quota was full in Postgres);
/// otherwise the delivery is dropped (stale, duplicate or cancelled).
pub async fn release(redis: &Redis, job: JobRef, requeue: bool) -> crate::Result<()> {
    release_many(redis, &[(job, requeue)]).await
}

/// [`release`] for many proposals in one script call.
pub async fn release_many(redis: &Redis, jobs: &[(JobRef, bool)]) -> crate::Result<()> {
    for chunk in jobs.chunks(1000) {
        let mut invocation = RELEASE.prepare_invoke();
        invocation.arg(prefix(redis));
        for (job, requeue) in chunk {
            invocation
                .arg(job.user_id.to_string())
                .arg(job.id.to_string())
                .arg(if *requeue { "1" } else { "0" });
        }
        let _: i64 = invocation.invoke_async(&mut redis.conn()).await?;
    }
    Ok(())
}

/// Extends (or, after a Redis flush, re-creates) a running job's Redis lease.
pub async fn renew(redis: &Redis, job: JobRef, lease_ms: u64) -> crate::Result<()> {
    let _: i64 = RENEW
        .prepare_invoke()
        .arg(prefix(redis))
        .arg(job.user_id.to_string())
        .arg(job.id.to_string())
        .arg(lease_ms)
        .invoke_async(&mut redis.conn())
        .await?;
    Ok(())
}

/// Frees a job's running slot and live mark once it stopped running (finished, retrying,
/// rescued). Cheap: an admitted job is no longer in its lane (a stray duplicate there is
/// dropped by its claim), so no O(lane) scan.
pub async fn retire(redis: &Redis, job: JobRef) -> crate::Result<()> {
    retire_many(redis, &[job], &[]).await
}

/// [`retire`] for many jobs in one script call, which also publishes their change
/// events (`events`: one payload per job, in order, on [`EVENTS_CHANNEL`]; or none).
pub async fn retire_many(redis: &Redis, jobs: &[JobRef], events: &[String]) -> crate::Result<()> {
    let channel = redis.key(EVENTS_CHANNEL);
    for (i, chunk) in jobs.chunks(1000).enumerate() {
        let mut invocation = RETIRE.prepare_invoke();
        invocation.arg(prefix(redis)).arg(&channel);
        for (j, job) in chunk.iter().enumerate() {
            let event = events.get(i * 1000 + j).map_or("", String::as_str);
            invocation
                .arg(job.user_id.to_string())
                .arg(job.id.to_string())
                .arg(event);
        }
        let _: i64 = invocation.invoke_async(&mut redis.conn()).await?;
    }
    Ok(())
}

/// How many jobs `live` holds (in a lane or admitted), and how many of those are
/// admissions whose lease ran out in Redis (their worker stopped renewing them, or
/// never confirmed them in Postgres).
pub async fn live_counts(redis: &Redis) -> crate::Result<(u64, u64)> {
    let (live, expired): (u64, u64) = LIVE_COUNTS
        .prepare_invoke()
        .arg(prefix(redis))
        .invoke_async(&mut redis.conn())
        .await?;
    Ok((live, expired))
}

/// Wake-up hints from [`publish`] ([`WAKE_CHANNEL`]), on a dedicated connection, from
/// now on. The stream ends when the connection does; subscribe again.
pub async fn wake_ups(
    redis: &Redis,
) -> crate::Result<impl futures::Stream<Item = String> + Send + use<>> {
    crate::jobs::events::subscribe_channel(redis, redis.key(WAKE_CHANNEL)).await
}

/// Forgets a waiting job entirely: out of its lane (an O(lane) scan), its running slot
/// and the live index. Used when a queued or retrying job is cancelled.
pub async fn remove(redis: &Redis, job: JobRef) -> crate::Result<()> {
    let _: i64 = REMOVE
        .prepare_invoke()
        .arg(prefix(redis))
        .arg(job.user_id.to_string())
        .arg(job.id.to_string())
        .invoke_async(&mut redis.conn())
        .await?;
    Ok(())
}

/// The owner's live running count, their limit, and the job's 0-based lane position.
pub async fn lane_status(
    redis: &Redis,
    job: JobRef,
    default_limit: i64,
) -> crate::Result<(u64, u64, Option<u64>)> {
    let (running, limit, position): (u64, u64, i64) = WAITING
        .prepare_invoke()
        .arg(prefix(redis))
        .arg(job.user_id.to_string())
        .arg(job.id.to_string())
        .arg(default_limit)
        .invoke_async(&mut redis.conn())
        .await?;
    Ok((running, limit, u64::try_from(position).ok()))
}
