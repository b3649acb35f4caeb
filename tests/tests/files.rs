//! The Files API through the real server: uploads with their limits, downloads,
//! deletion, hostile names, broken clients, and isolation between users.

use std::path::PathBuf;
use std::time::Duration;

use fairlane_tests::TestApp;
use fairlane_tests::app::{TestUser, read};
use reqwest::Method;
use reqwest::multipart::{Form, Part};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

fn workspace(app: &TestApp, user: &TestUser) -> PathBuf {
    PathBuf::from(&app.env()["FAIRLANE_DATA_DIR"])
        .join("users")
        .join(&user.id)
}

fn files_in(dir: PathBuf) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn storage_bytes(app: &TestApp, user: &TestUser) -> i64 {
    app.get_as(&user.token, "/api/v1/me").await.json["usage"]["storage_bytes"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn upload_list_download_and_delete_a_csv() {
    let app = TestApp::spawn().await;
    let user = app.signed_in_user().await;
    let csv = b"date,value\n2024-01-01,1.5\n2024-02-01,2.5\n".to_vec();
    let created = app.upload_as(&user.token, "sales.csv", csv.clone()).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let file = &created.json["file"];
    assert_eq!(file["name"], "sales.csv");
    assert_eq!(file["kind"], "upload");
    assert_eq!(file["size_bytes"], csv.len());
    assert_eq!(file["sha256"], hex::encode(Sha256::digest(&csv)));
    assert_eq!(file["content_type"], "text/csv");
    assert!(file["job_id"].is_null() && file["created_at"].is_string());
    let id = file["id"].as_str().unwrap().to_owned();
    assert_eq!(storage_bytes(&app, &user).await, csv.len() as i64);
    assert_eq!(
        files_in(workspace(&app, &user).join("uploads")),
        vec![id.clone()],
        "stored under its id"
    );

    let list = app.get_as(&user.token, "/api/v1/files").await;
    assert_eq!(list.json["files"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.get_as(&user.token, &format!("/api/v1/files/{id}"))
            .await
            .json["file"]["id"],
        id.as_str()
    );

    let download = app
        .client
        .get(app.url(&format!("/api/v1/files/{id}/content")))
        .bearer_auth(&user.token)
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), 200);
    let headers = download.headers().clone();
    assert_eq!(download.bytes().await.unwrap().to_vec(), csv);
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"sales.csv\"")
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["content-type"], "text/csv");

    let deleted = app
        .request_as(
            &user.token,
            Method::DELETE,
            &format!("/api/v1/files/{id}"),
            None,
        )
        .await;
    assert_eq!(deleted.status, 204);
    app.get_as(&user.token, &format!("/api/v1/files/{id}"))
        .await
        .assert_error(404, "not_found");
    app.get_as(&user.token, &format!("/api/v1/files/{id}/content"))
        .await
        .assert_error(404, "not_found");
    assert!(files_in(workspace(&app, &user).join("uploads")).is_empty());
    assert_eq!(storage_bytes(&app, &user).await, 0);

    let actions: Vec<String> = app.get_as(&user.token, "/api/v1/me/audit").await.json["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    for action in ["file.upload", "file.download", "file.delete"] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} not audited: {actions:?}"
        );
    }
}

