//! Fairlane's shared library: configuration, logging, Postgres and Redis access,
//! process shutdown, options analytics (`options`) and the broker client (`kite`), used
//! by every binary (`fairlane-api`, `fairlane-worker`, `fairlane-scheduler`,
//! `fairlane-sandbox-broker`).
//!
//! This crate serves no HTTP: no axum, no API wire DTOs. The API converts between its
//! JSON shapes and the types defined here. The only HTTP it speaks is as a client of
//! the broker, in `kite`.

pub mod config;
pub mod credentials;
pub mod crypto;
pub mod db;
pub mod error;
pub mod instruments;
pub mod jobs;
pub mod kite;
pub mod maintenance;
pub mod options;
pub mod process;
pub mod quotas;
pub mod redis_conn;
pub mod shutdown;
pub mod telemetry;
pub mod tls;
pub mod user_events;
pub mod workers;
pub mod workspace;
pub mod workspace_cleanup;

pub use error::{Error, Result};
