//! Cleaning one user's workspace: old scratch files in `temp/`, old unregistered files in
//! `exports/`, and old job result files (rows in `files`, unless pinned), plus files in
//! the result areas that no row owns (left by a crash between write and registration).
//! Storage accounting is refunded in the transaction that deletes the rows.
//!
//! Safety rules: only paths under `<data>/users/<user id>/` are looked at; symbolic links
//! are never followed and never removed; `temp/` files younger than an hour are kept
//! whatever the request says (an upload may be streaming into one).

use std::path::Path;
use std::time::{Duration, SystemTime};

use uuid::Uuid;

use crate::workspace;

/// Scratch files younger than this are never removed.
pub const TEMP_FLOOR: Duration = Duration::from_secs(3600);
/// Areas holding job results.
pub const RESULT_AREAS: [&str; 3] = [
    "processed_options",
    "calculated_columns",
    "filtered_options",
];

/// What to clean.
#[derive(Debug, Clone, Copy)]
pub struct CleanupRequest {
    /// Remove what is older than this.
    pub older_than: Duration,
    /// Clean `temp/`.
    pub temp: bool,
    /// Clean `exports/`.
    pub exports: bool,
    /// Remove unpinned job result files.
    pub results: bool,
}

/// What was removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CleanupReport {
    /// Files removed.
    pub deleted_files: u64,
    /// Bytes freed.
    pub freed_bytes: u64,
}

impl CleanupReport {
    fn add(&mut self, other: CleanupReport) {
        self.deleted_files += other.deleted_files;
        self.freed_bytes += other.freed_bytes;
    }
}

/// Cleans `user_id`'s workspace.
pub async fn clean_user(
    db: &deadpool_postgres::Pool,
    data_dir: &Path,
    user_id: Uuid,
    request: CleanupRequest,
) -> crate::Result<CleanupReport> {
    let root = workspace::user_root(data_dir, user_id);
    let mut report = CleanupReport::default();
    let now = SystemTime::now();
    if request.temp {
        let cutoff = now - request.older_than.max(TEMP_FLOOR);
        report.add(remove_old_files(&root.join("temp"), cutoff, &|_| true)?);
    }
    if request.exports {
        // Registered files there (forecast results) go only with their rows (`results`).
        let registered = registered_ids(db, user_id).await?;
        report.add(remove_old_files(
            &root.join("exports"),
            now - request.older_than,
            &|path: &Path| file_id(path).is_none_or(|id| !registered.contains(&id)),
        )?);
    }
    if request.results {
        report.add(remove_old_results(db, &root, user_id, request.older_than).await?);
    }
    report.add(remove_orphans(db, &root, user_id, now - TEMP_FLOOR).await?);
    Ok(report)
}

/// Removes regular files under `dir` (recursively, never through a symlink) last
/// modified before `cutoff` and accepted by `accept`, then empty subdirectories.
fn remove_old_files(
    dir: &Path,
    cutoff: SystemTime,
    accept: &dyn Fn(&Path) -> bool,
) -> crate::Result<CleanupReport> {
    let mut report = CleanupReport::default();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(report);
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.file_type().is_symlink() {
            continue;
        }
        if meta.is_dir() {
            report.add(remove_old_files(&path, cutoff, accept)?);
            let _ = std::fs::remove_dir(&path); // only succeeds when empty
            continue;
        }
        let modified = meta.modified().unwrap_or(SystemTime::now());
        if meta.is_file()
            && modified < cutoff
            && accept(&path)
            && std::fs::remove_file(&path).is_ok()
        {
            report.deleted_files += 1;
            report.freed_bytes += meta.len();
        }
    }
    Ok(report)
}

async fn remove_old_results(
    db: &deadpool_postgres::Pool,
    root: &Path,
    user_id: Uuid,
    older_than: Duration,
) -> crate::Result<CleanupReport> {
    let mut client = db.get().await?;
    let tx = client.transaction().await?;
    let seconds = older_than.as_secs_f64();
    let rows = tx
        .query(
            "DELETE FROM files WHERE user_id = $1 AND kind = 'result' AND NOT pinned
               AND created_at < now() - make_interval(secs => $2)
             RETURNING id, area, size_bytes",
            &[&user_id, &seconds],
        )
        .await?;
    let freed: i64 = rows.iter().map(|r| r.get::<_, i64>(2)).sum();
    tx.execute(
        "UPDATE users SET storage_bytes = GREATEST(storage_bytes - $2, 0) WHERE id = $1",
        &[&user_id, &freed],
    )
    .await?;
    tx.commit().await?;
    for row in &rows {
        let (id, area): (Uuid, String) = (row.get(0), row.get(1));
        let path = root.join(&area).join(id.to_string());
        if let Err(e) = std::fs::remove_file(&path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(file.id = %id, error = %e, "could not remove a deleted result file");
        }
    }
    Ok(CleanupReport {
        deleted_files: rows.len() as u64,
        freed_bytes: u64::try_from(freed).unwrap_or(0),
    })
}

/// Files in the result and upload areas that no `files` row owns, older than `cutoff`.
async fn remove_orphans(
    db: &deadpool_postgres::Pool,
    root: &Path,
    user_id: Uuid,
    cutoff: SystemTime,
) -> crate::Result<CleanupReport> {
    let known = registered_ids(db, user_id).await?;
    let mut report = CleanupReport::default();
    for area in RESULT_AREAS.iter().chain(&["uploads"]) {
        let orphan = |path: &Path| file_id(path).is_some_and(|id| !known.contains(&id));
        report.add(remove_old_files(&root.join(area), cutoff, &orphan)?);
    }
    Ok(report)
}

/// The ids of `user_id`'s `files` rows.
async fn registered_ids(
    db: &deadpool_postgres::Pool,
    user_id: Uuid,
) -> crate::Result<std::collections::HashSet<Uuid>> {
    let client = db.get().await?;
    let rows = client
        .query("SELECT id FROM files WHERE user_id = $1", &[&user_id])
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// The file id a workspace path is named by, if it is one.
fn file_id(path: &Path) -> Option<Uuid> {
    path.file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| Uuid::try_parse(n).ok())
}
