//! `backup`: a consistent Postgres dump plus an archive of the workspaces, with
//! checksums, written so that an interrupted backup is never mistaken for a good one.
//!
//! Layout under `FAIRLANE_BACKUP_DIR`: `<UTC time>-<run>/` holding `database.dump`
//! (`pg_dump -Fc`, one snapshot of the whole database), `users.tar.gz` (`<data>/users`,
//! links archived as links, never followed), `manifest.json` (sizes, SHA-256, schema
//! migrations) and `SHA256SUMS` (for `sha256sum -c`). Everything is written into
//! `<name>.partial/`, synced, and renamed to `<name>/` only when complete: a directory
//! without the suffix is a complete backup. Leftover `.partial` directories of dead
//! runs are removed by the next backup, and only the newest `FAIRLANE_BACKUP_KEEP`
//! complete backups are kept.
//!
//! The dump and the archive are taken one after the other, not atomically together: a
//! file uploaded in between is archived without its row (harmless), one deleted in
//! between has a row without bytes. Restoring is `ops/restore`, not this module.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use secrecy::ExposeSecret;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use crate::error::TaskError;
use crate::tasks::TaskContext;

/// The suffix of a backup being written.
pub const PARTIAL_SUFFIX: &str = ".partial";
/// The database dump's file name.
const DUMP: &str = "database.dump";
/// The workspace archive's file name.
const ARCHIVE: &str = "users.tar.gz";

/// Writes one backup, then applies retention. `run_id` makes the name unique.
pub async fn run(ctx: &TaskContext, run_id: &str) -> Result<Value, TaskError> {
    let settings = &ctx.settings;
    let root = &settings.backup_dir;
    create_private_dir(root).await?;
    let name = format!(
        "{}-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
        short_hash(run_id)
    );
    let partial = root.join(format!("{name}{PARTIAL_SUFFIX}"));
    let complete = root.join(&name);
    create_private_dir(&partial).await?;
    let files = match write(ctx, run_id, &name, &partial).await {
        Ok(files) => files,
        Err(e) => {
            // A failed backup leaves nothing behind (a killed one leaves its `.partial`,
            // which a later backup removes once it is an hour old).
            let _ = tokio::fs::remove_dir_all(&partial).await;
            return Err(e);
        }
    };
    tokio::fs::rename(&partial, &complete)
        .await
        .map_err(|e| TaskError::io("rename", &partial, e))?;
    sync_path(root).await?;

    let (removed, stale_partials) = apply_retention(root, settings.backup_keep, &partial).await?;
    Ok(json!({
        "backup": name,
        "path": complete.display().to_string(),
        "files": files,
        "old_backups_removed": removed,
        "stale_partials_removed": stale_partials,
    }))
}

/// Writes the dump, the archive, the manifest and the checksums into `partial`, all
/// synced; returns the manifest's file entries.
async fn write(
    ctx: &TaskContext,
    run_id: &str,
    name: &str,
    partial: &Path,
) -> Result<Vec<Value>, TaskError> {
    let settings = &ctx.settings;
    dump_database(ctx, &partial.join(DUMP)).await?;
    if !settings.backup_delay.is_zero() {
        tokio::time::sleep(settings.backup_delay).await;
    }
    archive_workspaces(&settings.data_dir, &partial.join(ARCHIVE)).await?;

    let mut files = Vec::new();
    let mut sums = String::new();
    for file in [DUMP, ARCHIVE] {
        let (bytes, sha256) = checksum(&partial.join(file)).await?;
        sums.push_str(&format!("{sha256}  {file}\n"));
        files.push(json!({ "name": file, "bytes": bytes, "sha256": sha256 }));
    }
    let manifest = json!({
        "format": 1,
        "name": name,
        "run_id": run_id,
        "created_at": chrono::Utc::now(),
        "migrations": fairlane_shared::db::known_migrations(),
        "files": files,
    });
    let manifest_text = serde_json::to_string_pretty(&manifest).unwrap_or_default();
    write_synced(&partial.join("manifest.json"), manifest_text.as_bytes()).await?;
    write_synced(&partial.join("SHA256SUMS"), sums.as_bytes()).await?;
    sync_path(partial).await?;
    Ok(files)
}

/// `pg_dump -Fc` of the whole database; the connection comes from libpq variables,
/// so no password shows in the process list.
async fn dump_database(ctx: &TaskContext, out: &Path) -> Result<(), TaskError> {
    let program = match &ctx.settings.pg_bin_dir {
        Some(dir) => dir.join("pg_dump"),
        None => PathBuf::from("pg_dump"),
    };
    let config: tokio_postgres::Config = ctx
        .database
        .url
        .expose_secret()
        .parse()
        .map_err(TaskError::Postgres)?;
    let mut command = tokio::process::Command::new(program);
    command
        .arg("--format=custom")
        .arg("--no-owner")
        .arg("--file")
        .arg(out)
        .env_remove("PGPASSWORD")
        .kill_on_drop(true);
    if let Some(host) = config.get_hosts().first() {
        match host {
            tokio_postgres::config::Host::Tcp(h) => command.env("PGHOST", h),
            tokio_postgres::config::Host::Unix(p) => command.env("PGHOST", p),
        };
    }
    if let Some(port) = config.get_ports().first() {
        command.env("PGPORT", port.to_string());
    }
    if let Some(user) = config.get_user() {
        command.env("PGUSER", user);
    }
    if let Some(password) = config.get_password() {
        command.env("PGPASSWORD", String::from_utf8_lossy(password).into_owned());
    }
    if let Some(db) = config.get_dbname() {
        command.env("PGDATABASE", db);
    }
    run_command("pg_dump", command).await
}

