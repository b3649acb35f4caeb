//! Admin operations: `create-admin`, the stats endpoint, and deactivating an account.

use fairlane_tests::TestApp;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn create_admin_promotes_a_registered_user_and_only_admins_see_stats() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in_user().await;
    let user = app.signed_in_user().await;
    app.get_as(&admin.token, "/api/v1/admin/stats")
        .await
        .assert_error(403, "forbidden");

    let (status, output) = app
        .run_cli(&["create-admin", "--email", "nobody@example.com"])
        .await;
    assert!(!status.success());
    assert!(output.contains("no registered user"), "{output}");
    let (status, output) = app
        .run_cli(&["create-admin", "--email", &admin.email.to_uppercase()])
        .await;
    assert!(status.success(), "{output}");

    let stats = app.get_as(&admin.token, "/api/v1/admin/stats").await;
    assert_eq!(stats.status, 200, "{}", stats.text);
    assert_eq!(stats.json["users_total"], 2);
    assert_eq!(stats.json["users_active_7d"], 2);
    for field in [
        "jobs_by_state",
        "queue",
        "workers",
        "storage_top",
        "maintenance",
    ] {
        assert!(!stats.json[field].is_null(), "{field}");
    }
    assert_eq!(
        app.get_as(&admin.token, "/api/v1/me").await.json["user"]["role"],
        "admin"
    );
    app.get_as(&user.token, "/api/v1/admin/stats")
        .await
        .assert_error(403, "forbidden");
}

#[tokio::test]
async fn a_deactivated_users_sessions_and_api_keys_stop_at_once_until_reactivated() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in_user().await;
    assert!(
        app.run_cli(&["create-admin", "--email", &admin.email])
            .await
            .0
            .success()
    );
    let user = app.signed_in_user().await;
    let key = app
        .request_as(
            &user.token,
            Method::POST,
            "/api/v1/me/api-keys",
            Some(&json!({"name": "k"})),
        )
        .await
        .json["key"]
        .as_str()
        .unwrap()
        .to_owned();

    app.request_as(
        &user.token,
        Method::POST,
        &format!("/api/v1/admin/users/{}/deactivate", admin.id),
        None,
    )
    .await
    .assert_error(403, "forbidden");
    let deactivated = app
        .request_as(
            &admin.token,
            Method::POST,
            &format!("/api/v1/admin/users/{}/deactivate", user.id),
            None,
        )
        .await;
    assert_eq!(deactivated.status, 204, "{}", deactivated.text);
    app.get_as(&user.token, "/api/v1/me")
        .await
        .assert_error(401, "unauthorized");
    app.get_as(&key, "/api/v1/me")
        .await
        .assert_error(401, "unauthorized");
    app.login(&user.email, &user.password)
        .await
        .assert_error(403, "forbidden");

    let activated = app
        .request_as(
            &admin.token,
            Method::POST,
            &format!("/api/v1/admin/users/{}/activate", user.id),
            None,
        )
        .await;
    assert_eq!(activated.status, 204);
    assert_eq!(app.login(&user.email, &user.password).await.status, 200);
    assert_eq!(
        app.get_as(&key, "/api/v1/me").await.status,
        200,
        "API keys work again"
    );

    for id in [uuid::Uuid::new_v4().to_string(), "not-a-uuid".to_owned()] {
        app.request_as(
            &admin.token,
            Method::POST,
            &format!("/api/v1/admin/users/{id}/deactivate"),
            None,
        )
        .await
        .assert_error(404, "not_found");
    }
    let db = app.db.client().await;
    let actor: Option<uuid::Uuid> = db
        .query_one(
            "SELECT actor_id FROM audit_events WHERE action = 'admin.user_deactivate'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(actor.unwrap().to_string(), admin.id);
}
