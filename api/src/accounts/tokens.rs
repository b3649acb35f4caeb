//! Opaque secrets handed to clients: session tokens, API keys, CSRF tokens.
//!
//! Each is 256 bits from the OS CSPRNG, base64url-encoded with a short prefix that says
//! what it is (`fls_` session, `flk_` API key). Only the SHA-256 of a token is stored;
//! comparisons of secrets are constant-time.

use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Prefix of session tokens.
pub const SESSION_PREFIX: &str = "fls_";
/// Prefix of API keys.
pub const API_KEY_PREFIX: &str = "flk_";

/// A fresh random token with `prefix`.
pub fn generate(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random generator failed");
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// SHA-256 of a token, hex-encoded (what is stored and used as a key).
pub fn hash_hex(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// SHA-256 of a token, raw bytes.
pub fn hash_bytes(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Constant-time equality of two strings.
pub fn equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Whether a presented token has a plausible shape (bounded length, base64url body).
pub fn well_formed(token: &str) -> bool {
    let body = token
        .strip_prefix(SESSION_PREFIX)
        .or_else(|| token.strip_prefix(API_KEY_PREFIX));
    body.is_some_and(|b| {
        b.len() == 43
            && b.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_well_formed_and_hashed() {
        let a = generate(SESSION_PREFIX);
        let b = generate(SESSION_PREFIX);
        assert_ne!(a, b);
        assert!(well_formed(&a) && well_formed(&generate(API_KEY_PREFIX)));
        assert!(
            !well_formed("fls_short") && !well_formed(&format!("{a}x")) && !well_formed("Bearer")
        );
        assert_eq!(hash_hex(&a).len(), 64);
        assert!(equal(&a, &a.clone()) && !equal(&a, &b));
    }
}
