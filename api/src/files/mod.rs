//! Files in a user's workspace: uploads (streamed to disk with limits) and job results,
//! their rows in `files`, and how they are named when downloaded.
//!
//! Bytes live at `<data>/users/<user id>/<area>/<file id>`; nothing here ever builds a
//! path from a client-supplied name.

pub mod naming;
pub mod store;
pub mod upload;
