//! The Jobs HTTP API against the real API and workers: submission, idempotency,
//! validation, quotas, listing, cancellation, the event stream, isolation, and an API
//! crash between commit and response.

use std::time::Duration;

use fairlane_tests::app::{TestResponse, TestUser, read};
use fairlane_tests::{Binary, TestApp, TestProcess};
use futures::StreamExt;
use nix::sys::signal::Signal;
use reqwest::Method;
use serde_json::{Value, json};

async fn app() -> TestApp {
    TestApp::builder()
        .env("FAIRLANE_DIAGNOSTIC_JOBS", "1")
        .spawn()
        .await
}

async fn submit(app: &TestApp, user: &TestUser, body: Value) -> TestResponse {
    app.request_as(&user.token, Method::POST, "/api/v1/jobs", Some(&body))
        .await
}

async fn wait_state(app: &TestApp, user: &TestUser, id: &str, state: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let job = app
            .get_as(&user.token, &format!("/api/v1/jobs/{id}"))
            .await
            .json["job"]
            .clone();
        if job["state"] == state || tokio::time::Instant::now() > deadline {
            assert_eq!(job["state"], state, "{job}");
            return job;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_echo_job_is_accepted_runs_and_reports_its_result() {
    let app = app().await;
    let user = app.signed_in_user().await;
    let _worker = app.start_worker().await;
    let created = submit(
        &app,
        &user,
        json!({"kind": "echo", "params": {"message": "hello"}}),
    )
    .await;
    assert_eq!(created.status, 202, "{}", created.text);
    let job = &created.json["job"];
    for field in [
        "id",
        "kind",
        "state",
        "params",
        "attempt",
        "max_attempts",
        "progress",
        "waiting",
        "error",
        "result",
        "created_at",
        "started_at",
        "finished_at",
    ] {
        assert!(job.get(field).is_some(), "job lacks {field}: {job}");
    }
    assert_eq!(job["kind"], "echo");
    assert!(job.get("user_id").is_none());
    let id = job["id"].as_str().unwrap();
    let done = wait_state(&app, &user, id, "succeeded").await;
    assert_eq!(done["result"]["summary"]["message"], "hello");
    assert_eq!(done["attempt"], 1);
    assert!(done["finished_at"].is_string() && done["error"].is_null());
    let audit = app.get_as(&user.token, "/api/v1/me/audit").await;
    assert!(audit.text.contains("job.submit"), "{}", audit.text);
}

#[tokio::test]
async fn idempotency_keys_return_the_same_job_per_user() {
    let app = app().await;
    let alice = app.signed_in_user().await;
    let bob = app.signed_in_user().await;
    let body = json!({"kind": "echo", "params": {"message": "once"}, "idempotency_key": "k-1"});
    let first = submit(&app, &alice, body.clone()).await;
    assert_eq!(first.status, 202);
    let again = submit(&app, &alice, body.clone()).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.json["job"]["id"], first.json["job"]["id"]);
    let header = app
        .client
        .post(app.url("/api/v1/jobs"))
        .bearer_auth(&alice.token)
        .header("Idempotency-Key", "k-1")
        .json(&json!({"kind": "echo", "params": {"message": "once"}}))
        .send()
        .await
        .unwrap();
    let header = read(header).await;
    assert_eq!(header.status, 200);
    assert_eq!(header.json["job"]["id"], first.json["job"]["id"]);
    let other = submit(&app, &bob, body).await;
    assert_eq!(other.status, 202, "another user's key space is separate");
    assert_ne!(other.json["job"]["id"], first.json["job"]["id"]);
}

#[tokio::test]
async fn bad_submissions_name_the_offending_field_and_change_nothing() {
    let app = app().await;
    let user = app.signed_in_user().await;
    for (body, field) in [
        (json!({"kind": "nope", "params": {}}), "kind"),
        (json!({"kind": "sleep", "params": {"ms": -5}}), "params.ms"),
        (json!({"kind": "sleep", "params": {"ms": "5"}}), "params.ms"),
        (
            json!({"kind": "echo", "params": {"message": "x", "extra": 1}}),
            "params.extra",
        ),
        (json!({"kind": "echo", "params": []}), "params"),
        (
            json!({"kind": "echo", "params": {"message": "x"}, "idempotency_key": ""}),
            "idempotency_key",
        ),
    ] {
        let response = submit(&app, &user, body.clone()).await;
        response.assert_error(422, "validation_failed");
        assert_eq!(
            response.json["error"]["details"]["field"], field,
            "{body}: {}",
            response.text
        );
    }
    submit(
        &app,
        &user,
        json!({"kind": "echo", "params": {}, "owner": "x"}),
    )
    .await
    .assert_error(422, "validation_failed");
    let batch = app
        .request_as(
            &user.token,
            Method::POST,
            "/api/v1/jobs/batch",
            Some(&json!({"jobs": [
                {"kind": "echo", "params": {"message": "a"}},
                {"kind": "echo", "params": {"message": "b"}},
                {"kind": "echo", "params": {"message": 3}},
            ]})),
        )
        .await;
    batch.assert_error(422, "validation_failed");
    assert_eq!(
        batch.json["error"]["details"]["field"],
        "jobs[2].params.message"
    );
    let too_many: Vec<Value> = (0..1001)
        .map(|i| json!({"kind": "echo", "params": {"message": i.to_string()}}))
        .collect();
    app.request_as(
        &user.token,
        Method::POST,
        "/api/v1/jobs/batch",
        Some(&json!({"jobs": too_many})),
    )
    .await
    .assert_error(422, "validation_failed");
    let listed = app.get_as(&user.token, "/api/v1/jobs").await;
    assert!(
        listed.json["jobs"].as_array().unwrap().is_empty(),
        "nothing was created: {}",
        listed.text
    );
}

#[tokio::test]
async fn batches_list_pages_and_filters() {
    let app = app().await;
    let user = app.signed_in_user().await;
    let jobs: Vec<Value> = (0..5)
        .map(|i| json!({"kind": "echo", "params": {"message": i.to_string()}}))
        .collect();
    let mut all = jobs.clone();
    all.push(json!({"kind": "sleep", "params": {"ms": 1}}));
    let batch = app
        .request_as(
            &user.token,
            Method::POST,
            "/api/v1/jobs/batch",
            Some(&json!({"jobs": all})),
        )
        .await;
    assert_eq!(batch.status, 202, "{}", batch.text);
    assert_eq!(batch.json["jobs"].as_array().unwrap().len(), 6);

    let page1 = app.get_as(&user.token, "/api/v1/jobs?limit=4").await;
    assert_eq!(page1.json["jobs"].as_array().unwrap().len(), 4);
    let cursor = page1.json["next_cursor"].as_str().unwrap().to_owned();
    let page2 = app
        .get_as(
            &user.token,
            &format!("/api/v1/jobs?limit=4&cursor={cursor}"),
        )
        .await;
    assert_eq!(page2.json["jobs"].as_array().unwrap().len(), 2);
    assert!(page2.json["next_cursor"].is_null());
    let ids: std::collections::HashSet<String> = page1.json["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .chain(page2.json["jobs"].as_array().unwrap())
        .map(|j| j["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 6, "pages overlap");
    assert_eq!(
        app.get_as(&user.token, "/api/v1/jobs?kind=sleep")
            .await
            .json["jobs"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        app.get_as(&user.token, "/api/v1/jobs?state=queued")
            .await
            .json["jobs"]
            .as_array()
            .unwrap()
            .len(),
        6
    );
    app.get_as(&user.token, "/api/v1/jobs?state=done")
        .await
        .assert_error(422, "validation_failed");
    app.get_as(&user.token, "/api/v1/jobs?cursor=garbage")
        .await
        .assert_error(422, "validation_failed");
    app.get_as(&user.token, "/api/v1/jobs?limit=100000")
        .await
        .assert_error(422, "validation_failed");
}

#[tokio::test]
async fn the_queued_quota_answers_429() {
    let app = TestApp::builder()
        .env("FAIRLANE_DIAGNOSTIC_JOBS", "1")
        .env("FAIRLANE_MAX_QUEUED_JOBS", "3")
        .spawn()
        .await;
    let user = app.signed_in_user().await;
    for i in 0..3 {
        assert_eq!(
            submit(
                &app,
                &user,
                json!({"kind": "echo", "params": {"message": i.to_string()}})
            )
            .await
            .status,
            202
        );
    }
    submit(
        &app,
        &user,
        json!({"kind": "echo", "params": {"message": "x"}}),
    )
    .await
    .assert_error(429, "quota_exceeded");
    let me = app.get_as(&user.token, "/api/v1/me").await;
    assert_eq!(me.json["usage"]["queued_jobs"], 3);
}

#[tokio::test]
async fn waiting_jobs_say_why_and_can_be_cancelled_once() {
    let app = app().await;
    let user = app.signed_in_user().await;
    let created = submit(&app, &user, json!({"kind": "sleep", "params": {"ms": 10}})).await;
    let id = created.json["job"]["id"].as_str().unwrap().to_owned();
    let job = app
        .get_as(&user.token, &format!("/api/v1/jobs/{id}"))
        .await
        .json["job"]
        .clone();
    assert_eq!(job["state"], "queued");
    assert!(job["waiting"]["reason"].is_string(), "{job}");
    assert_eq!(job["waiting"]["position"], 1, "{job}");

    let cancelled = app
        .request_as(
            &user.token,
            Method::POST,
            &format!("/api/v1/jobs/{id}/cancel"),
            None,
        )
        .await;
    assert_eq!(cancelled.status, 202, "{}", cancelled.text);
    assert_eq!(cancelled.json["job"]["state"], "cancelled");
    app.request_as(
        &user.token,
        Method::POST,
        &format!("/api/v1/jobs/{id}/cancel"),
        None,
    )
    .await
    .assert_error(409, "conflict");
}

#[tokio::test]
async fn a_running_job_can_be_cancelled_and_stops() {
    let app = app().await;
    let user = app.signed_in_user().await;
    let _worker = app.start_worker().await;
    let created = submit(
        &app,
        &user,
        json!({"kind": "sleep", "params": {"ms": 60000}}),
    )
    .await;
    let id = created.json["job"]["id"].as_str().unwrap().to_owned();
    wait_state(&app, &user, &id, "running").await;
    let started = std::time::Instant::now();
    let response = app
        .request_as(
            &user.token,
            Method::POST,
            &format!("/api/v1/jobs/{id}/cancel"),
            None,
        )
        .await;
    assert_eq!(response.status, 202);
    wait_state(&app, &user, &id, "cancelled").await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn another_users_job_is_404_everywhere() {
    let app = app().await;
    let alice = app.signed_in_user().await;
    let bob = app.signed_in_user().await;
    let id = submit(
        &app,
        &alice,
        json!({"kind": "echo", "params": {"message": "mine"}}),
    )
    .await
    .json["job"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.get_as(&bob.token, &format!("/api/v1/jobs/{id}"))
        .await
        .assert_error(404, "not_found");
    app.get_as(&bob.token, &format!("/api/v1/jobs/{id}/events"))
        .await
        .assert_error(404, "not_found");
    app.request_as(
        &bob.token,
        Method::POST,
        &format!("/api/v1/jobs/{id}/cancel"),
        None,
    )
    .await
    .assert_error(404, "not_found");
    assert!(
        app.get_as(&bob.token, "/api/v1/jobs").await.json["jobs"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    app.get_as(&bob.token, "/api/v1/jobs/not-a-uuid")
        .await
        .assert_error(404, "not_found");
    assert_eq!(
        app.get_as(&alice.token, &format!("/api/v1/jobs/{id}"))
            .await
            .json["job"]["state"],
        "queued"
    );
}

#[tokio::test]
async fn the_event_stream_sends_each_change_and_closes_at_the_end() {
    let app = app().await;
    let user = app.signed_in_user().await;
    let created = submit(&app, &user, json!({"kind": "sleep", "params": {"ms": 300}})).await;
    let id = created.json["job"]["id"].as_str().unwrap().to_owned();
    let response = app
        .client
        .get(app.url(&format!("/api/v1/jobs/{id}/events")))
        .bearer_auth(&user.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let _worker = app.start_worker().await;
    let mut body = String::new();
    let mut stream = response.bytes_stream();
    let read_all = async {
        while let Some(chunk) = stream.next().await {
            body.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read_all)
        .await
        .expect("the stream closes after the job ends");
    let states: Vec<String> = body
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(|d| {
            serde_json::from_str::<Value>(d.trim()).unwrap()["state"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(body.contains("event: job"), "{body}");
    assert_eq!(
        states.first().map(String::as_str),
        Some("queued"),
        "{states:?}"
    );
    assert!(states.contains(&"running".to_owned()), "{states:?}");
    assert_eq!(
        states.last().map(String::as_str),
        Some("succeeded"),
        "{states:?}"
    );
}

#[tokio::test]
async fn a_client_retrying_after_an_api_crash_gets_the_committed_job_once() {
    let mut app = app().await;
    let user = app.signed_in_user().await;
    let body = json!({"kind": "echo", "params": {"message": "exactly once"}, "idempotency_key": "crash-retry"});
    let first = submit(&app, &user, body.clone()).await;
    assert_eq!(first.status, 202);
    // The API dies right after answering; the client did not see the answer and retries
    // against a new API process.
    app.api.signal(Signal::SIGKILL);
    app.api.wait_exit(Duration::from_secs(5)).await;
    let replacement = TestProcess::spawn(Binary::Api, &[], app.env());
    let addr = replacement
        .wait_for_message("listening", Duration::from_secs(30))
        .await["addr"]
        .as_str()
        .unwrap()
        .to_owned();
    let retry = read(
        app.client
            .post(format!("http://{addr}/api/v1/jobs"))
            .bearer_auth(&user.token)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(retry.status, 200, "{}", retry.text);
    assert_eq!(retry.json["job"]["id"], first.json["job"]["id"]);
    let db = app.db.client().await;
    let count: i64 = db
        .query_one(
            "SELECT count(*) FROM jobs WHERE idempotency_key = 'crash-retry'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 1);
}

#[tokio::test]
async fn a_deactivated_users_queued_jobs_do_not_run() {
    let app = app().await;
    let admin = app.signed_in_user().await;
    assert!(
        app.run_cli(&["create-admin", "--email", &admin.email])
            .await
            .0
            .success()
    );
    let user = app.signed_in_user().await;
    let id = submit(
        &app,
        &user,
        json!({"kind": "echo", "params": {"message": "never"}}),
    )
    .await
    .json["job"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let deactivate = app
        .request_as(
            &admin.token,
            Method::POST,
            &format!("/api/v1/admin/users/{}/deactivate", user.id),
            None,
        )
        .await;
    assert_eq!(deactivate.status, 204);
    let _worker = app.start_worker().await;
    let control = submit(
        &app,
        &admin,
        json!({"kind": "echo", "params": {"message": "runs"}}),
    )
    .await
    .json["job"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_state(&app, &admin, &control, "succeeded").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let db = app.db.client().await;
    let (state, attempt): (String, i32) = {
        let row = db
            .query_one(
                "SELECT state, attempt FROM jobs WHERE id = $1::text::uuid",
                &[&id],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_ne!(state, "succeeded");
    assert_eq!(attempt, 0, "the job was never claimed");
}

#[tokio::test]
async fn metrics_and_admin_stats_show_jobs_queue_and_workers() {
    let app = app().await;
    let admin = app.signed_in_user().await;
    assert!(
        app.run_cli(&["create-admin", "--email", &admin.email])
            .await
            .0
            .success()
    );
    let _worker = app.start_worker().await;
    let id = submit(
        &app,
        &admin,
        json!({"kind": "echo", "params": {"message": "m"}}),
    )
    .await
    .json["job"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_state(&app, &admin, &id, "succeeded").await;
    for i in 0..3 {
        submit(
            &app,
            &admin,
            json!({"kind": "sleep", "params": {"ms": 20000 + i}}),
        )
        .await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let stats = loop {
        let stats = app.get_as(&admin.token, "/api/v1/admin/stats").await;
        if !stats.json["workers"].as_array().unwrap().is_empty()
            || tokio::time::Instant::now() > deadline
        {
            break stats;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        stats.json["workers"].as_array().unwrap().len(),
        1,
        "{}",
        stats.text
    );
    assert!(stats.json["workers"][0]["worker_id"].is_string());
    assert_eq!(
        stats.json["jobs_by_state"]["succeeded"], 1,
        "{}",
        stats.text
    );
    let queue = &stats.json["queue"];
    assert_eq!(
        queue["queued"].as_i64().unwrap() + queue["running"].as_i64().unwrap(),
        3,
        "{}",
        stats.text
    );

    let metrics = app.get("/metrics").await.text;
    assert!(
        metrics.contains("fairlane_jobs{kind=\"echo\",state=\"succeeded\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("fairlane_workers_alive 1"), "{metrics}");
    assert!(metrics.contains("fairlane_queue_depth"), "{metrics}");
    assert!(!metrics.contains(&admin.id), "no per-user labels");
}
