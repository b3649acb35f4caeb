//! The job engine end to end: real workers (apalis runtime over our dispatch) against
//! real Postgres and Redis, jobs submitted through `fairlane_shared::jobs` (the HTTP
//! endpoints come later). Covers the lifecycle, idempotency and quotas, crash recovery,
//! poison jobs, zombie fencing, the per-user running quota, fairness, Redis loss,
//! cancellation and graceful shutdown (ARCHITECTURE.md invariants 1–5).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use fairlane_shared::jobs::{self, CancelOutcome, JobError, JobState, WaitReason};
use fairlane_tests::TestApp;
use fairlane_tests::jobs::{Engine, finished_counts};
use fairlane_tests::redis_server::{RedisServer, free_port};
use futures::StreamExt;
use nix::sys::signal::Signal;
use serde_json::json;
use uuid::Uuid;

async fn app_with(extra: &[(&str, &str)]) -> TestApp {
    let mut builder = TestApp::builder().env("FAIRLANE_DIAGNOSTIC_JOBS", "1");
    for (k, v) in extra {
        builder = builder.env(k, *v);
    }
    builder.spawn().await
}

#[tokio::test]
async fn an_echo_job_runs_to_succeeded_and_only_its_owner_sees_it() {
    let app = app_with(&[]).await;
    let engine = Engine::connect(&app).await;
    let owner = engine.create_user(None, None).await;
    let stranger = engine.create_user(None, None).await;
    let metrics_port = free_port().to_string();
    let _worker = engine
        .start_worker(&[("FAIRLANE_WORKER_METRICS_PORT", &metrics_port)])
        .await;
    let events = jobs::events::subscribe(&engine.redis).await.unwrap();
    let mut events = std::pin::pin!(events);

    let job = engine
        .submit(owner, "echo", json!({"message": "hello"}))
        .await;
    assert_eq!(job.state, JobState::Queued);
    let done = engine
        .wait_job(owner, job.id, Duration::from_secs(10), |j| {
            j.state.is_terminal()
        })
        .await;
    assert_eq!(done.state, JobState::Succeeded, "{done:?}");
    assert_eq!(
        done.result,
        Some(json!({"summary": {"message": "hello"}, "files": []}))
    );
    assert_eq!(done.attempt, 1);
    assert!(done.error.is_none() && done.started_at.is_some() && done.finished_at.is_some());

    // Every state change was announced, in order, for the owner.
    let mut states = Vec::new();
    while states.last().map(String::as_str) != Some("succeeded") {
        let event = tokio::time::timeout(Duration::from_secs(5), events.next())
            .await
            .expect("an event")
            .expect("stream open");
        if event.job_id == job.id {
            assert_eq!(event.user_id, owner);
            states.push(event.state);
        }
    }
    assert_eq!(states, ["queued", "running", "succeeded"]);

    let metrics = reqwest::get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"fairlane_worker_jobs_total{kind="echo",outcome="succeeded"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains("fairlane_worker_claim_latency_seconds_count 1"),
        "{metrics}"
    );

    let shape = serde_json::to_value(&done).unwrap();
    assert_eq!(shape["state"], "succeeded");
    assert_eq!(shape["waiting"], serde_json::Value::Null);

    assert!(
        jobs::get(&engine.db, stranger, job.id)
            .await
            .unwrap()
            .is_none()
    );
    let (theirs, _) = jobs::list(&engine.db, stranger, None, None, 50, None)
        .await
        .unwrap();
    assert!(theirs.is_empty());
    assert!(matches!(
        jobs::request_cancel(&engine.db, &engine.redis, stranger, job.id)
            .await
            .unwrap(),
        CancelOutcome::NotFound
    ));
    assert!(matches!(
        jobs::request_cancel(&engine.db, &engine.redis, owner, job.id)
            .await
            .unwrap(),
        CancelOutcome::AlreadyFinished(_)
    ));
}

#[tokio::test]
async fn progress_of_a_running_job_is_visible_and_listing_pages_newest_first() {
    let app = app_with(&[]).await;
    let engine = Engine::connect(&app).await;
    let user = engine.create_user(None, None).await;
    let _worker = engine.start_worker(&[]).await;

    let sleeper = engine.submit(user, "sleep", json!({"ms": 2500})).await;
    let running = engine
        .wait_job(user, sleeper.id, Duration::from_secs(10), |j| {
            j.progress.as_ref().is_some_and(|p| p.done > 0)
        })
        .await;
    assert_eq!(running.state, JobState::Running);
    let progress = running.progress.unwrap();
    assert_eq!(progress.total, Some(2500));

    let mut ids = vec![sleeper.id];
    for i in 0..4 {
        ids.push(
            engine
                .submit(user, "echo", json!({"message": format!("m{i}")}))
                .await
                .id,
        );
    }
    ids.reverse();
    let (page1, cursor) = jobs::list(&engine.db, user, None, None, 3, None)
        .await
        .unwrap();
    let cursor = cursor.expect("a second page");
    let (page2, end) = jobs::list(&engine.db, user, None, None, 3, Some(&cursor))
        .await
        .unwrap();
    assert!(end.is_none());
    let listed: Vec<Uuid> = page1.iter().chain(&page2).map(|j| j.id).collect();
    assert_eq!(listed, ids);
    let (sleeps, _) = jobs::list(&engine.db, user, None, Some("sleep"), 50, None)
        .await
        .unwrap();
    assert_eq!(sleeps.len(), 1);
    assert!(matches!(
        jobs::list(&engine.db, user, None, None, 3, Some("garbage")).await,
        Err(JobError::InvalidCursor)
    ));
    engine
        .wait_job(user, sleeper.id, Duration::from_secs(10), |j| {
            j.state == JobState::Succeeded
        })
        .await;
    let (done, _) = jobs::list(&engine.db, user, Some(JobState::Succeeded), None, 50, None)
        .await
        .unwrap();
    assert_eq!(done.len(), 5);
}

