//! The scheduler (issue 7): exactly-once ticks across replicas, workspace cleanup,
//! backup and `ops/restore`, a killed backup, and admin-requested runs.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use fairlane_tests::{Binary, TestApp, TestProcess};
use reqwest::Method;
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

const TASK_VARIABLES: [&str; 5] = [
    "FAIRLANE_SCHEDULE_WORKSPACE_CLEANUP",
    "FAIRLANE_SCHEDULE_CONTEXT_EVICTION",
    "FAIRLANE_SCHEDULE_SESSION_PURGE",
    "FAIRLANE_SCHEDULE_JOB_RETENTION",
    "FAIRLANE_SCHEDULE_BACKUP",
];

/// A deployment where no task fires on schedule unless `overrides` says so.
async fn app_with(overrides: &[(&str, &str)]) -> TestApp {
    let mut builder = TestApp::builder();
    for variable in TASK_VARIABLES {
        builder = builder.env(variable, "off");
    }
    for (name, value) in overrides {
        builder = builder.env(name, *value);
    }
    builder.spawn().await
}

/// Runs `fairlane-scheduler run <task>` to completion; returns its summary.
async fn run_task(env: &HashMap<String, String>, task: &str) -> Value {
    let mut process = TestProcess::spawn(Binary::Scheduler, &["run", task], env);
    let status = process.wait_exit(Duration::from_secs(120)).await;
    assert!(status.success(), "run {task}: {}", process.tail(40));
    // The output is read asynchronously: the summary may land just after the exit.
    process
        .wait_for_event(
            |v| v.is_object() && v.get("message").is_none(),
            Duration::from_secs(5),
        )
        .await
        .unwrap_or_else(|| panic!("no summary from run {task}: {}", process.tail(20)))
}

