//! The `fairlane-forecast` child process driven by `forecast::isolated::run`: a normal
//! run answers the forecast, a bad input answers its error code, and a child that spins
//! past its deadline is killed with SIGKILL, answers `timeout`, and is gone from /proc.

use std::path::{Path, PathBuf};
use std::time::Duration;

use fairlane_tests::env::TestEnv;
use fairlane_worker::forecast::isolated::{self, BINARY_NAME};
use fairlane_worker::forecast::{ForecastBinary, ForecastParams, ForecastRequest, Method};
use tokio::time::Instant;

fn binary(diagnostic_jobs: bool) -> ForecastBinary {
    ForecastBinary {
        path: TestEnv::get().bin_dir.join(BINARY_NAME),
        diagnostic_jobs,
    }
}

/// Four years of a monthly series with a trend and a yearly pattern.
fn write_monthly_csv(directory: &Path) -> PathBuf {
    let mut text = String::from("month,sales\n");
    for index in 0..48u32 {
        let season = [
            0.0, 5.0, 9.0, 4.0, -2.0, -6.0, -9.0, -5.0, 1.0, 3.0, 6.0, -6.0,
        ];
        let value = 100.0 + f64::from(index) + season[index as usize % 12];
        text.push_str(&format!(
            "{}-{:02},{value}\n",
            2020 + index / 12,
            index % 12 + 1
        ));
    }
    let path = directory.join("input.csv");
    std::fs::write(&path, text).unwrap();
    path
}

fn request(input_path: PathBuf, diagnostic_spin: bool) -> ForecastRequest {
    ForecastRequest {
        input_path,
        params: ForecastParams {
            horizon: 6,
            date_column: None,
            value_column: None,
            season_length: None,
            method: Method::Auto,
            levels: None,
        },
        diagnostic_spin,
    }
}

/// Children of this test process whose command name is the forecast binary's.
fn forecast_children() -> Vec<u32> {
    let me = std::process::id().to_string();
    let comm = &BINARY_NAME[..15]; // the kernel keeps 15 bytes of the name
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // Fields after the parenthesised name: state, ppid, ...
            let Some((name, rest)) = stat.split_once(") ") else {
                return false;
            };
            name.ends_with(comm) && rest.split(' ').nth(1) == Some(me.as_str())
        })
        .collect()
}

#[tokio::test]
async fn a_normal_run_answers_the_forecast() {
    let directory = tempfile::tempdir().unwrap();
    let input = write_monthly_csv(directory.path());
    let deadline = Instant::now() + Duration::from_secs(30);
    let output = isolated::run(&binary(false), &request(input, false), deadline)
        .await
        .unwrap();
    assert_eq!(output.rows.len(), 6);
    assert_eq!(output.season_length, 12);
    assert_eq!(output.candidates.len(), 4);
    assert_eq!(output.rows[0].date.to_string(), "2024-01-01 00:00:00");
}

#[tokio::test]
async fn input_errors_keep_their_code_across_the_process_boundary() {
    let directory = tempfile::tempdir().unwrap();
    let input = directory.path().join("bad.csv");
    let text = "date,value\n2020-01-01,1\n2020-01-02,2\n2020-01-03,oops\n";
    std::fs::write(&input, text).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let error = isolated::run(&binary(false), &request(input, false), deadline)
        .await
        .unwrap_err();
    assert_eq!(error.code(), "non_numeric_value");
    assert!(error.to_string().starts_with("line 4:"), "{error}");
}

#[tokio::test]
async fn spinning_without_diagnostics_is_refused() {
    let directory = tempfile::tempdir().unwrap();
    let input = write_monthly_csv(directory.path());
    let deadline = Instant::now() + Duration::from_secs(30);
    let error = isolated::run(&binary(false), &request(input, true), deadline)
        .await
        .unwrap_err();
    assert_eq!(error.code(), "invalid_request");
}

#[tokio::test]
async fn a_spinning_child_is_killed_at_the_deadline_and_reaped() {
    let directory = tempfile::tempdir().unwrap();
    let input = write_monthly_csv(directory.path());
    let started = Instant::now();
    let deadline = started + Duration::from_secs(2);
    let binary = binary(true);
    let spin_request = request(input, true);
    let run = tokio::spawn(async move { isolated::run(&binary, &spin_request, deadline).await });

    // Find the child while it spins, and check that it really burns CPU.
    let mut children = Vec::new();
    while children.is_empty() && started.elapsed() < Duration::from_millis(1500) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        children = forecast_children();
    }
    assert_eq!(children.len(), 1, "the spinning child was not found");
    let pid = children[0];
    tokio::time::sleep_until(started + Duration::from_millis(1500)).await;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat.rsplit_once(") ").unwrap().1.split(' ').collect();
    let user_ticks: u64 = fields[11].parse().unwrap();
    assert_eq!(fields[0], "R", "the child should be running: {stat}");
    assert!(
        user_ticks > 10,
        "the child should be busy: {user_ticks} ticks"
    );

    let error = run.await.unwrap().unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(error.code(), "timeout", "{error}");
    assert!(elapsed >= Duration::from_secs(2), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "the child {pid} is still there (not killed or not reaped)"
    );
}
