//! Broker credentials at rest: sealed per field with the keyring (AES-256-GCM, associated
//! data binding user, credential id and field), stored in `broker_credentials`.
//!
//! The API writes them; only the worker opens them, just before a broker call, into
//! [`BrokerCredentials`] whose secrets are zeroized on drop and never print.

use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use crate::Result;
use crate::crypto::{self, Aad, CryptoError, Keyring, Purpose};

/// Decrypted credentials of one user.
#[derive(Debug)]
pub struct BrokerCredentials {
    /// The Kite API key.
    pub api_key: SecretString,
    /// The Kite access token.
    pub access_token: SecretString,
}

fn aad(user_id: Uuid, credential_id: Uuid, field: &str) -> Aad<'_> {
    Aad {
        purpose: Purpose::BrokerCredential,
        user_id,
        record_id: credential_id,
        field,
    }
}

/// Seals and stores (insert or replace) a user's credentials.
pub async fn store(
    client: &impl tokio_postgres::GenericClient,
    ring: &Keyring,
    user_id: Uuid,
    credentials: &BrokerCredentials,
) -> Result<()> {
    let credential_id = Uuid::new_v4();
    let seal = |field, value: &SecretString| {
        crypto::seal(
            ring,
            &aad(user_id, credential_id, field),
            value.expose_secret().as_bytes(),
        )
        .map_err(|e| crate::Error::Other(e.into()))
    };
    let api_key_ct = seal("api_key", &credentials.api_key)?;
    let access_token_ct = seal("access_token", &credentials.access_token)?;
    let key_id = i32::try_from(ring.primary()).map_err(|e| crate::Error::Other(e.into()))?;
    client
        .execute(
            "INSERT INTO broker_credentials (user_id, id, key_id, api_key_ct, access_token_ct)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (user_id) DO UPDATE SET id = EXCLUDED.id, key_id = EXCLUDED.key_id,
                 api_key_ct = EXCLUDED.api_key_ct, access_token_ct = EXCLUDED.access_token_ct,
                 updated_at = now()",
            &[
                &user_id,
                &credential_id,
                &key_id,
                &api_key_ct,
                &access_token_ct,
            ],
        )
        .await?;
    Ok(())
}

/// Loads and opens a user's credentials; `Ok(None)` when none are stored.
pub async fn load(
    client: &impl tokio_postgres::GenericClient,
    ring: &Keyring,
    user_id: Uuid,
) -> Result<Option<Result<BrokerCredentials, CryptoError>>> {
    let row = client
        .query_opt(
            "SELECT id, api_key_ct, access_token_ct FROM broker_credentials WHERE user_id = $1",
            &[&user_id],
        )
        .await?;
    Ok(row.map(|row| {
        let credential_id: Uuid = row.get(0);
        let open = |field, blob: &[u8]| -> Result<SecretString, CryptoError> {
            let plain = crypto::open(ring, &aad(user_id, credential_id, field), blob)?;
            let text = String::from_utf8(plain.to_vec()).map_err(|_| CryptoError::Open)?;
            Ok(SecretString::from(text))
        };
        Ok(BrokerCredentials {
            api_key: open("api_key", row.get::<_, &[u8]>(1))?,
            access_token: open("access_token", row.get::<_, &[u8]>(2))?,
        })
    }))
}

/// Re-seals up to `batch` credential rows still on an old key with the primary key, in
/// one transaction (rows locked with SKIP LOCKED, so concurrent runs share the work).
/// Returns how many rows were re-sealed; 0 means rotation is complete.
pub async fn rotate_batch(
    client: &mut tokio_postgres::Client,
    ring: &Keyring,
    batch: i64,
) -> Result<u64> {
    let primary = i32::try_from(ring.primary()).map_err(|e| crate::Error::Other(e.into()))?;
    let tx = client.transaction().await?;
    let rows = tx
        .query(
            "SELECT user_id, id, api_key_ct, access_token_ct FROM broker_credentials
             WHERE key_id <> $1 ORDER BY user_id LIMIT $2 FOR UPDATE SKIP LOCKED",
            &[&primary, &batch],
        )
        .await?;
    let mut done = 0;
    for row in rows {
        let (user_id, credential_id): (Uuid, Uuid) = (row.get(0), row.get(1));
        let mut resealed = Vec::with_capacity(2);
        for (field, blob) in [
            ("api_key", row.get::<_, &[u8]>(2)),
            ("access_token", row.get::<_, &[u8]>(3)),
        ] {
            let plain =
                crypto::open(ring, &aad(user_id, credential_id, field), blob).map_err(|e| {
                    crate::Error::Other(anyhow::anyhow!("credential of user {user_id}: {e}"))
                })?;
            resealed.push(
                crypto::seal(ring, &aad(user_id, credential_id, field), &plain)
                    .map_err(|e| crate::Error::Other(e.into()))?,
            );
        }
        done += tx
            .execute(
                "UPDATE broker_credentials SET api_key_ct = $2, access_token_ct = $3, key_id = $4, updated_at = now()
                 WHERE user_id = $1",
                &[&user_id, &resealed[0], &resealed[1], &primary],
            )
            .await?;
    }
    tx.commit().await?;
    Ok(done)
}
