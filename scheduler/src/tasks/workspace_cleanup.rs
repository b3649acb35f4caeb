//! `workspace_cleanup`: frees workspace space and recounts storage.
//!
//! 1. Exports and job results older than the retention (`FAIRLANE_RESULT_RETENTION_DAYS`)
//!    and not pinned: their `files` rows are deleted, then their bytes at
//!    `<data>/users/<user>/<area>/<file id>` (a path built from the row, never from a name).
//! 2. In every workspace, entries of `temp/` older than a day, then empty directories
//!    below the areas (never an area itself).
//! 3. Each user's `storage_bytes` becomes the sum of their `files` rows.
//!
//! Symbolic links are never followed: entries are examined with `symlink_metadata`, a
//! link is removed as a link (in `temp/`, when old) or left, and directories are entered
//! only when they are real directories under a real workspace directory. So nothing
//! outside `<data>/users/<user id>` is read or removed, whatever a workspace contains.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use fairlane_shared::workspace;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::error::TaskError;
use crate::tasks::TaskContext;

/// `temp/` entries older than this go.
const TEMP_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// Expired file rows deleted per statement.
const BATCH: i64 = 500;

/// Counts of one run.
#[derive(Debug, Default)]
struct Counts {
    expired_files: u64,
    temp_entries: u64,
    empty_dirs: u64,
    bytes_freed: u64,
}

/// Runs the three steps; see the module docs.
pub async fn run(ctx: &TaskContext) -> Result<Value, TaskError> {
    let mut counts = Counts::default();
    expire_files(ctx, &mut counts).await?;
    let data_dir = ctx.settings.data_dir.clone();
    let swept = tokio::task::spawn_blocking(move || sweep_workspaces(&data_dir, SystemTime::now()))
        .await
        .map_err(|e| TaskError::io("sweep", Path::new("workspaces"), std::io::Error::other(e)))??;
    counts.temp_entries = swept.temp_entries;
    counts.empty_dirs = swept.empty_dirs;
    counts.bytes_freed += swept.bytes_freed;
    let users_recounted = ctx
        .db
        .get()
        .await?
        .execute(
            "UPDATE users u SET storage_bytes = s.total, updated_at = now() \
             FROM (SELECT u2.id, COALESCE(sum(f.size_bytes), 0)::bigint AS total \
                   FROM users u2 LEFT JOIN files f ON f.user_id = u2.id GROUP BY u2.id) s \
             WHERE s.id = u.id AND u.storage_bytes <> s.total",
            &[],
        )
        .await?;
    Ok(json!({
        "expired_files": counts.expired_files,
        "temp_entries_removed": counts.temp_entries,
        "empty_dirs_removed": counts.empty_dirs,
        "bytes_freed": counts.bytes_freed,
        "users_recounted": users_recounted,
    }))
}

/// Step 1: deletes expired export and result rows in batches, then their bytes (a crash
/// between the two leaves unreferenced bytes, never a row without bytes).
async fn expire_files(ctx: &TaskContext, counts: &mut Counts) -> Result<(), TaskError> {
    let days = i32::try_from(ctx.settings.result_retention_days).unwrap_or(i32::MAX);
    let client = ctx.db.get().await?;
    loop {
        let rows = client
            .query(
                "DELETE FROM files WHERE id IN ( \
                   SELECT id FROM files WHERE NOT pinned AND (area = 'exports' OR kind = 'result') \
                     AND created_at < now() - make_interval(days => $1) \
                   LIMIT $2 FOR UPDATE SKIP LOCKED) \
                 RETURNING id, user_id, area",
                &[&days, &BATCH],
            )
            .await?;
        for row in &rows {
            let path = file_path(&ctx.settings.data_dir, row.get(1), row.get(2), row.get(0));
            counts.bytes_freed += remove_entry(&path)?;
            counts.expired_files += 1;
        }
        if i64::try_from(rows.len()).unwrap_or(0) < BATCH {
            return Ok(());
        }
    }
}

/// Where a file row's bytes are.
pub fn file_path(data_dir: &Path, user_id: Uuid, area: &str, id: Uuid) -> PathBuf {
    workspace::user_root(data_dir, user_id)
        .join(area)
        .join(id.to_string())
}

/// Removes a regular file or a symbolic link (the link, not its target) if present;
/// leaves a directory. Returns the bytes freed.
pub fn remove_entry(path: &Path) -> Result<u64, TaskError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(TaskError::io("inspect", path, e)),
    };
    if meta.is_dir() {
        return Ok(0);
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(if meta.is_file() { meta.len() } else { 0 }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(TaskError::io("remove", path, e)),
    }
}

