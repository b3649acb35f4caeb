//! `job_retention`: deletes finished jobs (succeeded, failed, cancelled) whose
//! `finished_at` is older than `FAIRLANE_JOB_RETENTION_DAYS`, with their result files.
//!
//! Per batch, in one transaction: the jobs are locked, their files read, their owners'
//! `storage_bytes` reduced by those files' sizes, and the jobs deleted (the `files` rows
//! cascade). The bytes are removed after the commit, so a crash in between leaves
//! unreferenced bytes, never a row without bytes. Queued or running jobs are never
//! touched.
//!
//! The maintenance history past the same retention goes too (`maintenance_runs`, except
//! each task's latest run, and the requests that led to them).

use std::collections::BTreeMap;

use serde_json::{Value, json};
use uuid::Uuid;

use crate::error::TaskError;
use crate::tasks::TaskContext;
use crate::tasks::workspace_cleanup::{file_path, remove_entry};

/// Jobs deleted per transaction.
const BATCH: i64 = 500;

/// Deletes expired jobs in batches until none is left.
pub async fn run(ctx: &TaskContext) -> Result<Value, TaskError> {
    let days = i32::try_from(ctx.settings.job_retention_days).unwrap_or(i32::MAX);
    let mut client = ctx.db.get().await?;
    let (mut jobs, mut files, mut bytes) = (0u64, 0u64, 0i64);
    loop {
        let tx = client.transaction().await?;
        let doomed: Vec<Uuid> = tx
            .query(
                "SELECT id FROM jobs WHERE state IN ('succeeded', 'failed', 'cancelled') \
                   AND finished_at < now() - make_interval(days => $1) \
                 ORDER BY finished_at LIMIT $2 FOR UPDATE SKIP LOCKED",
                &[&days, &BATCH],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if doomed.is_empty() {
            break;
        }
        let file_rows = tx
            .query(
                "SELECT id, user_id, area, size_bytes FROM files WHERE job_id = ANY($1) FOR UPDATE",
                &[&doomed],
            )
            .await?;
        // In user-id order, so concurrent runs lock users in the same order.
        let mut refunds: BTreeMap<Uuid, i64> = BTreeMap::new();
        for row in &file_rows {
            *refunds.entry(row.get(1)).or_default() += row.get::<_, i64>(3);
        }
        for (user_id, refund) in &refunds {
            tx.execute(
                "UPDATE users SET storage_bytes = GREATEST(storage_bytes - $2, 0), updated_at = now() \
                 WHERE id = $1",
                &[user_id, refund],
            )
            .await?;
        }
        tx.execute("DELETE FROM jobs WHERE id = ANY($1)", &[&doomed])
            .await?;
        tx.commit().await?;
        for row in &file_rows {
            let path = file_path(&ctx.settings.data_dir, row.get(1), row.get(2), row.get(0));
            remove_entry(&path)?;
            files += 1;
            bytes += row.get::<_, i64>(3);
        }
        jobs += u64::try_from(doomed.len()).unwrap_or(0);
        if i64::try_from(doomed.len()).unwrap_or(0) < BATCH {
            break;
        }
    }
    let runs_deleted = client
        .execute(
            "DELETE FROM maintenance_runs WHERE finished_at < now() - make_interval(days => $1) \
               AND id NOT IN (SELECT DISTINCT ON (task) id FROM maintenance_runs \
                              ORDER BY task, started_at DESC, id DESC)",
            &[&days],
        )
        .await?;
    client
        .execute(
            "DELETE FROM maintenance_requests WHERE claimed_at < now() - make_interval(days => $1) \
               AND run_id IS NULL",
            &[&days],
        )
        .await?;
    Ok(json!({
        "jobs_deleted": jobs,
        "files_deleted": files,
        "bytes_refunded": bytes,
        "maintenance_runs_deleted": runs_deleted,
    }))
}
