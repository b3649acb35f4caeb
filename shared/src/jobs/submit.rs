//! Submission: validated [`NewJob`]s become `queued` rows in the caller's transaction
//! ([`insert`]), and after the caller commits, their ids go to dispatch ([`publish`]).
//!
//! The order matters (invariant 1): a job is published only once committed, and a
//! publish that fails loses nothing, because the reconciler re-publishes queued jobs
//! that have no live delivery.

use std::collections::{HashMap, HashSet};

use serde_json::Value;
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
    tx: &tokio_postgres::Transaction<'_>,
    user_id: Uuid,
    new_jobs: &[NewJob],
    settings: &JobSettings,
) -> Result<Vec<Inserted>, JobError> {
    let limits = tx
        .query_opt(
            "SELECT COALESCE(max_queued_jobs::bigint, $2), COALESCE(max_running_jobs::bigint, $3) \
             FROM users WHERE id = $1 FOR UPDATE",
            &[
                &user_id,
                &settings.max_queued_jobs,
                &settings.max_running_jobs,
            ],
        )
        .await?
        .ok_or(JobError::UnknownUser)?;
    let (queued_limit, running_limit): (i64, i64) = (limits.get(0), limits.get(1));

    let by_key = tx
        .prepare(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE user_id = $1 AND idempotency_key = $2"
        ))
        .await?;
    // Keys new in this batch, and existing jobs by key.
    let mut new_keys: HashSet<&str> = HashSet::new();
    let mut existing: HashMap<&str, Job> = HashMap::new();
    let mut to_create = 0i64;
    for new in new_jobs {
        match new.idempotency_key.as_deref() {
            Some(key) if new_keys.contains(key) || existing.contains_key(key) => {}
            Some(key) => match tx.query_opt(&by_key, &[&user_id, &key]).await? {
                Some(row) => {
                    existing.insert(key, Job::from_row(&row));
                }
                None => {
                    new_keys.insert(key);
                    to_create += 1;
                }
            },
            None => to_create += 1,
        }
    }

    let queued: i64 = tx
        .query_one(
            "SELECT count(*) FROM jobs WHERE user_id = $1 AND state IN ('queued', 'retrying')",
            &[&user_id],
        )
        .await?
        .get(0);
    if to_create > 0 && queued + to_create > queued_limit {
        return Err(JobError::QuotaExceeded {
            queued,
            limit: queued_limit,
        });
    }

    let insert = tx
        .prepare(&format!(
            "INSERT INTO jobs (id, user_id, kind, params, max_attempts, timeout_ms, idempotency_key) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {JOB_COLUMNS}"
        ))
        .await?;
    let mut created_by_key: HashMap<&str, Job> = HashMap::new();
    let mut out = Vec::with_capacity(new_jobs.len());
    for new in new_jobs {
        let key = new.idempotency_key.as_deref();
        if let Some(job) = key.and_then(|k| existing.get(k).or_else(|| created_by_key.get(k))) {
            out.push(Inserted {
                job: job.clone(),
                created: false,
                running_limit,
            });
            continue;
        }
        let timeout_ms = i64::try_from(new.spec.timeout.as_millis()).unwrap_or(i64::MAX);
        let row = tx
            .query_one(
                &insert,
                &[
                    &Uuid::now_v7(),
                    &user_id,
                    &new.kind,
                    &new.params,
                    &new.spec.max_attempts,
                    &timeout_ms,
                    &key,
                ],
            )
            .await?;
        let job = Job::from_row(&row);
        if let Some(k) = key {
            created_by_key.insert(k, job.clone());
        }
        out.push(Inserted {
            job,
            created: true,
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