#[tokio::test]
async fn a_succeeded_job_shows_its_last_progress_not_a_stale_one() {
    let app = app_with(&[]).await;
    let engine = Engine::connect(&app).await;
    let user = engine.create_user(None, None).await;
    let _worker = engine.start_worker(&[]).await;

    // `sleep` reports 0/300 at once and 300/300 as it ends, well inside the progress
    // writer's throttle: only the completing write can store the last report.
    let sleeper = engine.submit(user, "sleep", json!({"ms": 300})).await;
    let done = engine
        .wait_job(user, sleeper.id, Duration::from_secs(10), |j| {
            j.state.is_terminal()
        })
        .await;
    assert_eq!(done.state, JobState::Succeeded, "{done:?}");
    assert_eq!(
        done.progress,
        Some(jobs::Progress {
            done: 300,
            total: Some(300),
            message: Some("sleeping".to_owned()),
        })
    );
}

#[tokio::test]
async fn idempotency_keys_return_the_same_job_and_the_queued_quota_holds() {
    let app = app_with(&[]).await;
    let engine = Engine::connect(&app).await;
    let user = engine.create_user(None, Some(3)).await;
    let other = engine.create_user(None, None).await;

    let first = engine
        .try_submit(user, &[("echo", json!({"message": "a"}), Some("k1"))])
        .await
        .unwrap();
    assert!(first[0].created);
    let again = engine
        .try_submit(user, &[("echo", json!({"message": "ignored"}), Some("k1"))])
        .await
        .unwrap();
    assert!(!again[0].created);
    assert_eq!(again[0].job.id, first[0].job.id);
    assert_eq!(again[0].job.params, json!({"message": "a"}));
    // The same key belongs to each user separately.
    let theirs = engine
        .try_submit(other, &[("echo", json!({"message": "a"}), Some("k1"))])
        .await
        .unwrap();
    assert!(theirs[0].created);
    assert_ne!(theirs[0].job.id, first[0].job.id);

    // A batch repeating a key creates one job.
    let batch = engine
        .try_submit(
            user,
            &[
                ("echo", json!({"message": "b"}), Some("k2")),
                ("echo", json!({"message": "b"}), Some("k2")),
            ],
        )
        .await
        .unwrap();
    assert!(batch[0].created && !batch[1].created);
    assert_eq!(batch[0].job.id, batch[1].job.id);

    // Two queued, limit 3: one more fits, two more do not, and nothing is inserted.
    let err = engine
        .try_submit(
            user,
            &[
                ("echo", json!({"message": "c"}), None),
                ("echo", json!({"message": "d"}), None),
            ],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            JobError::QuotaExceeded {
                queued: 2,
                limit: 3
            }
        ),
        "{err:?}"
    );
    engine.submit(user, "echo", json!({"message": "c"})).await;
    assert!(matches!(
        engine
            .try_submit(user, &[("echo", json!({"message": "d"}), None)])
            .await,
        Err(JobError::QuotaExceeded { .. })
    ));
    // Re-submitting an existing key is not a new job, so it is fine at the limit.
    let replay = engine
        .try_submit(user, &[("echo", json!({"message": "a"}), Some("k1"))])
        .await
        .unwrap();
    assert!(!replay[0].created);
    assert_eq!(engine.count_by_state().await["queued"], 4);

    // Waiting jobs say why and where: no worker runs, so no free worker, in lane order.
    let (queued, _) = jobs::list(&engine.db, user, Some(JobState::Queued), None, 10, None)
        .await
        .unwrap();
    let mut positions = Vec::new();
    for job in queued.iter().rev() {
        let waiting = jobs::waiting(&engine.redis, job, 2).await.unwrap().unwrap();
        assert_eq!(waiting.reason, WaitReason::NoFreeWorker);
        positions.push(waiting.position.unwrap());
    }
    assert_eq!(positions, [1, 2, 3]);

    // Cancelling a queued job frees its quota at once and takes it out of its lane.
    let cancelled = match jobs::request_cancel(&engine.db, &engine.redis, user, queued[0].id)
        .await
        .unwrap()
    {
        CancelOutcome::Cancelled(job) => job,
        other => panic!("{other:?}"),
    };
    assert_eq!(cancelled.state, JobState::Cancelled);
    assert!(cancelled.finished_at.is_some());
    engine.submit(user, "echo", json!({"message": "e"})).await;
    let _worker = engine.start_worker(&[]).await;
    let counts = engine.wait_all_terminal(Duration::from_secs(20)).await;
    assert_eq!(counts.get("succeeded"), Some(&4), "{counts:?}");
    assert_eq!(counts.get("cancelled"), Some(&1), "{counts:?}");
}

