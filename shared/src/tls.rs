//! TLS for outgoing HTTPS (the broker): rustls with the `ring` crypto provider,
//! certificates checked against the platform's trust store.
//!
//! reqwest is built without a bundled provider (keeping the heavy aws-lc build out), so
//! the process-wide provider must be installed before the first HTTP client is built.
//! [`install`] does that once; calling it again is harmless.

use std::sync::Once;

/// Installs the ring provider as the process default (idempotent).
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Err means another provider was installed first, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn https_clients_can_be_built_once_the_provider_is_installed() {
        super::install();
        super::install();
        reqwest::Client::builder()
            .https_only(true)
            .build()
            .expect("client with TLS");
    }
}
