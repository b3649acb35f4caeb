//! What job code may use beyond its params: Postgres, Redis, the data directory, the
//! keyring, the broker settings, the per-user runtime contexts and the forecast child.
//! Handed to every [`crate::kinds::JobContext`]; one per worker process.

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use deadpool_postgres::Pool;
use fairlane_shared::crypto::Keyring;
use fairlane_shared::kite::BrokerSettings;
use fairlane_shared::redis_conn::Redis;

use crate::contexts::UserContexts;
use crate::forecast::ForecastBinary;
use crate::memory;

/// Shared services of one worker process.
#[derive(Debug)]
pub struct Services {
    /// Postgres.
    pub db: Pool,
    /// Redis.
    pub redis: Redis,
    /// Root of the per-user workspaces.
    pub data_dir: PathBuf,
    /// Opens broker credentials (only here, in the worker).
    pub keyring: Keyring,
    /// Where and how to call the broker.
    pub broker: BrokerSettings,
    /// Per-user runtime contexts (decrypted credentials, broker client).
    pub contexts: Arc<UserContexts>,
    /// The cores table jobs (`options.filter`) borrow their threads from.
    pub table_cores: TableCores,
    /// Where the `fairlane-forecast` child is and how to start it.
    pub forecast: ForecastBinary,
}

/// The machine's cores for table work, shared by the jobs of one worker process. A
/// table job borrows every core no other table job holds, and runs on one thread when
/// none is free: one job on an idle worker uses the whole machine, concurrent ones
/// split it (a fixed share per job slot would leave the cores of idle slots unused).
///
/// Table jobs leave their freed memory in the allocator for the next one
/// ([`memory::retain_freed_memory`]); once no table job has run for
/// [`RELEASE_MEMORY_AFTER`], it goes back to the operating system.
#[derive(Debug)]
pub struct TableCores {
    shared: Arc<CorePool>,
}

#[derive(Debug)]
struct CorePool {
    free: Arc<Semaphore>,
    cores: NonZeroUsize,
    /// Borrows so far: an idle period is still idle when this has not moved.
    borrows: AtomicU64,
}

/// How long table work must be idle before the worker returns its freed memory.
pub const RELEASE_MEMORY_AFTER: Duration = Duration::from_secs(30);

/// Cores borrowed by one job; given back when dropped.
#[derive(Debug)]
pub struct BorrowedCores {
    permit: Option<OwnedSemaphorePermit>,
    threads: NonZeroUsize,
    pool: Arc<CorePool>,
}

impl TableCores {
    /// `cores` cores, all free.
    pub fn new(cores: NonZeroUsize) -> Self {
        Self {
            shared: Arc::new(CorePool {
                free: Arc::new(Semaphore::new(cores.get())),
                cores,
                borrows: AtomicU64::new(0),
            }),
        }
    }

    /// The machine's cores (`available_parallelism`, else one).
    pub fn of_this_machine() -> Self {
        Self::new(std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN))
    }

    /// Borrows every free core (none free: one thread on no borrowed core).
    pub fn borrow(&self) -> BorrowedCores {
        let pool = &self.shared;
        pool.borrows.fetch_add(1, Ordering::Relaxed);
        let (permit, threads) = (1..=pool.cores.get())
            .rev()
            .find_map(|n| {
                let permit = pool
                    .free
                    .clone()
                    .try_acquire_many_owned(u32::try_from(n).ok()?)
                    .ok()?;
                Some((Some(permit), NonZeroUsize::new(n)?))
            })
            .unwrap_or((None, NonZeroUsize::MIN));
        BorrowedCores {
            permit,
            threads,
            pool: pool.clone(),
        }
    }
}

impl CorePool {
    fn idle(&self) -> bool {
        self.free.available_permits() == self.cores.get()
    }
}

impl BorrowedCores {
    /// The threads the job may run on.
    pub fn threads(&self) -> NonZeroUsize {
        self.threads
    }
}

impl Drop for BorrowedCores {
    fn drop(&mut self) {
        drop(self.permit.take());
        if !self.pool.idle() {
            return;
        }
        let borrows = self.pool.borrows.load(Ordering::Relaxed);
        let pool = self.pool.clone();
        // Outside a runtime (tools, tests) there is no later: release now.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            memory::release_freed_memory();
            return;
        };
        runtime.spawn(async move {
            tokio::time::sleep(RELEASE_MEMORY_AFTER).await;
            if pool.idle() && pool.borrows.load(Ordering::Relaxed) == borrows {
                memory::release_freed_memory();
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_borrows_every_free_core_and_gives_them_back() {
        let cores = TableCores::new(NonZeroUsize::new(4).unwrap());
        let first = cores.borrow();
        assert_eq!(first.threads().get(), 4);
        // Nothing free: one thread anyway.
        let second = cores.borrow();
        assert_eq!(second.threads().get(), 1);
        drop(first);
        let third = cores.borrow();
        assert_eq!(third.threads().get(), 4);
        let fourth = cores.borrow();
        assert_eq!(fourth.threads().get(), 1);
        drop(third);
        drop(second);
        drop(fourth);
        assert_eq!(cores.borrow().threads().get(), 4);
    }
}
