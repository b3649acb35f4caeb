//! The ciphertext envelope and its associated data.
//!
//! Layout: `version (1 byte, = 1) | key id (u32 big-endian) | nonce (12 random bytes) |
//! AES-256-GCM ciphertext with its 16-byte tag`. The associated data is a
//! length-prefixed encoding of (purpose, version, key id, owner id, record id, field),
//! so a ciphertext moved to another user, record or field — or relabelled with another
//! key id — fails to open. Each purpose seals with its own HKDF subkey.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::CryptoError;
use super::keyring::{Keyring, getrandom_fill};

const VERSION: u8 = 1;
const HEADER_LEN: usize = 1 + 4 + 12;
const TAG_LEN: usize = 16;

/// What a sealed secret is for; part of the associated data and of the subkey.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A broker credential field (API key, access token).
    BrokerCredential,
    /// A user's TOTP seed.
    TotpSeed,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::BrokerCredential => b"fairlane/broker-credential/v1",
            Purpose::TotpSeed => b"fairlane/totp-seed/v1",
        }
    }
}

/// What a ciphertext is bound to.
#[derive(Debug, Clone, Copy)]
pub struct Aad<'a> {
    /// The purpose.
    pub purpose: Purpose,
    /// The owning user.
    pub user_id: Uuid,
    /// The record (e.g. the credential's id; the user id for a TOTP seed).
    pub record_id: Uuid,
    /// The field within the record (e.g. `api_key`).
    pub field: &'a str,
}

impl Aad<'_> {
    fn encode(&self, kid: u32) -> Vec<u8> {
        let mut out = Vec::with_capacity(96);
        let mut part = |bytes: &[u8]| {
            out.extend_from_slice(
                &u16::try_from(bytes.len())
                    .expect("short field")
                    .to_be_bytes(),
            );
            out.extend_from_slice(bytes);
        };
        part(self.purpose.label());
        part(&[VERSION]);
        part(&kid.to_be_bytes());
        part(self.user_id.as_bytes());
        part(self.record_id.as_bytes());
        part(self.field.as_bytes());
        out
    }
}

/// Seals `plaintext` with the primary key.
pub fn seal(ring: &Keyring, aad: &Aad<'_>, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let kid = ring.primary();
    let subkey = ring
        .subkey(kid, aad.purpose.label())
        .ok_or(CryptoError::Open)?;
    let cipher = Aes256Gcm::new_from_slice(subkey.as_slice()).map_err(|_| CryptoError::Open)?;
    let mut nonce = [0u8; 12];
    getrandom_fill(&mut nonce);
    let ciphertext = cipher
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: plaintext,
                aad: &aad.encode(kid),
            },
        )
        .map_err(|_| CryptoError::Open)?;
    let mut out = Vec::with_capacity(HEADER_LEN + ciphertext.len());
    out.push(VERSION);
    out.extend_from_slice(&kid.to_be_bytes());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    Ok(out)
}

/// The key id a blob claims to be sealed with (not authenticated until it opens).
pub fn sealed_key_id(blob: &[u8]) -> Option<u32> {
    (blob.len() >= HEADER_LEN && blob[0] == VERSION)
        .then(|| u32::from_be_bytes([blob[1], blob[2], blob[3], blob[4]]))
}

/// Opens a blob sealed by [`seal`] with the same associated data.
pub fn open(ring: &Keyring, aad: &Aad<'_>, blob: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if blob.len() < HEADER_LEN + TAG_LEN {
        return Err(CryptoError::Open);
    }
    let kid = sealed_key_id(blob).ok_or(CryptoError::Open)?;
    let subkey = ring
        .subkey(kid, aad.purpose.label())
        .ok_or(CryptoError::Open)?;
    let cipher = Aes256Gcm::new_from_slice(subkey.as_slice()).map_err(|_| CryptoError::Open)?;
    let nonce: [u8; 12] = blob[5..HEADER_LEN]
        .try_into()
        .map_err(|_| CryptoError::Open)?;
    cipher
        .decrypt(
            &Nonce::from(nonce),
            Payload {
                msg: &blob[HEADER_LEN..],
                aad: &aad.encode(kid),
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| CryptoError::Open)
}

