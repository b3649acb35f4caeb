//! The `forecast` job kind through the real API and worker: AirPassengers forecast by
//! seasonal naive (exact values) and by `auto` (holdout MASE at least as good as
//! statsforecast's AutoETS), the result file listed and downloadable, bad input failing
//! at once with its code, a spinning child killed at the 60 s limit with `timeout` and
//! the user's slot freed, and another user's file refused at submission.

use std::time::Duration;

use fairlane_tests::TestApp;
use fairlane_tests::app::{TestResponse, TestUser};
use reqwest::Method;
use serde_json::{Value, json};

const AIR_PASSENGERS_CSV: &str = include_str!("../fixtures/air_passengers.csv");

fn air_passengers() -> Vec<f64> {
    AIR_PASSENGERS_CSV
        .lines()
        .skip(1)
        .map(|line| line.split_once(',').unwrap().1.parse().unwrap())
        .collect()
}

async fn upload(app: &TestApp, user: &TestUser, name: &str, text: &str) -> String {
    let created = app
        .upload_as(&user.token, name, text.as_bytes().to_vec())
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    created.json["file"]["id"].as_str().unwrap().to_owned()
}

async fn try_submit(app: &TestApp, user: &TestUser, kind: &str, params: Value) -> TestResponse {
    app.request_as(
        &user.token,
        Method::POST,
        "/api/v1/jobs",
        Some(&json!({ "kind": kind, "params": params })),
    )
    .await
}

async fn submit(app: &TestApp, user: &TestUser, kind: &str, params: Value) -> String {
    let created = try_submit(app, user, kind, params).await;
    assert_eq!(created.status, 202, "{}", created.text);
    created.json["job"]["id"].as_str().unwrap().to_owned()
}

async fn job(app: &TestApp, user: &TestUser, id: &str) -> Value {
    app.get_as(&user.token, &format!("/api/v1/jobs/{id}"))
        .await
        .json["job"]
        .clone()
}

/// Polls the job until `done` holds or `within` passes; returns the last snapshot.
async fn wait_job(
    app: &TestApp,
    user: &TestUser,
    id: &str,
    within: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let job = job(app, user, id).await;
        if done(&job) || tokio::time::Instant::now() >= deadline {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn terminal(job: &Value) -> bool {
    ["succeeded", "failed", "cancelled"].contains(&job["state"].as_str().unwrap_or(""))
}

/// Runs a forecast of the uploaded AirPassengers file to a terminal state.
async fn forecast(app: &TestApp, user: &TestUser, file_id: &str, params: Value) -> Value {
    let mut params = params;
    params["file_id"] = json!(file_id);
    let id = submit(app, user, "forecast", params).await;
    wait_job(app, user, &id, Duration::from_secs(50), terminal).await
}

#[tokio::test]
async fn seasonal_naive_and_auto_forecast_air_passengers() {
    let app = TestApp::spawn().await;
    let _worker = app.start_worker().await;
    let user = app.signed_in_user().await;
    let file_id = upload(&app, &user, "air_passengers.csv", AIR_PASSENGERS_CSV).await;

    let naive = forecast(
        &app,
        &user,
        &file_id,
        json!({"horizon": 12, "method": "seasonal_naive", "levels": [80, 95]}),
    )
    .await;
    assert_eq!(naive["state"], "succeeded", "{naive}");
    assert_eq!(
        naive["progress"]["done"], naive["progress"]["total"],
        "{naive}"
    );
    let summary = &naive["result"]["summary"];
    assert_eq!(summary["model"], "seasonal_naive", "{summary}");
    assert_eq!(summary["season_length"], 12, "{summary}");
    // Fitted on 1949–1959 and scored on 1960, as in domain.md §3.4.
    let holdout = &summary["holdout"];
    assert_eq!(holdout["points"], 12, "{summary}");
    let close = |value: &Value, expected: f64| (value.as_f64().unwrap() - expected).abs() < 1e-3;
    assert!(close(&holdout["mae"], 47.8333), "{summary}");
    assert!(close(&holdout["smape"], 10.5718), "{summary}");
    assert!(close(&holdout["mase"], 1.57088), "{summary}");

    let files = naive["result"]["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{naive}");
    let result_id = files[0]["id"].as_str().unwrap();
    assert_eq!(files[0]["kind"], "result");
    assert_eq!(files[0]["name"], "forecast-air_passengers.csv");
    let listed = app.get_as(&user.token, "/api/v1/files").await.json["files"].clone();
    let entry = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|file| file["id"] == result_id)
        .unwrap_or_else(|| panic!("the result file is not listed: {listed}"))
        .clone();
    assert_eq!(entry["kind"], "result");
    assert_eq!(entry["job_id"], naive["id"]);

    let content = app
        .get_as(&user.token, &format!("/api/v1/files/{result_id}/content"))
        .await;
    assert_eq!(content.status, 200, "{}", content.text);
    let lines: Vec<&str> = content.text.lines().collect();
    assert_eq!(
        lines[0],
        "date,forecast,lower_80,upper_80,lower_95,upper_95"
    );
    assert_eq!(lines.len(), 13, "{}", content.text);
    let last_season = &air_passengers()[132..];
    for (step, line) in lines[1..].iter().enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells.len(), 6, "{line}");
        assert_eq!(cells[0], format!("1961-{:02}-01", step + 1), "{line}");
        let values: Vec<f64> = cells[1..].iter().map(|c| c.parse().unwrap()).collect();
        assert_eq!(values[0], last_season[step], "{line}");
        // lower_95 <= lower_80 <= forecast <= upper_80 <= upper_95
        assert!(
            values[3] <= values[1]
                && values[1] <= values[0]
                && values[0] <= values[2]
                && values[2] <= values[4],
            "{line}"
        );
    }

    let auto = forecast(&app, &user, &file_id, json!({"horizon": 12})).await;
    assert_eq!(auto["state"], "succeeded", "{auto}");
    let summary = &auto["result"]["summary"];
    assert_eq!(summary["method"], "auto", "{summary}");
    assert!(summary["model"].is_string(), "{summary}");
    let mase = summary["holdout"]["mase"].as_f64().unwrap();
    assert!(mase <= 1.1695, "auto's holdout MASE {mase}: {summary}");
    assert_eq!(summary["candidates"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn bad_input_fails_at_once_with_its_code() {
    let app = TestApp::spawn().await;
    let _worker = app.start_worker().await;
    let user = app.signed_in_user().await;
    let head = "date,value\n2020-01-01,1\n2020-01-02,2\n2020-01-03,3\n";
    let cases = [
        (format!("{head}2020-01-04,lots\n"), 2, "non_numeric_value"),
        (format!("{head}2020-01-02,4\n"), 2, "duplicate_date"),
        (format!("{head}2020-01-04,4\n"), 10, "horizon_out_of_range"),
    ];
    for (text, horizon, code) in cases {
        let file_id = upload(&app, &user, "bad.csv", &text).await;
        let job = forecast(
            &app,
            &user,
            &file_id,
            json!({"horizon": horizon, "method": "seasonal_naive"}),
        )
        .await;
        assert_eq!(job["state"], "failed", "{code}: {job}");
        assert_eq!(job["error"]["code"], code, "{job}");
        assert!(
            job["error"]["message"].as_str().unwrap().len() > 10,
            "{job}"
        );
        assert_eq!(
            (job["attempt"].as_i64(), job["max_attempts"].as_i64()),
            (Some(1), Some(2))
        );
        assert!(job["result"].is_null(), "{job}");
    }
    let listed = app.get_as(&user.token, "/api/v1/files").await.json["files"].clone();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|file| file["kind"] == "upload"),
        "a failed forecast left a result: {listed}"
    );
}