fn data_dir(app: &TestApp) -> PathBuf {
    PathBuf::from(&app.env()["FAIRLANE_DATA_DIR"])
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Sets a path's own modification time (links not followed).
fn age(path: &Path, days: u32) {
    let status = std::process::Command::new("touch")
        .arg("-h")
        .arg("-d")
        .arg(format!("{days} days ago"))
        .arg(path)
        .status()
        .expect("touch");
    assert!(status.success());
}

#[tokio::test]
async fn two_replicas_run_every_one_second_tick_exactly_once() {
    let app = app_with(&[
        ("FAIRLANE_SCHEDULE_SESSION_PURGE", "* * * * * *"),
        ("FAIRLANE_SCHEDULER_METRICS_PORT", "0"),
    ])
    .await;
    let a = app.start_scheduler().await;
    let b = app.start_scheduler().await;
    let from = chrono::Utc::now() + chrono::Duration::seconds(2);
    tokio::time::sleep(Duration::from_secs(58)).await;
    let to = chrono::Utc::now() - chrono::Duration::seconds(2);

    let db = app.db.client().await;
    let rows = db
        .query(
            "SELECT id, outcome, instance FROM maintenance_runs WHERE task = 'session_purge' \
               AND trigger = 'schedule' AND scheduled_for BETWEEN $1 AND $2",
            &[&from, &to],
        )
        .await
        .unwrap();
    let ids: BTreeSet<String> = rows.iter().map(|r| r.get(0)).collect();
    let mut tick = from
        .with_nanosecond_floor()
        .checked_add_signed(chrono::Duration::seconds(1))
        .unwrap();
    let mut expected = 0;
    while tick <= to {
        let id = format!(
            "session_purge:{}",
            tick.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
        assert!(ids.contains(&id), "tick {id} did not run; ran: {ids:?}");
        tick += chrono::Duration::seconds(1);
        expected += 1;
    }
    assert!(expected >= 50, "{expected}");
    for row in &rows {
        assert_eq!(
            row.get::<_, &str>(1),
            "succeeded",
            "{}",
            row.get::<_, &str>(0)
        );
    }

    // Each run started once across both processes.
    let mut starts: HashMap<String, usize> = HashMap::new();
    for event in a.events().into_iter().chain(b.events()) {
        if event["message"] == "maintenance run started" {
            *starts
                .entry(event["run"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
    }
    for id in &ids {
        assert_eq!(
            starts.get(id),
            Some(&1),
            "{id} started {:?} times",
            starts.get(id)
        );
    }
}

trait FloorSeconds {
    fn with_nanosecond_floor(self) -> Self;
}

impl FloorSeconds for chrono::DateTime<chrono::Utc> {
    fn with_nanosecond_floor(self) -> Self {
        use chrono::Timelike;
        self.with_nanosecond(0).unwrap()
    }
}

/// Inserts a `files` row and its bytes; returns the id and path.
async fn put_file(
    db: &tokio_postgres::Client,
    data: &Path,
    user: Uuid,
    (kind, area): (&str, &str),
    days_old: i32,
    pinned: bool,
    bytes: &[u8],
) -> (Uuid, PathBuf) {
    let id = Uuid::new_v4();
    let path = data
        .join("users")
        .join(user.to_string())
        .join(area)
        .join(id.to_string());
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    let size = i64::try_from(bytes.len()).unwrap();
    db.execute(
        "INSERT INTO files (id, user_id, kind, area, name, size_bytes, sha256, content_type, pinned, created_at) \
         VALUES ($1, $2, $3, $4, 'f.csv', $5, $6, 'text/csv', $7, now() - make_interval(days => $8))",
        &[&id, &user, &kind, &area, &size, &sha256_hex(bytes), &pinned, &days_old],
    )
    .await
    .unwrap();
    (id, path)
}

#[tokio::test]
async fn workspace_cleanup_removes_only_what_expired_and_never_follows_links() {
    let app = app_with(&[]).await;
    let alice: Uuid = app.signed_in_user().await.id.parse().unwrap();
    let bob: Uuid = app.signed_in_user().await.id.parse().unwrap();
    let data = data_dir(&app);
    let db = app.db.client().await;
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.txt");
    std::fs::write(&secret, b"not yours").unwrap();
    age(&secret, 30);

    let (_, old_export) = put_file(
        &db,
        &data,
        alice,
        ("result", "exports"),
        10,
        false,
        b"old export",
    )
    .await;
    let (_, pinned_export) = put_file(
        &db,
        &data,
        alice,
        ("result", "exports"),
        10,
        true,
        b"pinned!",
    )
    .await;
    let (_, old_result) = put_file(
        &db,
        &data,
        alice,
        ("result", "processed_options"),
        9,
        false,
        b"old result",
    )
    .await;
    let (_, old_upload) = put_file(
        &db,
        &data,
        alice,
        ("upload", "uploads"),
        40,
        false,
        b"upload",
    )
    .await;
    let (_, fresh_export) = put_file(
        &db,
        &data,
        bob,
        ("result", "exports"),
        2,
        false,
        b"fresh export",
    )
    .await;
    db.execute("UPDATE users SET storage_bytes = 123456", &[])
        .await
        .unwrap();

    let alice_root = data.join("users").join(alice.to_string());
    let bob_root = data.join("users").join(bob.to_string());
    let old_temp = alice_root.join("temp/old.tmp");
    std::fs::write(&old_temp, b"x").unwrap();
    age(&old_temp, 2);
    let new_temp = alice_root.join("temp/new.tmp");
    std::fs::write(&new_temp, b"y").unwrap();
    std::fs::create_dir_all(alice_root.join("temp/a/b")).unwrap();
    let temp_link = alice_root.join("temp/link-out");
    std::os::unix::fs::symlink(&secret, &temp_link).unwrap();
    age(&temp_link, 3);
    let dir_link = alice_root.join("temp/dir-out");
    std::os::unix::fs::symlink(outside.path(), &dir_link).unwrap();
    age(&dir_link, 3);
    let upload_link = alice_root.join("uploads/link-out");
    std::os::unix::fs::symlink(&secret, &upload_link).unwrap();
    let bob_old_temp = bob_root.join("temp/old.tmp");
    std::fs::write(&bob_old_temp, b"z").unwrap();
    age(&bob_old_temp, 5);

    let summary = run_task(app.env(), "workspace_cleanup").await;
    assert_eq!(summary["expired_files"], 2, "{summary}");

    for gone in [&old_export, &old_result, &old_temp, &bob_old_temp] {
        assert!(!gone.exists(), "{} should be gone", gone.display());
    }
    for kept in [&pinned_export, &old_upload, &fresh_export, &new_temp] {
        assert!(kept.exists(), "{} should be kept", kept.display());
    }
    assert!(
        temp_link.symlink_metadata().is_err(),
        "an old link in temp is removed"
    );
    assert!(dir_link.symlink_metadata().is_err());
    assert!(
        upload_link.symlink_metadata().is_ok(),
        "a link elsewhere is left"
    );
    assert!(
        !alice_root.join("temp/a").exists(),
        "empty dirs are removed"
    );
    assert!(alice_root.join("temp").is_dir() && alice_root.join("exports").is_dir());
    assert_eq!(std::fs::read(&secret).unwrap(), b"not yours");
    assert_eq!(outside.path().read_dir().unwrap().count(), 1);

    let storage = |id: Uuid| {
        let db = &db;
        async move {
            db.query_one("SELECT storage_bytes FROM users WHERE id = $1", &[&id])
                .await
                .unwrap()
                .get::<_, i64>(0)
        }
    };
    assert_eq!(storage(alice).await, 7 + 6);
    assert_eq!(storage(bob).await, 12);
    let files: i64 = db
        .query_one("SELECT count(*) FROM files", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(files, 3);
    let run = db
        .query_one(
            "SELECT outcome, trigger FROM maintenance_runs WHERE task = 'workspace_cleanup'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(run.get::<_, &str>(0), "succeeded");
    assert_eq!(run.get::<_, &str>(1), "cli");
}

#[tokio::test]
async fn an_admin_request_runs_once_and_shows_in_stats() {
    let app = app_with(&[]).await;
    let _scheduler = app.start_scheduler().await;
    let admin = app.signed_in_user().await;
    let user = app.signed_in_user().await;
    assert!(
        app.run_cli(&["create-admin", "--email", &admin.email])
            .await
            .0
            .success()
    );

    let path = "/api/v1/admin/maintenance/workspace_cleanup";
    app.request_as(&user.token, Method::POST, path, None)
        .await
        .assert_error(403, "forbidden");
    app.request_as(
        &admin.token,
        Method::POST,
        "/api/v1/admin/maintenance/instruments",
        None,
    )
    .await
    .assert_error(404, "not_found");
    let accepted = app.request_as(&admin.token, Method::POST, path, None).await;
    assert_eq!(accepted.status, 202, "{}", accepted.text);
    assert_eq!(accepted.json["task"], "workspace_cleanup");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let cleanup = loop {
        let stats = app.get_as(&admin.token, "/api/v1/admin/stats").await;
        assert_eq!(stats.status, 200, "{}", stats.text);
        let maintenance = stats.json["maintenance"].as_array().unwrap().clone();
        assert_eq!(maintenance.len(), 5, "{maintenance:?}");
        let cleanup = maintenance
            .into_iter()
            .find(|t| t["task"] == "workspace_cleanup")
            .unwrap();
        if cleanup["last_run"]["outcome"] == "succeeded" || tokio::time::Instant::now() > deadline {
            break cleanup;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(cleanup["last_run"]["outcome"], "succeeded", "{cleanup}");
    assert_eq!(cleanup["schedule"], "off");
    assert!(cleanup["last_run"]["started_at"].is_string());
    assert!(cleanup["last_run"]["finished_at"].is_string());
    assert!(
        cleanup["last_run"]["summary"]["users_recounted"].is_number(),
        "{cleanup}"
    );
    let runs: i64 = app
        .db
        .client()
        .await
        .query_one(
            "SELECT count(*) FROM maintenance_runs WHERE trigger = 'request'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(runs, 1);
}

fn backup_env(app: &TestApp, backups: &Path) -> HashMap<String, String> {
    let mut env = app.env().clone();
    env.insert("FAIRLANE_BACKUP_DIR".into(), backups.display().to_string());
    if let Ok(bin) = std::env::var("FAIRLANE_TEST_PG_BIN") {
        env.insert("FAIRLANE_PG_BIN_DIR".into(), bin);
    }
    env
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// What must come back identical after a restore.
async fn snapshot(app: &TestApp, ring: &fairlane_shared::crypto::Keyring) -> Value {
    use secrecy::ExposeSecret;
    let db = app.db.client().await;
    let users: Vec<Value> = db
        .query(
            "SELECT id, email, password_hash, storage_bytes FROM users ORDER BY id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| {
            serde_json::json!([
                r.get::<_, Uuid>(0),
                r.get::<_, String>(1),
                r.get::<_, String>(2),
                r.get::<_, i64>(3)
            ])
        })
        .collect();
    let jobs: Vec<Value> = db
        .query(
            "SELECT id, user_id, state, params FROM jobs ORDER BY id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| {
            serde_json::json!([
                r.get::<_, Uuid>(0),
                r.get::<_, Uuid>(1),
                r.get::<_, String>(2),
                r.get::<_, Value>(3)
            ])
        })
        .collect();
    let mut files = Vec::new();
    for r in db
        .query(
            "SELECT id, user_id, area, sha256 FROM files ORDER BY id",
            &[],
        )
        .await
        .unwrap()
    {
        let (id, user, area): (Uuid, Uuid, String) = (r.get(0), r.get(1), r.get(2));
        let bytes = std::fs::read(
            data_dir(app)
                .join("users")
                .join(user.to_string())
                .join(&area)
                .join(id.to_string()),
        )
        .unwrap();
        assert_eq!(sha256_hex(&bytes), r.get::<_, String>(3));
        files.push(serde_json::json!([id, user, area, sha256_hex(&bytes)]));
    }
    let mut credentials = Vec::new();
    for user in db
        .query(
            "SELECT user_id FROM broker_credentials ORDER BY user_id",
            &[],
        )
        .await
        .unwrap()
    {
        let user: Uuid = user.get(0);
        let creds = fairlane_shared::credentials::load(&db, ring, user)
            .await
            .unwrap()
            .unwrap()
            .expect("credentials decrypt");
        credentials.push(serde_json::json!([
            user,
            creds.api_key.expose_secret(),
            creds.access_token.expose_secret()
        ]));
    }
    serde_json::json!({ "users": users, "jobs": jobs, "files": files, "credentials": credentials })
}

#[tokio::test]
async fn a_backup_restores_into_an_empty_deployment_identically() {
    let keys = format!("1:{}", fairlane_tests::app::random_key_b64());
    let app = TestApp::builder()
        .env("FAIRLANE_ENCRYPTION_KEYS", keys.clone())
        .spawn()
        .await;
    let ring = fairlane_shared::crypto::Keyring::from_env(
        &fairlane_shared::config::Env::from_pairs([("FAIRLANE_ENCRYPTION_KEYS", keys.as_str())]),
    )
    .unwrap();
    let user = app.signed_in_user().await;
    let user_id: Uuid = user.id.parse().unwrap();
    let db = app.db.client().await;
    fairlane_shared::credentials::store(
        &db,
        &ring,
        user_id,
        &fairlane_shared::credentials::BrokerCredentials {
            api_key: "kite-key".to_owned().into(),
            access_token: "kite-token".to_owned().into(),
        },
    )
    .await
    .unwrap();
    let job = Uuid::now_v7();
    db.execute(
        "INSERT INTO jobs (id, user_id, kind, params, state, max_attempts, timeout_ms, finished_at) \
         VALUES ($1, $2, 'echo', '{\"x\": 1}', 'succeeded', 3, 1000, now())",
        &[&job, &user_id],
    )
    .await
    .unwrap();
    put_file(
        &db,
        &data_dir(&app),
        user_id,
        ("upload", "uploads"),
        0,
        false,
        b"a,b\n1,2\n",
    )
    .await;
    put_file(
        &db,
        &data_dir(&app),
        user_id,
        ("result", "exports"),
        0,
        true,
        &vec![7u8; 300_000],
    )
    .await;
    let before = snapshot(&app, &ring).await;

    let backups = tempfile::tempdir().unwrap();
    let summary = run_task(&backup_env(&app, backups.path()), "backup").await;
    let names = listing(backups.path());
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(!names[0].ends_with(".partial"));
    assert_eq!(summary["backup"], names[0].as_str());
    let backup = backups.path().join(&names[0]);

    let target = TestApp::builder()
        .env("FAIRLANE_ENCRYPTION_KEYS", keys.clone())
        .spawn()
        .await;
    let restore = |app: &TestApp| {
        let mut command = std::process::Command::new(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../ops/restore"),
        );
        command
            .arg(&backup)
            .env("FAIRLANE_DATABASE_URL", &app.env()["FAIRLANE_DATABASE_URL"])
            .env("FAIRLANE_DATA_DIR", &app.env()["FAIRLANE_DATA_DIR"]);
        if let Ok(bin) = std::env::var("FAIRLANE_TEST_PG_BIN") {
            command.env("FAIRLANE_PG_BIN_DIR", bin);
        }
        command.output().expect("run ops/restore")
    };
    // Never over a deployment that has users.
    let refused = restore(&app);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("already has users"));

    let restored = restore(&target);
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    assert_eq!(snapshot(&target, &ring).await, before);
    let login = target.login(&user.email, &user.password).await;
    assert_eq!(login.status, 200, "{}", login.text);

    // A corrupted backup is refused before anything is written.
    let other = TestApp::spawn().await;
    std::fs::write(backup.join("users.tar.gz"), b"corrupt").unwrap();
    let refused = restore(&other);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("checksum"));
}

#[tokio::test]
async fn a_scheduler_killed_mid_backup_leaves_no_backup_listed_as_good() {
    let app = app_with(&[
        ("FAIRLANE_DIAGNOSTIC_JOBS", "1"),
        ("FAIRLANE_BACKUP_DELAY_MS", "30000"),
        ("FAIRLANE_MAINTENANCE_LEASE_SECS", "3"),
    ])
    .await;
    let backups = tempfile::tempdir().unwrap();
    let env = backup_env(&app, backups.path());
    let backup = TestProcess::spawn(Binary::Scheduler, &["run", "backup"], &env);
    backup
        .wait_for_message("maintenance run started", Duration::from_secs(30))
        .await;
    // The dump is written, the archive not yet.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !listing(backups.path())
        .iter()
        .any(|n| n.ends_with(".partial"))
        || std::fs::read_dir(backups.path().join(&listing(backups.path())[0]))
            .map(|d| d.count())
            .unwrap_or(0)
            == 0
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no partial backup appeared"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    backup.signal(nix::sys::signal::Signal::SIGKILL);
    drop(backup);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let names = listing(backups.path());
    assert!(!names.is_empty());
    assert!(names.iter().all(|n| n.ends_with(".partial")), "{names:?}");

    // Any replica marks the dead run failed once its lease runs out.
    let _scheduler = TestProcess::spawn(Binary::Scheduler, &[], &env);
    let db = app.db.client().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let outcome: String = db
            .query_one(
                "SELECT outcome FROM maintenance_runs WHERE task = 'backup'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if outcome == "failed" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "still {outcome}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        listing(backups.path())
            .iter()
            .all(|n| n.ends_with(".partial"))
    );
}

#[tokio::test]
async fn job_retention_deletes_old_finished_jobs_with_their_files_and_refunds_storage() {
    let app = app_with(&[]).await;
    let user: Uuid = app.signed_in_user().await.id.parse().unwrap();
    let db = app.db.client().await;
    let data = data_dir(&app);
    let job = |state: &'static str, finished_days: Option<i32>| {
        let db = &db;
        async move {
            let id = Uuid::now_v7();
            db.execute(
                "INSERT INTO jobs (id, user_id, kind, params, state, max_attempts, timeout_ms, finished_at) \
                 VALUES ($1, $2, 'echo', '{}', $3, 3, 1000, now() - make_interval(days => $4))",
                &[&id, &user, &state, &finished_days],
            )
            .await
            .unwrap();
            id
        }
    };
    let old_done = job("succeeded", Some(40)).await;
    let old_failed = job("failed", Some(31)).await;
    let recent = job("succeeded", Some(5)).await;
    let queued = job("queued", None).await;
    let (old_file, old_path) = put_file(
        &db,
        &data,
        user,
        ("result", "processed_options"),
        40,
        false,
        b"0123456789",
    )
    .await;
    let (recent_file, recent_path) =
        put_file(&db, &data, user, ("result", "exports"), 5, false, b"abc").await;
    db.execute(
        "UPDATE files SET job_id = $2 WHERE id = $1",
        &[&old_file, &old_done],
    )
    .await
    .unwrap();
    db.execute(
        "UPDATE files SET job_id = $2 WHERE id = $1",
        &[&recent_file, &recent],
    )
    .await
    .unwrap();
    db.execute(
        "UPDATE users SET storage_bytes = 13 WHERE id = $1",
        &[&user],
    )
    .await
    .unwrap();

    let summary = run_task(app.env(), "job_retention").await;
    assert_eq!(summary["jobs_deleted"], 2, "{summary}");
    assert_eq!(summary["files_deleted"], 1, "{summary}");
    let left: BTreeSet<Uuid> = db
        .query("SELECT id FROM jobs", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(left, BTreeSet::from([recent, queued]));
    assert!(!left.contains(&old_failed));
    assert!(!old_path.exists());
    assert!(recent_path.exists());
    let storage: i64 = db
        .query_one("SELECT storage_bytes FROM users WHERE id = $1", &[&user])
        .await
        .unwrap()
        .get(0);
    assert_eq!(storage, 3);
}

#[tokio::test]
async fn session_purge_removes_only_dead_index_entries_and_eviction_reaches_workers() {
    use futures::StreamExt;
    let app = app_with(&[]).await;
    let user = app.signed_in_user().await;
    let second = app.login(&user.email, &user.password).await;
    assert_eq!(second.status, 200);
    let client = redis::Client::open(app.redis.url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let index = format!("{}user-sessions:{}", app.redis.prefix, user.id);
    let entries: HashMap<String, String> = redis::cmd("HGETALL")
        .arg(&index)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(entries.len(), 2, "{entries:?}");
    // Expire the second session the way its TTL would.
    let second_token_hash = sha256_hex(second.json["token"].as_str().unwrap().as_bytes());
    let dead = entries
        .iter()
        .find(|(_, hash)| **hash == second_token_hash)
        .map(|(_, hash)| hash.clone())
        .unwrap_or_else(|| entries.values().next().unwrap().clone());
    let _: i64 = redis::cmd("DEL")
        .arg(format!("{}session:{dead}", app.redis.prefix))
        .query_async(&mut conn)
        .await
        .unwrap();

    let summary = run_task(app.env(), "session_purge").await;
    assert_eq!(summary["entries_removed"], 1, "{summary}");
    let left: HashMap<String, String> = redis::cmd("HGETALL")
        .arg(&index)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(left.len(), 1);
    assert!(!left.values().any(|h| *h == dead));

    let mut pubsub = client.get_async_pubsub().await.unwrap();
    pubsub
        .subscribe(format!("{}maintenance-events", app.redis.prefix))
        .await
        .unwrap();
    let summary = run_task(app.env(), "context_eviction").await;
    assert_eq!(summary["receivers"], 1, "{summary}");
    let message = tokio::time::timeout(Duration::from_secs(5), pubsub.on_message().next())
        .await
        .unwrap()
        .unwrap();
    let payload: Value = serde_json::from_str(&message.get_payload::<String>().unwrap()).unwrap();
    assert_eq!(
        payload,
        serde_json::json!({"kind": "evict_idle", "idle_secs": 1800})
    );
}

#[tokio::test]
async fn sigterm_abandons_a_run_in_progress_and_records_it_failed() {
    let app = app_with(&[
        ("FAIRLANE_DIAGNOSTIC_JOBS", "1"),
        ("FAIRLANE_BACKUP_DELAY_MS", "30000"),
    ])
    .await;
    let backups = tempfile::tempdir().unwrap();
    let mut scheduler =
        TestProcess::spawn(Binary::Scheduler, &[], &backup_env(&app, backups.path()));
    scheduler
        .wait_for_message("scheduler ready", Duration::from_secs(30))
        .await;
    let db = app.db.client().await;
    db.execute(
        "INSERT INTO maintenance_requests (id, task) VALUES ($1, 'backup')",
        &[&Uuid::now_v7()],
    )
    .await
    .unwrap();
    scheduler
        .wait_for_message("maintenance run started", Duration::from_secs(10))
        .await;
    scheduler.signal(nix::sys::signal::Signal::SIGTERM);
    let status = scheduler.wait_exit(Duration::from_secs(10)).await;
    assert!(status.success(), "{}", scheduler.tail(20));
    let run = db
        .query_one(
            "SELECT outcome, error FROM maintenance_runs WHERE task = 'backup'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(run.get::<_, &str>(0), "failed");
    assert!(
        run.get::<_, &str>(1).contains("stopped"),
        "{:?}",
        run.get::<_, &str>(1)
    );
    assert!(
        listing(backups.path())
            .iter()
            .all(|n| n.ends_with(".partial"))
    );
}

#[tokio::test]
async fn ticks_missed_during_downtime_run_once_on_start() {
    // An hour turning during the test would add that hour's own run: start after it.
    let into_hour = chrono::Utc::now().timestamp().rem_euclid(3600);
    if into_hour > 3590 {
        tokio::time::sleep(Duration::from_secs(
            u64::try_from(3601 - into_hour).unwrap(),
        ))
        .await;
    }
    let app = app_with(&[("FAIRLANE_SCHEDULE_SESSION_PURGE", "0 0 * * * *")]).await;
    let db = app.db.client().await;
    let hour = |hours_ago: i64| {
        use chrono::{DurationRound, Utc};
        Utc::now()
            .duration_trunc(chrono::Duration::hours(1))
            .unwrap()
            - chrono::Duration::hours(hours_ago)
    };
    let last = hour(5);
    db.execute(
        "INSERT INTO maintenance_runs (id, task, scheduled_for, trigger, instance, outcome, finished_at) \
         VALUES ($1, 'session_purge', $2, 'schedule', 'gone', 'succeeded', $2)",
        &[
            &format!("session_purge:{}", last.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            &last,
        ],
    )
    .await
    .unwrap();
    let _a = app.start_scheduler().await;
    let _b = app.start_scheduler().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let ids: Vec<String> = db
        .query(
            "SELECT id FROM maintenance_runs WHERE scheduled_for > $1 ORDER BY id",
            &[&last],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let latest = format!(
        "session_purge:{}",
        hour(0).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    assert_eq!(ids, vec![latest]);
}
