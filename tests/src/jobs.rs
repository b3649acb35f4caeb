//! Job-engine helpers for end-to-end tests: a direct handle on a deployment's job
//! engine through `fairlane_shared::jobs` (the HTTP endpoints come later), users made by
//! `INSERT`, workers that report their worker id, and a checker that reads the workers'
//! logs as the history of effects (a `job finished` line is written only after the
//! fenced completion committed).

use std::collections::HashMap;
use std::time::Duration;

use deadpool_postgres::Pool;
use fairlane_shared::config::{DatabaseSettings, Env, RedisSettings};
use fairlane_shared::jobs::{self, Inserted, Job, JobError, JobSettings, NewJob};
use fairlane_shared::redis_conn::Redis;
use serde_json::Value;
use uuid::Uuid;

use crate::app::{START_TIMEOUT, TestApp};
use crate::process::{Binary, TestProcess};

/// The job engine of one [`TestApp`], driven through the library.
pub struct Engine {
    /// Postgres pool on the app's database.
    pub db: Pool,
    /// Redis with the app's prefix.
    pub redis: Redis,
    /// The app's job settings.
    pub settings: JobSettings,
    env: HashMap<String, String>,
    users: std::sync::atomic::AtomicI64,
}

/// A started worker and the id it announced.
pub struct Worker {
    /// The process.
    pub process: TestProcess,
    /// Its `worker_id`.
    pub id: String,
}

impl Engine {
    /// Connects to `app`'s Postgres and Redis.
    pub async fn connect(app: &TestApp) -> Engine {
        let env_map = app.env().clone();
        let env = Env::from_pairs(env_map.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let db =
            fairlane_shared::db::pool(&DatabaseSettings::from_env(&env).unwrap(), "tests").unwrap();
        let redis = Redis::connect(
            &RedisSettings::from_env(&env).unwrap(),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        Engine {
            db,
            redis,
            settings: JobSettings::from_env(&env).unwrap(),
            env: env_map,
            users: std::sync::atomic::AtomicI64::new(1),
        }
    }

    /// Creates an active user with optional quota overrides.
    pub async fn create_user(&self, max_running: Option<i32>, max_queued: Option<i32>) -> Uuid {
        let id = Uuid::new_v4();
        let number = self
            .users
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.db
            .get()
            .await
            .unwrap()
            .execute(
                "INSERT INTO users (id, number, email, email_key, name, password_hash, \
                 max_running_jobs, max_queued_jobs) VALUES ($1, $2, $3, $3, 'Test', 'x', $4, $5)",
                &[
                    &id,
                    &number,
                    &format!("{id}@example.com"),
                    &max_running,
                    &max_queued,
                ],
            )
            .await
            .unwrap();
        id
    }

    /// Submits jobs in one transaction and publishes them, like the API will.
    pub async fn try_submit(
        &self,
        user: Uuid,
        jobs: &[(&str, Value, Option<&str>)],
    ) -> Result<Vec<Inserted>, JobError> {
        let new_jobs: Vec<NewJob> = jobs
            .iter()
            .map(|(kind, params, key)| {
                NewJob::validate(kind, params.clone(), key.map(str::to_owned), true)
                    .expect("valid job")
            })
            .collect();
        let mut client = self.db.get().await.unwrap();
        let tx = client.transaction().await.unwrap();
        let inserted = jobs::insert(&tx, user, &new_jobs, &self.settings).await?;
        tx.commit().await.unwrap();
        jobs::publish(&self.redis, &inserted).await?;
        Ok(inserted)
    }

    /// Submits one job and returns it.
    pub async fn submit(&self, user: Uuid, kind: &str, params: Value) -> Job {
        self.try_submit(user, &[(kind, params, None)])
            .await
            .unwrap()
            .remove(0)
            .job
    }

    /// Submits `n` jobs of one kind and returns their ids.
    pub async fn submit_many(&self, user: Uuid, kind: &str, params: Value, n: usize) -> Vec<Uuid> {
        let batch: Vec<(&str, Value, Option<&str>)> =
            (0..n).map(|_| (kind, params.clone(), None)).collect();
        self.try_submit(user, &batch)
            .await
            .unwrap()
            .into_iter()
            .map(|i| i.job.id)
            .collect()
    }

    /// The job as its owner sees it.
    pub async fn get(&self, user: Uuid, id: Uuid) -> Job {
        jobs::get(&self.db, user, id)
            .await
            .unwrap()
            .expect("job exists")
    }

    /// The worker that claimed the job last.
    pub async fn worker_of(&self, id: Uuid) -> Option<String> {
        self.db
            .get()
            .await
            .unwrap()
            .query_one("SELECT worker_id FROM jobs WHERE id = $1", &[&id])
            .await
            .unwrap()
            .get(0)
    }

    /// Polls until the job satisfies `predicate`; panics with the job after `within`.
    pub async fn wait_job(
        &self,
        user: Uuid,
        id: Uuid,
        within: Duration,
        predicate: impl Fn(&Job) -> bool,
    ) -> Job {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let job = self.get(user, id).await;
            if predicate(&job) {
                return job;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "job did not get there within {within:?}: {job:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Polls until every job of the deployment is terminal; returns the count by state.
    pub async fn wait_all_terminal(&self, within: Duration) -> HashMap<String, i64> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let counts = self.count_by_state().await;
            let waiting: i64 = ["queued", "running", "retrying"]
                .iter()
                .map(|s| counts.get(*s).copied().unwrap_or(0))
                .sum();
            if waiting == 0 {
                return counts;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "jobs still not terminal: {counts:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Jobs by state.
    pub async fn count_by_state(&self) -> HashMap<String, i64> {
        self.db
            .get()
            .await
            .unwrap()
            .query("SELECT state, count(*) FROM jobs GROUP BY state", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    }

    /// Starts a worker with this deployment's settings plus `extra`.
    pub async fn start_worker(&self, extra: &[(&str, &str)]) -> Worker {
        let mut env = self.env.clone();
        for (k, v) in extra {
            env.insert((*k).to_owned(), (*v).to_owned());
        }
        let process = TestProcess::spawn(Binary::Worker, &[], &env);
        let ready = process
            .wait_for_message("worker ready", START_TIMEOUT)
            .await;
        let id = ready["worker_id"]
            .as_str()
            .expect("worker ready has worker_id")
            .to_owned();
        Worker { process, id }
    }
}

/// How many times each job was completed (`job finished` logged, i.e. a fenced write
/// committed) with `state`, across `workers`. A worker logs a completion just after its
/// write commits, so this first waits (up to 10 s) until every job of `expected` has
/// its line.
pub async fn finished_counts(
    workers: &[&TestProcess],
    state: &str,
    expected: &[Uuid],
) -> HashMap<String, usize> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for worker in workers {
            for event in worker.events() {
                if event["message"] == "job finished" && event["state"] == state {
                    let id = event["job_id"].as_str().unwrap_or_default().to_owned();
                    *counts.entry(id).or_default() += 1;
                }
            }
        }
        let complete = expected
            .iter()
            .all(|id| counts.contains_key(&id.to_string()));
        if complete || std::time::Instant::now() > deadline {
            return counts;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
