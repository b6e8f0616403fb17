//! A local RSA-2048 signing key, generated on first start and kept as PKCS#8 DER in a file that
//! only its owner can read (mode 0600).

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use async_trait::async_trait;
use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};

use crate::jwk::Jwk;
use crate::ports::{Algorithm, SignError, TokenSigner};

pub struct LocalSigner {
    key: KeyPair,
    jwk: Jwk,
}

#[derive(Debug, thiserror::Error)]
pub enum LocalKeyError {
    #[error("cannot read or write the key file {path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("the key file {path} does not hold a usable RSA private key: {reason}")]
    Rejected { path: String, reason: String },
}

impl LocalSigner {
    /// Loads the key at `path`, or generates one and writes it there if the file is absent.
    pub fn load_or_generate(path: &Path) -> Result<Self, LocalKeyError> {
        let shown = path.display().to_string();
        let io_error = |source| LocalKeyError::Io {
            path: shown.clone(),
            source,
        };
        let rejected = |reason: String| LocalKeyError::Rejected {
            path: shown.clone(),
            reason,
        };
        let key = match fs::read(path) {
            Ok(der) => KeyPair::from_pkcs8(&der).map_err(|e| rejected(e.to_string()))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let key =
                    KeyPair::generate(KeySize::Rsa2048).map_err(|e| rejected(e.to_string()))?;
                let der = AsDer::as_der(&key).map_err(|e| rejected(e.to_string()))?;
                write_private_file(path, der.as_ref()).map_err(io_error)?;
                key
            }
            Err(e) => return Err(io_error(e)),
        };
        Self::from_key(key).map_err(rejected)
    }

    /// A signer over a key that lives only in memory (tests and benchmarks).
    pub fn ephemeral() -> Result<Self, String> {
        let key = KeyPair::generate(KeySize::Rsa2048).map_err(|e| e.to_string())?;
        Self::from_key(key)
    }

    fn from_key(key: KeyPair) -> Result<Self, String> {
        let spki: PublicKeyX509Der<'_> = key.public_key().as_der().map_err(|e| e.to_string())?;
        let jwk =
            Jwk::from_rsa_spki_der(spki.as_ref(), Algorithm::Rs256).map_err(|e| e.to_string())?;
        Ok(Self { key, jwk })
    }
}

#[async_trait]
impl TokenSigner for LocalSigner {
    fn public_jwk(&self) -> &Jwk {
        &self.jwk
    }

    fn algorithm(&self) -> Algorithm {
        Algorithm::Rs256
    }

    async fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, SignError> {
        let mut signature = vec![0; self.key.public_modulus_len()];
        let rng = aws_lc_rs::rand::SystemRandom::new();
        self.key
            .sign(&RSA_PKCS1_SHA256, &rng, signing_input, &mut signature)
            .map_err(|e| SignError::KeyUnusable(Box::new(e)))?;
        Ok(signature)
    }
}

/// Writes `bytes` to a new file readable by its owner alone, durably: a temporary file is
/// synced and renamed into place, so a crash never leaves a half-written key behind.
pub(crate) fn write_private_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn generates_a_private_key_file_once_and_reloads_the_same_key() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("signing-key.p8");
        let first = LocalSigner::load_or_generate(&path).expect("generate");
        let mode = fs::metadata(&path).expect("key file").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let second = LocalSigner::load_or_generate(&path).expect("reload");
        assert_eq!(first.public_jwk(), second.public_jwk());
        assert_eq!(
            first.public_jwk().n.len(),
            342,
            "a 2048-bit modulus in base64url"
        );
    }

    #[test]
    fn refuses_a_key_file_that_holds_no_key() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("signing-key.p8");
        fs::write(&path, b"not a key").expect("write");
        let error = LocalSigner::load_or_generate(&path)
            .err()
            .expect("must fail");
        assert!(matches!(error, LocalKeyError::Rejected { .. }), "{error}");
    }
}
