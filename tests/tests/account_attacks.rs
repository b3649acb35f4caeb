//! Attack tests for accounts and sessions (research/security.md §5): isolation between
//! users, enumeration, timing, fixation, CSRF, malformed input, injection, unicode
//! variants, rate limits and secret leakage.

use std::time::{Duration, Instant};

use fairlane_tests::{TestApp, app::read};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn users_cannot_see_or_touch_each_others_sessions_keys_or_audit_events() {
    let app = TestApp::spawn().await;
    let alice = app.signed_in_user().await;
    let bob = app.signed_in_user().await;
    let alice_key = app
        .request_as(
            &alice.token,
            Method::POST,
            "/api/v1/me/api-keys",
            Some(&json!({"name": "alice-key"})),
        )
        .await;
    let alice_key_id = alice_key.json["id"].as_str().unwrap().to_owned();
    let alice_sid =
        app.get_as(&alice.token, "/api/v1/auth/sessions").await.json["sessions"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();

    // Bob's view contains only Bob.
    let bob_sessions = app.get_as(&bob.token, "/api/v1/auth/sessions").await;
    assert_eq!(bob_sessions.json["sessions"].as_array().unwrap().len(), 1);
    assert!(!bob_sessions.text.contains(&alice_sid));
    assert!(
        app.get_as(&bob.token, "/api/v1/me/api-keys").await.json["api_keys"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let bob_audit = app.get_as(&bob.token, "/api/v1/me/audit").await;
    assert!(
        !bob_audit.text.contains(&alice.id) && !bob_audit.text.contains(&alice_key_id),
        "{}",
        bob_audit.text
    );

    // Every attempt on Alice's things answers 404, like a missing id, and changes nothing.
    for (method, path) in [
        (Method::DELETE, format!("/api/v1/auth/sessions/{alice_sid}")),
        (
            Method::DELETE,
            format!("/api/v1/me/api-keys/{alice_key_id}"),
        ),
    ] {
        app.request_as(&bob.token, method.clone(), &path, None)
            .await
            .assert_error(404, "not_found");
    }
    let missing = app
        .request_as(
            &bob.token,
            Method::DELETE,
            &format!("/api/v1/me/api-keys/{}", uuid::Uuid::new_v4()),
            None,
        )
        .await;
    missing.assert_error(404, "not_found");
    assert_eq!(app.get_as(&alice.token, "/api/v1/me").await.status, 200);
    assert_eq!(
        app.get_as(&alice.token, "/api/v1/me/api-keys").await.json["api_keys"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Bob cannot act as Alice by naming her in a body.
    app.request_as(
        &bob.token,
        Method::PATCH,
        "/api/v1/me",
        Some(&json!({"id": alice.id, "name": "x"})),
    )
    .await
    .assert_error(422, "validation_failed");
}

#[tokio::test]
async fn unknown_email_and_wrong_password_fail_identically_and_in_the_same_time() {
    let app = TestApp::builder()
        .env("FAIRLANE_LOGIN_FAILURES_PER_IP", "1000")
        .spawn()
        .await;
    let user = app.signed_in_user().await;
    let unknown = app
        .login("no-such-user@example.com", "whatever-password-1")
        .await;
    let wrong = app.login(&user.email, "whatever-password-1").await;
    assert_eq!(unknown.status, wrong.status);
    assert_eq!(unknown.text, wrong.text, "bodies differ");
    unknown.assert_error(401, "invalid_credentials");

    let mut unknown_times = Vec::new();
    let mut wrong_times = Vec::new();
    for i in 0..8 {
        let started = Instant::now();
        app.login(&format!("ghost{i}@example.com"), "whatever-password-1")
            .await;
        unknown_times.push(started.elapsed());
        let started = Instant::now();
        app.login(&user.email, &format!("whatever-password-{i}"))
            .await;
        wrong_times.push(started.elapsed());
    }
    unknown_times.sort();
    wrong_times.sort();
    let ratio = unknown_times[4].as_secs_f64() / wrong_times[4].as_secs_f64();
    assert!(
        (0.5..2.0).contains(&ratio),
        "unknown {:?} vs wrong {:?}",
        unknown_times[4],
        wrong_times[4]
    );
}

#[tokio::test]
async fn login_ignores_a_planted_session_cookie_and_sets_a_fresh_one_with_safe_flags() {
    let app = TestApp::spawn().await;
    let user = app.signed_in_user().await;
    let planted = format!("fls_{}", "A".repeat(43));
    let response = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("cookie", format!("fairlane_session={planted}"))
        .json(&json!({"email": user.email, "password": user.password}))
        .send()
        .await
        .unwrap();
    let response = read(response).await;
    assert_eq!(response.status, 200);
    let set_cookie = response.header("set-cookie").unwrap().to_owned();
    assert!(
        set_cookie.starts_with("fairlane_session=fls_"),
        "{set_cookie}"
    );
    assert!(!set_cookie.contains(&planted));
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(set_cookie.contains(flag), "{set_cookie} lacks {flag}");
    }
    assert!(
        !set_cookie.contains("Secure"),
        "Secure only when FAIRLANE_COOKIE_SECURE=1"
    );
    app.get_as(&planted, "/api/v1/me")
        .await
        .assert_error(401, "unauthorized");

    let secure = TestApp::builder()
        .env("FAIRLANE_COOKIE_SECURE", "1")
        .spawn()
        .await;
    let user = secure.signed_in_user().await;
    let again = secure.login(&user.email, &user.password).await;
    assert!(again.header("set-cookie").unwrap().contains("Secure"));
    assert!(again.header("strict-transport-security").is_some());
}

#[tokio::test]
async fn cookie_authenticated_changes_need_the_csrf_header() {
    let app = TestApp::spawn().await;
    let user = app.signed_in_user().await;
    let cookie = format!("fairlane_session={}", user.token);
    let patch = |csrf: Option<&str>| {
        let mut request = app
            .client
            .patch(app.url("/api/v1/me"))
            .header("cookie", cookie.clone())
            .json(&json!({"name": "Changed"}));
        if let Some(csrf) = csrf {
            request = request.header("x-csrf-token", csrf);
        }
        request.send()
    };
    read(patch(None).await.unwrap())
        .await
        .assert_error(403, "forbidden");
    read(patch(Some("not-the-token")).await.unwrap())
        .await
        .assert_error(403, "forbidden");
    assert_eq!(
        app.get_as(&user.token, "/api/v1/me").await.json["user"]["name"],
        "Test User",
        "nothing changed"
    );
    let ok = read(patch(Some(&user.csrf_token)).await.unwrap()).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    // Reads by cookie need no token; bearer requests need none either.
    let read_me = app
        .client
        .get(app.url("/api/v1/me"))
        .header("cookie", cookie.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(read_me.status(), 200);
    let bearer = app
        .request_as(
            &user.token,
            Method::PATCH,
            "/api/v1/me",
            Some(&json!({"name": "Bearer"})),
        )
        .await;
    assert_eq!(bearer.status, 200);
    // Logging out by cookie is a change too.
    let logout = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 403);
}

#[tokio::test]
async fn malformed_oversized_and_mistyped_bodies_get_clear_errors_and_change_nothing() {
    // A small body limit, so the oversized body fits in the socket buffer and the client
    // reads the 413 instead of failing to write the rest.
    let app = TestApp::builder()
        .env("FAIRLANE_MAX_JSON_BYTES", "4096")
        .spawn()
        .await;
    let register = app.url("/api/v1/auth/register");
    let send = |body: String, content_type: Option<&'static str>| {
        let mut request = app.client.post(&register).body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        request.send()
    };
    read(
        send("{\"email\": ".into(), Some("application/json"))
            .await
            .unwrap(),
    )
    .await
    .assert_error(400, "bad_request");
    read(send("{}".into(), Some("text/plain")).await.unwrap())
        .await
        .assert_error(415, "unsupported_media_type");
    read(send("{}".into(), None).await.unwrap())
        .await
        .assert_error(415, "unsupported_media_type");
    let huge = format!(
        "{{\"email\":\"a@b.co\",\"password\":\"{}\",\"name\":\"x\"}}",
        "x".repeat(10_000)
    );
    read(send(huge, Some("application/json")).await.unwrap())
        .await
        .assert_error(413, "payload_too_large");
    let deep = format!("{}{}", "[".repeat(2000), "]".repeat(2000));
    let deep = read(send(deep, Some("application/json")).await.unwrap()).await;
    assert!(matches!(deep.status.as_u16(), 400 | 422), "{}", deep.status);
    for (body, field) in [
        (
            json!({"email": 5, "password": "correct-horse-battery-staple", "name": "x"}),
            "email",
        ),
        (
            json!({"email": "a@example.com", "password": "correct-horse-battery-staple", "name": "x", "role": "admin"}),
            "",
        ),
        (
            json!({"email": "a@example.com", "password": "correct-horse-battery-staple"}),
            "",
        ),
        (
            json!({"email": "not-an-email", "password": "correct-horse-battery-staple", "name": "x"}),
            "email",
        ),
        (
            json!({"email": "a@example.com", "password": "short", "name": "x"}),
            "password",
        ),
        (
            json!({"email": "a@example.com", "password": "password123", "name": "x"}),
            "password",
        ),
        (
            json!({"email": "a@example.com", "password": "x".repeat(129), "name": "x"}),
            "password",
        ),
        (
            json!({"email": "a@example.com", "password": "correct-horse-battery-staple", "name": "x", "monthly_income": "5"}),
            "monthly_income",
        ),
        (
            json!({"email": "a@example.com", "password": "correct-horse-battery-staple", "name": "x", "currency": "rupees"}),
            "currency",
        ),
    ] {
        let response = app.post_json("/api/v1/auth/register", &body).await;
        response.assert_error(422, "validation_failed");
        if !field.is_empty() {
            assert_eq!(
                response.json["error"]["details"]["field"], field,
                "{}",
                response.text
            );
        }
    }
    let db = app.db.client().await;
    let users: i64 = db
        .query_one("SELECT count(*) FROM users", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(users, 0, "bad input must change nothing");
}

#[tokio::test]
async fn sql_metacharacters_are_stored_as_data() {
    let app = TestApp::spawn().await;
    let evil = "'; DROP TABLE users; --";
    let email = "o'brien+x@example.com";
    let password = "pa'ss\"word; DROP TABLE users;--";
    let registered = app
        .post_json(
            "/api/v1/auth/register",
            &json!({"email": email, "password": password, "name": evil}),
        )
        .await;
    assert_eq!(registered.status, 201, "{}", registered.text);
    assert_eq!(registered.json["user"]["name"], evil);
    let login = app.login(email, password).await;
    assert_eq!(login.status, 200, "{}", login.text);
    let token = login.json["token"].as_str().unwrap();
    let key = app
        .request_as(
            token,
            Method::POST,
            "/api/v1/me/api-keys",
            Some(&json!({"name": evil})),
        )
        .await;
    assert_eq!(key.json["name"], evil);
    app.request_as(
        token,
        Method::PUT,
        "/api/v1/me/credentials",
        Some(&json!({"api_key": "x'OR'1'='1", "access_token": "\";--"})),
    )
    .await;
    app.get_as(token, "/api/v1/me/audit?limit=1%20OR%201=1")
        .await
        .assert_error(422, "validation_failed");
    let db = app.db.client().await;
    let users: i64 = db
        .query_one("SELECT count(*) FROM users", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(users, 1);
}

#[tokio::test]
async fn email_case_width_and_whitespace_variants_are_one_account() {
    let app = TestApp::spawn().await;
    app.signed_in_user_with("alice@example.com", "correct-horse-battery-staple")
        .await;
    for variant in [
        "Alice@Example.com",
        "ALICE@EXAMPLE.COM",
        " alice@example.com ",
        "ａlice@example.com",
    ] {
        let response = app
            .post_json(
                "/api/v1/auth/register",
                &json!({"email": variant, "password": "correct-horse-battery-staple", "name": "x"}),
            )
            .await;
        response.assert_error(409, "email_taken");
        let login = app.login(variant, "correct-horse-battery-staple").await;
        assert_eq!(login.status, 200, "{variant}: {}", login.text);
        assert_eq!(login.json["user"]["email"], "alice@example.com");
    }
    // A different letter (dotless ı) is a different address.
    let other = app
        .post_json("/api/v1/auth/register", &json!({"email": "alıce@example.com", "password": "correct-horse-battery-staple", "name": "x"}))
        .await;
    assert_eq!(other.status, 201, "{}", other.text);
}

#[tokio::test]
async fn malformed_bearer_tokens_and_tokens_in_urls_are_rejected_without_errors() {
    let app = TestApp::spawn().await;
    let user = app.signed_in_user().await;
    for header in [
        "",
        "Bearer",
        "Bearer ",
        "Basic abc",
        &format!("Bearer {}", "x".repeat(8192)),
        "Bearer fls_!!!!",
        "Bearer \u{7f}",
    ] {
        let Ok(value) = reqwest::header::HeaderValue::from_str(header) else {
            continue;
        };
        let response = read(
            app.client
                .get(app.url("/api/v1/me"))
                .header("authorization", value)
                .send()
                .await
                .unwrap(),
        )
        .await;
        response.assert_error(401, "unauthorized");
    }
    for query in ["token", "access_token", "session"] {
        app.get(&format!("/api/v1/me?{query}={}", user.token))
            .await
            .assert_error(401, "unauthorized");
    }
}

#[tokio::test]
async fn the_per_user_request_limit_answers_429_with_retry_after() {
    let app = TestApp::builder()
        .env("FAIRLANE_RATE_LIMIT_PER_MINUTE", "5")
        .spawn()
        .await;
    let user = app.signed_in_user().await;
    let other = app.signed_in_user().await;
    for _ in 0..5 {
        assert_eq!(app.get_as(&user.token, "/api/v1/me").await.status, 200);
    }
    let limited = app.get_as(&user.token, "/api/v1/me").await;
    limited.assert_error(429, "rate_limited");
    let retry_after: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(
        app.get_as(&other.token, "/api/v1/me").await.status,
        200,
        "limits are per user"
    );
}

#[tokio::test]
async fn repeated_login_failures_lock_the_account_and_the_ip_temporarily() {
    let app = TestApp::builder()
        .env("FAIRLANE_LOGIN_FAILURES_PER_ACCOUNT", "3")
        .env("FAIRLANE_LOGIN_FAILURES_PER_IP", "6")
        .spawn()
        .await;
    let user = app.signed_in_user().await;
    for _ in 0..3 {
        app.login(&user.email, "wrong-password-123")
            .await
            .assert_error(401, "invalid_credentials");
    }
    let locked = app.login(&user.email, &user.password).await;
    locked.assert_error(429, "rate_limited");
    assert!(
        locked
            .header("retry-after")
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    // Other accounts from the same IP still work until the IP limit.
    let other = app.signed_in_user().await;
    for i in 0..3 {
        app.login(&format!("nobody{i}@example.com"), "wrong-password-123")
            .await;
    }
    app.login(&other.email, &other.password)
        .await
        .assert_error(429, "rate_limited");
    let db = app.db.client().await;
    let denied: i64 = db
        .query_one(
            "SELECT count(*) FROM audit_events WHERE action = 'auth.login' AND outcome = 'denied'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(denied >= 2);
}

#[tokio::test]
async fn secrets_never_reach_the_logs() {
    let app = TestApp::spawn().await;
    let user = app
        .signed_in_user_with("logs@example.com", "a-very-secret-passphrase-42")
        .await;
    app.request_as(&user.token, Method::PUT, "/api/v1/me/credentials", Some(&json!({"api_key": "kite-api-key-LOGCHECK", "access_token": "kite-access-token-LOGCHECK"})))
        .await;
    app.login(&user.email, "another-secret-passphrase-43").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let logs = app.api.lines().join("\n");
    for secret in [
        "a-very-secret-passphrase-42",
        "another-secret-passphrase-43",
        "LOGCHECK",
        &user.token,
        &user.csrf_token,
    ] {
        assert!(!logs.contains(secret), "the logs contain {secret}");
    }
}
