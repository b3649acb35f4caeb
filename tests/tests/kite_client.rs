//! The Kite client (`fairlane_shared::kite`) against the real sandbox broker: the
//! instruments dump, batched quotes with missing instruments, LTP and the CMP cache,
//! a dead session, retries on injected 5xx, the shared Redis rate limiter under
//! concurrency, and the circuit breaker.

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use fairlane_shared::config::RedisSettings;
use fairlane_shared::kite::{
    BreakerState, BrokerSettings, Instrument, KiteClient, KiteCredentials, KiteError,
    QUOTE_BATCH_MAX,
};
use fairlane_shared::options::OptionType;
use fairlane_shared::redis_conn::Redis;
use fairlane_tests::SandboxBroker;
use fairlane_tests::redis_server::RedisNamespace;
use secrecy::SecretString;

const API_KEY: &str = "sandbox_api_key_123";
const ACCESS_TOKEN: &str = "sandbox_access_token_456";

async fn redis(namespace: &RedisNamespace) -> Redis {
    let settings = RedisSettings {
        url: SecretString::from(namespace.url.clone()),
        prefix: namespace.prefix.clone(),
        timeout: Duration::from_secs(2),
    };
    Redis::connect(&settings, Duration::from_secs(5))
        .await
        .expect("redis")
}

fn settings(sandbox: &SandboxBroker) -> BrokerSettings {
    BrokerSettings {
        base_url: sandbox.base_url.clone(),
        backoff_base: Duration::from_millis(50),
        ..BrokerSettings::default()
    }
}

fn credentials(access_token: &str) -> KiteCredentials {
    KiteCredentials::new(
        SecretString::from(API_KEY),
        SecretString::from(access_token),
    )
}

async fn sandbox_client(sandbox: &SandboxBroker, namespace: &RedisNamespace) -> KiteClient {
    KiteClient::new(
        &settings(sandbox),
        &credentials(ACCESS_TOKEN),
        redis(namespace).await,
        "user-1",
    )
    .expect("client")
}

fn nifty_options(instruments: &[Instrument]) -> Vec<&Instrument> {
    instruments
        .iter()
        .filter(|i| i.name == "NIFTY" && i.instrument_type.option_type().is_some())
        .collect()
}

#[tokio::test]
async fn the_instruments_dump_has_weekly_and_monthly_nifty_chains() {
    let sandbox = SandboxBroker::spawn().await;
    let namespace = RedisNamespace::new();
    let client = sandbox_client(&sandbox, &namespace).await;

    let nfo = client.instruments("NFO").await.expect("NFO dump");
    // Futures are listed on monthly expiries only, so they tell monthly from weekly.
    let monthly: BTreeSet<_> = nfo
        .iter()
        .filter(|i| i.name == "NIFTY" && i.instrument_type.to_string() == "FUT")
        .filter_map(|i| i.expiry)
        .collect();
    let options = nifty_options(&nfo);
    let all: BTreeSet<_> = options.iter().filter_map(|i| i.expiry).collect();
    let weekly: BTreeSet<_> = all.difference(&monthly).copied().collect();
    assert!(!monthly.is_empty() && !weekly.is_empty(), "{all:?}");
    let today = chrono::Utc::now().date_naive();
    assert!(all.iter().all(|e| *e >= today - chrono::Duration::days(1)));

    for expiry in [monthly.first().unwrap(), weekly.first().unwrap()] {
        let chain: Vec<_> = options
            .iter()
            .filter(|i| i.expiry == Some(*expiry))
            .collect();
        let strikes = |kind| {
            chain
                .iter()
                .filter(|i| i.instrument_type.option_type() == Some(kind))
                .map(|i| i.strike as i64)
                .collect::<BTreeSet<_>>()
        };
        assert!(strikes(OptionType::Call).len() > 20, "{expiry}");
        assert_eq!(strikes(OptionType::Call), strikes(OptionType::Put));
        assert!(
            chain
                .iter()
                .all(|i| i.lot_size == 75 && i.exchange == "NFO")
        );
        assert!(
            chain
                .iter()
                .all(|i| i.segment == "NFO-OPT" && i.tick_size > 0.0)
        );
    }

    let nse = client.instruments("NSE").await.expect("NSE dump");
    let index = nse
        .iter()
        .find(|i| i.tradingsymbol == "NIFTY 50")
        .expect("NIFTY 50 index row");
    assert_eq!(index.segment, "INDICES");
    assert_eq!(index.expiry, None);
    assert!(nse.iter().any(|i| i.tradingsymbol == "RELIANCE"));

    let unknown = client.instruments("XYZ").await.unwrap_err();
    assert!(
        matches!(unknown, KiteError::Input { status: 400, .. }),
        "{unknown:?}"
    );
}

