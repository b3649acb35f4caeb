//! Fairlane's HTTP API (axum) and its operator commands.
//!
//! This is the only crate that knows HTTP and the JSON wire shapes of `API.md`.
//! Handlers are thin: extract, call into a service module or `fairlane-shared`, map the
//! result. Every error leaves through [`error::ApiError`] as the JSON envelope.

pub mod accounts;
pub mod app;
pub mod cli;
pub mod error;
pub mod extract;
pub mod files;
pub mod job_events;
pub mod jobs_admission;
pub mod metrics;
pub mod middleware;
pub mod routes;
pub mod settings;
