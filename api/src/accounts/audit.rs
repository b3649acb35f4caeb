//! The audit log: security-relevant events in Postgres (`audit_events`), with who, what,
//! outcome, client IP, user agent and request id. Writes go through [`record`], inside
//! the transaction of the change they describe whenever there is one.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::error::ApiError;
use crate::middleware::observe::RequestId;

/// Where a request came from: the socket peer (never a client-supplied forwarding header),
/// the user agent and the request id.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    /// Client IP.
    pub ip: Option<std::net::IpAddr>,
    /// `User-Agent`, truncated to 512 characters.
    pub user_agent: String,
    /// The request id.
    pub request_id: String,
}

impl<S: Send + Sync> FromRequestParts<S> for RequestMeta {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .chars()
            .take(512)
            .collect();
        let request_id = parts
            .extensions
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default();
        Ok(Self {
            ip,
            user_agent,
            request_id,
        })
    }
}

impl RequestMeta {
    /// The IP as text (`unknown` when there is no socket peer).
    pub fn ip_text(&self) -> String {
        self.ip
            .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
    }
}

/// Outcome of an audited action.
#[derive(Debug, Clone, Copy)]
pub enum Outcome {
    /// It happened.
    Success,
    /// It was attempted and failed (bad password, bad code).
    Failure,
    /// It was refused by policy (rate limit, deactivated account, authorization).
    Denied,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        }
    }
}

/// One event to record.
#[derive(Debug)]
pub struct Event<'a> {
    /// The account the event is about (None for an unknown email).
    pub user_id: Option<Uuid>,
    /// The admin who acted on someone else's account.
    pub actor_id: Option<Uuid>,
    /// Dotted action name, e.g. `auth.login`.
    pub action: &'a str,
    /// Outcome.
    pub outcome: Outcome,
    /// What was acted on (a session id, key id, job id...).
    pub target: Option<String>,
    /// Extra facts (never secrets).
    pub details: Value,
}

impl<'a> Event<'a> {
    /// A success event about `user_id`.
    pub fn success(user_id: Uuid, action: &'a str) -> Self {
        Self::new(Some(user_id), action, Outcome::Success)
    }

    /// An event with the given outcome.
    pub fn new(user_id: Option<Uuid>, action: &'a str, outcome: Outcome) -> Self {
        Self {
            user_id,
            actor_id: None,
            action,
            outcome,
            target: None,
            details: Value::Object(Default::default()),
        }
    }

    /// Sets the target.
    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    /// Sets the details.
    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    /// Sets the acting admin.
    pub fn actor(mut self, actor_id: Uuid) -> Self {
        self.actor_id = Some(actor_id);
        self
    }
}

/// Writes an event.
pub async fn record(
    client: &impl tokio_postgres::GenericClient,
    meta: &RequestMeta,
    event: Event<'_>,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "INSERT INTO audit_events (user_id, actor_id, action, outcome, ip, user_agent, target, details, request_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                &event.user_id,
                &event.actor_id,
                &event.action,
                &event.outcome.as_str(),
                &meta.ip,
                &meta.user_agent,
                &event.target,
                &event.details,
                &meta.request_id,
            ],
        )
        .await?;
    Ok(())
}

/// Writes many events of one request with one statement (e.g. every job of a batch),
/// prepared once per connection: it is on the path of every job submission.
pub async fn record_many(
    client: &impl deadpool_postgres::GenericClient,
    meta: &RequestMeta,
    events: &[Event<'_>],
) -> Result<(), tokio_postgres::Error> {
    if events.is_empty() {
        return Ok(());
    }
    let user_ids: Vec<Option<Uuid>> = events.iter().map(|e| e.user_id).collect();
    let actor_ids: Vec<Option<Uuid>> = events.iter().map(|e| e.actor_id).collect();
    let actions: Vec<&str> = events.iter().map(|e| e.action).collect();
    let outcomes: Vec<&str> = events.iter().map(|e| e.outcome.as_str()).collect();
    let targets: Vec<Option<&str>> = events.iter().map(|e| e.target.as_deref()).collect();
    let details: Vec<&Value> = events.iter().map(|e| &e.details).collect();
    let insert = client
        .prepare_cached(
            "INSERT INTO audit_events (user_id, actor_id, action, outcome, ip, user_agent, target, details, request_id)
             SELECT e.user_id, e.actor_id, e.action, e.outcome, $7, $8, e.target, e.details, $9
             FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::jsonb[])
                 AS e(user_id, actor_id, action, outcome, target, details)",
        )
        .await?;
    client
        .execute(
            &insert,
            &[
                &user_ids,
                &actor_ids,
                &actions,
                &outcomes,
                &targets,
                &details,
                &meta.ip,
                &meta.user_agent,
                &meta.request_id,
            ],
        )
        .await?;
    Ok(())
}

/// An event as the owner sees it in `GET /me/audit`.
#[derive(Debug, Serialize)]
pub struct EventView {
    /// When.
    pub at: DateTime<Utc>,
    /// What.
    pub action: String,
    /// How it ended.
    pub outcome: String,
    /// From where.
    pub ip: Option<String>,
    /// With what client.
    pub user_agent: Option<String>,
    /// On what.
    pub target: Option<String>,
}

/// The newest `limit` events of a user.
pub async fn list(
    client: &impl tokio_postgres::GenericClient,
    user_id: Uuid,
    limit: i64,
) -> Result<Vec<EventView>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT at, action, outcome, host(ip), user_agent, target FROM audit_events
             WHERE user_id = $1 ORDER BY id DESC LIMIT $2",
            &[&user_id, &limit],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| EventView {
            at: r.get(0),
            action: r.get(1),
            outcome: r.get(2),
            ip: r.get(3),
            user_agent: r.get(4),
            target: r.get(5),
        })
        .collect())
}
