//! `bench_queue`: the Fairlane side of `ops/benches/queue` (run it through
//! `ops/bench queue`). It drives a running Postgres and Redis with the real library
//! (`fairlane_shared::jobs::insert` and `publish`, as the API does) and the real
//! `fairlane-worker` and `fairlane-api` release binaries, and writes raw figures as one
//! JSON object; the script's Python step turns them (and Celery's) into the report.
//!
//! Scenarios, each on an emptied `jobs` table and a flushed Redis:
//! - `burn`: N `echo` jobs enqueued with no worker running (the library enqueue rate is
//!   timed), then W workers of concurrency C started and timed until every job is
//!   `succeeded` in Postgres (first to last completion, and worker spawn to last).
//! - `latency`: idle workers; jobs submitted one at a time with a gap; enqueue-to-start
//!   is `started_at - created_at`, both Postgres clock (`created_at` is the submitting
//!   transaction's start, `started_at` the claiming transaction's).
//! - `noisy`: user A enqueues A jobs, workers start, after a second user B submits B
//!   jobs one at a time; B's enqueue-to-start as above.
//! - `http`: the real API; K concurrent clients `POST /api/v1/jobs/batch` until N jobs
//!   are in; no worker runs.
//!
//! It is not a test (no assertions on speed) and not part of any deployment.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use fairlane_shared::config::{DatabaseSettings, Env, RedisSettings};
use fairlane_shared::jobs::{self, JobSettings, NewJob};
use fairlane_shared::redis_conn::Redis;
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use uuid::Uuid;

/// Jobs per submitting transaction when pre-enqueueing.
const ENQUEUE_BATCH: usize = 1000;
/// The bench users' running quota: high enough that only the worker slots limit them
/// (the noisy neighbour may take every slot, the worst case for the other user).
const USER_RUNNING_QUOTA: usize = 10_000;

struct Args(HashMap<String, String>);

impl Args {
    fn parse() -> anyhow::Result<Self> {
        let mut map = HashMap::new();
        let mut args = std::env::args().skip(1);
        while let Some(name) = args.next() {
            let Some(name) = name.strip_prefix("--") else {
                bail!("unexpected argument {name:?}; every option is --name value");
            };
            let value = args
                .next()
                .with_context(|| format!("--{name} needs a value"))?;
            map.insert(name.to_owned(), value);
        }
        Ok(Self(map))
    }

    fn text(&self, name: &str) -> anyhow::Result<String> {
        self.0
            .get(name)
            .cloned()
            .with_context(|| format!("--{name} is required"))
    }

    fn number(&self, name: &str, default: usize) -> anyhow::Result<usize> {
        match self.0.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .with_context(|| format!("--{name} must be a number")),
        }
    }
}

