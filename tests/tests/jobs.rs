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
use fairlane_tests::redis_server::RedisServer;
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
    let _worker = engine.start_worker(&[]).await;

    let job = engine.submit(owner, "echo", json!({"message": "hello"})).await;
    assert_eq!(job.state, JobState::Queued);
    let done = engine
        .wait_job(owner, job.id, Duration::from_secs(10), |j| j.state.is_terminal())
        .await;
    assert_eq!(done.state, JobState::Succeeded, "{done:?}");
    assert_eq!(done.result, Some(json!({"summary": {"message": "hello"}, "files": []})));
    assert_eq!(done.attempt, 1);
    assert!(done.error.is_none() && done.started_at.is_some() && done.finished_at.is_some());

    let shape = serde_json::to_value(&done).unwrap();
    assert_eq!(shape["state"], "succeeded");
    assert_eq!(shape["waiting"], serde_json::Value::Null);

    assert!(jobs::get(&engine.db, stranger, job.id).await.unwrap().is_none());
    let (theirs, _) = jobs::list(&engine.db, stranger, None, None, 50, None).await.unwrap();
    assert!(theirs.is_empty());
    assert!(matches!(
        jobs::request_cancel(&engine.db, &engine.redis, stranger, job.id).await.unwrap(),
        CancelOutcome::NotFound
    ));
    assert!(matches!(
        jobs::request_cancel(&engine.db, &engine.redis, owner, job.id).await.unwrap(),
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
        ids.push(engine.submit(user, "echo", json!({"message": format!("m{i}")})).await.id);
    }
    ids.reverse();
    let (page1, cursor) = jobs::list(&engine.db, user, None, None, 3, None).await.unwrap();
    let cursor = cursor.expect("a second page");
    let (page2, end) = jobs::list(&engine.db, user, None, None, 3, Some(&cursor)).await.unwrap();
    assert!(end.is_none());
    let listed: Vec<Uuid> = page1.iter().chain(&page2).map(|j| j.id).collect();
    assert_eq!(listed, ids);
    let (sleeps, _) = jobs::list(&engine.db, user, None, Some("sleep"), 50, None).await.unwrap();
    assert_eq!(sleeps.len(), 1);
    assert!(matches!(
        jobs::list(&engine.db, user, None, None, 3, Some("garbage")).await,
        Err(JobError::InvalidCursor)
    ));
    engine
        .wait_job(user, sleeper.id, Duration::from_secs(10), |j| j.state == JobState::Succeeded)
        .await;
    let (done, _) = jobs::list(&engine.db, user, Some(JobState::Succeeded), None, 50, None).await.unwrap();
    assert_eq!(done.len(), 5);
}
