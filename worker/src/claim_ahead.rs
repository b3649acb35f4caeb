//! Claiming ahead: how many jobs a worker process may hold beyond the ones whose code
//! runs, so that a claim (a Redis call and a Postgres round trip, whose cost hardly
//! depends on how many jobs it takes) is not limited to the slots free at that instant
//! when jobs last microseconds. It holds the run slots (the process's concurrency:
//! jobs whose code runs at once) and a running mean of how long job code takes.
//!
//! The dispatcher may hold `concurrency + ahead` jobs, where `ahead` is what the run
//! slots get through within [`HORIZON`] at the mean run time, capped by the setting
//! `FAIRLANE_WORKER_CLAIM_AHEAD`: many for no-op jobs, none once jobs take longer than
//! the horizon (so long jobs are never hoarded, and a worker with nothing free leaves
//! work to the others). A job claimed ahead waits for a run slot at most
//! [`ClaimAhead::start_wait`]; after that the supervisor gives it back to the queue
//! (its attempt not counted) and claiming ahead stops until short jobs return, so a
//! mean fooled by a mix of kinds costs at most that wait. A claimed-ahead job is `running` in Postgres (its owner's quota counts it)
//! from its claim.
//!
//! It does not claim or run anything: the dispatcher and the supervisor do.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

/// Jobs claimed ahead should start within about this long.
pub const HORIZON: Duration = Duration::from_millis(5);

/// The longest a claimed-ahead job waits for a run slot before it is given back.
const START_WAIT_LIMIT: Duration = Duration::from_millis(200);

/// No mean run time yet: claim nothing ahead.
const UNKNOWN: u64 = u64::MAX;

/// Weight of the newest run time in the mean (1/8).
const NEWEST_WEIGHT_SHIFT: u32 = 3;

/// See the module docs.
#[derive(Debug)]
pub struct ClaimAhead {
    concurrency: usize,
    limit: usize,
    run_slots: Arc<Semaphore>,
    /// Mean run time of job code in µs ([`UNKNOWN`] before the first job).
    mean_run_us: AtomicU64,
    /// Fired whenever a job's code ends (or it was given up before it started).
    code_ended: Notify,
}

impl ClaimAhead {
    /// `concurrency` run slots; at most `limit` jobs held beyond them.
    pub fn new(concurrency: usize, limit: usize) -> Self {
        Self {
            concurrency,
            limit,
            run_slots: Arc::new(Semaphore::new(concurrency)),
            mean_run_us: AtomicU64::new(UNKNOWN),
            code_ended: Notify::new(),
        }
    }

    /// The most jobs the dispatcher may hold at once (running plus claimed ahead).
    pub fn max_in_hand(&self) -> usize {
        self.concurrency + self.limit
    }

    /// How many jobs the dispatcher may hold now.
    pub fn in_hand_target(&self) -> usize {
        self.concurrency + self.ahead()
    }

    /// Jobs to hold beyond the run slots at the current mean run time.
    pub fn ahead(&self) -> usize {
        let mean = self.mean_run_us.load(Ordering::Relaxed);
        if mean == UNKNOWN {
            return 0;
        }
        let horizon = u64::try_from(HORIZON.as_micros()).unwrap_or(u64::MAX);
        let through = (self.concurrency as u64).saturating_mul(horizon) / mean.max(1);
        usize::try_from(through)
            .unwrap_or(usize::MAX)
            .min(self.limit)
    }

    /// How long a claimed job may wait for a run slot: the limit, or half the time to
    /// the first lease renewal when that is shorter.
    pub fn start_wait(&self, heartbeat_interval: Duration) -> Duration {
        START_WAIT_LIMIT.min(heartbeat_interval / 2)
    }

    /// Waits for a run slot; it is the job's until dropped.
    pub async fn run_slot(&self) -> OwnedSemaphorePermit {
        match self.run_slots.clone().acquire_owned().await {
            Ok(slot) => slot,
            // The semaphore is never closed.
            Err(_) => std::future::pending().await,
        }
    }

