//! Adapters behind [`KeyVault`](crate::ports::KeyVault) and
//! [`TokenSigner`](crate::ports::TokenSigner): KMS-held or KMS-wrapped keys for AWS, keys sealed
//! under a local master key for the embedded default.

use std::sync::Arc;

use crate::domain::{Algorithm, Custody, KeyState, SigningKey};
use crate::jwk::Jwk;
use crate::ports::{SignError, TokenSigner};

#[cfg(feature = "aws")]
pub mod kms;
pub mod local;

use local::LocalSigner;

/// A key record for a public key just made, its id the public key's thumbprint.
pub(crate) fn new_key(
    algorithm: Algorithm,
    public_der: Vec<u8>,
    custody: Custody,
    now: u64,
) -> Result<SigningKey, SignError> {
    let jwk = Jwk::from_spki_der(&public_der, algorithm)
        .map_err(|e| SignError::KeyUnusable(Box::new(e)))?;
    Ok(SigningKey {
        kid: jwk.kid,
        algorithm,
        public_der,
        custody,
        created_at: now,
        state: KeyState::Next,
    })
}

/// A signer over the decrypted private half of `key`, refused unless it is the private half of
/// that very key.
pub(crate) fn unwrapped_signer(
    key: &SigningKey,
    pkcs8: &[u8],
) -> Result<Arc<dyn TokenSigner>, SignError> {
    let signer = LocalSigner::from_pkcs8(key.algorithm, pkcs8)
        .map_err(|e| SignError::KeyUnusable(Box::new(e)))?;
    if signer.public_jwk().kid != key.kid {
        return Err(SignError::KeyUnusable(
            "the decrypted private key does not match the published key".into(),
        ));
    }
    Ok(Arc::new(signer))
}
