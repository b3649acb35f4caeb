//! Accounts and sessions through the real API: registration, login, sessions, password
//! change, API keys, TOTP, profile, export and deletion.

use fairlane_tests::TestApp;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn registration_returns_the_user_with_an_ordered_handle_and_stores_an_argon2id_hash() {
    let app = TestApp::spawn().await;
    let first = app
        .post_json(
            "/api/v1/auth/register",
            &json!({"email": " Ada@Example.com ", "password": "correct-horse-battery-staple", "name": "Ada", "monthly_income": 1234.5, "currency": "EUR"}),
        )
        .await;
    assert_eq!(first.status, 201, "{}", first.text);
    let user = &first.json["user"];
    assert_eq!(user["number"], "U00001");
    assert_eq!(user["email"], "Ada@Example.com");
    assert_eq!(user["role"], "user");
    assert_eq!(user["currency"], "EUR");
    assert_eq!(user["monthly_income"], 1234.5);
    assert_eq!(user["totp_enabled"], false);
    for field in ["id", "name", "created_at"] {
        assert!(!user[field].is_null(), "{field}");
    }
    let second = app.signed_in_user().await;
    assert_eq!(second.user["number"], "U00002");

    let db = app.db.client().await;
    let hash: String = db
        .query_one("SELECT password_hash FROM users WHERE number = 1", &[])
        .await
        .unwrap()
        .get(0);
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );

    // A failed registration (duplicate) does not consume a handle number.
    let duplicate = app
        .post_json("/api/v1/auth/register", &json!({"email": "ada@example.com", "password": "correct-horse-battery-staple", "name": "Ada 2"}))
        .await;
    duplicate.assert_error(409, "email_taken");
    let third = app.signed_in_user().await;
    assert_eq!(third.user["number"], "U00003");
}

#[tokio::test]
async fn registration_creates_the_workspace_directories() {
    let app = TestApp::spawn().await;
    let user = app.signed_in_user().await;
    let root = std::path::Path::new(&app.env()["FAIRLANE_DATA_DIR"])
        .join("users")
        .join(&user.id);
    for area in [
        "uploads",
        "processed_options",
        "calculated_columns",
        "filtered_options",
        "exports",
        "temp",
        "logs",
    ] {
        assert!(
            root.join(area).is_dir(),
            "{area} missing under {}",
            root.display()
        );
    }
}

#[tokio::test]
async fn login_logout_and_the_token_dies_at_once() {
    let app = TestApp::spawn().await;
    let user = app.signed_in_user().await;
    let me = app.get_as(&user.token, "/api/v1/me").await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.json["user"]["email"], user.email.as_str());
    assert_eq!(me.json["credentials"]["configured"], false);
    assert_eq!(me.json["quotas"]["max_running_jobs"], 2);
    assert_eq!(me.json["usage"]["running_jobs"], 0);

    let logout = app
        .request_as(&user.token, Method::POST, "/api/v1/auth/logout", None)
        .await;
    assert_eq!(logout.status, 204);
    app.get_as(&user.token, "/api/v1/me")
        .await
        .assert_error(401, "unauthorized");
}

