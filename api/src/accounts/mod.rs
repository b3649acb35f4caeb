//! Accounts: users, passwords, sessions, API keys, TOTP, the audit log and rate limits —
//! the service layer behind `routes::{auth, me, admin}`.
//!
//! Nothing here knows HTTP status codes: functions return domain results or
//! `ApiError`s built from domain failures; handlers only extract and map.

pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod email;
pub mod password;
pub mod rate_limit;
pub mod sessions;
pub mod tokens;
pub mod totp;
pub mod users;