#[tokio::test]
async fn quotes_are_batched_and_missing_instruments_are_reported() {
    let sandbox = SandboxBroker::spawn().await;
    let namespace = RedisNamespace::new();
    let client = sandbox_client(&sandbox, &namespace).await;
    let nfo = client.instruments("NFO").await.expect("NFO dump");
    let keys: Vec<String> = nifty_options(&nfo).iter().map(|i| i.key()).collect();
    assert!(keys.len() > QUOTE_BATCH_MAX, "{}", keys.len());

    let too_many = client
        .quote(&keys[..QUOTE_BATCH_MAX + 1])
        .await
        .unwrap_err();
    assert!(matches!(too_many, KiteError::TooManyInstruments { .. }));

    let keys = &keys[..QUOTE_BATCH_MAX + 200];
    let quotes = client.quote_many(keys).await.expect("quotes");
    assert_eq!(quotes.found.len() + quotes.missing.len(), keys.len());
    assert!(
        !quotes.missing.is_empty(),
        "the sandbox has illiquid strikes"
    );
    assert!(quotes.found.len() > keys.len() / 2);
    let missing: HashSet<_> = quotes.missing.iter().collect();
    assert!(quotes.found.keys().all(|k| !missing.contains(k)));
    let quote = quotes.found.values().next().unwrap();
    assert_eq!(quote.depth.buy.len(), 5);
    assert_eq!(quote.depth.sell.len(), 5);
    assert!(quote.best_ask().unwrap() >= quote.last_price);
    assert!(quote.oi > 0.0);

    let stats = sandbox.stats().await;
    // One dump and two quote batches; the first batch was refused before sending.
    assert_eq!(stats["requests"], 3, "{stats}");
    assert_eq!(stats["rate_limited"], 0, "{stats}");
}

#[tokio::test]
async fn ltp_answers_index_names_with_spaces_and_the_cmp_cache_saves_calls() {
    let sandbox = SandboxBroker::spawn().await;
    let namespace = RedisNamespace::new();
    let client = sandbox_client(&sandbox, &namespace).await;

    let keys = ["NSE:NIFTY 50", "NSE:NIFTY BANK", "NSE:INFY", "NSE:NOSUCH"];
    let ltp = client.ltp(&keys).await.expect("ltp");
    assert_eq!(ltp.missing, vec!["NSE:NOSUCH"]);
    let nifty = ltp.found["NSE:NIFTY 50"].last_price;
    assert!((20_000.0..30_000.0).contains(&nifty), "{nifty}");

    let first = client.cmp(&keys).await.expect("cmp");
    assert_eq!(first.found["NSE:NIFTY 50"], nifty);
    let requests = sandbox.stats().await["requests"].as_u64().unwrap();
    // Fresh entries come from Redis; only the unknown key is asked for again.
    let second = client.cmp(&keys[..3]).await.expect("cached cmp");
    assert_eq!(second.found.len(), 3);
    assert_eq!(
        sandbox.stats().await["requests"].as_u64().unwrap(),
        requests
    );

    let printed = format!("{client:?} {:?}", credentials(ACCESS_TOKEN));
    assert!(
        !printed.contains(API_KEY) && !printed.contains(ACCESS_TOKEN),
        "{printed}"
    );
}

#[tokio::test]
async fn an_expired_token_is_a_token_error_and_is_not_retried() {
    let sandbox = SandboxBroker::spawn().await;
    let namespace = RedisNamespace::new();
    let client = KiteClient::new(
        &settings(&sandbox),
        &credentials("expired"),
        redis(&namespace).await,
        "user-1",
    )
    .unwrap();

    let err = client.ltp(&["NSE:INFY"]).await.unwrap_err();
    assert!(err.is_reauth_required(), "{err:?}");
    let stats = sandbox.stats().await;
    assert_eq!(stats["requests"], 1, "{stats}");
    assert_eq!(stats["token_errors"], 1, "{stats}");
    assert_eq!(client.breaker_state(), BreakerState::Closed);
}

