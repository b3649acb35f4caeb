//! Foundation behaviour of the real binaries: health and readiness, the error envelope,
//! request ids, metrics, security headers, configuration errors and clean shutdown.

use std::collections::HashMap;
use std::time::Duration;

use fairlane_tests::redis_server::RedisServer;
use fairlane_tests::{Binary, TestApp, TestProcess};
use nix::sys::signal::Signal;
use reqwest::Method;

#[tokio::test]
async fn healthz_and_readyz_answer_200_when_everything_is_up() {
    let app = TestApp::spawn().await;
    let health = app.get("/healthz").await;
    assert_eq!(health.status, 200);
    assert_eq!(health.json["status"], "ok");

    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, 200, "{}", ready.text);
    assert_eq!(ready.json["checks"]["postgres"], "ok");
    assert_eq!(ready.json["checks"]["redis"], "ok");
}

#[tokio::test]
async fn readiness_turns_503_naming_redis_while_it_is_down_and_recovers() {
    let mut redis = RedisServer::start();
    let app = TestApp::builder().redis_url(redis.url()).spawn().await;
    assert_eq!(app.get("/readyz").await.status, 200);

    redis.kill();
    let down = app
        .poll("/readyz", Duration::from_secs(10), |r| r.status == 503)
        .await;
    down.assert_error(503, "unavailable");
    assert!(
        down.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("redis"),
        "{}",
        down.text
    );
    assert_eq!(down.json["error"]["details"]["postgres"], "ok");
    assert!(
        down.json["error"]["details"]["redis"]
            .as_str()
            .unwrap()
            .starts_with("down"),
        "{}",
        down.text
    );
    // Liveness does not depend on Redis.
    assert_eq!(app.get("/healthz").await.status, 200);

    redis.restart();
    let up = app
        .poll("/readyz", Duration::from_secs(15), |r| r.status == 200)
        .await;
    assert_eq!(up.status, 200, "readiness did not recover: {}", up.text);
}

#[tokio::test]
async fn unknown_routes_and_methods_get_the_error_envelope() {
    let app = TestApp::spawn().await;
    app.get("/no/such/route")
        .await
        .assert_error(404, "not_found");
    app.get("/api/v1/nothing-here")
        .await
        .assert_error(404, "not_found");
    app.request(Method::DELETE, "/healthz", None)
        .await
        .assert_error(405, "method_not_allowed");
}

#[tokio::test]
async fn every_response_carries_a_request_id_that_appears_in_the_logs() {
    let app = TestApp::spawn().await;
    let generated = app.get("/healthz").await;
    let id = generated
        .header("x-request-id")
        .expect("x-request-id header")
        .to_owned();
    assert!(id.len() >= 16, "{id}");

    let echoed = app
        .client
        .get(app.url("/no/such/route"))
        .header("x-request-id", "client-chosen-id-42")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "client-chosen-id-42");

    let hostile = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "a b{}")
        .send()
        .await
        .unwrap();
    assert_ne!(hostile.headers()["x-request-id"], "a b{}");

    for wanted in [id.as_str(), "client-chosen-id-42"] {
        let event = app
            .api
            .wait_for_event(
                |e| e["message"] == "request finished" && e["span"]["request_id"] == wanted,
                Duration::from_secs(5),
            )
            .await;
        assert!(
            event.is_some(),
            "no log line with request id {wanted}:\n{}",
            app.api.tail(20)
        );
    }
}

#[tokio::test]
async fn metrics_are_exposed_in_prometheus_text_format_with_bounded_labels() {
    let app = TestApp::spawn().await;
    app.get("/healthz").await;
    app.get("/no/such/thing/123").await;
    app.get("/readyz").await;
    let metrics = app.get("/metrics").await;
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.header("content-type").unwrap().contains("text"),
        "{:?}",
        metrics.headers
    );
    assert!(
        metrics.text.contains("fairlane_http_requests_total{"),
        "{}",
        metrics.text
    );
    assert!(
        metrics.text.contains("route=\"/healthz\""),
        "{}",
        metrics.text
    );
    assert!(
        metrics.text.contains("route=\"unmatched\""),
        "{}",
        metrics.text
    );
    assert!(
        !metrics.text.contains("/no/such/thing/123"),
        "raw paths must not become labels"
    );
    assert!(
        metrics
            .text
            .contains("fairlane_dependency_up{dependency=\"redis\"} 1"),
        "{}",
        metrics.text
    );
}

