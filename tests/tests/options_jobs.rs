//! `options.process` and `options.filter` end to end through the API, the worker and the
//! sandbox broker: result files that download and parse, per-user credentials, token
//! expiry, and a client that never trips the broker's rate limit.

use std::time::Duration;

use fairlane_tests::app::TestUser;
use fairlane_tests::sandbox::SandboxBroker;
use fairlane_tests::{TestApp, TestProcess};
use reqwest::Method;
use serde_json::{Value, json};

const PROCESSED: &str = "tradingsymbol,underlying,expiry,strike,option_type,lot_size,last_price,bid,ask,volume,oi,underlying_price,fetched_at";

async fn deployment() -> (SandboxBroker, TestApp, TestProcess) {
    let broker = SandboxBroker::spawn().await;
    let app = TestApp::builder()
        .env("FAIRLANE_BROKER_URL", broker.base_url.clone())
        .spawn()
        .await;
    let worker = app.start_worker().await;
    (broker, app, worker)
}

async fn store_credentials(app: &TestApp, user: &TestUser, api_key: &str, token: &str) {
    let response = app
        .request_as(
            &user.token,
            Method::PUT,
            "/api/v1/me/credentials",
            Some(&json!({"api_key": api_key, "access_token": token})),
        )
        .await;
    assert_eq!(response.status, 204);
}

async fn first_expiry(app: &TestApp, user: &TestUser) -> String {
    let response = app
        .get_as(&user.token, "/api/v1/market/expiries?symbol=NIFTY")
        .await;
    assert_eq!(response.status, 200, "{}", response.text);
    response.json["expiries"][0].as_str().unwrap().to_owned()
}

async fn run_job(app: &TestApp, user: &TestUser, body: Value) -> Value {
    app.run_job_as(&user.token, &body, Duration::from_secs(90))
        .await
}

async fn download(app: &TestApp, user: &TestUser, file: &Value) -> Vec<u8> {
    app.download_as(&user.token, file["id"].as_str().unwrap())
        .await
}

fn file_named<'a>(job: &'a Value, extension: &str) -> &'a Value {
    job["result"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"].as_str().unwrap().ends_with(extension))
        .unwrap_or_else(|| panic!("no .{extension} result file in {job}"))
}

