//! HTTP routes, one module per resource; [`crate::app::router`] mounts them.

pub mod admin;
pub mod auth;
pub mod fallback;
pub mod files;
pub mod health;
pub mod me;
pub mod usage;
pub mod validate;
