//! Per-user workspaces on disk: `<data>/users/<user id>/{uploads, processed_options,
//! calculated_columns, filtered_options, exports, temp, logs}`.
//!
//! Paths are built only from the user's id (a UUID we generated) and fixed area names,
//! never from anything a client sent.

use std::path::{Path, PathBuf};

use uuid::Uuid;

/// The areas every workspace has.
pub const AREAS: [&str; 7] = [
    "uploads",
    "processed_options",
    "calculated_columns",
    "filtered_options",
    "exports",
    "temp",
    "logs",
];

/// The root of a user's workspace.
pub fn user_root(data_dir: &Path, user_id: Uuid) -> PathBuf {
    data_dir.join("users").join(user_id.to_string())
}

/// Creates the workspace and its areas (idempotent), readable by the service only.
pub fn create(data_dir: &Path, user_id: Uuid) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let root = user_root(data_dir, user_id);
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true).mode(0o700);
    for area in AREAS {
        builder.create(root.join(area))?;
    }
    Ok(root)
}

/// Removes the workspace and everything in it (idempotent).
pub fn remove(data_dir: &Path, user_id: Uuid) -> std::io::Result<()> {
    match std::fs::remove_dir_all(user_root(data_dir, user_id)) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}