#[tokio::test]
async fn the_upload_limit_and_the_storage_quota_hold_and_leave_nothing_behind() {
    let app = TestApp::builder()
        .env("FAIRLANE_MAX_UPLOAD_BYTES", "1000")
        .env("FAIRLANE_MAX_STORAGE_BYTES", "1500")
        .spawn()
        .await;
    let user = app.signed_in_user().await;
    app.upload_as(&user.token, "big.csv", vec![b'a'; 1001])
        .await
        .assert_error(413, "payload_too_large");
    assert_eq!(
        app.upload_as(&user.token, "ok.csv", vec![b'a'; 1000])
            .await
            .status,
        201
    );
    app.upload_as(&user.token, "over.csv", vec![b'b'; 600])
        .await
        .assert_error(429, "quota_exceeded");
    assert_eq!(storage_bytes(&app, &user).await, 1000);
    assert_eq!(files_in(workspace(&app, &user).join("uploads")).len(), 1);
    assert!(
        files_in(workspace(&app, &user).join("temp")).is_empty(),
        "partial files left"
    );
    assert_eq!(
        app.get_as(&user.token, "/api/v1/files").await.json["files"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn hostile_names_are_display_only_and_files_live_under_generated_ids() {
    let app = TestApp::spawn().await;
    let user = app.signed_in_user().await;
    let long = format!("{}.csv", "n".repeat(10_000));
    for (name, shown) in [
        ("../../../../tmp/evil.csv", "evil.csv"),
        ("C:\\Windows\\system32\\x.csv", "x.csv"),
        ("a\tb\tc.csv", "abc.csv"),
        (
            "rapport \"final\"; filename=x.csv",
            "rapport \"final\"; filename=x.csv",
        ),
    ] {
        let response = app
            .upload_as(&user.token, name, b"a,b\n1,2\n".to_vec())
            .await;
        assert_eq!(response.status, 201, "{name}: {}", response.text);
        assert_eq!(response.json["file"]["name"], shown);
        let id = response.json["file"]["id"].as_str().unwrap();
        let download = app
            .client
            .get(app.url(&format!("/api/v1/files/{id}/content")))
            .bearer_auth(&user.token)
            .send()
            .await
            .unwrap();
        let disposition = download.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(disposition.matches('"').count(), 2, "{disposition}");
    }
    let long_upload = app.upload_as(&user.token, &long, b"a\n".to_vec()).await;
    assert_eq!(long_upload.status, 201);
    assert_eq!(
        long_upload.json["file"]["name"]
            .as_str()
            .unwrap()
            .chars()
            .count(),
        255
    );
    assert!(!std::path::Path::new("/tmp/evil.csv").exists());
    for stored in files_in(workspace(&app, &user).join("uploads")) {
        assert!(uuid::Uuid::parse_str(&stored).is_ok(), "{stored}");
    }
}

#[tokio::test]
async fn empty_binary_unknown_and_malformed_uploads_are_refused() {
    let app = TestApp::spawn().await;
    let user = app.signed_in_user().await;
    app.upload_as(&user.token, "empty.csv", Vec::new())
        .await
        .assert_error(422, "validation_failed");
    app.upload_as(
        &user.token,
        "elf.csv",
        vec![0x7f, b'E', b'L', b'F', 0, 0, 0xff],
    )
    .await
    .assert_error(422, "validation_failed");
    app.upload_as(&user.token, "latin1.csv", b"caf\xe9\n".to_vec())
        .await
        .assert_error(422, "validation_failed");
    app.upload_as(&user.token, "tool.exe", b"MZ".to_vec())
        .await
        .assert_error(415, "unsupported_media_type");
    app.upload_as(&user.token, "fake.parquet", b"not parquet".to_vec())
        .await
        .assert_error(422, "validation_failed");
    assert_eq!(
        app.upload_as(&user.token, "real.parquet", b"PAR1 footer PAR1".to_vec())
            .await
            .status,
        201
    );
    let not_multipart = app
        .request_as(
            &user.token,
            Method::POST,
            "/api/v1/files",
            Some(&serde_json::json!({"file": "x"})),
        )
        .await;
    not_multipart.assert_error(415, "unsupported_media_type");
    let wrong_field = Form::new().part("document", Part::bytes(b"a\n".to_vec()).file_name("a.csv"));
    let response = read(
        app.client
            .post(app.url("/api/v1/files"))
            .bearer_auth(&user.token)
            .multipart(wrong_field)
            .send()
            .await
            .unwrap(),
    )
    .await;
    response.assert_error(422, "validation_failed");
    assert_eq!(storage_bytes(&app, &user).await, 16);
    assert!(files_in(workspace(&app, &user).join("temp")).is_empty());
}

#[tokio::test]
async fn a_client_that_disconnects_mid_upload_leaves_no_file_and_no_charge() {
    let app = TestApp::spawn().await;
    let user = app.signed_in_user().await;
    let boundary = "fairlane-test-boundary";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"partial.csv\"\r\nContent-Type: text/csv\r\n\r\n"
    );
    let addr = app.base_url.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let request = format!(
        "POST /api/v1/files HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: 1000000\r\n\r\n{head}",
        user.token
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.write_all(&vec![b'x'; 200_000]).await.unwrap();
    stream.flush().await.unwrap();
    let temp = workspace(&app, &user).join("temp");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while files_in(temp.clone()).is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        files_in(temp.clone()).len(),
        1,
        "the upload should be in progress in temp/"
    );
    drop(stream);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        files_in(workspace(&app, &user).join("temp")).is_empty(),
        "partial file left in temp/"
    );
    assert!(files_in(workspace(&app, &user).join("uploads")).is_empty());
    assert_eq!(storage_bytes(&app, &user).await, 0);
    assert!(
        app.get_as(&user.token, "/api/v1/files").await.json["files"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn another_users_file_is_404_on_every_endpoint() {
    let app = TestApp::spawn().await;
    let alice = app.signed_in_user().await;
    let bob = app.signed_in_user().await;
    let id = app
        .upload_as(&alice.token, "mine.csv", b"a\n".to_vec())
        .await
        .json["file"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.get_as(&bob.token, &format!("/api/v1/files/{id}"))
        .await
        .assert_error(404, "not_found");
    app.get_as(&bob.token, &format!("/api/v1/files/{id}/content"))
        .await
        .assert_error(404, "not_found");
    app.request_as(
        &bob.token,
        Method::DELETE,
        &format!("/api/v1/files/{id}"),
        None,
    )
    .await
    .assert_error(404, "not_found");
    assert!(
        app.get_as(&bob.token, "/api/v1/files").await.json["files"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    for bad in [
        "..%2f..%2fetc%2fpasswd",
        "%00",
        "not-a-uuid",
        "..",
        "%2e%2e%2f",
    ] {
        let response = app
            .get_as(&bob.token, &format!("/api/v1/files/{bad}/content"))
            .await;
        assert_eq!(response.status, 404, "{bad}: {}", response.text);
    }
    assert_eq!(
        app.get_as(&alice.token, &format!("/api/v1/files/{id}"))
            .await
            .status,
        200,
        "untouched"
    );
}
