//! HTTP routes, one module per resource; [`crate::app::router`] mounts them.

pub mod fallback;
pub mod health;
