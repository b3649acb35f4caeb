//! The credential vault: ciphertexts at rest, binding to their owner, decryption by the
//! worker's helper, and key rotation with `fairlane-api rotate-keys`.

use fairlane_shared::credentials;
use fairlane_shared::crypto::{CryptoError, Keyring};
use fairlane_tests::TestApp;
use fairlane_tests::app::random_key_b64;
use reqwest::Method;
use secrecy::ExposeSecret;
use serde_json::json;

async fn store(app: &TestApp, token: &str, api_key: &str, access_token: &str) {
    let response = app
        .request_as(
            token,
            Method::PUT,
            "/api/v1/me/credentials",
            Some(&json!({"api_key": api_key, "access_token": access_token})),
        )
        .await;
    assert_eq!(response.status, 204, "{}", response.text);
}

#[tokio::test]
async fn credentials_are_sealed_bound_to_their_owner_and_never_returned() {
    let key = format!("1:{}", random_key_b64());
    let app = TestApp::builder()
        .env("FAIRLANE_ENCRYPTION_KEYS", key.clone())
        .spawn()
        .await;
    let alice = app.signed_in_user().await;
    let bob = app.signed_in_user().await;
    store(
        &app,
        &alice.token,
        "alice-api-key",
        "alice-access-token-PLAINTEXT",
    )
    .await;
    store(&app, &bob.token, "bob-api-key", "bob-access-token").await;

    let me = app.get_as(&alice.token, "/api/v1/me").await;
    assert_eq!(me.json["credentials"]["configured"], true);
    assert!(me.json["credentials"]["updated_at"].is_string());
    assert!(!me.text.contains("alice-access-token"), "{}", me.text);

    let db = app.db.client().await;
    let row = db.query_one("SELECT api_key_ct, access_token_ct, key_id FROM broker_credentials WHERE user_id = $1::text::uuid", &[&alice.id]).await.unwrap();
    let (api_key_ct, token_ct, key_id): (Vec<u8>, Vec<u8>, i32) =
        (row.get(0), row.get(1), row.get(2));
    assert_eq!(key_id, 1);
    for blob in [&api_key_ct, &token_ct] {
        assert!(
            !String::from_utf8_lossy(blob).contains("alice"),
            "plaintext in the ciphertext"
        );
        assert_eq!(blob[0], 1, "envelope version");
    }

    // The worker's helper opens them with the same keyring.
    let ring = Keyring::parse(&key).unwrap();
    let alice_id: uuid::Uuid = alice.id.parse().unwrap();
    let bob_id: uuid::Uuid = bob.id.parse().unwrap();
    let opened = credentials::load(&db, &ring, alice_id)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        opened.access_token.expose_secret(),
        "alice-access-token-PLAINTEXT"
    );
    assert_eq!(opened.api_key.expose_secret(), "alice-api-key");

    // Alice's ciphertext copied into Bob's row does not decrypt as Bob's.
    db.execute(
        "UPDATE broker_credentials SET access_token_ct = $1 WHERE user_id = $2",
        &[&token_ct, &bob_id],
    )
    .await
    .unwrap();
    let swapped = credentials::load(&db, &ring, bob_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(swapped.unwrap_err(), CryptoError::Open);
    // Swapping the two fields of one row fails too.
    db.execute(
        "UPDATE broker_credentials SET api_key_ct = $1, access_token_ct = $2 WHERE user_id = $3",
        &[&token_ct, &api_key_ct, &alice_id],
    )
    .await
    .unwrap();
    assert!(
        credentials::load(&db, &ring, alice_id)
            .await
            .unwrap()
            .unwrap()
            .is_err()
    );

    // Removing them.
    assert_eq!(
        app.request_as(&bob.token, Method::DELETE, "/api/v1/me/credentials", None)
            .await
            .status,
        204
    );
    assert_eq!(
        app.get_as(&bob.token, "/api/v1/me").await.json["credentials"]["configured"],
        false
    );
    assert!(
        credentials::load(&db, &ring, bob_id)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn bad_credential_input_is_refused() {
    let app = TestApp::spawn().await;
    let user = app.signed_in_user().await;
    for (body, field) in [
        (json!({"api_key": "", "access_token": "t"}), "api_key"),
        (
            json!({"api_key": "k", "access_token": "has space"}),
            "access_token",
        ),
        (
            json!({"api_key": "k", "access_token": "x".repeat(257)}),
            "access_token",
        ),
    ] {
        let response = app
            .request_as(
                &user.token,
                Method::PUT,
                "/api/v1/me/credentials",
                Some(&body),
            )
            .await;
        response.assert_error(422, "validation_failed");
        assert_eq!(response.json["error"]["details"]["field"], field);
    }
    let missing = app
        .request_as(
            &user.token,
            Method::PUT,
            "/api/v1/me/credentials",
            Some(&json!({"api_key": "k"})),
        )
        .await;
    missing.assert_error(422, "validation_failed");
    assert_eq!(
        app.get_as(&user.token, "/api/v1/me").await.json["credentials"]["configured"],
        false
    );
}

#[tokio::test]
async fn rotate_keys_reseals_every_row_and_the_old_key_can_then_be_removed() {
    let old = format!("1:{}", random_key_b64());
    let app = TestApp::builder()
        .env("FAIRLANE_ENCRYPTION_KEYS", old.clone())
        .spawn()
        .await;
    let mut users = Vec::new();
    for i in 0..5 {
        let user = app.signed_in_user().await;
        store(
            &app,
            &user.token,
            &format!("key-{i}"),
            &format!("token-{i}"),
        )
        .await;
        users.push(user);
    }
    let totp_user = &users[0];
    let start = app
        .request_as(&totp_user.token, Method::POST, "/api/v1/me/totp", None)
        .await;
    assert_eq!(start.status, 200);

    let new_key = format!("2:{}", random_key_b64());
    let mut env = app.env().clone();
    env.insert(
        "FAIRLANE_ENCRYPTION_KEYS".into(),
        format!("{new_key},{old}"),
    );
    let mut rotate = fairlane_tests::TestProcess::spawn(
        fairlane_tests::Binary::Api,
        &["rotate-keys", "--batch", "2"],
        &env,
    );
    let status = rotate.wait_exit(std::time::Duration::from_secs(60)).await;
    assert!(status.success(), "{}", rotate.tail(20));
    assert!(rotate.tail(5).contains("key rotation complete"));

    let db = app.db.client().await;
    let old_rows: i64 = db
        .query_one(
            "SELECT count(*) FROM broker_credentials WHERE key_id <> 2",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(old_rows, 0);
    let only_new = Keyring::parse(&new_key).unwrap();
    for (i, user) in users.iter().enumerate() {
        let id: uuid::Uuid = user.id.parse().unwrap();
        let opened = credentials::load(&db, &only_new, id)
            .await
            .unwrap()
            .unwrap()
            .expect("opens with the new key alone");
        assert_eq!(opened.access_token.expose_secret(), &format!("token-{i}"));
    }
    let seed: Vec<u8> = db
        .query_one(
            "SELECT totp_secret FROM users WHERE id = $1::text::uuid",
            &[&totp_user.id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(fairlane_shared::crypto::sealed_key_id(&seed), Some(2));

    // Running it again is a no-op (resumable and idempotent).
    let mut again =
        fairlane_tests::TestProcess::spawn(fairlane_tests::Binary::Api, &["rotate-keys"], &env);
    assert!(
        again
            .wait_exit(std::time::Duration::from_secs(60))
            .await
            .success()
    );
}
