//! The sandbox broker's HTTP surface, spoken to directly: Kite's envelopes and error
//! bodies, authentication, the version header, per-key rate limits, instrument limits
//! and URL-encoded index names. The client-side view is in `kite_client.rs`.

use fairlane_tests::SandboxBroker;
use fairlane_tests::app::{TestResponse, read};

async fn get(sandbox: &SandboxBroker, path: &str, auth: Option<&str>) -> TestResponse {
    let mut request = reqwest::Client::new().get(format!("{}{path}", sandbox.base_url));
    if let Some(auth) = auth {
        request = request
            .header("Authorization", auth)
            .header("X-Kite-Version", "3");
    }
    read(request.send().await.expect("request")).await
}

#[track_caller]
fn assert_kite_error(response: &TestResponse, status: u16, error_type: &str) {
    assert_eq!(response.status.as_u16(), status, "{}", response.text);
    assert_eq!(response.json["status"], "error", "{}", response.text);
    assert_eq!(response.json["error_type"], error_type, "{}", response.text);
    assert!(response.json["message"].is_string(), "{}", response.text);
}

#[tokio::test]
async fn kite_envelopes_auth_and_limits() {
    let sandbox = SandboxBroker::spawn().await;

    let ltp = get(
        &sandbox,
        "/quote/ltp?i=NSE%3ANIFTY%2050&i=NSE:NIFTY+BANK&i=NSE:NOSUCH",
        Some("token key_a:token_a"),
    )
    .await;
    assert_eq!(ltp.status, 200, "{}", ltp.text);
    assert_eq!(ltp.json["status"], "success");
    let data = ltp.json["data"].as_object().unwrap();
    assert_eq!(data.len(), 2, "{}", ltp.text);
    assert!(data["NSE:NIFTY 50"]["last_price"].as_f64().unwrap() > 0.0);
    assert!(data["NSE:NIFTY BANK"]["instrument_token"].is_u64());

    // The quote family allows one request a second per API key.
    let throttled = get(
        &sandbox,
        "/quote/ohlc?i=NSE:INFY",
        Some("token key_a:token_a"),
    )
    .await;
    assert_kite_error(&throttled, 429, "NetworkException");
    let other_key = get(
        &sandbox,
        "/quote/ohlc?i=NSE:INFY",
        Some("token key_b:token_b"),
    )
    .await;
    assert_eq!(other_key.status, 200, "{}", other_key.text);
    assert!(
        other_key.json["data"]["NSE:INFY"]["ohlc"]["close"]
            .as_f64()
            .unwrap()
            > 0.0
    );

    for auth in [
        None,
        Some("Bearer abc"),
        Some("token nocolon"),
        Some("token key_c:expired"),
    ] {
        let response = get(&sandbox, "/instruments/NSE", auth).await;
        assert_kite_error(&response, 403, "TokenException");
    }
    let no_version = read(
        reqwest::Client::new()
            .get(format!("{}/instruments/NSE", sandbox.base_url))
            .header("Authorization", "token key_c:t")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_kite_error(&no_version, 400, "InputException");

    let too_many: String = (0..501).map(|n| format!("i=NFO:X{n}&")).collect();
    let response = get(
        &sandbox,
        &format!("/quote?{too_many}"),
        Some("token key_d:t"),
    )
    .await;
    assert_kite_error(&response, 400, "InputException");

    let dump = get(&sandbox, "/instruments/NFO", Some("token key_e:t")).await;
    assert_eq!(dump.status, 200);
    assert_eq!(dump.header("content-type"), Some("text/csv"));
    assert!(dump.text.starts_with(
        "instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,lot_size,instrument_type,segment,exchange\n"
    ));

    assert_kite_error(
        &get(&sandbox, "/nowhere", None).await,
        404,
        "GeneralException",
    );
    let stats = sandbox.stats().await;
    assert_eq!(stats["rate_limited"], 1, "{stats}");
    assert_eq!(stats["token_errors"], 4, "{stats}");
    assert_eq!(stats["input_errors"], 2, "{stats}");
}

#[tokio::test]
async fn the_market_is_the_same_for_the_same_seed() {
    let (a, b) = (
        SandboxBroker::spawn().await,
        SandboxBroker::spawn_with(&[("FAIRLANE_SANDBOX_SEED", "42")]).await,
    );
    let c = SandboxBroker::spawn_with(&[("FAIRLANE_SANDBOX_SEED", "43")]).await;
    let price =
        |response: TestResponse| response.json["data"]["NSE:RELIANCE"]["last_price"].as_f64();
    let path = "/quote/ltp?i=NSE:RELIANCE";
    let auth = Some("token k:t");
    let (pa, pb, pc) = (
        price(get(&a, path, auth).await),
        price(get(&b, path, auth).await),
        price(get(&c, path, auth).await),
    );
    assert!(pa.is_some());
    assert_eq!(pa, pb);
    assert_ne!(pa, pc);
}