#[cfg(test)]
mod tests {
    use base64::Engine;

    use super::*;

    fn ring(spec: &[(u32, u8)]) -> Keyring {
        let text: Vec<String> = spec
            .iter()
            .map(|(kid, byte)| {
                format!(
                    "{kid}:{}",
                    base64::engine::general_purpose::STANDARD.encode([*byte; 32])
                )
            })
            .collect();
        Keyring::parse(&text.join(",")).unwrap()
    }

    fn aad(user: Uuid, record: Uuid, field: &str) -> Aad<'_> {
        Aad {
            purpose: Purpose::BrokerCredential,
            user_id: user,
            record_id: record,
            field,
        }
    }

    #[test]
    fn round_trip_and_ciphertext_does_not_contain_plaintext() {
        let ring = ring(&[(1, 1)]);
        let (user, record) = (Uuid::new_v4(), Uuid::new_v4());
        let secret = b"kite-access-token-ABCDEF123456";
        let blob = seal(&ring, &aad(user, record, "access_token"), secret).unwrap();
        assert!(!blob.windows(secret.len()).any(|w| w == secret));
        assert_eq!(sealed_key_id(&blob), Some(1));
        assert_eq!(
            open(&ring, &aad(user, record, "access_token"), &blob)
                .unwrap()
                .as_slice(),
            secret
        );
    }

    #[test]
    fn any_flipped_byte_fails() {
        let ring = ring(&[(1, 1)]);
        let (user, record) = (Uuid::new_v4(), Uuid::new_v4());
        let blob = seal(&ring, &aad(user, record, "api_key"), b"secret").unwrap();
        for i in 0..blob.len() {
            let mut bad = blob.clone();
            bad[i] ^= 0x01;
            assert_eq!(
                open(&ring, &aad(user, record, "api_key"), &bad).unwrap_err(),
                CryptoError::Open,
                "byte {i}"
            );
        }
    }

    #[test]
    fn moving_to_another_user_record_field_or_purpose_fails() {
        let ring = ring(&[(1, 1)]);
        let (user, record) = (Uuid::new_v4(), Uuid::new_v4());
        let blob = seal(&ring, &aad(user, record, "api_key"), b"secret").unwrap();
        assert!(open(&ring, &aad(Uuid::new_v4(), record, "api_key"), &blob).is_err());
        assert!(open(&ring, &aad(user, Uuid::new_v4(), "api_key"), &blob).is_err());
        assert!(open(&ring, &aad(user, record, "access_token"), &blob).is_err());
        let totp = Aad {
            purpose: Purpose::TotpSeed,
            user_id: user,
            record_id: record,
            field: "api_key",
        };
        assert!(open(&ring, &totp, &blob).is_err());
    }

    #[test]
    fn truncated_and_unknown_key_blobs_fail_without_panicking() {
        let ring = ring(&[(1, 1)]);
        let a = aad(Uuid::nil(), Uuid::nil(), "f");
        for len in 0..40 {
            assert!(open(&ring, &a, &vec![1u8; len]).is_err());
        }
        let other = self::ring(&[(9, 9)]);
        let blob = seal(&other, &a, b"x").unwrap();
        assert!(open(&ring, &a, &blob).is_err());
    }

    #[test]
    fn old_keys_still_open_after_a_new_primary_and_nonces_do_not_repeat() {
        let old = ring(&[(2, 2)]);
        let a = aad(Uuid::new_v4(), Uuid::new_v4(), "api_key");
        let blob = seal(&old, &a, b"v").unwrap();
        let rotated = ring(&[(3, 3), (2, 2)]);
        assert_eq!(open(&rotated, &a, &blob).unwrap().as_slice(), b"v");
        assert_eq!(sealed_key_id(&seal(&rotated, &a, b"v").unwrap()), Some(3));
        let nonces: std::collections::HashSet<Vec<u8>> = (0..10_000)
            .map(|_| seal(&rotated, &a, b"v").unwrap()[5..17].to_vec())
            .collect();
        assert_eq!(nonces.len(), 10_000);
    }
}
