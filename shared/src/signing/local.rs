//! Signing in process: [`LocalSigner`] holds an RSA-2048 or P-256 private key in memory, and
//! [`LocalVault`] keeps tenants' keys for the embedded default, each private key encrypted with
//! AES-256-GCM under a master key that lives in a file only its owner can read (mode 0600).

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _, RSA_PKCS1_SHA256,
};

use crate::domain::{Algorithm, Custody, SigningKey, TenantId};
use crate::jwk::Jwk;
use crate::ports::{KeyVault, Random, SignError, SystemRandom, TokenSigner};
use crate::signing::new_key;

/// A private key in memory and its public JWK.
pub struct LocalSigner {
    key: PrivateKey,
    jwk: Jwk,
}

enum PrivateKey {
    Rsa(RsaKeyPair),
    P256(EcdsaKeyPair),
}

/// A private key that cannot be used: not PKCS#8, or not of the expected kind.
#[derive(Debug, thiserror::Error)]
#[error("not a usable {algorithm} private key: {reason}")]
pub struct InvalidPrivateKey {
    algorithm: Algorithm,
    reason: String,
}

impl LocalSigner {
    /// A new key pair, with its private key as PKCS#8 DER.
    pub fn generate(algorithm: Algorithm) -> Result<(Self, Vec<u8>), InvalidPrivateKey> {
        let invalid = |e: aws_lc_rs::error::Unspecified| invalid(algorithm, e);
        let pkcs8 = match algorithm {
            Algorithm::Rs256 => {
                let key = RsaKeyPair::generate(KeySize::Rsa2048).map_err(invalid)?;
                AsDer::as_der(&key).map_err(invalid)?.as_ref().to_vec()
            }
            Algorithm::Es256 => EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                .and_then(|key| key.to_pkcs8v1())
                .map_err(invalid)?
                .as_ref()
                .to_vec(),
        };
        Ok((Self::from_pkcs8(algorithm, &pkcs8)?, pkcs8))
    }

    /// A signer over a PKCS#8 private key for `algorithm`.
    pub fn from_pkcs8(algorithm: Algorithm, pkcs8: &[u8]) -> Result<Self, InvalidPrivateKey> {
        let key = match algorithm {
            Algorithm::Rs256 => RsaKeyPair::from_pkcs8(pkcs8)
                .map_err(|e| invalid(algorithm, e))
                .and_then(|key| {
                    // RSA-2048 is what verifiers expect of RS256 keys here, and what KMS makes.
                    (key.public_modulus_len() == 256)
                        .then_some(PrivateKey::Rsa(key))
                        .ok_or_else(|| invalid(algorithm, "not a 2048-bit key"))
                })?,
            Algorithm::Es256 => EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
                .map(PrivateKey::P256)
                .map_err(|e| invalid(algorithm, e))?,
        };
        let spki: PublicKeyX509Der<'_> = match &key {
            PrivateKey::Rsa(key) => key.public_key().as_der(),
            PrivateKey::P256(key) => key.public_key().as_der(),
        }
        .map_err(|e| invalid(algorithm, e))?;
        let jwk =
            Jwk::from_spki_der(spki.as_ref(), algorithm).map_err(|e| invalid(algorithm, e))?;
        Ok(Self { key, jwk })
    }

    /// A signer over a key that lives only in memory (tests and benchmarks).
    pub fn ephemeral(algorithm: Algorithm) -> Result<Self, InvalidPrivateKey> {
        Self::generate(algorithm).map(|(signer, _)| signer)
    }

    /// The public key as DER SubjectPublicKeyInfo.
    pub fn public_der(&self) -> Vec<u8> {
        let der = match &self.key {
            PrivateKey::Rsa(key) => key.public_key().as_der(),
            PrivateKey::P256(key) => key.public_key().as_der(),
        };
        // Encoding succeeded once already, in `from_pkcs8`, for the same key.
        der.map(|d| d.as_ref().to_vec()).unwrap_or_default()
    }
}

