//! What job code may use beyond its params: Postgres, Redis, the data directory, the
//! keyring, the broker settings, the per-user runtime contexts and the forecast child.
//! Handed to every [`crate::kinds::JobContext`]; one per worker process.

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;

use deadpool_postgres::Pool;
use fairlane_shared::crypto::Keyring;
use fairlane_shared::kite::BrokerSettings;
use fairlane_shared::redis_conn::Redis;

use crate::contexts::UserContexts;
use crate::forecast::ForecastBinary;

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
    /// Threads one table job (`options.filter`) may use: the machine's cores shared
    /// among the worker's job slots.
    pub table_threads: NonZeroUsize,
    /// Where the `fairlane-forecast` child is and how to start it.
    pub forecast: ForecastBinary,
}
