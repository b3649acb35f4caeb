//! `GET /api/v1/market/expiries` against the sandbox broker: a cold cache needs the
//! caller's credentials, is filled once per trading day, and then serves everyone.

use fairlane_tests::TestApp;
use fairlane_tests::sandbox::SandboxBroker;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn expiries_come_from_the_shared_cache_filled_once_with_the_callers_credentials() {
    let broker = SandboxBroker::spawn().await;
    let app = TestApp::builder()
        .env("FAIRLANE_BROKER_URL", broker.base_url.clone())
        .spawn()
        .await;
    let alice = app.signed_in_user().await;
    let bob = app.signed_in_user().await;

    app.get_as(&alice.token, "/api/v1/market/expiries?symbol=NIFTY")
        .await
        .assert_error(422, "credentials_required");
    let stored = app
        .request_as(
            &alice.token,
            Method::PUT,
            "/api/v1/me/credentials",
            Some(&json!({"api_key": "alice-key", "access_token": "tok"})),
        )
        .await;
    assert_eq!(stored.status, 204);
    let response = app
        .get_as(
            &alice.token,
            "/api/v1/market/expiries?symbol=NIFTY&exchange=NFO",
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.text);
    assert_eq!(response.json["symbol"], "NIFTY");
    assert_eq!(response.json["exchange"], "NFO");
    let expiries: Vec<String> = response.json["expiries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap().to_owned())
        .collect();
    assert!(
        expiries.len() >= 2,
        "weekly and monthly expiries: {expiries:?}"
    );
    let mut sorted = expiries.clone();
    sorted.sort();
    assert_eq!(sorted, expiries);
    let today = chrono::Utc::now().date_naive().to_string();
    assert!(expiries.iter().all(|e| e.as_str() >= today.as_str()));

    // Bob, without credentials, is served from the warm cache; the broker is not asked again.
    let before = broker.stats().await["requests"].as_u64().unwrap();
    let bob_view = app
        .get_as(&bob.token, "/api/v1/market/expiries?symbol=BANKNIFTY")
        .await;
    assert_eq!(bob_view.status, 200, "{}", bob_view.text);
    assert!(!bob_view.json["expiries"].as_array().unwrap().is_empty());
    assert_eq!(broker.stats().await["requests"].as_u64().unwrap(), before);
    assert_eq!(
        broker.stats().await["requests_by_api_key"]["alice-key"]
            .as_u64()
            .unwrap(),
        1,
        "fetched once"
    );

    let unknown = app
        .get_as(&bob.token, "/api/v1/market/expiries?symbol=NOSUCH")
        .await;
    assert_eq!(unknown.json["expiries"], json!([]));
    for bad in [
        "symbol=nifty%20OR%201=1",
        "symbol=",
        "symbol=NIFTY&exchange=NSE",
        "exchange=NFO",
    ] {
        let response = app
            .get_as(&bob.token, &format!("/api/v1/market/expiries?{bad}"))
            .await;
        assert_eq!(response.status, 422, "{bad}: {}", response.text);
    }
}

#[tokio::test]
async fn an_expired_broker_token_is_reported_not_hidden() {
    let broker = SandboxBroker::spawn().await;
    let app = TestApp::builder()
        .env("FAIRLANE_BROKER_URL", broker.base_url.clone())
        .spawn()
        .await;
    let user = app.signed_in_user().await;
    app.request_as(
        &user.token,
        Method::PUT,
        "/api/v1/me/credentials",
        Some(&json!({"api_key": "k", "access_token": "expired"})),
    )
    .await;
    let response = app
        .get_as(&user.token, "/api/v1/market/expiries?symbol=NIFTY")
        .await;
    response.assert_error(422, "validation_failed");
    assert_eq!(
        response.json["error"]["details"]["broker"],
        "TokenException"
    );
}
