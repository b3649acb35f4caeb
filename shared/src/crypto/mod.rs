//! Encryption of secrets at rest (broker credentials, TOTP seeds): a keyring of
//! AES-256-GCM keys with one primary and decrypt-only old keys, and a versioned envelope
//! whose associated data binds each ciphertext to what it belongs to.
//!
//! See `keyring` for where keys come from and `envelope` for the byte layout. Nothing
//! here logs, prints or returns key material or plaintext in `Debug` output.

mod envelope;
mod keyring;

pub use envelope::{Aad, Purpose, open, seal, sealed_key_id};
pub use keyring::{Keyring, KeyringError};

/// Why a seal or open failed. Deliberately coarse: no oracle about which check failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    /// The blob is malformed, sealed under an unknown key, tampered with, or bound to
    /// a different owner/record/field.
    #[error("cannot decrypt: wrong key, wrong owner or damaged ciphertext")]
    Open,
}