#[tokio::test]
async fn a_killed_workers_job_runs_again_on_another_worker_within_30_seconds() {
    // Default lease TTL (10 s): this is the bound operators get.
    let app = app_with(&[]).await;
    let engine = Engine::connect(&app).await;
    let user = engine.create_user(None, None).await;
    let mut first = engine.start_worker(&[]).await;
    let job = engine.submit(user, "sleep", json!({"ms": 3000})).await;
    engine
        .wait_job(user, job.id, Duration::from_secs(10), |j| {
            j.state == JobState::Running
        })
        .await;
    assert_eq!(
        engine.worker_of(job.id).await.as_deref(),
        Some(first.id.as_str())
    );
    let second = engine.start_worker(&[]).await;
    first.process.signal(Signal::SIGKILL);
    first.process.wait_exit(Duration::from_secs(5)).await;
    let killed_at = Instant::now();

    let done = engine
        .wait_job(user, job.id, Duration::from_secs(30), |j| {
            j.state.is_terminal()
        })
        .await;
    assert_eq!(done.state, JobState::Succeeded, "{done:?}");
    assert_eq!(done.attempt, 2, "the interrupted run counts as an attempt");
    assert!(killed_at.elapsed() < Duration::from_secs(30));
    assert_eq!(
        engine.worker_of(job.id).await.as_deref(),
        Some(second.id.as_str())
    );
    let completions =
        finished_counts(&[&first.process, &second.process], "succeeded", &[job.id]).await;
    assert_eq!(completions.get(&job.id.to_string()), Some(&1));
}