struct Bench {
    db: Pool,
    redis: Redis,
    settings: JobSettings,
    env: HashMap<String, String>,
    bin_dir: PathBuf,
    logs: PathBuf,
    workers: usize,
    users: AtomicI64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse()?;
    fairlane_shared::tls::install();
    let workers = args.number("workers", 1)?;
    let concurrency = args.number("concurrency", 8)?;
    let logs = PathBuf::from(args.text("logs")?);
    std::fs::create_dir_all(logs.join("data"))?;
    let slots = (workers * concurrency).to_string();
    let mut env: HashMap<String, String> = [
        ("FAIRLANE_DATABASE_URL", args.text("database-url")?),
        ("FAIRLANE_REDIS_URL", args.text("redis-url")?),
        ("FAIRLANE_DATA_DIR", logs.join("data").display().to_string()),
        ("FAIRLANE_LOG", "warn".to_owned()),
        ("FAIRLANE_LOG_FORMAT", "json".to_owned()),
        ("FAIRLANE_DIAGNOSTIC_JOBS", "1".to_owned()),
        (
            "FAIRLANE_ENCRYPTION_KEYS",
            "1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".to_owned(),
        ),
        ("FAIRLANE_WORKER_CONCURRENCY", concurrency.to_string()),
        ("FAIRLANE_MAX_RUNNING_JOBS", slots),
        ("FAIRLANE_MAX_QUEUED_JOBS", "100000000".to_owned()),
        ("FAIRLANE_RATE_LIMIT_PER_MINUTE", "100000000".to_owned()),
        ("FAIRLANE_HTTP_HOST", "127.0.0.1".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    if let Some(pool) = args.0.get("pool-size") {
        env.insert("FAIRLANE_DATABASE_POOL_SIZE".into(), pool.clone());
    }
    let config = Env::from_pairs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let db = fairlane_shared::db::pool(&DatabaseSettings::from_env(&config)?, "bench_queue")?;
    let redis = Redis::connect(&RedisSettings::from_env(&config)?, Duration::from_secs(10)).await?;
    let bench = Bench {
        db,
        redis,
        settings: JobSettings::from_env(&config)?,
        env,
        bin_dir: PathBuf::from(args.text("bin-dir")?),
        logs,
        workers,
        // Far above the numbers the API hands out (the HTTP scenario registers a user).
        users: AtomicI64::new(1_000_000_000),
    };

    let only = args.0.get("only").cloned().unwrap_or_default();
    let wanted = |name: &str| only.is_empty() || only.split(',').any(|o| o == name);
    let mut out = json!({
        "workers": workers,
        "concurrency": concurrency,
        "user_running_quota": USER_RUNNING_QUOTA,
    });
    if wanted("burn") {
        out["burn"] = bench.burn(args.number("n", 50_000)?).await?;
    }
    if wanted("latency") {
        out["latency"] = bench
            .latency(
                args.number("latency-n", 300)?,
                args.number("latency-gap-ms", 10)?,
            )
            .await?;
    }
    if wanted("noisy") {
        out["noisy"] = bench
            .noisy(
                args.number("noisy-a", 50_000)?,
                args.number("noisy-b", 100)?,
            )
            .await?;
    }
    if wanted("http") {
        out["http"] = bench
            .http(
                args.number("http-n", 20_000)?,
                args.number("http-clients", 4)?,
                args.number("http-batch", 100)?,
            )
            .await?;
    }
    std::fs::write(args.text("out")?, serde_json::to_vec_pretty(&out)?)?;
    Ok(())
}

impl Bench {
    /// Empties the job tables and Redis between scenarios.
    async fn reset(&self) -> anyhow::Result<()> {
        let client = self.db.get().await?;
        // Two statements: VACUUM cannot run in the implicit transaction of a batch.
        client
            .batch_execute("TRUNCATE jobs, audit_events CASCADE")
            .await?;
        client.batch_execute("VACUUM ANALYZE jobs").await?;
        let _: () = redis::cmd("FLUSHDB")
            .query_async(&mut self.redis.conn())
            .await?;
        Ok(())
    }

    async fn create_user(&self, max_running: usize) -> anyhow::Result<Uuid> {
        let id = Uuid::new_v4();
        let number = self.users.fetch_add(1, Ordering::Relaxed);
        let max_running = i32::try_from(max_running)?;
        self.db
            .get()
            .await?
            .execute(
                "INSERT INTO users (id, number, email, email_key, name, password_hash, \
                 max_running_jobs, max_queued_jobs) VALUES ($1, $2, $3, $3, 'Bench', 'x', $4, 100000000)",
                &[&id, &number, &format!("{id}@bench.invalid"), &max_running],
            )
            .await?;
        Ok(id)
    }

    fn echo(&self) -> anyhow::Result<NewJob> {
        NewJob::validate("echo", json!({ "message": "hi" }), None, true)
            .map_err(|e| anyhow::anyhow!("{}: {}", e.field, e.message))
    }

    /// Submits `n` jobs for `user` like the API (insert in a transaction, commit,
    /// publish), in transactions of `batch`; returns their ids.
    async fn submit(&self, user: Uuid, n: usize, batch: usize) -> anyhow::Result<Vec<Uuid>> {
        let echo = self.echo()?;
        let mut ids = Vec::with_capacity(n);
        let mut client = self.db.get().await?;
        let mut left = n;
        while left > 0 {
            let size = left.min(batch);
            left -= size;
            let new_jobs = vec![echo.clone(); size];
            let tx = client.transaction().await?;
            let inserted = jobs::insert(&tx, user, &new_jobs, &self.settings).await?;
            tx.commit().await?;
            jobs::publish(&self.redis, &inserted).await?;
            ids.extend(inserted.iter().map(|i| i.job.id));
        }
        Ok(ids)
    }

    fn spawn(&self, binary: &str, name: &str) -> anyhow::Result<Child> {
        self.spawn_with(binary, name, &[])
    }

    fn spawn_with(
        &self,
        binary: &str,
        name: &str,
        extra: &[(&str, String)],
    ) -> anyhow::Result<Child> {
        let log = std::fs::File::create(self.logs.join(format!("{name}.log")))?;
        Command::new(self.bin_dir.join(binary))
            .envs(&self.env)
            .envs(extra.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {binary}"))
    }

    fn spawn_workers(&self, scenario: &str) -> anyhow::Result<Vec<Child>> {
        (0..self.workers)
            .map(|i| self.spawn("fairlane-worker", &format!("{scenario}-worker-{i}")))
            .collect()
    }

    /// Waits until every worker announced itself (it then claims).
    async fn wait_workers_live(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while fairlane_shared::workers::live(&self.redis).await?.len() < self.workers {
            if Instant::now() > deadline {
                bail!("workers did not start; see {}", self.logs.display());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    async fn count(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> anyhow::Result<i64> {
        Ok(self.db.get().await?.query_one(sql, params).await?.get(0))
    }

    /// Polls until `n` jobs of `user` succeeded (fails on any failed job). The poll asks
    /// only whether unfinished jobs remain (partial indexes), so it costs the database
    /// next to nothing while the workers drain; the full count is taken once at the end.
    async fn wait_succeeded(&self, user: Uuid, n: usize, within: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + within;
        let n = i64::try_from(n)?;
        loop {
            let client = self.db.get().await?;
            let unfinished: bool = client
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM jobs WHERE user_id = $1 AND finished_at IS NULL)",
                    &[&user],
                )
                .await?
                .get(0);
            if !unfinished {
                let row = client
                    .query_one(
                        "SELECT count(*) FILTER (WHERE state = 'succeeded'), \
                                count(*) FILTER (WHERE state IN ('failed', 'cancelled')) \
                         FROM jobs WHERE user_id = $1",
                        &[&user],
                    )
                    .await?;
                let (done, bad): (i64, i64) = (row.get(0), row.get(1));
                if bad > 0 {
                    bail!("{bad} jobs failed; see {}", self.logs.display());
                }
                if done >= n {
                    return Ok(());
                }
            }
            drop(client);
            if Instant::now() > deadline {
                bail!("the jobs did not all succeed within {within:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Start latency in ms (`started_at - created_at`) of the given jobs.
    async fn start_latencies(&self, ids: &[Uuid]) -> anyhow::Result<Vec<f64>> {
        let rows = self
            .db
            .get()
            .await?
            .query(
                "SELECT (extract(epoch FROM started_at - created_at) * 1000)::float8 \
                 FROM jobs WHERE id = ANY($1) ORDER BY created_at",
                &[&ids],
            )
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn burn(&self, n: usize) -> anyhow::Result<Value> {
        self.reset().await?;
        let user = self.create_user(USER_RUNNING_QUOTA).await?;
        eprintln!("fairlane burn-down: enqueueing {n} echo jobs");
        let started = Instant::now();
        self.submit(user, n, ENQUEUE_BATCH).await?;
        let enqueue_s = started.elapsed().as_secs_f64();
        let spawned_at = Utc::now();
        let mut workers = self.spawn_workers("burn")?;
        self.wait_succeeded(user, n, Duration::from_secs(1800))
            .await?;
        let row = self
            .db
            .get()
            .await?
            .query_one(
                "SELECT min(finished_at), max(finished_at), min(started_at) FROM jobs WHERE user_id = $1",
                &[&user],
            )
            .await?;
        let (first, last, first_start): (DateTime<Utc>, DateTime<Utc>, DateTime<Utc>) =
            (row.get(0), row.get(1), row.get(2));
        stop(&mut workers).await;
        let seconds = |a: DateTime<Utc>, b: DateTime<Utc>| {
            (b - a).num_microseconds().unwrap_or(0) as f64 / 1e6
        };
        Ok(json!({
            "jobs": n,
            "enqueue_seconds": enqueue_s,
            "enqueue_batch": ENQUEUE_BATCH,
            "first_to_last_seconds": seconds(first, last),
            "spawn_to_last_seconds": seconds(spawned_at, last),
            "spawn_to_first_start_seconds": seconds(spawned_at, first_start),
        }))
    }

    async fn latency(&self, n: usize, gap_ms: usize) -> anyhow::Result<Value> {
        self.reset().await?;
        let user = self.create_user(USER_RUNNING_QUOTA).await?;
        let mut workers = self.spawn_workers("latency")?;
        self.wait_workers_live().await?;
        eprintln!("fairlane latency: {n} jobs, one every {gap_ms} ms");
        let gap = Duration::from_millis(u64::try_from(gap_ms)?);
        // Warm-up: connections, prepared statements, page cache.
        for _ in 0..20 {
            self.submit(user, 1, 1).await?;
            tokio::time::sleep(gap).await;
        }
        self.wait_succeeded(user, 20, Duration::from_secs(60))
            .await?;
        let mut ids = Vec::with_capacity(n);
        for _ in 0..n {
            ids.extend(self.submit(user, 1, 1).await?);
            tokio::time::sleep(gap).await;
        }
        self.wait_succeeded(user, n + 20, Duration::from_secs(120))
            .await?;
        stop(&mut workers).await;
        Ok(json!({ "jobs": n, "gap_ms": gap_ms, "ms": self.start_latencies(&ids).await? }))
    }

    async fn noisy(&self, a_jobs: usize, b_jobs: usize) -> anyhow::Result<Value> {
        self.reset().await?;
        let (a, b) = (
            self.create_user(USER_RUNNING_QUOTA).await?,
            self.create_user(USER_RUNNING_QUOTA).await?,
        );
        eprintln!("fairlane noisy neighbour: A enqueues {a_jobs}, then B submits {b_jobs}");
        self.submit(a, a_jobs, ENQUEUE_BATCH).await?;
        let mut workers = self.spawn_workers("noisy")?;
        self.wait_workers_live().await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let mut ids = Vec::with_capacity(b_jobs);
        for _ in 0..b_jobs {
            ids.extend(self.submit(b, 1, 1).await?);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.wait_succeeded(b, b_jobs, Duration::from_secs(1800))
            .await?;
        let a_done = self
            .count(
                "SELECT count(*) FROM jobs WHERE user_id = $1 AND state = 'succeeded'",
                &[&a],
            )
            .await?;
        stop(&mut workers).await;
        Ok(json!({
            "a_jobs": a_jobs,
            "b_jobs": b_jobs,
            "a_succeeded_when_b_done": a_done,
            "b_ms": self.start_latencies(&ids).await?,
        }))
    }

    async fn http(&self, n: usize, clients: usize, batch: usize) -> anyhow::Result<Value> {
        self.reset().await?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut api = self.spawn_with(
            "fairlane-api",
            "http-api",
            &[("FAIRLANE_HTTP_PORT", port.to_string())],
        )?;
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::builder().build()?;
        wait_healthy(&http, &base).await?;
        let email = format!(
            "bench-{}@example.com",
            &Uuid::new_v4().simple().to_string()[..8]
        );
        let password = "correct-horse-battery-staple";
        let registered = http
            .post(format!("{base}/api/v1/auth/register"))
            .json(&json!({ "email": email, "password": password, "name": "Bench" }))
            .send()
            .await?;
        if registered.status().as_u16() != 201 {
            bail!("register: {}", registered.text().await?);
        }
        let login: Value = http
            .post(format!("{base}/api/v1/auth/login"))
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await?
            .json()
            .await?;
        let token = login["token"]
            .as_str()
            .context("login gave no token")?
            .to_owned();
        let body = json!({
            "jobs": (0..batch).map(|_| json!({ "kind": "echo", "params": { "message": "hi" } })).collect::<Vec<_>>()
        });
        let body = Arc::new(serde_json::to_vec(&body)?);
        // Warm-up request (connections, prepared statements). Redis is not flushed
        // afterwards: it holds the session.
        post_batch(&http, &base, &token, &body).await?;
        eprintln!("fairlane http: {n} jobs in batches of {batch} from {clients} clients");
        let requests = n.div_ceil(batch);
        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let (http, base, token, body, next) = (
                http.clone(),
                base.clone(),
                token.clone(),
                body.clone(),
                next.clone(),
            );
            tasks.push(tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < requests {
                    post_batch(&http, &base, &token, &body).await?;
                }
                anyhow::Ok(())
            }));
        }
        for task in tasks {
            task.await??;
        }
        let seconds = started.elapsed().as_secs_f64();
        let stored = self.count("SELECT count(*) FROM jobs", &[]).await? - i64::try_from(batch)?;
        terminate(&mut api).await;
        Ok(json!({
            "jobs": requests * batch,
            "stored": stored,
            "seconds": seconds,
            "clients": clients,
            "batch": batch,
        }))
    }
}

async fn post_batch(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    body: &Arc<Vec<u8>>,
) -> anyhow::Result<()> {
    let response = http
        .post(format!("{base}/api/v1/jobs/batch"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.as_ref().clone())
        .send()
        .await?;
    let status = response.status().as_u16();
    if status != 202 {
        bail!(
            "POST /jobs/batch answered {status}: {}",
            response.text().await?
        );
    }
    Ok(())
}

/// Polls `/healthz` until the API answers.
async fn wait_healthy(http: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(response) = http.get(format!("{base}/healthz")).send().await
            && response.status().is_success()
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the API did not answer on {base}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// SIGTERM, then wait (the worker finishes its running jobs and exits).
async fn terminate(child: &mut Child) {
    if let Some(pid) = child.id() {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap_or(0)),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
    if tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .is_err()
    {
        let _ = child.kill().await;
    }
}

async fn stop(children: &mut [Child]) {
    for child in children.iter_mut() {
        if let Some(pid) = child.id() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap_or(0)),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
    }
    for child in children.iter_mut() {
        terminate(child).await;
    }
}