#[async_trait]
impl TokenSigner for LocalSigner {
    fn public_jwk(&self) -> &Jwk {
        &self.jwk
    }

    fn algorithm(&self) -> Algorithm {
        match self.key {
            PrivateKey::Rsa(_) => Algorithm::Rs256,
            PrivateKey::P256(_) => Algorithm::Es256,
        }
    }

    async fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, SignError> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let unusable = |e: aws_lc_rs::error::Unspecified| SignError::KeyUnusable(Box::new(e));
        match &self.key {
            PrivateKey::Rsa(key) => {
                let mut signature = vec![0; key.public_modulus_len()];
                key.sign(&RSA_PKCS1_SHA256, &rng, signing_input, &mut signature)
                    .map_err(unusable)?;
                Ok(signature)
            }
            PrivateKey::P256(key) => key
                .sign(&rng, signing_input)
                .map(|signature| signature.as_ref().to_vec())
                .map_err(unusable),
        }
    }
}

/// Tenants' keys for the embedded default: generated here, each private key sealed with
/// AES-256-GCM under the master key, with the tenant id as associated data so that a sealed key
/// moved to another tenant does not open.
pub struct LocalVault {
    master: LessSafeKey,
}

#[derive(Debug, thiserror::Error)]
pub enum LocalKeyError {
    #[error("cannot read or write the key file {path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("the key file {path} does not hold a 32-byte master key")]
    Rejected { path: String },
}

impl LocalVault {
    const MASTER_KEY_BYTES: usize = 32;

    /// Loads the master key at `path`, or generates one and writes it there if the file is
    /// absent.
    pub fn load_or_generate(path: &Path) -> Result<Self, LocalKeyError> {
        let shown = || path.display().to_string();
        let bytes = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let mut bytes = vec![0; Self::MASTER_KEY_BYTES];
                SystemRandom.fill(&mut bytes);
                write_private_file(path, &bytes).map_err(|source| LocalKeyError::Io {
                    path: shown(),
                    source,
                })?;
                bytes
            }
            Err(source) => {
                return Err(LocalKeyError::Io {
                    path: shown(),
                    source,
                });
            }
        };
        Self::from_master_key(&bytes).ok_or_else(|| LocalKeyError::Rejected { path: shown() })
    }

    /// A vault whose master key lives only in memory (tests and benchmarks).
    pub fn ephemeral() -> Self {
        let mut bytes = [0; Self::MASTER_KEY_BYTES];
        SystemRandom.fill(&mut bytes);
        Self::from_master_key(&bytes).expect("32 bytes make an AES-256 key")
    }

    fn from_master_key(bytes: &[u8]) -> Option<Self> {
        let key = UnboundKey::new(&AES_256_GCM, bytes).ok()?;
        Some(Self {
            master: LessSafeKey::new(key),
        })
    }

    /// `nonce || AES-256-GCM(pkcs8) || tag`.
    fn seal(&self, tenant: &TenantId, pkcs8: &[u8]) -> Result<Vec<u8>, SignError> {
        let mut nonce = [0; NONCE_LEN];
        SystemRandom.fill(&mut nonce);
        let mut sealed = pkcs8.to_vec();
        self.master
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                aad(tenant),
                &mut sealed,
            )
            .map_err(|e| SignError::KeyUnusable(Box::new(e)))?;
        Ok([&nonce[..], &sealed].concat())
    }

    fn open_sealed(&self, tenant: &TenantId, ciphertext: &[u8]) -> Result<Vec<u8>, SignError> {
        let unusable = || SignError::KeyUnusable("the sealed private key does not open".into());
        let (nonce, sealed) = ciphertext
            .split_at_checked(NONCE_LEN)
            .ok_or_else(unusable)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| unusable())?;
        let mut buffer = sealed.to_vec();
        let plain = self
            .master
            .open_in_place(nonce, aad(tenant), &mut buffer)
            .map_err(|_| unusable())?;
        Ok(plain.to_vec())
    }
}

