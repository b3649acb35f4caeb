//! Submission: validated [`NewJob`]s become `queued` rows in the caller's transaction
//! ([`insert`]), and after the caller commits, their ids go to dispatch ([`publish`]).
//!
//! The order matters (invariant 1): a job is published only once committed, and a
//! publish that fails loses nothing, because the reconciler re-publishes queued jobs
//! that have no live delivery.

use std::collections::{HashMap, HashSet};

use serde_json::Value;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use crate::jobs::dispatch::{self, Publication};
use crate::jobs::kinds::{self, KindSpec, ParamError};
use crate::jobs::model::{JOB_COLUMNS, Job};
use crate::jobs::settings::JobSettings;
use crate::jobs::{JobError, events};
use crate::redis_conn::Redis;

pub use crate::jobs::dispatch::JobRef;

/// Longest idempotency key, in bytes.
pub const IDEMPOTENCY_KEY_MAX: usize = 255;

/// A job that passed validation and may be inserted.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    kind: String,
    params: Value,
    idempotency_key: Option<String>,
    spec: KindSpec,
}

impl NewJob {
    /// Validates kind, params and idempotency key.
    pub fn validate(
        kind: &str,
        params: Value,
        idempotency_key: Option<String>,
        diagnostics_enabled: bool,
    ) -> Result<Self, ParamError> {
        let spec = kinds::validate(kind, &params, diagnostics_enabled)?;
        if let Some(key) = &idempotency_key
            && (key.is_empty()
                || key.len() > IDEMPOTENCY_KEY_MAX
                || key.chars().any(char::is_control))
        {
            return Err(ParamError {
                field: "idempotency_key".into(),
                message: format!(
                    "must be 1 to {IDEMPOTENCY_KEY_MAX} bytes without control characters"
                ),
            });
        }
        Ok(Self {
            kind: kind.to_owned(),
            params,
            idempotency_key,
            spec,
        })
    }

    /// The kind.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The validated params.
    pub fn params(&self) -> &Value {
        &self.params
    }
}

/// One submission's outcome.
#[derive(Debug, Clone)]
pub struct Inserted {
    /// The job (new, or the one that already had this idempotency key).
    pub job: Job,
    /// False when the idempotency key matched an existing job.
    pub created: bool,
    /// The owner's running quota, handed to dispatch by [`Inserted::publication`].
    pub running_limit: i64,
}

impl Inserted {
    /// What [`publish`] needs for this job.
    pub fn publication(&self) -> Publication {
        Publication {
            job: JobRef {
                id: self.job.id,
                user_id: self.job.user_id,
            },
            running_limit: self.running_limit,
        }
    }
}