/// `(pid, state)` of the worker's `fairlane-forecast` children.
fn forecast_children(worker_pid: u32) -> Vec<(u32, char)> {
    let parent = worker_pid.to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let (name, rest) = stat.split_once(") ")?;
            let mut fields = rest.split(' ');
            let state = fields.next()?.chars().next()?;
            // The kernel keeps 15 bytes of the command name.
            (name.ends_with("fairlane-foreca") && fields.next()? == parent).then_some((pid, state))
        })
        .collect()
}

fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat.rsplit_once(") ").unwrap().1.split(' ').collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[tokio::test]
async fn a_forecast_past_its_limit_is_killed_with_timeout_and_frees_the_slot() {
    let app = TestApp::builder()
        .env("FAIRLANE_DIAGNOSTIC_JOBS", "1")
        .env("FAIRLANE_MAX_RUNNING_JOBS", "1")
        .spawn()
        .await;
    let worker = app.start_worker().await;
    let user = app.signed_in_user().await;
    let file_id = upload(&app, &user, "air_passengers.csv", AIR_PASSENGERS_CSV).await;
    let id = submit(
        &app,
        &user,
        "forecast",
        json!({"file_id": file_id, "horizon": 12, "diagnostic_spin": true}),
    )
    .await;
    let running = wait_job(&app, &user, &id, Duration::from_secs(10), |job| {
        job["state"] != "queued"
    })
    .await;
    assert_eq!(running["state"], "running", "{running}");

    // The child burns CPU while the user's only slot is taken.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let children = forecast_children(worker.pid());
    assert_eq!(children.len(), 1, "{children:?}");
    let child = children[0].0;
    let ticks = cpu_ticks(child);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(cpu_ticks(child) > ticks + 20, "the child is not busy");
    let next = submit(&app, &user, "echo", json!({"message": "after"})).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(job(&app, &user, &next).await["state"], "queued");

    let failed = wait_job(&app, &user, &id, Duration::from_secs(70), terminal).await;
    assert_eq!(failed["state"], "failed", "{failed}");
    assert_eq!(failed["error"]["code"], "timeout", "{failed}");
    assert_eq!(failed["attempt"], 1, "{failed}");
    let at = |field: &str| {
        chrono::DateTime::parse_from_rfc3339(failed[field].as_str().unwrap()).unwrap()
    };
    let ran = (at("finished_at") - at("started_at")).to_std().unwrap();
    assert!(
        (Duration::from_secs(60)..=Duration::from_secs(62)).contains(&ran),
        "ran {ran:?}"
    );

    // The child was killed and reaped, not left spinning.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while !forecast_children(worker.pid()).is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "a forecast child is still there: {:?}",
            forecast_children(worker.pid())
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let after = wait_job(&app, &user, &next, Duration::from_secs(10), terminal).await;
    assert_eq!(after["state"], "succeeded", "{after}");
}

#[tokio::test]
async fn forecasts_refuse_other_users_files_and_diagnostic_switches() {
    let app = TestApp::spawn().await;
    let alice = app.signed_in_user().await;
    let bob = app.signed_in_user().await;
    let alices = upload(&app, &alice, "air_passengers.csv", AIR_PASSENGERS_CSV).await;
    let params = json!({"file_id": alices, "horizon": 12});
    let refused = try_submit(&app, &bob, "forecast", params).await;
    refused.assert_error(422, "validation_failed");
    assert!(refused.text.contains("params.file_id"), "{}", refused.text);
    let params = json!({"file_id": alices, "horizon": 12, "diagnostic_spin": true});
    let spin = try_submit(&app, &alice, "forecast", params).await;
    spin.assert_error(422, "validation_failed");
    assert!(
        spin.text.contains("params.diagnostic_spin"),
        "{}",
        spin.text
    );
}