/// What the filesystem sweep removed.
#[derive(Debug, Default)]
struct Swept {
    temp_entries: u64,
    empty_dirs: u64,
    bytes_freed: u64,
}

/// Step 2 over every workspace: real directories named by a user id only.
fn sweep_workspaces(data_dir: &Path, now: SystemTime) -> Result<Swept, TaskError> {
    let mut swept = Swept::default();
    let users = data_dir.join("users");
    if !is_real_dir(&users)? {
        return Ok(swept);
    }
    for entry in read_dir(&users)? {
        let (path, file_type) = entry;
        let is_workspace = file_type.is_dir()
            && path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| Uuid::parse_str(n).is_ok());
        if !is_workspace {
            continue;
        }
        for area in workspace::AREAS {
            let area_dir = path.join(area);
            if !is_real_dir(&area_dir)? {
                continue;
            }
            let max_age = (area == "temp").then_some(TEMP_MAX_AGE);
            sweep_dir(&area_dir, max_age, now, &mut swept)?;
        }
    }
    Ok(swept)
}

/// Removes, below `dir`, files and links older than `max_age` (when given) and then
/// directories left empty. Returns whether `dir` is now empty.
fn sweep_dir(
    dir: &Path,
    max_age: Option<Duration>,
    now: SystemTime,
    swept: &mut Swept,
) -> Result<bool, TaskError> {
    let mut remaining = 0usize;
    for (path, file_type) in read_dir(dir)? {
        if file_type.is_dir() {
            if sweep_dir(&path, max_age, now, swept)? {
                match std::fs::remove_dir(&path) {
                    Ok(()) => swept.empty_dirs += 1,
                    // Something was written there meanwhile: keep it.
                    Err(_) => remaining += 1,
                }
            } else {
                remaining += 1;
            }
            continue;
        }
        let old = match max_age {
            Some(max_age) => {
                let meta = std::fs::symlink_metadata(&path)
                    .map_err(|e| TaskError::io("inspect", &path, e))?;
                meta.modified()
                    .ok()
                    .and_then(|m| now.duration_since(m).ok())
                    .is_some_and(|age| age > max_age)
            }
            None => false,
        };
        if old {
            swept.bytes_freed += remove_entry(&path)?;
            swept.temp_entries += 1;
        } else {
            remaining += 1;
        }
    }
    Ok(remaining == 0)
}

/// True for a real directory (a link to one is false); false when absent.
fn is_real_dir(path: &Path) -> Result<bool, TaskError> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) => Ok(meta.is_dir()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(TaskError::io("inspect", path, e)),
    }
}

/// The entries of a directory with their own types (links not followed).
fn read_dir(dir: &Path) -> Result<Vec<(PathBuf, std::fs::FileType)>, TaskError> {
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| TaskError::io("list", dir, e))? {
        let entry = entry.map_err(|e| TaskError::io("list", dir, e))?;
        let file_type = entry
            .file_type()
            .map_err(|e| TaskError::io("inspect", &entry.path(), e))?;
        entries.push((entry.path(), file_type));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_removes_old_temp_entries_and_empty_dirs_but_never_follows_links() {
        let outside = tempfile::tempdir().unwrap();
        let secret = outside.path().join("secret.txt");
        std::fs::write(&secret, b"keep me").unwrap();
        let data = tempfile::tempdir().unwrap();
        let user = Uuid::new_v4();
        let root = workspace::create(data.path(), user).unwrap();
        let temp = root.join("temp");
        std::fs::create_dir_all(temp.join("nested/deeper")).unwrap();
        std::fs::write(temp.join("nested/deeper/fresh.bin"), b"new").unwrap();
        std::os::unix::fs::symlink(outside.path(), temp.join("dir-link")).unwrap();
        std::os::unix::fs::symlink(&secret, root.join("uploads/file-link")).unwrap();
        std::fs::create_dir_all(root.join("exports/empty/inner")).unwrap();

        let later = SystemTime::now() + Duration::from_secs(2 * 24 * 3600);
        let swept = sweep_workspaces(data.path(), later).unwrap();
        assert_eq!(swept.temp_entries, 2, "{swept:?}");
        assert!(!temp.join("dir-link").exists());
        assert!(!temp.join("nested").exists());
        assert!(!root.join("exports/empty").exists());
        assert!(root.join("exports").is_dir() && temp.is_dir());
        assert!(root.join("uploads/file-link").symlink_metadata().is_ok());
        assert_eq!(std::fs::read(&secret).unwrap(), b"keep me");
    }
}
