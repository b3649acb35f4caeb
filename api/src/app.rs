//! Assembles the API: shared state, the router with its middleware stack, and the
//! server loop with graceful shutdown.
//!
//! `serve` is what `main` runs and what the end-to-end tests start (through the real
//! binary). Startup order: connect Postgres (retrying), migrate, connect Redis
//! (retrying), bind, log `listening` with the bound address, serve until SIGTERM/SIGINT.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Method, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use deadpool_postgres::Pool;
use fairlane_shared::jobs::events::JobEvent;
use fairlane_shared::redis_conn::Redis;
use tokio::sync::{broadcast, watch};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::error::envelope;
use crate::metrics::Metrics;
use crate::middleware::{observe::observe, security_headers::security_headers};
use crate::routes::{
    admin, auth, dashboard, fallback, files, health, jobs, maintenance, market, me,
};
use crate::settings::ApiSettings;

/// State shared by every handler. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    db: Pool,
    redis: Redis,
    metrics: Arc<Metrics>,
    settings: ApiSettings,
    job_events: broadcast::Sender<JobEvent>,
    shutdown: watch::Receiver<bool>,
}

impl AppState {
    /// Bundles the connections and settings; starts the job-event fan-out.
    pub fn new(
        db: Pool,
        redis: Redis,
        metrics: Arc<Metrics>,
        settings: ApiSettings,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        let job_events = crate::job_events::start(redis.clone());
        let inner = Inner {
            db,
            redis,
            metrics,
            settings,
            job_events,
            shutdown,
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Job change notices, for event streams.
    pub fn job_events(&self) -> &broadcast::Sender<JobEvent> {
        &self.inner.job_events
    }

    /// Turns true when the server starts shutting down (long-lived streams end then).
    pub fn shutdown(&self) -> watch::Receiver<bool> {
        self.inner.shutdown.clone()
    }

    /// The Postgres pool.
    pub fn db(&self) -> &Pool {
        &self.inner.db
    }

    /// The Redis handle.
    pub fn redis(&self) -> &Redis {
        &self.inner.redis
    }

    /// The metrics registry.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The settings the process started with.
    pub fn settings(&self) -> &ApiSettings {
        &self.inner.settings
    }
}

/// The full router with every middleware layer.
pub fn router(state: AppState) -> Router {
    let api_v1 = Router::new()
        .route("/auth/register", post(auth::register))
        .route("/auth/login", post(auth::login))
        .route("/auth/logout", post(auth::logout))
        .route(
            "/auth/sessions",
            get(auth::list_sessions).delete(auth::revoke_all_sessions),
        )
        .route(
            "/auth/sessions/{id}",
            axum::routing::delete(auth::revoke_session),
        )
        .route(
            "/me",
            get(me::get_me).patch(me::patch_me).delete(me::delete_me),
        )
        .route("/me/password", axum::routing::put(me::change_password))
        .route(
            "/me/credentials",
            axum::routing::put(me::put_credentials).delete(me::delete_credentials),
        )
        .route(
            "/me/api-keys",
            get(me::list_api_keys).post(me::create_api_key),
        )
        .route(
            "/me/api-keys/{id}",
            axum::routing::delete(me::delete_api_key),
        )
        .route("/me/totp", post(me::start_totp).delete(me::disable_totp))
        .route("/me/totp/confirm", post(me::confirm_totp))
        .route("/me/audit", get(me::list_audit))
        .route("/me/export", get(me::export))
        .route(
            "/files",
            get(files::list)
                .post(files::upload)
                .layer(DefaultBodyLimit::disable()),
        )
        .route("/files/{id}", get(files::get).delete(files::delete))
        .route("/files/{id}/content", get(files::content))
        .route("/jobs", get(jobs::list).post(jobs::create))
        .route("/jobs/batch", post(jobs::create_batch))
        .route("/jobs/{id}", get(jobs::get))
        .route("/jobs/{id}/cancel", post(jobs::cancel))
        .route("/jobs/{id}/events", get(jobs::events))
        .route("/market/expiries", get(market::expiries))
        .route("/admin/stats", get(admin::stats))
        .route("/admin/users/{id}/deactivate", post(admin::deactivate))
        .route("/admin/users/{id}/activate", post(admin::activate))
        .route("/admin/maintenance/{task}", post(maintenance::request));
    let mut router = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .nest("/api/v1", api_v1)
        .fallback(dashboard::serve)
        .method_not_allowed_fallback(fallback::method_not_allowed)
        .layer(DefaultBodyLimit::max(state.settings().max_json_bytes))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(from_fn_with_state(state.clone(), security_headers));
    if let Some(cors) = cors_layer(&state.settings().allowed_origins) {
        router = router.layer(cors);
    }
    router
        .layer(from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let origins: Vec<_> = origins.iter().filter_map(|o| o.parse().ok()).collect();
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_credentials(true)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([
                http::header::CONTENT_TYPE,
                http::header::AUTHORIZATION,
                HeaderName::from_static("x-csrf-token"),
                HeaderName::from_static("idempotency-key"),
            ])
            .expose_headers([
                HeaderName::from_static("x-request-id"),
                http::header::RETRY_AFTER,
            ]),
    )
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    let body = envelope(
        "internal",
        "internal error; the request id identifies it in the logs",
        serde_json::json!({}),
    );
    (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response()
}

/// Connects, migrates, binds and serves until SIGTERM or SIGINT.
pub async fn serve(settings: ApiSettings) -> anyhow::Result<()> {
    let common = &settings.common;
    let db = fairlane_shared::db::pool(&common.database, "fairlane-api")?;
    fairlane_shared::db::wait_until_reachable(&db, common.startup_timeout)
        .await
        .context("postgres is not reachable")?;
    fairlane_shared::db::migrate(&db)
        .await
        .context("applying migrations")?;
    let redis = Redis::connect(&common.redis, common.startup_timeout)
        .await
        .context("redis is not reachable")?;
    std::fs::create_dir_all(&common.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            common.data_dir.display()
        )
    })?;

    let addr = SocketAddr::new(settings.http_host, settings.http_port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local_addr = listener.local_addr()?;
    crate::accounts::password::warm_up();
    let (stop, stopping) = watch::channel(false);
    let state = AppState::new(db, redis, Metrics::new(), settings, stopping);
    let app = router(state);
    let signals = fairlane_shared::shutdown::ShutdownSignals::install()?;
    tracing::info!(addr = %local_addr, "listening");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let signal = signals.recv().await;
        tracing::info!(signal, "shutting down");
        let _ = stop.send(true);
    })
    .await
    .context("server error")?;
    tracing::info!("stopped");
    Ok(())
}
