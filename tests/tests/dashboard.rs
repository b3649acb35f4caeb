//! The web dashboard: its files are served at `/` beside the API without changing how
//! the API answers, and the browser suite (`tests/browser`, headless Chromium driven by
//! playwright-core) passes against a real API with a worker and the sandbox broker.

use std::path::{Path, PathBuf};
use std::time::Duration;

use fairlane_tests::TestApp;
use fairlane_tests::env::TestEnv;
use fairlane_tests::sandbox::SandboxBroker;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn dashboard_dir() -> String {
    repo_root().join("dashboard").display().to_string()
}

#[tokio::test]
async fn the_dashboard_is_served_at_the_root_and_api_paths_stay_json() {
    let app = TestApp::builder()
        .env("FAIRLANE_DASHBOARD_DIR", dashboard_dir())
        .spawn()
        .await;
    let index = app.get("/").await;
    assert_eq!(index.status, 200, "{}", index.text);
    assert!(
        index
            .header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        index
            .text
            .contains(r#"<script type="module" src="/js/app.js">"#)
    );
    assert!(
        index
            .header("content-security-policy")
            .unwrap()
            .contains("script-src 'self'")
    );
    assert_eq!(index.header("cache-control"), Some("no-cache"));
    let script = app.get("/js/app.js").await;
    assert_eq!(script.status, 200);
    assert!(
        script
            .header("content-type")
            .unwrap()
            .contains("javascript")
    );

    for path in [
        "/api/v1/nope",
        "/api/nope",
        "/api",
        "/js/missing.js",
        "/../Cargo.toml",
    ] {
        app.get(path).await.assert_error(404, "not_found");
    }
    let post = app
        .request(reqwest::Method::POST, "/index.html", None)
        .await;
    post.assert_error(404, "not_found");
    assert_eq!(app.get("/healthz").await.status, 200);
    assert_eq!(app.get("/readyz").await.status, 200);
    assert_eq!(app.get("/metrics").await.status, 200);
}

fn chromium() -> Option<PathBuf> {
    let path = PathBuf::from(
        std::env::var("FAIRLANE_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
    );
    path.is_file().then_some(path)
}

#[tokio::test]
async fn browser_scenarios_pass_in_headless_chromium() {
    let Some(chromium) = chromium() else {
        eprintln!(
            "SKIPPED: no Chromium at /usr/bin/chromium (ops/test installs Debian's chromium)"
        );
        return;
    };
    let suite = repo_root().join("tests/browser");
    assert!(
        suite.join("node_modules/playwright-core").is_dir(),
        "tests/browser/node_modules is missing: run `npm ci` there (ops/test does)"
    );
    let broker = SandboxBroker::spawn().await;
    let app = TestApp::builder()
        .env("FAIRLANE_DASHBOARD_DIR", dashboard_dir())
        .env("FAIRLANE_BROKER_URL", broker.base_url.clone())
        .env("FAIRLANE_DIAGNOSTIC_JOBS", "1")
        .env("FAIRLANE_RATE_LIMIT_PER_MINUTE", "100000")
        .spawn()
        .await;
    let _worker = app.start_worker().await;
    let admin = app.signed_in_user().await;
    let (status, output) = app
        .run_cli(&["create-admin", "--email", &admin.email])
        .await;
    assert!(status.success(), "{output}");

    let screenshots = TestEnv::get()
        .bin_dir
        .parent()
        .map(|target| target.join("screenshots"))
        .unwrap_or_else(|| repo_root().join("target/screenshots"));
    let run = tokio::process::Command::new("node")
        .arg("run.mjs")
        .arg(&app.base_url)
        .current_dir(&suite)
        .env("CHROMIUM", &chromium)
        .env("SCREENSHOT_DIR", &screenshots)
        .env("ADMIN_EMAIL", &admin.email)
        .env("ADMIN_PASSWORD", &admin.password)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(300), run)
        .await
        .expect("the browser suite finished within 5 minutes")
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stdout}{stderr}");
    assert!(
        output.status.success(),
        "browser suite failed ({}); screenshots in {}",
        output.status,
        screenshots.display()
    );
}
