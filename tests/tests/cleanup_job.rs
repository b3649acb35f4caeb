//! The `cleanup` job kind on a workspace with files of several ages, a pinned result, a
//! registered export, an orphan, and a symlink pointing outside the data root: only what
//! should go goes.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use fairlane_tests::TestApp;
use reqwest::Method;
use serde_json::json;

fn age(path: &Path, days: u32) {
    let status = Command::new("touch")
        .arg("-h")
        .arg("-d")
        .arg(format!("{days} days ago"))
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

fn write(path: &Path, bytes: usize, days_old: u32) {
    std::fs::write(path, vec![b'x'; bytes]).unwrap();
    age(path, days_old);
}

#[tokio::test]
async fn cleanup_removes_only_old_unpinned_files_and_refunds_storage() {
    let app = TestApp::spawn().await;
    let user = app.signed_in_user().await;
    let other = app.signed_in_user().await;
    let root = PathBuf::from(&app.env()["FAIRLANE_DATA_DIR"])
        .join("users")
        .join(&user.id);
    let other_root = PathBuf::from(&app.env()["FAIRLANE_DATA_DIR"])
        .join("users")
        .join(&other.id);
    let db = app.db.client().await;
    let user_id: uuid::Uuid = user.id.parse().unwrap();

    write(&root.join("temp/old.part"), 100, 3);
    write(&root.join("temp/fresh.part"), 100, 0);
    write(&root.join("exports/old.json"), 200, 5);
    write(&other_root.join("temp/others-old.part"), 50, 9);
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("precious.txt");
    write(&target, 10, 30);
    std::os::unix::fs::symlink(&target, root.join("temp/link-outside")).unwrap();
    age(&root.join("temp/link-outside"), 30);

    let mut result_ids = Vec::new();
    for (pinned, days) in [(false, 10), (true, 10), (false, 0)] {
        let id = uuid::Uuid::now_v7();
        write(
            &root.join("processed_options").join(id.to_string()),
            1000,
            0,
        );
        db.execute(
            "INSERT INTO files (id, user_id, kind, area, name, size_bytes, sha256, content_type, pinned, created_at)
             VALUES ($1, $2, 'result', 'processed_options', 'chain.csv', 1000, repeat('a', 64), 'text/csv', $3,
                     now() - make_interval(days => $4))",
            &[&id, &user_id, &pinned, &days],
        )
        .await
        .unwrap();
        result_ids.push(id);
    }
    // A young registered result in exports/ (a forecast) whose bytes look old: it stays.
    let export_id = uuid::Uuid::now_v7();
    let export = root.join("exports").join(export_id.to_string());
    write(&export, 400, 5);
    db.execute(
        "INSERT INTO files (id, user_id, kind, area, name, size_bytes, sha256, content_type)
         VALUES ($1, $2, 'result', 'exports', 'forecast.csv', 400, repeat('a', 64), 'text/csv')",
        &[&export_id, &user_id],
    )
    .await
    .unwrap();
    db.execute(
        "UPDATE users SET storage_bytes = 3400 WHERE id = $1",
        &[&user_id],
    )
    .await
    .unwrap();
    let orphan = root
        .join("filtered_options")
        .join(uuid::Uuid::now_v7().to_string());
    write(&orphan, 300, 2);

    let _worker = app.start_worker().await;
    let created = app
        .request_as(
            &user.token,
            Method::POST,
            "/api/v1/jobs",
            Some(&json!({"kind": "cleanup", "params": {"older_than_days": 1}})),
        )
        .await;
    assert_eq!(created.status, 202, "{}", created.text);
    let id = created.json["job"]["id"].as_str().unwrap().to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let job = loop {
        let job = app
            .get_as(&user.token, &format!("/api/v1/jobs/{id}"))
            .await
            .json["job"]
            .clone();
        if job["state"] == "succeeded" || tokio::time::Instant::now() > deadline {
            break job;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(job["state"], "succeeded", "{job}");
    // old temp (100) + old export (200) + old unpinned result (1000) + orphan (300)
    assert_eq!(
        job["result"]["summary"],
        json!({"deleted_files": 4, "freed_bytes": 1600}),
        "{job}"
    );

    assert!(!root.join("temp/old.part").exists());
    assert!(root.join("temp/fresh.part").exists());
    assert!(!root.join("exports/old.json").exists());
    assert!(!orphan.exists());
    assert!(
        target.exists(),
        "the symlink's target outside the data root survives"
    );
    assert!(
        std::fs::symlink_metadata(root.join("temp/link-outside")).is_ok(),
        "links are left alone"
    );
    assert!(
        other_root.join("temp/others-old.part").exists(),
        "another user's files are untouched"
    );
    assert!(
        !root
            .join("processed_options")
            .join(result_ids[0].to_string())
            .exists()
    );
    assert!(
        root.join("processed_options")
            .join(result_ids[1].to_string())
            .exists(),
        "pinned"
    );
    assert!(
        root.join("processed_options")
            .join(result_ids[2].to_string())
            .exists(),
        "young"
    );
    let storage: i64 = db
        .query_one("SELECT storage_bytes FROM users WHERE id = $1", &[&user_id])
        .await
        .unwrap()
        .get(0);
    assert_eq!(storage, 2400);
    let rows: i64 = db
        .query_one("SELECT count(*) FROM files WHERE user_id = $1", &[&user_id])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 3);
    assert!(
        export.exists(),
        "a registered export goes only with its row"
    );
}
