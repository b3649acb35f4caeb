//! Server-side sessions in Redis.
//!
//! `session:<sha256(token)>` is a hash {user_id, sid, created_ms, last_seen_ms,
//! expires_ms, ip, user_agent, csrf_hash}; its TTL is the idle timeout, capped by the
//! absolute expiry, and every use extends it. `user-sessions:<user id>` maps each public
//! session id to its token hash, for listing and revoking. Deleting the hash kills the
//! session on its very next request, on every API replica.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use fairlane_shared::redis_conn::Redis;
use redis::AsyncCommands;
use uuid::Uuid;

use super::tokens;
use crate::settings::SessionSettings;

/// A live session, as seen when a request presents its token.
#[derive(Debug, Clone)]
pub struct Session {
    /// The owner.
    pub user_id: Uuid,
    /// The public id (listing, revoking).
    pub sid: String,
    /// SHA-256 of the token.
    pub token_hash: String,
    /// SHA-256 of the CSRF token.
    pub csrf_hash: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last used.
    pub last_seen_at: DateTime<Utc>,
    /// Absolute expiry.
    pub expires_at: DateTime<Utc>,
    /// Client IP at login.
    pub ip: String,
    /// Client user agent at login.
    pub user_agent: String,
}

/// A new session's secrets, returned once to the client.
#[derive(Debug)]
pub struct Created {
    /// The bearer token.
    pub token: String,
    /// The CSRF token for cookie-authenticated changes.
    pub csrf_token: String,
    /// The session.
    pub session: Session,
}

fn session_key(redis: &Redis, token_hash: &str) -> String {
    redis.key(&format!("session:{token_hash}"))
}

fn index_key(redis: &Redis, user_id: Uuid) -> String {
    redis.key(&format!("user-sessions:{user_id}"))
}

fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// Creates a session, then trims the user's oldest sessions beyond the cap.
pub async fn create(
    redis: &Redis,
    settings: &SessionSettings,
    user_id: Uuid,
    ip: &str,
    user_agent: &str,
) -> Result<Created, redis::RedisError> {
    let token = tokens::generate(tokens::SESSION_PREFIX);
    let csrf_token = tokens::generate("");
    let now = Utc::now();
    let session = Session {
        user_id,
        sid: Uuid::new_v4().simple().to_string(),
        token_hash: tokens::hash_hex(&token),
        csrf_hash: tokens::hash_hex(&csrf_token),
        created_at: now,
        last_seen_at: now,
        expires_at: now + settings.absolute,
        ip: ip.to_owned(),
        user_agent: user_agent.to_owned(),
    };
    let key = session_key(redis, &session.token_hash);
    let ttl_ms =
        i64::try_from(settings.idle.min(settings.absolute).as_millis()).unwrap_or(i64::MAX);
    let absolute_ms = i64::try_from(settings.absolute.as_millis()).unwrap_or(i64::MAX);
    let fields: [(&str, String); 8] = [
        ("user_id", user_id.to_string()),
        ("sid", session.sid.clone()),
        ("csrf_hash", session.csrf_hash.clone()),
        ("created_ms", millis(now).to_string()),
        ("last_seen_ms", millis(now).to_string()),
        ("expires_ms", millis(session.expires_at).to_string()),
        ("ip", session.ip.clone()),
        ("user_agent", session.user_agent.clone()),
    ];
    redis::pipe()
        .atomic()
        .hset_multiple(&key, &fields)
        .ignore()
        .pexpire(&key, ttl_ms)
        .ignore()
        .hset(index_key(redis, user_id), &session.sid, &session.token_hash)
        .ignore()
        .pexpire(index_key(redis, user_id), absolute_ms)
        .ignore()
        .query_async::<()>(&mut redis.conn())
        .await?;
    trim(redis, user_id, settings.max_per_user).await?;
    Ok(Created {
        token,
        csrf_token,
        session,
    })
}

const TOUCH: &str = r"
local f = redis.call('HGETALL', KEYS[1])
if #f == 0 then return nil end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local h = {}
for i = 1, #f, 2 do h[f[i]] = f[i + 1] end
local expires = tonumber(h['expires_ms'])
if expires <= now then redis.call('DEL', KEYS[1]) return nil end
redis.call('HSET', KEYS[1], 'last_seen_ms', now)
redis.call('PEXPIRE', KEYS[1], math.min(tonumber(ARGV[1]), expires - now))
h['last_seen_ms'] = tostring(now)
local out = {}
for k, v in pairs(h) do table.insert(out, k) table.insert(out, v) end
return out
";

