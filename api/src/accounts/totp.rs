//! Optional TOTP second factor (RFC 6238: SHA-1, 6 digits, 30 s steps, ±1 step skew).
//!
//! The 160-bit seed is sealed with the keyring (purpose `TotpSeed`) in `users.totp_secret`.
//! A code is accepted only for a time step later than the last accepted one, recorded
//! with a conditional UPDATE, so a code cannot be used twice — not even concurrently on
//! two API replicas.

use fairlane_shared::crypto::{self, Aad, Keyring, Purpose};
use totp_rs::{Algorithm, Builder, Totp};
use uuid::Uuid;

fn aad(user_id: Uuid) -> Aad<'static> {
    Aad {
        purpose: Purpose::TotpSeed,
        user_id,
        record_id: user_id,
        field: "totp_seed",
    }
}

/// A fresh random seed.
pub fn new_seed() -> [u8; 20] {
    let mut seed = [0u8; 20];
    getrandom::fill(&mut seed).expect("the OS random generator failed");
    seed
}

fn totp(seed: &[u8], account: &str) -> anyhow::Result<Totp> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(seed.to_vec())
        .with_account_name(account)
        .with_issuer(Some("Fairlane"))
        .build()
        .map_err(|e| anyhow::anyhow!("totp: {e:?}"))
}

/// The base32 secret and the `otpauth://` URL an authenticator app scans.
pub fn enrolment(seed: &[u8], account: &str) -> anyhow::Result<(String, String)> {
    let totp = totp(seed, account)?;
    let url = totp
        .to_url()
        .map_err(|e| anyhow::anyhow!("totp url: {e:?}"))?;
    Ok((totp_rs::Secret::from(seed.to_vec()).to_base32(), url))
}

/// Seals a seed for storage.
pub fn seal(ring: &Keyring, user_id: Uuid, seed: &[u8]) -> anyhow::Result<Vec<u8>> {
    Ok(crypto::seal(ring, &aad(user_id), seed)?)
}

/// The time step a code matches now (±1 step), if any.
pub fn matching_step(
    ring: &Keyring,
    user_id: Uuid,
    sealed: &[u8],
    account: &str,
    code: &str,
) -> anyhow::Result<Option<u64>> {
    let seed = crypto::open(ring, &aad(user_id), sealed)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    Ok(totp(&seed, account)?.check(code.trim(), now))
}

/// Checks a code against the user's stored seed and consumes its time step. `false` for a
/// wrong code, a replayed code, or no seed.
pub async fn accept(
    client: &impl tokio_postgres::GenericClient,
    ring: &Keyring,
    user_id: Uuid,
    account: &str,
    code: &str,
) -> anyhow::Result<bool> {
    let row = client
        .query_opt("SELECT totp_secret FROM users WHERE id = $1", &[&user_id])
        .await?;
    let Some(sealed) = row.and_then(|r| r.get::<_, Option<Vec<u8>>>(0)) else {
        return Ok(false);
    };
    let Some(step) = matching_step(ring, user_id, &sealed, account, code)? else {
        return Ok(false);
    };
    let step = i64::try_from(step)?;
    let consumed = client
        .execute(
            "UPDATE users SET totp_last_step = $2 WHERE id = $1 AND totp_last_step < $2",
            &[&user_id, &step],
        )
        .await?;
    Ok(consumed == 1)
}

/// Re-seals up to `batch` TOTP seeds still on an old key with the primary key.
pub async fn rotate_batch(
    client: &mut tokio_postgres::Client,
    ring: &Keyring,
    batch: i64,
) -> anyhow::Result<u64> {
    let primary = ring.primary();
    let tx = client.transaction().await?;
    let rows = tx
        .query(
            "SELECT id, totp_secret FROM users
             WHERE totp_secret IS NOT NULL AND substring(totp_secret FROM 2 FOR 4) <> $1
             ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED",
            &[&primary.to_be_bytes().as_slice(), &batch],
        )
        .await?;
    let mut done = 0;
    for row in rows {
        let user_id: Uuid = row.get(0);
        let sealed: Vec<u8> = row.get(1);
        let seed = crypto::open(ring, &aad(user_id), &sealed)?;
        let resealed = crypto::seal(ring, &aad(user_id), &seed)?;
        done += tx
            .execute(
                "UPDATE users SET totp_secret = $2 WHERE id = $1",
                &[&user_id, &resealed],
            )
            .await?;
    }
    tx.commit().await?;
    Ok(done)
}

/// The current code for a seed (tests and the dashboard's own checks use it).
pub fn current_code(seed: &[u8], account: &str) -> anyhow::Result<String> {
    Ok(totp(seed, account)?.generate_current().to_string())
}
