//! The end-to-end test harness: each test gets its own Postgres database (cloned from a
//! migrated template), its own Redis key namespace and data directory, starts the real
//! binaries on port 0 and talks HTTP to them. Everything is removed when the test ends.
//!
//! Run through `ops/test`, which starts the throwaway servers and exports
//! `FAIRLANE_TEST_*`. Nothing here mocks a Fairlane component.

pub mod app;
pub mod db;
pub mod env;
pub mod jobs;
pub mod postgres_server;
pub mod process;
pub mod redis_server;
pub mod sandbox;

pub use app::TestApp;
pub use process::{Binary, TestProcess};
pub use sandbox::SandboxBroker;