#[tokio::test]
async fn a_job_that_kills_its_worker_fails_after_max_attempts_while_others_flow() {
    let app = app_with(&[("FAIRLANE_LEASE_TTL_MS", "1500")]).await;
    let engine = Engine::connect(&app).await;
    let crasher = engine.create_user(None, None).await;
    let bystander = engine.create_user(None, None).await;
    let mut workers = vec![
        engine.start_worker(&[]).await,
        engine.start_worker(&[]).await,
    ];
    let poison = engine.submit(crasher, "crash", json!({})).await;
    let echoes = engine
        .submit_many(bystander, "echo", json!({"message": "still here"}), 30)
        .await;

    let deadline = Instant::now() + Duration::from_secs(60);
    let mut crashes = 0;
    loop {
        // Replace dead workers, as a supervisor would.
        for worker in &mut workers {
            if worker.process.has_exited() {
                crashes += 1;
                *worker = engine.start_worker(&[]).await;
            }
        }
        let job = engine.get(crasher, poison.id).await;
        if job.state.is_terminal() {
            assert_eq!(job.state, JobState::Failed, "{job:?}");
            assert_eq!(job.attempt, 3);
            let error = job.error.expect("an error");
            assert_eq!(error.code, "interrupted");
            break;
        }
        assert!(Instant::now() < deadline, "poison job still {job:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(crashes, 3, "one crash per attempt, then never again");
    for id in echoes {
        let echo = engine
            .wait_job(bystander, id, Duration::from_secs(20), |j| {
                j.state == JobState::Succeeded
            })
            .await;
        // A bystander can share the poison job's first crash, never a second one: once
        // interrupted, the poison job runs alone.
        assert!(echo.attempt <= 2, "{echo:?}");
    }
    assert_running_counts_exact(&engine.db.get().await.unwrap()).await;
}

#[tokio::test]
async fn a_job_whose_last_attempt_was_interrupted_is_claimed_only_alone() {
    let app = app_with(&[]).await;
    let engine = Engine::connect(&app).await;
    let user = engine.create_user(Some(10), None).await;
    let plain = engine
        .submit(user, "echo", json!({"message": "plain"}))
        .await;
    let suspects = [
        engine.submit(user, "echo", json!({"message": "a"})).await,
        engine.submit(user, "echo", json!({"message": "b"})).await,
    ];
    for suspect in &suspects {
        engine
            .db
            .get()
            .await
            .unwrap()
            .execute(
                "UPDATE jobs SET attempt = 1, error_code = 'interrupted' WHERE id = $1",
                &[&suspect.id],
            )
            .await
            .unwrap();
    }
    let refs: Vec<jobs::JobRef> = [plain.id, suspects[0].id, suspects[1].id]
        .into_iter()
        .map(|id| jobs::JobRef { id, user_id: user })
        .collect();
    let claim = |exclusive: bool| {
        let refs = refs.clone();
        let engine = &engine;
        async move {
            jobs::lease::claim_batch(
                &engine.db,
                &engine.redis,
                &refs,
                "test-worker",
                Duration::from_secs(30),
                2,
                exclusive,
            )
            .await
            .unwrap()
        }
    };
    use jobs::lease::ClaimOutcome as C;

    // A worker holding other jobs takes the plain job and defers both suspects.
    let busy = claim(false).await;
    assert!(matches!(busy[0], C::Claimed(_)), "{busy:?}");
    assert!(matches!(busy[1..], [C::Deferred, C::Deferred]), "{busy:?}");
    // An idle worker takes exactly one suspect, alone, and defers the other.
    let idle = claim(true).await;
    assert!(
        matches!(idle[0], C::NotClaimable),
        "already running: {idle:?}"
    );
    let C::ClaimedAlone(alone) = &idle[1] else {
        panic!("{idle:?}")
    };
    assert_eq!((alone.job.id, alone.attempt), (suspects[0].id, 2));
    assert!(matches!(idle[2], C::Deferred), "{idle:?}");
    assert_eq!(
        engine.get(user, suspects[1].id).await.state,
        JobState::Queued
    );
}

#[tokio::test]
async fn a_claim_gives_every_proposal_its_own_verdict() {
    let app = app_with(&[]).await;
    let engine = Engine::connect(&app).await;
    let user = engine.create_user(Some(2), None).await;
    let other = engine.create_user(Some(1), None).await;
    let mine = engine
        .submit_many(user, "echo", json!({"message": "m"}), 3)
        .await;
    let theirs = engine.submit(other, "echo", json!({"message": "t"})).await;
    let cancelled = engine.submit(other, "echo", json!({"message": "c"})).await;
    jobs::request_cancel(&engine.db, &engine.redis, other, cancelled.id)
        .await
        .unwrap();
    let at = |id, user_id| jobs::JobRef { id, user_id };
    let proposals = [
        at(mine[0], user),
        at(theirs.id, other),
        at(mine[1], user),
        // Delivered twice in one batch.
        at(mine[0], user),
        // Over the owner's limit of 2.
        at(mine[2], user),
        at(cancelled.id, other),
        // Not a job; and a job proposed under the wrong owner.
        at(Uuid::now_v7(), user),
        at(mine[2], other),
    ];
    let verdicts = jobs::lease::claim_batch(
        &engine.db,
        &engine.redis,
        &proposals,
        "test-worker",
        Duration::from_secs(30),
        2,
        false,
    )
    .await
    .unwrap();
    use jobs::lease::ClaimOutcome as C;
    let names: Vec<&str> = verdicts
        .iter()
        .map(|v| match v {
            C::Claimed(_) => "claimed",
            C::ClaimedAlone(_) => "alone",
            C::QuotaFull => "quota",
            C::Deferred => "deferred",
            C::NotClaimable => "drop",
        })
        .collect();
    assert_eq!(
        names,
        [
            "claimed", "claimed", "claimed", "drop", "quota", "drop", "drop", "drop"
        ]
    );
    for (verdict, proposal) in verdicts.iter().zip(&proposals) {
        if let C::Claimed(claimed) = verdict {
            assert_eq!(claimed.job, *proposal);
            assert_eq!((claimed.kind.as_str(), claimed.attempt), ("echo", 1));
            let job = engine.get(proposal.user_id, proposal.id).await;
            assert_eq!(job.state, JobState::Running);
        }
    }
    assert_eq!(engine.get(user, mine[2]).await.state, JobState::Queued);
}

#[tokio::test]
async fn a_paused_worker_cannot_complete_a_job_it_lost() {
    let app = app_with(&[("FAIRLANE_LEASE_TTL_MS", "1500")]).await;
    let engine = Engine::connect(&app).await;
    let user = engine.create_user(None, None).await;
    let zombie = engine.start_worker(&[]).await;
    let job = engine.submit(user, "sleep", json!({"ms": 2500})).await;
    engine
        .wait_job(user, job.id, Duration::from_secs(10), |j| {
            j.state == JobState::Running
        })
        .await;
    let healthy = engine.start_worker(&[]).await;
    zombie.process.signal(Signal::SIGSTOP);

    let done = engine
        .wait_job(user, job.id, Duration::from_secs(30), |j| {
            j.state.is_terminal()
        })
        .await;
    assert_eq!(done.state, JobState::Succeeded, "{done:?}");
    assert_eq!(
        engine.worker_of(job.id).await.as_deref(),
        Some(healthy.id.as_str())
    );

    zombie.process.signal(Signal::SIGCONT);
    let rejected = zombie
        .process
        .wait_for_event(
            |e| {
                e["job_id"] == job.id.to_string()
                    && (e["message"] == "job completion rejected: lease lost"
                        || e["message"] == "job lease lost; stopped it without writing")
            },
            Duration::from_secs(10),
        )
        .await;
    assert!(
        rejected.is_some(),
        "zombie did not notice:\n{}",
        zombie.process.tail(20)
    );
    let completions =
        finished_counts(&[&zombie.process, &healthy.process], "succeeded", &[job.id]).await;
    assert_eq!(
        completions.get(&job.id.to_string()),
        Some(&1),
        "exactly one effect"
    );
    let after = engine.get(user, job.id).await;
    assert_eq!(after.result, done.result);
    assert_eq!(after.finished_at, done.finished_at);
}

/// The running counts the claim reads (`user_job_counts`, kept by triggers) equal the
/// running jobs, user by user, in one snapshot.
async fn assert_running_counts_exact(client: &tokio_postgres::Client) {
    let wrong: Vec<(Uuid, i64, i64)> = client
        .query(
            "SELECT u.id, COALESCE(c.running, 0)::bigint, \
                    (SELECT count(*) FROM jobs j WHERE j.user_id = u.id AND j.state = 'running') \
             FROM users u LEFT JOIN user_job_counts c ON c.user_id = u.id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .filter(|(_, counted, running)| counted != running)
        .collect();
    assert!(wrong.is_empty(), "(user, counter, running jobs): {wrong:?}");
}

#[tokio::test]
async fn the_per_user_running_quota_holds_across_workers() {
    let app = app_with(&[("FAIRLANE_WORKER_CONCURRENCY", "4")]).await;
    let engine = Engine::connect(&app).await;
    let limits: [(Option<i32>, i64); 3] = [(None, 2), (Some(1), 1), (Some(3), 3)];
    let mut users = HashMap::new();
    for (override_limit, effective) in limits {
        users.insert(engine.create_user(override_limit, None).await, effective);
    }
    let _workers = [
        engine.start_worker(&[]).await,
        engine.start_worker(&[]).await,
        engine.start_worker(&[]).await,
    ];
    for user in users.keys() {
        engine
            .submit_many(*user, "sleep", json!({"ms": 150}), 12)
            .await;
    }

    let client = engine.db.get().await.unwrap();
    let mut peak: HashMap<Uuid, i64> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let rows = client
            .query(
                "SELECT user_id, count(*) FROM jobs WHERE state = 'running' GROUP BY user_id",
                &[],
            )
            .await
            .unwrap();
        assert_running_counts_exact(&client).await;
        for row in &rows {
            let (user, running): (Uuid, i64) = (row.get(0), row.get(1));
            assert!(
                running <= users[&user],
                "user {user} ran {running} jobs, limit {}",
                users[&user]
            );
            let seen = peak.entry(user).or_default();
            *seen = (*seen).max(running);
        }
        let left: i64 = client
            .query_one(
                "SELECT count(*) FROM jobs WHERE state NOT IN ('succeeded', 'failed', 'cancelled')",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if left == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{left} jobs still not done");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(engine.count_by_state().await.get("succeeded"), Some(&36));
    // The quota was the bound, not a lack of parallelism: users reached their limits.
    for (user, limit) in &users {
        assert!(
            peak.get(user).copied().unwrap_or(0) >= (*limit).min(2),
            "peak {peak:?}"
        );
    }
}

#[tokio::test]
async fn workers_claim_ahead_for_short_jobs_but_never_hoard_long_ones() {
    let app = app_with(&[("FAIRLANE_WORKER_CONCURRENCY", "1")]).await;
    let engine = Engine::connect(&app).await;
    let user = engine.create_user(Some(1000), None).await;
    let workers = [
        engine.start_worker(&[]).await,
        engine.start_worker(&[]).await,
    ];
    // Short jobs: the workers (one run slot each) hold more jobs than they run.
    engine
        .submit_many(user, "echo", json!({"message": "short"}), 3000)
        .await;
    let client = engine.db.get().await.unwrap();
    let mut peak = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let row = client
            .query_one(
                "SELECT count(*) FILTER (WHERE state = 'running'), \
                        count(*) FILTER (WHERE state <> 'succeeded') FROM jobs",
                &[],
            )
            .await
            .unwrap();
        let (running, left): (i64, i64) = (row.get(0), row.get(1));
        peak = peak.max(running);
        if left == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{left} short jobs still not done"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(
        peak > 2,
        "never more jobs in hand than run slots: peak {peak}"
    );

    // Long jobs: a worker that claimed some ahead gives them back instead of making
    // them wait for its only slot, so the two workers share them.
    let long = engine
        .submit_many(user, "sleep", json!({"ms": 1500}), 4)
        .await;
    let mut ran_by: HashMap<String, usize> = HashMap::new();
    for id in &long {
        let job = engine
            .wait_job(user, *id, Duration::from_secs(30), |j| {
                j.state == JobState::Succeeded
            })
            .await;
        assert_eq!(
            job.attempt, 1,
            "a job given back unstarted keeps its attempt"
        );
        *ran_by
            .entry(engine.worker_of(*id).await.expect("ran somewhere"))
            .or_default() += 1;
    }
    for worker in &workers {
        assert_eq!(ran_by.get(&worker.id), Some(&2), "{ran_by:?}");
    }
}

#[tokio::test]
async fn a_big_backlog_of_one_user_does_not_delay_another_users_jobs() {
    let app = app_with(&[("FAIRLANE_WORKER_CONCURRENCY", "4")]).await;
    let engine = Engine::connect(&app).await;
    let heavy = engine.create_user(None, None).await;
    let light = engine.create_user(None, None).await;
    let _workers = [
        engine.start_worker(&[]).await,
        engine.start_worker(&[]).await,
    ];
    let backlog = engine
        .submit_many(heavy, "echo", json!({"message": "bulk"}), 5000)
        .await;
    assert_eq!(backlog.len(), 5000);
    // The backlog is draining (the heavy user holds its slots) when the light user arrives.
    let client = engine.db.get().await.unwrap();
    let heavy_succeeded = || async {
        client
            .query_one(
                "SELECT count(*) FROM jobs WHERE user_id = $1 AND state = 'succeeded'",
                &[&heavy],
            )
            .await
            .unwrap()
            .get::<_, i64>(0)
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while heavy_succeeded().await < 20 {
        assert!(Instant::now() < deadline, "the backlog does not drain");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let light_jobs = engine
        .submit_many(light, "echo", json!({"message": "me too"}), 10)
        .await;
    for id in &light_jobs {
        engine
            .wait_job(light, *id, Duration::from_secs(30), |j| {
                j.state == JobState::Succeeded
            })
            .await;
    }
    let heavy_done_before: i64 = client
        .query_one(
            "SELECT count(*) FROM jobs WHERE user_id = $1 AND state = 'succeeded' \
             AND finished_at <= (SELECT max(started_at) FROM jobs WHERE user_id = $2)",
            &[&heavy, &light],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        heavy_done_before < 250 && heavy_succeeded().await < 4900,
        "the light user's 10 jobs waited for {heavy_done_before} of the heavy user's jobs"
    );
}

#[tokio::test]
async fn jobs_survive_the_loss_of_everything_in_redis() {
    let mut redis = RedisServer::start();
    let app = TestApp::builder()
        .redis_url(redis.url())
        .env("FAIRLANE_DIAGNOSTIC_JOBS", "1")
        .spawn()
        .await;
    let engine = Engine::connect(&app).await;
    let users = [
        engine.create_user(None, None).await,
        engine.create_user(None, None).await,
    ];
    let workers = [
        engine.start_worker(&[]).await,
        engine.start_worker(&[]).await,
    ];
    let mut accepted = Vec::new();
    for user in users {
        accepted.extend(
            engine
                .submit_many(user, "sleep", json!({"ms": 100}), 20)
                .await,
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Persistence is off: the restarted server is empty (lanes, leases, live index).
    redis.kill();
    tokio::time::sleep(Duration::from_millis(500)).await;
    redis.restart();
    let counts = engine.wait_all_terminal(Duration::from_secs(60)).await;
    assert_eq!(
        counts.get("succeeded").copied(),
        Some(40),
        "lost jobs: {counts:?}"
    );
    let republished = workers.iter().any(|w| {
        w.process
            .events()
            .iter()
            .any(|e| e["message"] == "re-published queued jobs that had no live delivery")
    });
    assert!(
        republished,
        "the jobs finished without the reconciler: the fault came too late"
    );
    let completions = finished_counts(
        &[&workers[0].process, &workers[1].process],
        "succeeded",
        &accepted,
    )
    .await;
    for id in &accepted {
        assert_eq!(
            completions.get(&id.to_string()),
            Some(&1),
            "effects of {id}"
        );
    }
}

#[tokio::test]
async fn cancelling_stops_a_running_job_within_a_second_and_drops_a_queued_one() {
    let app = app_with(&[]).await;
    let engine = Engine::connect(&app).await;
    let user = engine.create_user(Some(1), None).await;
    let _worker = engine.start_worker(&[]).await;
    let long = engine.submit(user, "sleep", json!({"ms": 60000})).await;
    engine
        .wait_job(user, long.id, Duration::from_secs(10), |j| {
            j.state == JobState::Running
        })
        .await;
    let behind = engine.submit(user, "sleep", json!({"ms": 60000})).await;
    let waiting = jobs::waiting(&engine.redis, &engine.get(user, behind.id).await, 2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(waiting.reason, WaitReason::UserConcurrencyLimit);
    assert_eq!(
        (waiting.running, waiting.limit, waiting.position),
        (Some(1), Some(1), Some(1))
    );

    match jobs::request_cancel(&engine.db, &engine.redis, user, behind.id)
        .await
        .unwrap()
    {
        CancelOutcome::Cancelled(job) => assert_eq!(job.state, JobState::Cancelled),
        other => panic!("{other:?}"),
    }
    let asked = Instant::now();
    match jobs::request_cancel(&engine.db, &engine.redis, user, long.id)
        .await
        .unwrap()
    {
        CancelOutcome::Requested(job) => assert_eq!(job.state, JobState::Running),
        other => panic!("{other:?}"),
    }
    let stopped = engine
        .wait_job(user, long.id, Duration::from_secs(5), |j| {
            j.state.is_terminal()
        })
        .await;
    assert_eq!(stopped.state, JobState::Cancelled);
    assert!(
        asked.elapsed() < Duration::from_millis(1500),
        "took {:?}",
        asked.elapsed()
    );
    assert!(matches!(
        jobs::request_cancel(&engine.db, &engine.redis, user, long.id)
            .await
            .unwrap(),
        CancelOutcome::AlreadyFinished(_)
    ));
    // The freed slot serves new work.
    let next = engine
        .submit(user, "echo", json!({"message": "after"}))
        .await;
    engine
        .wait_job(user, next.id, Duration::from_secs(10), |j| {
            j.state == JobState::Succeeded
        })
        .await;
}

#[tokio::test]
async fn sigterm_lets_short_jobs_finish_and_releases_the_rest_without_burning_an_attempt() {
    let app = app_with(&[("FAIRLANE_SHUTDOWN_GRACE_SECS", "2")]).await;
    let engine = Engine::connect(&app).await;
    let user = engine.create_user(None, None).await;
    let mut worker = engine.start_worker(&[]).await;
    let short = engine.submit(user, "sleep", json!({"ms": 800})).await;
    let long = engine.submit(user, "sleep", json!({"ms": 60000})).await;
    for id in [short.id, long.id] {
        engine
            .wait_job(user, id, Duration::from_secs(10), |j| {
                j.state == JobState::Running
            })
            .await;
    }
    worker.process.signal(Signal::SIGTERM);
    let status = worker.process.wait_exit(Duration::from_secs(10)).await;
    assert!(status.success(), "{status:?}:\n{}", worker.process.tail(20));
    worker
        .process
        .wait_for_message("worker stopped", Duration::from_secs(1))
        .await;
    assert_eq!(engine.get(user, short.id).await.state, JobState::Succeeded);
    let released = engine.get(user, long.id).await;
    assert_eq!(released.state, JobState::Queued, "{released:?}");
    assert_eq!(released.attempt, 0);

    // The released job is picked up by the next worker.
    let _next = engine.start_worker(&[]).await;
    engine
        .wait_job(user, long.id, Duration::from_secs(10), |j| {
            j.state == JobState::Running
        })
        .await;
}

#[tokio::test]
async fn a_committed_job_redis_never_heard_of_runs_after_the_dispatch_check() {
    let app = app_with(&[]).await;
    let engine = Engine::connect(&app).await;
    let user = engine.create_user(None, None).await;
    // Published jobs keep Redis busy (and live) while one job is committed, never
    // published: an API that crashed between its commit and its publish.
    let published = engine
        .submit_many(user, "sleep", json!({"ms": 50}), 10)
        .await;
    let new_job = jobs::NewJob::validate("echo", json!({"message": "unpublished"}), None, true)
        .expect("valid job");
    let mut client = engine.db.get().await.unwrap();
    let tx = client.transaction().await.unwrap();
    let unpublished = jobs::insert(&tx, user, &[new_job], &engine.settings)
        .await
        .unwrap()
        .remove(0)
        .job
        .id;
    tx.commit().await.unwrap();
    let worker = engine.start_worker(&[]).await;
    // The check at the runner's first pass sees fewer live jobs than queued ones.
    engine
        .wait_job(user, unpublished, Duration::from_secs(15), |j| {
            j.state == JobState::Succeeded
        })
        .await;
    for id in published {
        engine
            .wait_job(user, id, Duration::from_secs(15), |j| {
                j.state == JobState::Succeeded
            })
            .await;
    }
    assert!(
        worker
            .process
            .events()
            .iter()
            .any(|e| e["message"] == "re-published queued jobs that had no live delivery"),
        "the reconciler did not run"
    );
}

#[tokio::test]
async fn a_job_accepted_while_redis_is_down_runs_once_redis_is_back() {
    let mut redis = RedisServer::start();
    let app = TestApp::builder()
        .redis_url(redis.url())
        .env("FAIRLANE_DIAGNOSTIC_JOBS", "1")
        .spawn()
        .await;
    let engine = Engine::connect(&app).await;
    let user = engine.create_user(None, None).await;
    let worker = engine.start_worker(&[]).await;
    redis.kill();
    // Committed in Postgres, not published: the submission is accepted regardless.
    let accepted = match engine
        .try_submit(user, &[("echo", json!({"message": "outage"}), None)])
        .await
    {
        Err(JobError::Infra(_)) => {
            let (jobs, _) = jobs::list(&engine.db, user, None, None, 10, None)
                .await
                .unwrap();
            assert_eq!(jobs.len(), 1);
            jobs[0].id
        }
        other => panic!("publishing with redis down should fail: {other:?}"),
    };
    assert_eq!(engine.get(user, accepted).await.state, JobState::Queued);
    redis.restart();
    engine
        .wait_job(user, accepted, Duration::from_secs(30), |j| {
            j.state == JobState::Succeeded
        })
        .await;
    let completions = finished_counts(&[&worker.process], "succeeded", &[accepted]).await;
    assert_eq!(completions.get(&accepted.to_string()), Some(&1));
}

#[tokio::test]
async fn killing_and_stopping_workers_under_load_loses_and_duplicates_nothing() {
    let app = app_with(&[
        ("FAIRLANE_LEASE_TTL_MS", "1500"),
        ("FAIRLANE_SHUTDOWN_GRACE_SECS", "1"),
        ("FAIRLANE_WORKER_CONCURRENCY", "4"),
    ])
    .await;
    let engine = Engine::connect(&app).await;
    let users = [
        engine.create_user(None, None).await,
        engine.create_user(Some(3), None).await,
    ];
    let limits: HashMap<Uuid, i64> = [(users[0], 2), (users[1], 3)].into();
    let mut retired = Vec::new();
    let mut workers = vec![
        engine.start_worker(&[]).await,
        engine.start_worker(&[]).await,
        engine.start_worker(&[]).await,
    ];
    let mut accepted = Vec::new();
    for user in users {
        accepted.extend(
            engine
                .submit_many(user, "sleep", json!({"ms": 60}), 60)
                .await,
        );
    }

    let client = engine.db.get().await.unwrap();
    let check_quota = || async {
        for row in client
            .query(
                "SELECT user_id, count(*) FROM jobs WHERE state = 'running' GROUP BY user_id",
                &[],
            )
            .await
            .unwrap()
        {
            let (user, running): (Uuid, i64) = (row.get(0), row.get(1));
            assert!(running <= limits[&user], "{user} ran {running}");
        }
    };
    let succeeded = || async {
        client
            .query_one("SELECT count(*) FROM jobs WHERE state = 'succeeded'", &[])
            .await
            .unwrap()
            .get::<_, i64>(0)
    };
    while succeeded().await < 30 {
        check_quota().await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Mid-drain: one worker dies hard, one stops gracefully; both are replaced.
    let mut killed = workers.remove(0);
    killed.process.signal(Signal::SIGKILL);
    let mut stopped = workers.remove(0);
    stopped.process.signal(Signal::SIGTERM);
    for _ in 0..20 {
        check_quota().await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        stopped
            .process
            .wait_exit(Duration::from_secs(10))
            .await
            .success()
    );
    killed.process.wait_exit(Duration::from_secs(5)).await;
    retired.push(killed);
    retired.push(stopped);
    workers.push(engine.start_worker(&[]).await);
    workers.push(engine.start_worker(&[]).await);

    let deadline = Instant::now() + Duration::from_secs(60);
    while succeeded().await < 120 {
        check_quota().await;
        assert!(
            Instant::now() < deadline,
            "{:?}",
            engine.count_by_state().await
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Lost: accepted but not succeeded, from the record (Postgres).
    let done: Vec<Uuid> = client
        .query("SELECT id FROM jobs WHERE state = 'succeeded'", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let lost: Vec<_> = accepted.iter().filter(|id| !done.contains(id)).collect();
    assert!(lost.is_empty(), "lost: {lost:?}");
    // Duplicate effects: fenced completions, from every worker's history (logs).
    let all: Vec<_> = workers.iter().chain(&retired).map(|w| &w.process).collect();
    let completions = finished_counts(&all, "succeeded", &accepted).await;
    let duplicated: Vec<_> = completions.iter().filter(|(_, n)| **n > 1).collect();
    assert!(duplicated.is_empty(), "duplicate effects: {duplicated:?}");
    assert_eq!(engine.count_by_state().await.get("succeeded"), Some(&120));
    // Claims, completions, releases at SIGTERM and rescues all kept the counts exact.
    assert_running_counts_exact(&client).await;
}

#[tokio::test]
async fn a_job_over_its_time_limit_fails_with_timeout_and_is_not_retried() {
    let app = app_with(&[]).await;
    let engine = Engine::connect(&app).await;
    let user = engine.create_user(None, None).await;
    let job = engine.submit(user, "sleep", json!({"ms": 20000})).await;
    // The limit comes from the row (set from the kind at submission); shorten it.
    engine
        .db
        .get()
        .await
        .unwrap()
        .execute("UPDATE jobs SET timeout_ms = 300 WHERE id = $1", &[&job.id])
        .await
        .unwrap();
    let _worker = engine.start_worker(&[]).await;
    let failed = engine
        .wait_job(user, job.id, Duration::from_secs(10), |j| {
            j.state.is_terminal()
        })
        .await;
    assert_eq!(failed.state, JobState::Failed, "{failed:?}");
    assert_eq!(
        failed.error.as_ref().map(|e| e.code.as_str()),
        Some("timeout")
    );
    assert_eq!(failed.attempt, 1);
}