/// Inserts `new_jobs` for `user_id` in the caller's transaction (the caller commits,
/// e.g. together with its audit row, then calls [`publish`]).
///
/// The owner's row is locked for the transaction, which serialises submissions per
/// user: the queued quota (`users.max_queued_jobs`, else `settings.max_queued_jobs`;
/// queued plus retrying plus new) is checked exactly. A job whose idempotency key the
/// user already used (now or earlier in `new_jobs`) is returned with `created: false`
/// and counts nothing. A user id that does not exist is [`JobError::UnknownUser`].
pub async fn insert(
    tx: &deadpool_postgres::Transaction<'_>,
    user_id: Uuid,
    new_jobs: &[NewJob],
    settings: &JobSettings,
) -> Result<Vec<Inserted>, JobError> {
    // Every statement is prepared once per connection, and the three reads go out in
    // one round trip: Postgres runs them in order, so the count sees the jobs of every
    // submission that held the owner's lock before this one.
    let lock = tx
        .prepare_cached(
            "SELECT COALESCE(max_queued_jobs::bigint, $2), COALESCE(max_running_jobs::bigint, $3) \
             FROM users WHERE id = $1 FOR UPDATE",
        )
        .await?;
    let count = tx
        .prepare_cached(
            "SELECT count(*) FROM jobs \
             WHERE user_id = $1 AND finished_at IS NULL AND state IN ('queued', 'retrying')",
        )
        .await?;
    // Jobs that already hold one of the batch's idempotency keys (`IS NOT NULL` lets
    // even a generic plan use the partial unique index).
    let keys: Vec<&str> = new_jobs
        .iter()
        .filter_map(|n| n.idempotency_key.as_deref())
        .collect();
    let by_key = tx
        .prepare_cached(&format!(
            "SELECT {JOB_COLUMNS}, idempotency_key FROM jobs \
             WHERE user_id = $1 AND idempotency_key IS NOT NULL AND idempotency_key = ANY($2)"
        ))
        .await?;
    let lock_params: [&(dyn ToSql + Sync); 3] = [
        &user_id,
        &settings.max_queued_jobs,
        &settings.max_running_jobs,
    ];
    let key_params: [&(dyn ToSql + Sync); 2] = [&user_id, &keys];
    let count_params: [&(dyn ToSql + Sync); 1] = [&user_id];
    let (limits, keyed, queued) = tokio::try_join!(
        tx.query_opt(&lock, &lock_params),
        async {
            if keys.is_empty() {
                Ok(Vec::new())
            } else {
                tx.query(&by_key, &key_params).await
            }
        },
        tx.query_one(&count, &count_params),
    )?;
    let limits = limits.ok_or(JobError::UnknownUser)?;
    let (queued_limit, running_limit): (i64, i64) = (limits.get(0), limits.get(1));
    let queued: i64 = queued.get(0);
    let existing: HashMap<String, Job> = keyed
        .iter()
        .map(|row| (row.get("idempotency_key"), Job::from_row(row)))
        .collect();

    // What to create: one row per job, except a repeated key (the first one wins).
    let mut new_keys: HashSet<&str> = HashSet::new();
    let mut ids: Vec<Option<Uuid>> = Vec::with_capacity(new_jobs.len());
    for new in new_jobs {
        let key = new.idempotency_key.as_deref();
        let reused = key.is_some_and(|k| existing.contains_key(k) || !new_keys.insert(k));
        ids.push((!reused).then(Uuid::now_v7));
    }
    let to_create = i64::try_from(ids.iter().flatten().count()).unwrap_or(i64::MAX);

    if to_create > 0 && queued + to_create > queued_limit {
        return Err(JobError::QuotaExceeded {
            queued,
            limit: queued_limit,
        });
    }

    // One multi-row insert for the whole batch.
    let mut created: HashMap<Uuid, Job> = HashMap::new();
    if to_create > 0 {
        let mut columns = (
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
        );
        for (new, id) in new_jobs.iter().zip(&ids) {
            let Some(id) = id else { continue };
            columns.0.push(*id);
            columns.1.push(new.kind.as_str());
            columns.2.push(&new.params);
            columns.3.push(new.spec.max_attempts);
            columns
                .4
                .push(i64::try_from(new.spec.timeout.as_millis()).unwrap_or(i64::MAX));
            columns.5.push(new.idempotency_key.as_deref());
        }
        let insert = tx
            .prepare_cached(&format!(
                "INSERT INTO jobs (id, user_id, kind, params, max_attempts, timeout_ms, idempotency_key) \
                 SELECT n.id, $1, n.kind, n.params, n.max_attempts, n.timeout_ms, n.idempotency_key \
                 FROM unnest($2::uuid[], $3::text[], $4::jsonb[], $5::int4[], $6::int8[], $7::text[]) \
                     AS n(id, kind, params, max_attempts, timeout_ms, idempotency_key) \
                 RETURNING {JOB_COLUMNS}"
            ))
            .await?;
        for row in tx
            .query(
                &insert,
                &[
                    &user_id, &columns.0, &columns.1, &columns.2, &columns.3, &columns.4,
                    &columns.5,
                ],
            )
            .await?
        {
            let job = Job::from_row(&row);
            created.insert(job.id, job);
        }
    }

    let mut out = Vec::with_capacity(new_jobs.len());
    let mut by_new_key: HashMap<&str, Job> = HashMap::new();
    for (new, id) in new_jobs.iter().zip(&ids) {
        let key = new.idempotency_key.as_deref();
        let (job, was_created) = match id {
            Some(id) => {
                let job = created.get(id).cloned().ok_or_else(|| {
                    JobError::Infra(anyhow::anyhow!("inserted job {id} not returned").into())
                })?;
                if let Some(k) = key {
                    by_new_key.insert(k, job.clone());
                }
                (job, true)
            }
            None => {
                let k = key.unwrap_or_default();
                let job = existing
                    .get(k)
                    .or_else(|| by_new_key.get(k))
                    .cloned()
                    .ok_or_else(|| {
                        JobError::Infra(anyhow::anyhow!("no job for key {k:?}").into())
                    })?;
                (job, false)
            }
        };
        out.push(Inserted {
            job,
            created: was_created,
            running_limit,
        });
    }
    Ok(out)
}

/// Hands committed jobs (the created ones among `inserted`) to dispatch and announces
/// them. Call after the insert's transaction committed. Publishing again is harmless.
///
/// An error here loses nothing: the jobs are committed and the reconciler publishes
/// them within seconds, so the API logs it and still answers 202.
pub async fn publish(redis: &Redis, inserted: &[Inserted]) -> Result<(), JobError> {
    let created: Vec<&Inserted> = inserted.iter().filter(|i| i.created).collect();
    let publications: Vec<Publication> = created.iter().map(|i| i.publication()).collect();
    dispatch::publish(redis, &publications).await?;
    let changes: Vec<_> = created
        .iter()
        .map(|i| (i.job.id, i.job.user_id, i.job.state))
        .collect();
    events::notify_all(redis, &changes).await;
    Ok(())
}