#[tokio::test]
async fn injected_server_errors_are_retried_until_success_or_the_last_try() {
    let flaky = SandboxBroker::spawn_with(&[
        ("FAIRLANE_SANDBOX_FAIL_RATE", "0.5"),
        ("FAIRLANE_SANDBOX_SEED", "7"),
    ])
    .await;
    let namespace = RedisNamespace::new();
    let client = sandbox_client(&flaky, &namespace).await;
    for _ in 0..3 {
        client.instruments("NSE").await.expect("retried to success");
    }
    let stats = flaky.stats().await;
    assert!(stats["faults_injected"].as_u64().unwrap() >= 1, "{stats}");
    assert_eq!(stats["served"], 3, "{stats}");

    let broken = SandboxBroker::spawn_with(&[("FAIRLANE_SANDBOX_FAIL_RATE", "1")]).await;
    let client = sandbox_client(&broken, &namespace).await;
    let err = client.instruments("NSE").await.unwrap_err();
    assert!(
        matches!(
            err,
            KiteError::Network { .. } | KiteError::Data { .. } | KiteError::General { .. }
        ),
        "{err:?}"
    );
    assert!(err.is_transient());
    let stats = broken.stats().await;
    assert_eq!(stats["requests"], 4, "{stats}");
    assert_eq!(stats["faults_injected"], 4, "{stats}");
}

#[tokio::test]
async fn two_clients_sharing_the_redis_limiter_never_trigger_a_429() {
    let sandbox = SandboxBroker::spawn().await;
    let namespace = RedisNamespace::new();
    let (a, b) = (
        sandbox_client(&sandbox, &namespace).await,
        sandbox_client(&sandbox, &namespace).await,
    );
    let until = tokio::time::Instant::now() + Duration::from_secs(5);
    let hammer = |client: KiteClient| async move {
        let mut calls = 0;
        while tokio::time::Instant::now() < until {
            client
                .quote(&["NSE:NIFTY 50", "NSE:RELIANCE"])
                .await
                .expect("quote");
            calls += 1;
        }
        calls
    };
    let (calls_a, calls_b) = tokio::join!(hammer(a), hammer(b));
    let stats = sandbox.stats().await;
    assert_eq!(stats["rate_limited"], 0, "{stats}");
    assert!(calls_a >= 1 && calls_b >= 1, "{calls_a} {calls_b}");
    // 1 req/s shared: about five calls in five seconds between the two.
    let total = calls_a + calls_b;
    assert!((4..=7).contains(&total), "{total} calls: {stats}");
}

#[tokio::test]
async fn the_breaker_opens_after_repeated_server_errors() {
    let broken = SandboxBroker::spawn_with(&[("FAIRLANE_SANDBOX_FAIL_RATE", "1")]).await;
    let namespace = RedisNamespace::new();
    let settings = BrokerSettings {
        max_attempts: 2,
        breaker_failures: 3,
        breaker_cooldown: Duration::from_secs(60),
        ..settings(&broken)
    };
    let client = KiteClient::new(
        &settings,
        &credentials(ACCESS_TOKEN),
        redis(&namespace).await,
        "user-1",
    )
    .unwrap();

    assert!(!matches!(
        client.instruments("NSE").await.unwrap_err(),
        KiteError::CircuitOpen { .. }
    ));
    // The third failure opens the breaker; the retry that follows is refused.
    let err = client.instruments("NSE").await.unwrap_err();
    assert!(matches!(err, KiteError::CircuitOpen { .. }), "{err:?}");
    assert_eq!(client.breaker_state(), BreakerState::Open);
    let sent = broken.stats().await["requests"].as_u64().unwrap();
    assert_eq!(sent, 3);

    let err = client.ltp(&["NSE:INFY"]).await.unwrap_err();
    assert!(matches!(err, KiteError::CircuitOpen { .. }), "{err:?}");
    assert!(err.is_transient());
    assert_eq!(broken.stats().await["requests"].as_u64().unwrap(), sent);
}

#[tokio::test]
async fn without_a_shared_limiter_a_429_is_retried_after_the_window() {
    let sandbox = SandboxBroker::spawn().await;
    // Two deployments (Redis prefixes) with the same API key do not share pacing, so
    // the broker throttles one of them; the client backs off and gets through.
    let (first, second) = (RedisNamespace::new(), RedisNamespace::new());
    let (a, b) = (
        sandbox_client(&sandbox, &first).await,
        sandbox_client(&sandbox, &second).await,
    );
    let keys = ["NSE:NIFTY 50"];
    let (from_a, from_b) = tokio::join!(a.ltp(&keys), b.ltp(&keys));
    from_a.expect("first client");
    from_b.expect("second client");
    let stats = sandbox.stats().await;
    assert!(stats["rate_limited"].as_u64().unwrap() >= 1, "{stats}");
    assert_eq!(stats["served"], 2, "{stats}");
}