/// `tar -czf out -C <data> users` (links stored as links); an empty archive when there
/// is no workspace yet.
async fn archive_workspaces(data_dir: &Path, out: &Path) -> Result<(), TaskError> {
    let users = data_dir.join("users");
    if tokio::fs::symlink_metadata(&users).await.is_err() {
        tokio::fs::create_dir_all(&users)
            .await
            .map_err(|e| TaskError::io("create", &users, e))?;
    }
    let mut command = tokio::process::Command::new("tar");
    command
        .arg("--create")
        .arg("--gzip")
        .arg("--file")
        .arg(out)
        .arg("--directory")
        .arg(data_dir)
        .arg("users")
        .kill_on_drop(true);
    run_command("tar", command).await
}

/// Runs a command to completion; a non-zero exit is an error with its stderr's tail.
async fn run_command(
    program: &'static str,
    mut command: tokio::process::Command,
) -> Result<(), TaskError> {
    let output = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .await
        .map_err(|e| TaskError::Command {
            program,
            detail: format!("cannot start it: {e}"),
        })?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let tail: String = stderr
        .chars()
        .rev()
        .take(500)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    Err(TaskError::Command {
        program,
        detail: format!("{}: {}", output.status, tail.trim()),
    })
}

/// The size and hex SHA-256 of a file (after syncing it to disk).
async fn checksum(path: &Path) -> Result<(u64, String), TaskError> {
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(|e| TaskError::io("open", path, e))?;
    file.sync_all()
        .await
        .map_err(|e| TaskError::io("sync", path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut bytes = 0u64;
    loop {
        let n = file
            .read(&mut buf)
            .await
            .map_err(|e| TaskError::io("read", path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok((bytes, hex::encode(hasher.finalize())))
}

/// Keeps the newest `keep` complete backups, and removes `.partial` directories other
/// than `ours` (left by runs that died; a running backup's directory is newer than the
/// lease, so only those older than an hour go). Returns both counts.
async fn apply_retention(
    root: &Path,
    keep: usize,
    ours: &Path,
) -> Result<(usize, usize), TaskError> {
    let mut complete = Vec::new();
    let mut stale = 0;
    let mut entries = tokio::fs::read_dir(root)
        .await
        .map_err(|e| TaskError::io("list", root, e))?;
    while let Some(entry) = entries
        .next_entry()
        .await
        .map_err(|e| TaskError::io("list", root, e))?
    {
        let path = entry.path();
        let meta = tokio::fs::symlink_metadata(&path)
            .await
            .map_err(|e| TaskError::io("inspect", &path, e))?;
        if !meta.is_dir() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(PARTIAL_SUFFIX) {
            let old = meta
                .modified()
                .ok()
                .and_then(|m| m.elapsed().ok())
                .is_some_and(|age| age > std::time::Duration::from_secs(3600));
            if path != ours && old {
                remove_dir(&path).await?;
                stale += 1;
            }
        } else if tokio::fs::try_exists(path.join("manifest.json"))
            .await
            .unwrap_or(false)
        {
            complete.push((name, path));
        }
    }
    complete.sort();
    let excess = complete.len().saturating_sub(keep);
    for (_, path) in &complete[..excess] {
        remove_dir(path).await?;
    }
    Ok((excess, stale))
}

async fn remove_dir(path: &Path) -> Result<(), TaskError> {
    tokio::fs::remove_dir_all(path)
        .await
        .map_err(|e| TaskError::io("remove", path, e))
}

async fn create_private_dir(path: &Path) -> Result<(), TaskError> {
    let mut builder = tokio::fs::DirBuilder::new();
    builder.recursive(true).mode(0o700);
    builder
        .create(path)
        .await
        .map_err(|e| TaskError::io("create", path, e))
}

async fn write_synced(path: &Path, contents: &[u8]) -> Result<(), TaskError> {
    tokio::fs::write(path, contents)
        .await
        .map_err(|e| TaskError::io("write", path, e))?;
    sync_path(path).await
}

/// fsync of a file or directory.
async fn sync_path(path: &Path) -> Result<(), TaskError> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| TaskError::io("open", path, e))?;
    file.sync_all()
        .await
        .map_err(|e| TaskError::io("sync", path, e))
}

/// Eight hex digits of SHA-256, to keep names short but unique per run.
fn short_hash(s: &str) -> String {
    hex::encode(&Sha256::digest(s.as_bytes())[..4])
}