    /// Records that a job's code ran for `ran` and wakes a dispatcher waiting for room.
    pub fn code_ended(&self, ran: Duration) {
        let ran = u64::try_from(ran.as_micros()).unwrap_or(UNKNOWN - 1);
        // Concurrent updates may lose one sample; the mean only steers batching.
        let mean = self.mean_run_us.load(Ordering::Relaxed);
        let next = if mean == UNKNOWN {
            ran
        } else {
            mean - (mean >> NEWEST_WEIGHT_SHIFT) + (ran >> NEWEST_WEIGHT_SHIFT)
        };
        self.mean_run_us.store(next, Ordering::Relaxed);
        self.code_ended.notify_one();
    }

    /// Records that a claimed job was given up unstarted after waiting `waited` for a
    /// run slot: the slots are slower than the mean says, so nothing is claimed ahead
    /// until shorter jobs bring the mean down again (the jobs running now do, as they
    /// end). Wakes a dispatcher waiting for room.
    pub fn gave_up(&self, waited: Duration) {
        let slot_time = waited.saturating_mul(u32::try_from(self.concurrency).unwrap_or(u32::MAX));
        let floor = u64::try_from(slot_time.as_micros()).unwrap_or(UNKNOWN - 1);
        self.mean_run_us.fetch_max(floor, Ordering::Relaxed);
        self.code_ended.notify_one();
    }

    /// Records that a claimed job ended unstarted for another reason (cancelled, or the
    /// shutdown grace ended) and wakes a dispatcher waiting for room.
    pub fn dropped_unstarted(&self) {
        self.code_ended.notify_one();
    }

    /// Resolves after the next [`ClaimAhead::code_ended`] (at once if one happened
    /// since the last wait).
    pub async fn some_code_ended(&self) {
        self.code_ended.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_claimed_ahead_before_a_job_has_run() {
        let ahead = ClaimAhead::new(8, 120);
        assert_eq!(ahead.ahead(), 0);
        assert_eq!(ahead.in_hand_target(), 8);
        assert_eq!(ahead.max_in_hand(), 128);
    }

    #[test]
    fn short_jobs_fill_the_limit_and_long_ones_claim_nothing_ahead() {
        let ahead = ClaimAhead::new(8, 120);
        ahead.code_ended(Duration::from_micros(30));
        assert_eq!(ahead.ahead(), 120);
        let slow = ClaimAhead::new(8, 120);
        slow.code_ended(Duration::from_millis(50));
        assert_eq!(slow.ahead(), 0);
        let middling = ClaimAhead::new(8, 120);
        middling.code_ended(Duration::from_millis(1));
        // 8 slots get through 40 one-millisecond jobs in 5 ms.
        assert_eq!(middling.ahead(), 40);
    }

    #[test]
    fn the_mean_follows_a_change_of_workload_within_a_few_dozen_jobs() {
        let ahead = ClaimAhead::new(8, 120);
        for _ in 0..100 {
            ahead.code_ended(Duration::from_micros(20));
        }
        assert_eq!(ahead.ahead(), 120);
        for _ in 0..40 {
            ahead.code_ended(Duration::from_secs(1));
        }
        assert_eq!(ahead.ahead(), 0);
    }

    #[test]
    fn a_job_given_up_unstarted_stops_claiming_ahead_until_short_jobs_return() {
        let ahead = ClaimAhead::new(8, 120);
        ahead.code_ended(Duration::from_micros(30));
        assert_eq!(ahead.ahead(), 120);
        ahead.gave_up(Duration::from_millis(200));
        assert_eq!(ahead.ahead(), 0);
        let mut short_jobs = 0;
        while ahead.ahead() < 120 {
            ahead.code_ended(Duration::from_micros(30));
            short_jobs += 1;
        }
        assert!((40..100).contains(&short_jobs), "{short_jobs}");
    }

    #[test]
    fn a_claimed_job_waits_less_than_half_the_time_to_its_first_renewal() {
        let ahead = ClaimAhead::new(8, 120);
        assert_eq!(
            ahead.start_wait(Duration::from_secs(3)),
            Duration::from_millis(200)
        );
        assert_eq!(
            ahead.start_wait(Duration::from_millis(166)),
            Duration::from_millis(83)
        );
    }
}
