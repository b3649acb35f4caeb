//! Passwords: the policy (10–128 characters, not common or guessable from the user's
//! own details) and argon2id hashing (m = 19456 KiB, t = 2, p = 1; PHC strings).
//!
//! Hashing runs on the blocking pool behind a semaphore so concurrent logins cannot
//! exhaust CPU or memory (each hash uses 19 MiB). Verifying for an unknown user runs
//! against a dummy hash so both failures take the same time.

use std::sync::{Arc, LazyLock};

use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

/// Why a new password was refused (the message is shown to the user).
#[derive(Debug, PartialEq, Eq)]
pub struct WeakPassword(pub String);

/// Fewest characters.
pub const MIN_CHARS: usize = 10;
/// Most characters.
pub const MAX_CHARS: usize = 128;

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

static PERMITS: LazyLock<Arc<Semaphore>> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    Arc::new(Semaphore::new(cores * 2))
});

static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    argon2()
        .hash_password(b"fairlane dummy password")
        .expect("hash")
        .to_string()
});

/// Checks the policy. `context` holds words the password must not be built from
/// (the user's email and name).
pub fn check_policy(password: &str, context: &[&str]) -> Result<(), WeakPassword> {
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        return Err(WeakPassword(format!(
            "must be at least {MIN_CHARS} characters"
        )));
    }
    if chars > MAX_CHARS {
        return Err(WeakPassword(format!(
            "must be at most {MAX_CHARS} characters"
        )));
    }
    let mut inputs: Vec<&str> = context.to_vec();
    inputs.push("fairlane");
    let estimate = zxcvbn::zxcvbn(password, &inputs);
    if (estimate.score() as u8) < 2 {
        return Err(WeakPassword(
            "is too common or too easy to guess; use a longer phrase".to_owned(),
        ));
    }
    Ok(())
}

/// Hashes a password (PHC string).
pub async fn hash(password: Zeroizing<String>) -> anyhow::Result<String> {
    let _permit = PERMITS.clone().acquire_owned().await?;
    tokio::task::spawn_blocking(move || {
        argon2()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("argon2: {e}"))
    })
    .await?
}

/// Verifies a password against a stored PHC string, or against the dummy hash when
/// `stored` is `None` (always false, same cost).
pub async fn verify(password: Zeroizing<String>, stored: Option<String>) -> anyhow::Result<bool> {
    let _permit = PERMITS.clone().acquire_owned().await?;
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let phc = stored.unwrap_or_else(|| DUMMY_HASH.clone());
        let parsed = PasswordHash::new(&phc).map_err(|e| anyhow::anyhow!("stored hash: {e}"))?;
        Ok(argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
            && known)
    })
    .await?
}

/// Warms the dummy hash so the first unknown-user login costs the same as later ones.
pub fn warm_up() {
    LazyLock::force(&DUMMY_HASH);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_rejects_short_long_common_and_personal_passwords() {
        assert!(check_policy("short", &[]).is_err());
        assert!(check_policy(&"x".repeat(129), &[]).is_err());
        assert!(check_policy("password123", &[]).is_err());
        assert!(check_policy("qwertyuiop", &[]).is_err());
        assert!(
            check_policy(
                "alice.smith@example.com",
                &["alice.smith@example.com", "Alice Smith"]
            )
            .is_err()
        );
        assert!(check_policy("correct-horse-battery-staple", &[]).is_ok());
        assert!(check_policy("Grüße aus Köln 2026 🌧", &[]).is_ok());
    }

    #[tokio::test]
    async fn hashes_are_argon2id_phc_with_the_required_parameters() {
        let phc = hash(Zeroizing::new("correct-horse-battery-staple".to_owned()))
            .await
            .unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(
            verify(
                Zeroizing::new("correct-horse-battery-staple".to_owned()),
                Some(phc.clone())
            )
            .await
            .unwrap()
        );
        assert!(
            !verify(
                Zeroizing::new("wrong-horse-battery-staple".to_owned()),
                Some(phc)
            )
            .await
            .unwrap()
        );
        assert!(
            !verify(Zeroizing::new("anything".to_owned()), None)
                .await
                .unwrap()
        );
    }
}