#[tokio::test]
async fn security_headers_are_on_every_response() {
    let app = TestApp::spawn().await;
    for path in ["/healthz", "/api/v1/missing"] {
        let response = app.get(path).await;
        assert_eq!(
            response.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(response.header("x-frame-options"), Some("DENY"), "{path}");
        assert_eq!(
            response.header("referrer-policy"),
            Some("no-referrer"),
            "{path}"
        );
        assert!(
            response
                .header("content-security-policy")
                .unwrap()
                .contains("frame-ancestors 'none'")
        );
    }
    assert_eq!(
        app.get("/api/v1/missing").await.header("cache-control"),
        Some("no-store")
    );
    // No CORS grant without configured origins.
    let cross = app
        .client
        .get(app.url("/healthz"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(cross.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn cors_allows_only_configured_origins() {
    let app = TestApp::builder()
        .env("FAIRLANE_ALLOWED_ORIGINS", "https://app.example.com")
        .spawn()
        .await;
    let allowed = app
        .client
        .get(app.url("/healthz"))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    for origin in [
        "https://evil.example",
        "null",
        "https://app.example.com.evil.com",
    ] {
        let denied = app
            .client
            .get(app.url("/healthz"))
            .header("origin", origin)
            .send()
            .await
            .unwrap();
        assert!(
            denied
                .headers()
                .get("access-control-allow-origin")
                .is_none(),
            "{origin} was allowed"
        );
    }
}

#[tokio::test]
async fn a_malformed_or_missing_variable_stops_the_api_with_a_message_naming_it() {
    let app = TestApp::spawn().await;
    let mut env: HashMap<String, String> = app.env().clone();
    env.insert("FAIRLANE_HTTP_PORT".into(), "eighty".into());
    let mut process = TestProcess::spawn(Binary::Api, &[], &env);
    let status = process.wait_exit(Duration::from_secs(10)).await;
    assert_eq!(status.code(), Some(2));
    assert!(
        process.tail(5).contains("FAIRLANE_HTTP_PORT"),
        "{}",
        process.tail(5)
    );

    env.insert("FAIRLANE_HTTP_PORT".into(), "0".into());
    env.remove("FAIRLANE_DATABASE_URL");
    let mut process = TestProcess::spawn(Binary::Worker, &[], &env);
    assert_eq!(
        process.wait_exit(Duration::from_secs(10)).await.code(),
        Some(2)
    );
    assert!(
        process.tail(5).contains("FAIRLANE_DATABASE_URL"),
        "{}",
        process.tail(5)
    );

    env.insert(
        "FAIRLANE_DATABASE_URL".into(),
        app.env()["FAIRLANE_DATABASE_URL"].clone(),
    );
    env.insert(
        "FAIRLANE_FORECAST_BIN".into(),
        "/nonexistent/fairlane-forecast".into(),
    );
    let mut process = TestProcess::spawn(Binary::Worker, &[], &env);
    assert_eq!(
        process.wait_exit(Duration::from_secs(10)).await.code(),
        Some(2)
    );
    assert!(
        process.tail(5).contains("FAIRLANE_FORECAST_BIN"),
        "{}",
        process.tail(5)
    );
}

#[tokio::test]
async fn migrate_is_idempotent() {
    let app = TestApp::spawn().await;
    let (status, output) = app.run_cli(&["migrate"]).await;
    assert!(status.success(), "{output}");
    assert!(output.contains("migrations up to date"), "{output}");
    let client = app.db.client().await;
    let applied: i64 = client
        .query_one("SELECT count(*) FROM refinery_schema_history", &[])
        .await
        .unwrap()
        .get(0);
    assert!(applied >= 1);
}

#[tokio::test]
async fn worker_and_scheduler_exit_cleanly_on_sigterm() {
    let app = TestApp::spawn().await;
    let mut worker = app.start_worker().await;
    let mut scheduler = app.start_scheduler().await;
    worker.signal(Signal::SIGTERM);
    scheduler.signal(Signal::SIGTERM);
    let worker_status = worker.wait_exit(Duration::from_secs(15)).await;
    assert!(
        worker_status.success(),
        "worker exited with {worker_status:?}:\n{}",
        worker.tail(20)
    );
    worker
        .wait_for_message("worker stopped", Duration::from_secs(1))
        .await;
    let scheduler_status = scheduler.wait_exit(Duration::from_secs(15)).await;
    assert!(scheduler_status.success(), "{}", scheduler.tail(20));
}

#[tokio::test]
async fn the_api_exits_cleanly_on_sigterm() {
    let mut app = TestApp::spawn().await;
    app.api.signal(Signal::SIGTERM);
    let status = app.api.wait_exit(Duration::from_secs(15)).await;
    assert!(status.success(), "{}", app.api.tail(20));
    app.api
        .wait_for_message("stopped", Duration::from_secs(1))
        .await;
}