#[tokio::test]
async fn process_then_filter_produce_parseable_result_files() {
    let (broker, app, _worker) = deployment().await;
    let user = app.signed_in_user().await;
    store_credentials(&app, &user, "alice-key", "alice-token").await;
    let expiry = first_expiry(&app, &user).await;

    let processed = run_job(&app, &user, json!({"kind": "options.process", "params": {"symbols": ["NIFTY", "BANKNIFTY"], "expiry": expiry}})).await;
    assert_eq!(processed["state"], "succeeded", "{processed}");
    let summary = &processed["result"]["summary"];
    assert!(summary["contracts"].as_u64().unwrap() > 20, "{summary}");
    assert_eq!(
        summary["quoted"].as_u64().unwrap() + summary["missing"].as_u64().unwrap(),
        summary["contracts"].as_u64().unwrap()
    );
    assert!(
        summary["underlying_prices"]["NIFTY"].as_f64().unwrap() > 0.0,
        "{summary}"
    );
    assert_eq!(
        processed["progress"]["done"], processed["progress"]["total"],
        "{processed}"
    );

    let csv =
        String::from_utf8(download(&app, &user, file_named(&processed, "csv")).await).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next().unwrap(), PROCESSED);
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len() as u64, summary["quoted"].as_u64().unwrap());
    let parquet = download(&app, &user, file_named(&processed, "parquet")).await;
    assert!(parquet.starts_with(b"PAR1") && parquet.ends_with(b"PAR1"));
    let listed = app.get_as(&user.token, "/api/v1/files").await;
    assert!(
        listed.json["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["kind"] == "result"),
        "{}",
        listed.text
    );

    let source = processed["id"].as_str().unwrap();
    let filtered = run_job(
        &app,
        &user,
        json!({"kind": "options.filter", "params": {"source_job_id": source, "filters": {"option_type": "PE", "min_oi": 1},
               "sort_by": "annualized_yield_pct", "descending": true, "limit": 10}}),
    )
    .await;
    assert_eq!(filtered["state"], "succeeded", "{filtered}");
    assert_eq!(
        filtered["progress"],
        json!({"done": 3, "total": 3, "message": "done"}),
        "a succeeded job shows every step done"
    );
    let csv = String::from_utf8(download(&app, &user, file_named(&filtered, "csv")).await).unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let headers = reader.headers().unwrap().clone();
    for column in [
        "days_to_expiry",
        "moneyness",
        "otm_pct",
        "premium_yield_pct",
        "annualized_yield_pct",
        "breakeven",
        "spread_pct",
        "iv",
        "delta",
        "gamma",
        "theta",
        "vega",
    ] {
        assert!(
            headers.iter().any(|h| h == column),
            "{column} missing from {headers:?}"
        );
    }
    let yield_at = headers
        .iter()
        .position(|h| h == "annualized_yield_pct")
        .unwrap();
    let type_at = headers.iter().position(|h| h == "option_type").unwrap();
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert!(
        !records.is_empty() && records.len() <= 10,
        "{}",
        records.len()
    );
    let yields: Vec<f64> = records
        .iter()
        .filter_map(|r| r[yield_at].parse().ok())
        .collect();
    assert!(
        yields.windows(2).all(|w| w[0] >= w[1]),
        "sorted descending: {yields:?}"
    );
    assert!(records.iter().all(|r| &r[type_at] == "PE"));
    let delta_at = headers.iter().position(|h| h == "delta").unwrap();
    assert!(
        records
            .iter()
            .filter_map(|r| r[delta_at].parse::<f64>().ok())
            .all(|delta| (-1.0..=0.0).contains(&delta)),
        "puts have deltas in [-1, 0]"
    );
    assert_eq!(
        filtered["result"]["summary"]["rows_out"].as_u64().unwrap(),
        records.len() as u64
    );
    assert_eq!(
        filtered["result"]["summary"]["rows_in"].as_u64().unwrap(),
        summary["quoted"].as_u64().unwrap()
    );
    let ipc = download(&app, &user, file_named(&filtered, "arrow")).await;
    assert!(ipc.starts_with(b"ARROW1"));
    let names: Vec<&str> = filtered["result"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
    assert!(
        names[3].ends_with("-calculated.parquet"),
        "every row with its columns comes last: {names:?}"
    );

    // Another user cannot filter this user's chain.
    let other = app.signed_in_user().await;
    let refused = app
        .request_as(
            &other.token,
            Method::POST,
            "/api/v1/jobs",
            Some(&json!({"kind": "options.filter", "params": {"source_job_id": source}})),
        )
        .await;
    refused.assert_error(422, "validation_failed");
    assert_eq!(
        refused.json["error"]["details"]["field"],
        "params.source_job_id"
    );
    assert_eq!(
        broker.stats().await["rate_limited"],
        0,
        "our client never trips the broker's limit"
    );
}

#[tokio::test]
async fn each_users_jobs_use_only_that_users_credentials() {
    let (broker, app, _worker) = deployment().await;
    let alice = app.signed_in_user().await;
    let bob = app.signed_in_user().await;
    store_credentials(&app, &alice, "alice-key", "alice-token").await;
    store_credentials(&app, &bob, "bob-key", "bob-token").await;
    let expiry = first_expiry(&app, &alice).await;
    let params = json!({"symbols": ["NIFTY"], "expiry": expiry});
    let a = run_job(
        &app,
        &alice,
        json!({"kind": "options.process", "params": params}),
    )
    .await;
    assert_eq!(a["state"], "succeeded", "{a}");
    let after_alice = broker.stats().await["requests_by_api_key"].clone();
    let b = run_job(
        &app,
        &bob,
        json!({"kind": "options.process", "params": params}),
    )
    .await;
    assert_eq!(b["state"], "succeeded", "{b}");
    let after_bob = broker.stats().await["requests_by_api_key"].clone();
    assert_eq!(
        after_bob["alice-key"], after_alice["alice-key"],
        "Bob's job used Alice's key: {after_bob}"
    );
    assert!(after_bob["bob-key"].as_u64().unwrap() >= 2, "{after_bob}");

    // Bob removes his credentials: his next job cannot borrow anyone's.
    let queued = app
        .request_as(
            &bob.token,
            Method::POST,
            "/api/v1/jobs",
            Some(&json!({"kind": "options.process", "params": params})),
        )
        .await;
    assert_eq!(queued.status, 202);
    app.request_as(&bob.token, Method::DELETE, "/api/v1/me/credentials", None)
        .await;
    app.request_as(
        &bob.token,
        Method::POST,
        "/api/v1/jobs",
        Some(&json!({"kind": "options.process", "params": params})),
    )
    .await
    .assert_error(422, "credentials_required");
}

#[tokio::test]
async fn an_expired_token_fails_the_job_with_reauth_required_and_no_retry() {
    let (broker, app, _worker) = deployment().await;
    let warm = app.signed_in_user().await;
    store_credentials(&app, &warm, "warm-key", "ok").await;
    let expiry = first_expiry(&app, &warm).await;
    let user = app.signed_in_user().await;
    store_credentials(&app, &user, "stale-key", "expired").await;
    let job = run_job(
        &app,
        &user,
        json!({"kind": "options.process", "params": {"symbols": ["NIFTY"], "expiry": expiry}}),
    )
    .await;
    assert_eq!(job["state"], "failed", "{job}");
    assert_eq!(job["error"]["code"], "reauth_required", "{job}");
    assert_eq!(job["attempt"], 1, "not retried");
    assert!(broker.stats().await["token_errors"].as_u64().unwrap() >= 1);
}

#[tokio::test]
async fn options_submissions_are_checked_against_credentials_quotas_and_ownership() {
    let (_broker, app, _worker) = deployment().await;
    let alice = app.signed_in_user().await;
    let bob = app.signed_in_user().await;
    let expiry = (chrono::Utc::now().date_naive() + chrono::Days::new(7)).to_string();
    app.request_as(
        &alice.token,
        Method::POST,
        "/api/v1/jobs",
        Some(
            &json!({"kind": "options.process", "params": {"symbols": ["NIFTY"], "expiry": expiry}}),
        ),
    )
    .await
    .assert_error(422, "credentials_required");
    store_credentials(&app, &alice, "k", "t").await;
    let too_many: Vec<String> = (0..51).map(|i| format!("SYM{i}")).collect();
    let response = app
        .request_as(&alice.token, Method::POST, "/api/v1/jobs", Some(&json!({"kind": "options.process", "params": {"symbols": too_many, "expiry": expiry}})))
        .await;
    response.assert_error(422, "validation_failed");
    assert_eq!(response.json["error"]["details"]["field"], "params.symbols");
    let unknown_source = app
        .request_as(&bob.token, Method::POST, "/api/v1/jobs", Some(&json!({"kind": "options.filter", "params": {"source_job_id": uuid::Uuid::now_v7()}})))
        .await;
    unknown_source.assert_error(422, "validation_failed");
    assert_eq!(
        unknown_source.json["error"]["details"]["field"],
        "params.source_job_id"
    );
    let bad_filter = app
        .request_as(&bob.token, Method::POST, "/api/v1/jobs", Some(&json!({"kind": "options.filter", "params": {"source_job_id": uuid::Uuid::now_v7(), "filters": {"delta_min": 0.5, "delta_max": 0.1}}})))
        .await;
    bad_filter.assert_error(422, "validation_failed");
    assert_eq!(
        bad_filter.json["error"]["details"]["field"],
        "params.filters.delta_max"
    );
}

#[tokio::test]
async fn concurrent_jobs_on_one_api_key_across_workers_stay_under_the_broker_limit() {
    let (broker, app, _worker) = deployment().await;
    let _second_worker = app.start_worker().await;
    let user = app.signed_in_user().await;
    store_credentials(&app, &user, "busy-key", "busy-token").await;
    let expiry = first_expiry(&app, &user).await;
    let body =
        json!({"kind": "options.process", "params": {"symbols": ["NIFTY"], "expiry": expiry}});
    // Four jobs, two running at a time (the default quota) on two worker processes:
    // their quote calls share the key's 1/s budget through Redis.
    let jobs = futures::future::join_all(
        (0..4).map(|_| app.run_job_as(&user.token, &body, Duration::from_secs(90))),
    )
    .await;
    for job in &jobs {
        assert_eq!(job["state"], "succeeded", "{job}");
        assert_eq!(job["attempt"], 1, "no retry was needed: {job}");
    }
    let stats = broker.stats().await;
    assert!(
        stats["requests_by_api_key"]["busy-key"].as_u64().unwrap() >= 4,
        "{stats}"
    );
    assert_eq!(stats["rate_limited"], 0, "{stats}");
}