#[tokio::test]
async fn sessions_are_listed_and_revoked_one_or_all() {
    let app = TestApp::spawn().await;
    let user = app.signed_in_user().await;
    let second = app.login(&user.email, &user.password).await.json["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let third = app.login(&user.email, &user.password).await.json["token"]
        .as_str()
        .unwrap()
        .to_owned();

    let list = app.get_as(&user.token, "/api/v1/auth/sessions").await;
    let sessions = list.json["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 3, "{}", list.text);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    for field in [
        "id",
        "created_at",
        "last_seen_at",
        "expires_at",
        "ip",
        "user_agent",
    ] {
        assert!(!sessions[0][field].is_null(), "{field}");
    }

    // Revoke the session of `second` from the first device.
    let second_id = app.get_as(&second, "/api/v1/auth/sessions").await.json["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoke = app
        .request_as(
            &user.token,
            Method::DELETE,
            &format!("/api/v1/auth/sessions/{second_id}"),
            None,
        )
        .await;
    assert_eq!(revoke.status, 204);
    app.get_as(&second, "/api/v1/me")
        .await
        .assert_error(401, "unauthorized");
    assert_eq!(app.get_as(&third, "/api/v1/me").await.status, 200);
    app.request_as(
        &user.token,
        Method::DELETE,
        &format!("/api/v1/auth/sessions/{second_id}"),
        None,
    )
    .await
    .assert_error(404, "not_found");

    // Log out everywhere, this session included.
    let all = app
        .request_as(&third, Method::DELETE, "/api/v1/auth/sessions", None)
        .await;
    assert_eq!(all.status, 204);
    app.get_as(&third, "/api/v1/me")
        .await
        .assert_error(401, "unauthorized");
    app.get_as(&user.token, "/api/v1/me")
        .await
        .assert_error(401, "unauthorized");
}

#[tokio::test]
async fn password_change_needs_the_current_password_and_revokes_other_sessions() {
    let app = TestApp::spawn().await;
    let user = app.signed_in_user().await;
    let other = app.login(&user.email, &user.password).await.json["token"]
        .as_str()
        .unwrap()
        .to_owned();

    let wrong = app
        .request_as(&user.token, Method::PUT, "/api/v1/me/password", Some(&json!({"current_password": "not-the-password-1", "new_password": "new-horse-battery-staple"})))
        .await;
    wrong.assert_error(422, "validation_failed");
    assert_eq!(wrong.json["error"]["details"]["field"], "current_password");
    let weak = app
        .request_as(
            &user.token,
            Method::PUT,
            "/api/v1/me/password",
            Some(&json!({"current_password": user.password, "new_password": "password123"})),
        )
        .await;
    weak.assert_error(422, "validation_failed");
    assert_eq!(weak.json["error"]["details"]["field"], "new_password");

    let changed = app
        .request_as(&user.token, Method::PUT, "/api/v1/me/password", Some(&json!({"current_password": user.password, "new_password": "new-horse-battery-staple"})))
        .await;
    assert_eq!(changed.status, 204, "{}", changed.text);
    assert_eq!(
        app.get_as(&user.token, "/api/v1/me").await.status,
        200,
        "the current session survives"
    );
    app.get_as(&other, "/api/v1/me")
        .await
        .assert_error(401, "unauthorized");
    app.login(&user.email, &user.password)
        .await
        .assert_error(401, "invalid_credentials");
    assert_eq!(
        app.login(&user.email, "new-horse-battery-staple")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn api_keys_are_shown_once_work_as_bearer_tokens_and_die_when_revoked() {
    let app = TestApp::spawn().await;
    let user = app.signed_in_user().await;
    let created = app
        .request_as(
            &user.token,
            Method::POST,
            "/api/v1/me/api-keys",
            Some(&json!({"name": "script"})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let key = created.json["key"].as_str().unwrap().to_owned();
    let id = created.json["id"].as_str().unwrap().to_owned();

    let list = app.get_as(&user.token, "/api/v1/me/api-keys").await;
    assert_eq!(list.json["api_keys"][0]["name"], "script");
    assert!(!list.text.contains(&key), "the key must not be listed");
    assert!(list.json["api_keys"][0].get("key").is_none());

    let me = app.get_as(&key, "/api/v1/me").await;
    assert_eq!(me.status, 200);
    assert_eq!(me.json["user"]["id"], user.id.as_str());
    let db = app.db.client().await;
    let stored: Vec<u8> = db
        .query_one("SELECT key_hash FROM api_keys", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored.len(), 32);
    assert!(!String::from_utf8_lossy(&stored).contains(&key[4..]));

    let revoke = app
        .request_as(
            &user.token,
            Method::DELETE,
            &format!("/api/v1/me/api-keys/{id}"),
            None,
        )
        .await;
    assert_eq!(revoke.status, 204);
    app.get_as(&key, "/api/v1/me")
        .await
        .assert_error(401, "unauthorized");
}

#[tokio::test]
async fn profile_updates_validate_each_field() {
    let app = TestApp::spawn().await;
    let user = app.signed_in_user().await;
    let patched = app
        .request_as(
            &user.token,
            Method::PATCH,
            "/api/v1/me",
            Some(&json!({"name": "Grace Hopper", "monthly_income": 5000, "currency": "USD"})),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert_eq!(patched.json["user"]["name"], "Grace Hopper");
    assert_eq!(patched.json["user"]["monthly_income"], 5000.0);
    let cleared = app
        .request_as(
            &user.token,
            Method::PATCH,
            "/api/v1/me",
            Some(&json!({"monthly_income": null})),
        )
        .await;
    assert!(
        cleared.json["user"]["monthly_income"].is_null(),
        "{}",
        cleared.text
    );
    assert_eq!(cleared.json["user"]["name"], "Grace Hopper");
    for (body, field) in [
        (json!({"currency": "usd"}), "currency"),
        (json!({"monthly_income": -1}), "monthly_income"),
        (json!({"name": ""}), "name"),
    ] {
        let response = app
            .request_as(&user.token, Method::PATCH, "/api/v1/me", Some(&body))
            .await;
        response.assert_error(422, "validation_failed");
        assert_eq!(
            response.json["error"]["details"]["field"], field,
            "{}",
            response.text
        );
    }
    let role = app
        .request_as(
            &user.token,
            Method::PATCH,
            "/api/v1/me",
            Some(&json!({"role": "admin"})),
        )
        .await;
    role.assert_error(422, "validation_failed");
    assert_eq!(
        app.get_as(&user.token, "/api/v1/me").await.json["user"]["role"],
        "user"
    );
}

fn totp_code(secret_base32: &str, at: u64) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret_base32).unwrap();
    totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret.as_ref().to_vec())
        .with_account_name("x")
        .build()
        .unwrap()
        .generate(at)
        .to_string()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn totp_enrolment_login_and_replay_protection() {
    let app = TestApp::spawn().await;
    let user = app.signed_in_user().await;
    let start = app
        .request_as(&user.token, Method::POST, "/api/v1/me/totp", None)
        .await;
    assert_eq!(start.status, 200, "{}", start.text);
    let secret = start.json["secret"].as_str().unwrap().to_owned();
    assert!(
        start.json["otpauth_url"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/")
    );

    app.request_as(
        &user.token,
        Method::POST,
        "/api/v1/me/totp/confirm",
        Some(&json!({"code": "000000"})),
    )
    .await
    .assert_error(422, "validation_failed");
    let code_now = totp_code(&secret, now());
    let confirmed = app
        .request_as(
            &user.token,
            Method::POST,
            "/api/v1/me/totp/confirm",
            Some(&json!({"code": code_now})),
        )
        .await;
    assert_eq!(confirmed.status, 204, "{}", confirmed.text);

    app.login(&user.email, &user.password)
        .await
        .assert_error(401, "totp_required");
    // The code just used to confirm cannot be used again.
    app.post_json(
        "/api/v1/auth/login",
        &json!({"email": user.email, "password": user.password, "totp_code": code_now}),
    )
    .await
    .assert_error(401, "invalid_credentials");
    // The next step's code (within the ±1 skew) works once, then is a replay.
    let next = totp_code(&secret, now() + 30);
    let ok = app
        .post_json(
            "/api/v1/auth/login",
            &json!({"email": user.email, "password": user.password, "totp_code": next}),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.json["user"]["totp_enabled"], true);
    app.post_json(
        "/api/v1/auth/login",
        &json!({"email": user.email, "password": user.password, "totp_code": next}),
    )
    .await
    .assert_error(401, "invalid_credentials");
    // A wrong password with a valid code is still a plain failure.
    app.post_json("/api/v1/auth/login", &json!({"email": user.email, "password": "wrong-password-123", "totp_code": totp_code(&secret, now() + 30)}))
        .await
        .assert_error(401, "invalid_credentials");
}

#[tokio::test]
async fn data_export_holds_the_users_data_and_no_secrets() {
    let app = TestApp::spawn().await;
    let user = app.signed_in_user().await;
    app.request_as(
        &user.token,
        Method::POST,
        "/api/v1/me/api-keys",
        Some(&json!({"name": "k1"})),
    )
    .await;
    app.request_as(
        &user.token,
        Method::PUT,
        "/api/v1/me/credentials",
        Some(&json!({"api_key": "kite-key-1", "access_token": "kite-token-secret-1"})),
    )
    .await;
    let export = app.get_as(&user.token, "/api/v1/me/export").await;
    assert_eq!(export.status, 200, "{}", export.text);
    assert!(
        export
            .header("content-disposition")
            .unwrap()
            .starts_with("attachment")
    );
    assert_eq!(export.json["user"]["id"], user.id.as_str());
    assert_eq!(export.json["api_keys"][0]["name"], "k1");
    assert_eq!(export.json["credentials"]["configured"], true);
    assert!(!export.json["audit_events"].as_array().unwrap().is_empty());
    assert!(!export.json["sessions"].as_array().unwrap().is_empty());
    for secret in [
        "kite-token-secret-1",
        "kite-key-1",
        "password_hash",
        "argon2",
        &user.token,
    ] {
        assert!(!export.text.contains(secret), "export leaks {secret}");
    }
}

#[tokio::test]
async fn account_deletion_needs_the_password_and_removes_everything() {
    let app = TestApp::spawn().await;
    let user = app.signed_in_user().await;
    let other = app.signed_in_user().await;
    app.request_as(
        &user.token,
        Method::POST,
        "/api/v1/me/api-keys",
        Some(&json!({"name": "k"})),
    )
    .await;
    app.request_as(
        &user.token,
        Method::PUT,
        "/api/v1/me/credentials",
        Some(&json!({"api_key": "a", "access_token": "b"})),
    )
    .await;
    let root = std::path::Path::new(&app.env()["FAIRLANE_DATA_DIR"])
        .join("users")
        .join(&user.id);
    assert!(root.is_dir());

    app.request_as(
        &user.token,
        Method::DELETE,
        "/api/v1/me",
        Some(&json!({"password": "wrong-password-123"})),
    )
    .await
    .assert_error(422, "validation_failed");
    let deleted = app
        .request_as(
            &user.token,
            Method::DELETE,
            "/api/v1/me",
            Some(&json!({"password": user.password})),
        )
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);

    app.get_as(&user.token, "/api/v1/me")
        .await
        .assert_error(401, "unauthorized");
    app.login(&user.email, &user.password)
        .await
        .assert_error(401, "invalid_credentials");
    assert!(!root.exists(), "workspace left behind");
    let db = app.db.client().await;
    let id: uuid::Uuid = user.id.parse().unwrap();
    for table in [
        "users WHERE id = $1",
        "api_keys WHERE user_id = $1",
        "broker_credentials WHERE user_id = $1",
    ] {
        let n: i64 = db
            .query_one(&format!("SELECT count(*) FROM {table}"), &[&id])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 0, "{table}");
    }
    let events: Vec<String> = db
        .query("SELECT action FROM audit_events WHERE user_id = $1", &[&id])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(events, vec!["account.delete"]);
    assert_eq!(
        app.get_as(&other.token, "/api/v1/me").await.status,
        200,
        "other users are untouched"
    );
    let redis_keys = redis_keys_for(&app, &user.id).await;
    assert!(redis_keys.is_empty(), "{redis_keys:?}");
}

async fn redis_keys_for(app: &TestApp, user_id: &str) -> Vec<String> {
    let client = redis::Client::open(app.redis.url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("KEYS")
        .arg(format!("{}user-sessions:{user_id}", app.redis.prefix))
        .query_async(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_audit_log_records_logins_and_changes() {
    let app = TestApp::spawn().await;
    let user = app.signed_in_user().await;
    app.login(&user.email, "wrong-password-999").await;
    app.request_as(
        &user.token,
        Method::PUT,
        "/api/v1/me/credentials",
        Some(&json!({"api_key": "a", "access_token": "b"})),
    )
    .await;
    let audit = app.get_as(&user.token, "/api/v1/me/audit?limit=10").await;
    assert_eq!(audit.status, 200);
    let events = audit.json["events"].as_array().unwrap();
    let actions: Vec<(&str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        actions.contains(&("credentials.set", "success")),
        "{actions:?}"
    );
    assert!(actions.contains(&("auth.login", "success")), "{actions:?}");
    assert!(
        actions.contains(&("account.register", "success")),
        "{actions:?}"
    );
    assert!(
        actions.contains(&("auth.login", "failure")),
        "the owner sees failed logins: {actions:?}"
    );
    assert!(
        events
            .iter()
            .all(|e| e["ip"] == "127.0.0.1" && e["at"].is_string()),
        "{}",
        audit.text
    );
    // A failure for an unknown email is recorded without an account.
    app.login("nobody@example.com", "wrong-password-999").await;
    let db = app.db.client().await;
    let anonymous: i64 = db
        .query_one("SELECT count(*) FROM audit_events WHERE action = 'auth.login' AND outcome = 'failure' AND user_id IS NULL", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(anonymous, 1);
    app.get_as(&user.token, "/api/v1/me/audit?limit=0")
        .await
        .assert_error(422, "validation_failed");
}
