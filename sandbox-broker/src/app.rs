//! Assembles the sandbox: shared state (settings, the day's market, limits, counters),
//! the router, and the serve loop with graceful shutdown. Logs `listening` with the
//! bound address, as `fairlane-api` does, so the test harness can find it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::get;
use chrono::{FixedOffset, NaiveDateTime, Utc};

use crate::gate::{Limits, Stats, gate};
use crate::market::Market;
use crate::routes;
use crate::settings::SandboxSettings;

/// Shared state. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Sandbox {
    inner: Arc<Inner>,
}

struct Inner {
    settings: SandboxSettings,
    market: Mutex<Option<Arc<Market>>>,
    limits: Limits,
    stats: Stats,
}

impl Sandbox {
    fn new(settings: SandboxSettings) -> Self {
        Self {
            inner: Arc::new(Inner {
                settings,
                market: Mutex::new(None),
                limits: Limits::default(),
                stats: Stats::default(),
            }),
        }
    }

    pub(crate) fn settings(&self) -> &SandboxSettings {
        &self.inner.settings
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    pub(crate) fn stats(&self) -> &Stats {
        &self.inner.stats
    }

    /// The market of today's date in India; rebuilt when the date changes.
    pub(crate) fn market(&self) -> Arc<Market> {
        let today = now_ist().date();
        let mut market = self.inner.market.lock().unwrap_or_else(|e| e.into_inner());
        match market.as_ref() {
            Some(current) if current.date() == today => current.clone(),
            _ => {
                let fresh = Arc::new(Market::new(self.inner.settings.seed, today));
                *market = Some(fresh.clone());
                fresh
            }
        }
    }

    /// Kite's timestamp format, in IST.
    pub(crate) fn timestamp(&self) -> String {
        now_ist().format("%Y-%m-%d %H:%M:%S").to_string()
    }
}

fn now_ist() -> NaiveDateTime {
    let ist = FixedOffset::east_opt(5 * 3600 + 30 * 60).expect("valid offset");
    Utc::now().with_timezone(&ist).naive_local()
}

fn router(sandbox: Sandbox) -> Router {
    let kite = Router::new()
        .route("/instruments", get(routes::all_instruments))
        .route("/instruments/{exchange}", get(routes::exchange_instruments))
        .route("/quote", get(routes::quote))
        .route("/quote/ltp", get(routes::ltp))
        .route("/quote/ohlc", get(routes::ohlc))
        .layer(from_fn_with_state(sandbox.clone(), gate));
    Router::new()
        .route("/__sandbox/stats", get(routes::stats))
        .merge(kite)
        .fallback(routes::not_found)
        .with_state(sandbox)
}

/// Binds and serves until SIGTERM or SIGINT.
pub(crate) async fn serve(settings: SandboxSettings) -> anyhow::Result<()> {
    let addr = SocketAddr::new(settings.host, settings.port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local_addr = listener.local_addr()?;
    tracing::info!(
        seed = settings.seed,
        latency_ms = settings.latency_ms,
        fail_rate = settings.fail_rate,
        "sandbox market ready"
    );
    let sandbox = Sandbox::new(settings);
    let signals = fairlane_shared::shutdown::ShutdownSignals::install()?;
    tracing::info!(addr = %local_addr, "listening");
    axum::serve(listener, router(sandbox))
        .with_graceful_shutdown(async {
            let signal = signals.recv().await;
            tracing::info!(signal, "shutting down");
        })
        .await
        .context("server error")?;
    tracing::info!("stopped");
    Ok(())
}