#[async_trait]
impl KeyVault for LocalVault {
    async fn create_key(
        &self,
        tenant: &TenantId,
        algorithm: Algorithm,
        now: u64,
    ) -> Result<SigningKey, SignError> {
        let (signer, pkcs8) =
            LocalSigner::generate(algorithm).map_err(|e| SignError::KeyUnusable(Box::new(e)))?;
        let ciphertext = self.seal(tenant, &pkcs8)?;
        new_key(
            algorithm,
            signer.public_der(),
            Custody::Wrapped { ciphertext },
            now,
        )
    }

    async fn open(
        &self,
        tenant: &TenantId,
        key: &SigningKey,
    ) -> Result<Arc<dyn TokenSigner>, SignError> {
        let Custody::Wrapped { ciphertext } = &key.custody else {
            return Err(SignError::KeyUnusable(
                "the key is held in KMS, which the embedded default does not use".into(),
            ));
        };
        let pkcs8 = self.open_sealed(tenant, ciphertext)?;
        super::unwrapped_signer(key, &pkcs8)
    }

    async fn destroy(&self, _key: &SigningKey) -> Result<(), SignError> {
        // The sealed private key lives in the tenant's record and is gone with it.
        Ok(())
    }
}

fn aad(tenant: &TenantId) -> Aad<String> {
    Aad::from(format!("appid tenant {tenant}"))
}

fn invalid(algorithm: Algorithm, reason: impl ToString) -> InvalidPrivateKey {
    InvalidPrivateKey {
        algorithm,
        reason: reason.to_string(),
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
    use crate::jwk::KeyParams;

    fn tenant() -> TenantId {
        TenantId::generate(&SystemRandom)
    }

    #[test]
    fn generates_a_master_key_file_once_and_reloads_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("master-key");
        let vault = LocalVault::load_or_generate(&path).expect("generate");
        let mode = fs::metadata(&path).expect("key file").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let t = tenant();
        let sealed = vault.seal(&t, b"private").expect("seal");
        let again = LocalVault::load_or_generate(&path).expect("reload");
        assert_eq!(again.open_sealed(&t, &sealed).expect("open"), b"private");
    }

    #[test]
    fn refuses_a_master_key_file_of_the_wrong_size() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("master-key");
        fs::write(&path, b"short").expect("write");
        let error = LocalVault::load_or_generate(&path)
            .err()
            .expect("must fail");
        assert!(matches!(error, LocalKeyError::Rejected { .. }), "{error}");
    }

    #[tokio::test]
    async fn keys_of_both_algorithms_open_for_their_tenant_only() {
        let vault = LocalVault::ephemeral();
        let (owner, stranger) = (tenant(), tenant());
        for algorithm in Algorithm::ALL {
            let key = vault
                .create_key(&owner, algorithm, 7)
                .await
                .expect("create");
            assert_eq!((key.algorithm, key.created_at), (algorithm, 7));
            let signer = vault.open(&owner, &key).await.expect("open");
            assert_eq!(signer.public_jwk().kid, key.kid);
            assert_eq!(signer.algorithm(), algorithm);
            let signature = signer.sign(b"header.payload").await.expect("sign");
            let expected_len = match signer.public_jwk().params {
                KeyParams::Rsa { .. } => 256,
                KeyParams::Ec { .. } => 64,
            };
            assert_eq!(signature.len(), expected_len, "{algorithm}");
            assert!(matches!(
                vault.open(&stranger, &key).await,
                Err(SignError::KeyUnusable(_))
            ));
        }
    }

    #[test]
    fn private_keys_of_another_kind_are_refused() {
        let (_, p256) = LocalSigner::generate(Algorithm::Es256).expect("key");
        assert!(LocalSigner::from_pkcs8(Algorithm::Rs256, &p256).is_err());
        assert!(LocalSigner::from_pkcs8(Algorithm::Es256, b"junk").is_err());
    }
}
