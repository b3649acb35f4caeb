//! Fairlane's shared library: configuration, logging, Postgres and Redis access, and
//! process shutdown, used by every binary (`fairlane-api`, `fairlane-worker`,
//! `fairlane-scheduler`).
//!
//! This crate knows nothing about HTTP: no axum, no wire DTOs. The API converts between
//! its JSON shapes and the types defined here.

pub mod config;
pub mod db;
pub mod error;
pub mod jobs;
pub mod process;
pub mod redis_conn;
pub mod shutdown;
pub mod telemetry;

pub use error::{Error, Result};