fn from_fields(token_hash: &str, fields: &HashMap<String, String>) -> Option<Session> {
    let get = |name: &str| fields.get(name).cloned();
    let ms = |name: &str| {
        fields
            .get(name)
            .and_then(|v| v.parse::<i64>().ok())
            .map(from_millis)
    };
    Some(Session {
        user_id: get("user_id")?.parse().ok()?,
        sid: get("sid")?,
        token_hash: token_hash.to_owned(),
        csrf_hash: get("csrf_hash")?,
        created_at: ms("created_ms")?,
        last_seen_at: ms("last_seen_ms")?,
        expires_at: ms("expires_ms")?,
        ip: get("ip").unwrap_or_default(),
        user_agent: get("user_agent").unwrap_or_default(),
    })
}

/// Finds the session of a presented token and extends its idle timeout.
pub async fn touch(
    redis: &Redis,
    settings: &SessionSettings,
    token: &str,
) -> Result<Option<Session>, redis::RedisError> {
    let token_hash = tokens::hash_hex(token);
    let idle_ms = i64::try_from(settings.idle.as_millis()).unwrap_or(i64::MAX);
    let fields: Option<HashMap<String, String>> = redis::Script::new(TOUCH)
        .key(session_key(redis, &token_hash))
        .arg(idle_ms)
        .invoke_async(&mut redis.conn())
        .await?;
    Ok(fields.and_then(|f| from_fields(&token_hash, &f)))
}

/// Every live session of a user (stale index entries are dropped on the way).
pub async fn list(redis: &Redis, user_id: Uuid) -> Result<Vec<Session>, redis::RedisError> {
    let mut conn = redis.conn();
    let index: HashMap<String, String> = conn.hgetall(index_key(redis, user_id)).await?;
    let mut sessions = Vec::with_capacity(index.len());
    for (sid, token_hash) in index {
        let fields: HashMap<String, String> = conn.hgetall(session_key(redis, &token_hash)).await?;
        match from_fields(&token_hash, &fields)
            .filter(|s| s.user_id == user_id && s.expires_at > Utc::now())
        {
            Some(session) => sessions.push(session),
            None => {
                let _: () = conn.hdel(index_key(redis, user_id), &sid).await?;
            }
        }
    }
    sessions.sort_by_key(|s| std::cmp::Reverse(s.created_at));
    Ok(sessions)
}

/// Revokes one session of a user by its public id. `false` when the user has none by that id.
pub async fn revoke(redis: &Redis, user_id: Uuid, sid: &str) -> Result<bool, redis::RedisError> {
    let mut conn = redis.conn();
    let token_hash: Option<String> = conn.hget(index_key(redis, user_id), sid).await?;
    let Some(token_hash) = token_hash else {
        return Ok(false);
    };
    let fields: HashMap<String, String> = conn.hgetall(session_key(redis, &token_hash)).await?;
    let _: () = redis::pipe()
        .del(session_key(redis, &token_hash))
        .hdel(index_key(redis, user_id), sid)
        .query_async(&mut conn)
        .await?;
    Ok(from_fields(&token_hash, &fields).is_some_and(|s| s.expires_at > Utc::now()))
}

/// Revokes every session of a user except `keep` (a public id); returns how many.
pub async fn revoke_all(
    redis: &Redis,
    user_id: Uuid,
    keep: Option<&str>,
) -> Result<usize, redis::RedisError> {
    let mut conn = redis.conn();
    let index: HashMap<String, String> = conn.hgetall(index_key(redis, user_id)).await?;
    let mut pipe = redis::pipe();
    let mut revoked = 0;
    for (sid, token_hash) in &index {
        if Some(sid.as_str()) == keep {
            continue;
        }
        pipe.del(session_key(redis, token_hash))
            .ignore()
            .hdel(index_key(redis, user_id), sid)
            .ignore();
        revoked += 1;
    }
    pipe.query_async::<()>(&mut conn).await?;
    Ok(revoked)
}

async fn trim(redis: &Redis, user_id: Uuid, max: usize) -> Result<(), redis::RedisError> {
    let sessions = list(redis, user_id).await?;
    for session in sessions.iter().skip(max.max(1)) {
        revoke(redis, user_id, &session.sid).await?;
    }
    Ok(())
}

/// Seconds until a session's absolute expiry (for the cookie's Max-Age).
pub fn remaining(session: &Session) -> Duration {
    (session.expires_at - Utc::now())
        .to_std()
        .unwrap_or_default()
}
