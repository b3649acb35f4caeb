//! Postgres crashes and comes back: the API answers no 2xx for work it could not commit,
//! reports the outage in readiness, and both API and worker pools recover without a
//! restart; every job the API accepted runs.

use std::time::Duration;

use fairlane_tests::TestApp;
use fairlane_tests::postgres_server::PostgresServer;
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn pools_recover_after_a_postgres_crash_and_no_uncommitted_work_is_acknowledged() {
    let pg = PostgresServer::start();
    let app = TestApp::builder()
        .env("FAIRLANE_DATABASE_URL", pg.url())
        .env("FAIRLANE_DIAGNOSTIC_JOBS", "1")
        .env("FAIRLANE_DATABASE_TIMEOUT_MS", "1000")
        .spawn()
        .await;
    let user = app.signed_in_user().await;
    let worker = app.start_worker().await;
    let submit = |message: String| {
        let body = json!({"kind": "echo", "params": {"message": message}});
        let app = &app;
        let token = user.token.clone();
        async move {
            app.request_as(&token, Method::POST, "/api/v1/jobs", Some(&body))
                .await
        }
    };

    let mut accepted: Vec<String> = Vec::new();
    for i in 0..10 {
        let response = submit(format!("before {i}")).await;
        assert_eq!(response.status, 202, "{}", response.text);
        accepted.push(response.json["job"]["id"].as_str().unwrap().to_owned());
    }

    pg.crash();
    let mut refused = 0;
    for i in 0..5 {
        let response = submit(format!("during {i}")).await;
        assert!(
            !response.status.is_success(),
            "2xx while Postgres is down: {}",
            response.text
        );
        assert!(
            response.status.is_server_error() || response.status == 401,
            "{}: {}",
            response.status,
            response.text
        );
        refused += 1;
    }
    let ready = app.get("/readyz").await;
    ready.assert_error(503, "unavailable");
    assert!(
        ready.json["error"]["details"]["postgres"]
            .as_str()
            .unwrap()
            .starts_with("down"),
        "{}",
        ready.text
    );

    pg.restart();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let response = submit("after restart".to_owned()).await;
        if response.status == 202 {
            accepted.push(response.json["job"]["id"].as_str().unwrap().to_owned());
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the API did not recover: {}",
            response.text
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    for i in 0..10 {
        let response = submit(format!("after {i}")).await;
        assert_eq!(response.status, 202, "{}", response.text);
        accepted.push(response.json["job"]["id"].as_str().unwrap().to_owned());
    }

    // Every accepted job runs to success; nothing else exists.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let listed = app.get_as(&user.token, "/api/v1/jobs?limit=200").await;
        let jobs: Vec<Value> = listed.json["jobs"].as_array().cloned().unwrap_or_default();
        let done = jobs.iter().filter(|j| j["state"] == "succeeded").count();
        if done == accepted.len() {
            assert_eq!(
                jobs.len(),
                accepted.len(),
                "refused submissions must not exist ({refused} refused)"
            );
            for job in &jobs {
                assert!(accepted.contains(&job["id"].as_str().unwrap().to_owned()));
            }
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "jobs did not all finish: {}",
            listed.text
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        worker
            .events()
            .iter()
            .all(|e| e["message"] != "worker stopped"),
        "the worker survived"
    );
}
