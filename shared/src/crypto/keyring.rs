//! The keyring: AES-256 master keys by numeric key id, one of them primary.
//!
//! Source, in order: `FAIRLANE_ENCRYPTION_KEY_FILE` (a file readable by its owner only,
//! mode 0600 or 0400), else `FAIRLANE_ENCRYPTION_KEYS`. Both hold a comma-separated
//! list `kid:base64key` — the **first** entry is the primary (used to seal), the others
//! only decrypt. Each key is exactly 32 bytes. Rotation: put a new key first (it becomes
//! primary), keep the old ones after it, run `fairlane-api rotate-keys`, then drop the
//! old keys. Subkeys per purpose are derived with HKDF-SHA256, so a key is never used
//! for two purposes.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use base64::Engine;
use zeroize::Zeroizing;

use crate::config::{ConfigError, Env};

/// A problem with the configured keys.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct KeyringError(String);

/// The loaded keys. `Debug` shows key ids only.
#[derive(Clone)]
pub struct Keyring {
    primary: u32,
    keys: BTreeMap<u32, Zeroizing<[u8; 32]>>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("primary", &self.primary)
            .field("key_ids", &self.key_ids())
            .finish()
    }
}

impl Keyring {
    /// Reads the keyring from the environment (see the module docs).
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        if let Some(path) = env.get("FAIRLANE_ENCRYPTION_KEY_FILE") {
            return Self::from_file(Path::new(path))
                .map_err(|e| ConfigError::new("FAIRLANE_ENCRYPTION_KEY_FILE", e.to_string()));
        }
        let spec = env.required("FAIRLANE_ENCRYPTION_KEYS")?;
        Self::parse(&spec).map_err(|e| ConfigError::new("FAIRLANE_ENCRYPTION_KEYS", e.to_string()))
    }

    /// Reads a key file, refusing one that others can read.
    pub fn from_file(path: &Path) -> Result<Self, KeyringError> {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path)
            .map_err(|e| KeyringError(format!("cannot read {}: {e}", path.display())))?;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(KeyringError(format!(
                "{} is readable by group or others (mode {:o}); chmod 600 it",
                path.display(),
                meta.permissions().mode() & 0o777
            )));
        }
        let text = Zeroizing::new(
            std::fs::read_to_string(path)
                .map_err(|e| KeyringError(format!("cannot read {}: {e}", path.display())))?,
        );
        Self::parse(text.trim())
    }

    /// Parses `kid:base64key[,kid:base64key...]`; the first is primary.
    pub fn parse(spec: &str) -> Result<Self, KeyringError> {
        let mut keys = BTreeMap::new();
        let mut primary = None;
        for (index, entry) in spec
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .enumerate()
        {
            let (kid, encoded) = entry.split_once(':').ok_or_else(|| {
                KeyringError(format!("entry {} is not `kid:base64key`", index + 1))
            })?;
            let kid: u32 = kid.trim().parse().map_err(|_| {
                KeyringError(format!("entry {}: key id must be a number", index + 1))
            })?;
            let bytes = Zeroizing::new(
                base64::engine::general_purpose::STANDARD
                    .decode(encoded.trim())
                    .map_err(|_| KeyringError(format!("key {kid}: not valid base64")))?,
            );
            let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
                KeyringError(format!("key {kid}: must be 32 bytes, got {}", bytes.len()))
            })?;
            if keys.insert(kid, Zeroizing::new(key)).is_some() {
                return Err(KeyringError(format!("key id {kid} appears twice")));
            }
            primary.get_or_insert(kid);
        }
        let primary = primary.ok_or_else(|| KeyringError("no keys given".to_owned()))?;
        Ok(Self { primary, keys })
    }

    /// A fresh random 32-byte key, base64-encoded (for `ops/up` and key rotation).
    pub fn generate_key_b64() -> String {
        let mut key = Zeroizing::new([0u8; 32]);
        getrandom_fill(key.as_mut_slice());
        base64::engine::general_purpose::STANDARD.encode(key.as_slice())
    }

    /// The key id new ciphertexts are sealed with.
    pub fn primary(&self) -> u32 {
        self.primary
    }

    /// Every key id, ascending.
    pub fn key_ids(&self) -> Vec<u32> {
        self.keys.keys().copied().collect()
    }

    /// The subkey of `kid` for `purpose_info`, or `None` for an unknown kid.
    pub(crate) fn subkey(&self, kid: u32, purpose_info: &[u8]) -> Option<Zeroizing<[u8; 32]>> {
        let master = self.keys.get(&kid)?;
        let hkdf = hkdf::Hkdf::<sha2::Sha256>::new(None, master.as_slice());
        let mut out = Zeroizing::new([0u8; 32]);
        hkdf.expand(purpose_info, out.as_mut_slice())
            .expect("32 bytes is a valid HKDF-SHA256 length");
        Some(out)
    }
}

pub(crate) fn getrandom_fill(buf: &mut [u8]) {
    getrandom::fill(buf).expect("the OS random generator failed");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> String {
        base64::engine::general_purpose::STANDARD.encode([byte; 32])
    }

    #[test]
    fn the_first_key_is_primary_and_all_decrypt() {
        let ring = Keyring::parse(&format!("3:{}, 2:{}", key(3), key(2))).unwrap();
        assert_eq!(ring.primary(), 3);
        assert_eq!(ring.key_ids(), vec![2, 3]);
    }

    #[test]
    fn bad_keyrings_are_rejected() {
        assert!(Keyring::parse("").is_err());
        assert!(Keyring::parse("1").is_err());
        assert!(Keyring::parse("x:AAAA").is_err());
        assert!(Keyring::parse("1:!!!").is_err());
        assert!(
            Keyring::parse(&format!(
                "1:{}",
                base64::engine::general_purpose::STANDARD.encode([0u8; 16])
            ))
            .is_err()
        );
        assert!(Keyring::parse(&format!("1:{},1:{}", key(1), key(2))).is_err());
    }

    #[test]
    fn debug_output_has_no_key_material() {
        let ring = Keyring::parse(&format!("7:{}", key(0xAB))).unwrap();
        let printed = format!("{ring:?}");
        assert!(printed.contains('7'));
        assert!(!printed.contains(&key(0xAB)), "{printed}");
        assert!(!printed.to_lowercase().contains("abab"), "{printed}");
    }

    #[test]
    fn key_files_readable_by_others_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("fl-keyring-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("keys");
        std::fs::write(&path, format!("1:{}\n", key(1))).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(
            Keyring::from_file(&path)
                .unwrap_err()
                .to_string()
                .contains("chmod 600")
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(Keyring::from_file(&path).unwrap().primary(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
