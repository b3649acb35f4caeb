//! Deterministic pseudo-random numbers: a uniform draw in [0, 1) from the seed and a
//! few labels, through SHA-256. The same seed and labels give the same number on every
//! run and platform, whatever order requests arrive in.

use sha2::{Digest, Sha256};

/// A uniform number in [0, 1) for `(seed, labels…)`.
pub(crate) fn unit(seed: u64, labels: &[&str]) -> f64 {
    let mut hasher = Sha256::new();
    hasher.update(seed.to_le_bytes());
    for label in labels {
        hasher.update((label.len() as u64).to_le_bytes());
        hasher.update(label.as_bytes());
    }
    let digest = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    // 53 random bits make an exactly representable fraction.
    (u64::from_le_bytes(first) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_stable_and_spread() {
        assert_eq!(unit(1, &["a", "b"]), unit(1, &["a", "b"]));
        assert_ne!(unit(1, &["a", "b"]), unit(2, &["a", "b"]));
        assert_ne!(unit(1, &["ab"]), unit(1, &["a", "b"]));
        let mean = (0..1000).map(|i| unit(3, &[&i.to_string()])).sum::<f64>() / 1000.0;
        assert!((mean - 0.5).abs() < 0.05, "{mean}");
    }
}
