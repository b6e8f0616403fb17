//! Tenants' signing keys in AWS KMS, in one of two modes (see [`KmsMode`]):
//!
//! - *direct*: each key is an asymmetric KMS key (`RSA_2048` or `ECC_NIST_P256`, usage
//!   `SIGN_VERIFY`) and every token is one `Sign` call; the private key never leaves KMS.
//! - *wrapped*: each key pair comes from `GenerateDataKeyPairWithoutPlaintext` under one
//!   symmetric wrapping key, with the tenant as encryption context; the token function decrypts
//!   the private key once per process and signs in memory, with no KMS call per token.
//!
//! Either way the public key is kept in the tenant's record, so no `GetPublicKey` is needed to
//! publish or use a key. Messages are signed with `MessageType::Raw`: KMS hashes the JWS signing
//! input itself.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_kms::Client;
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{
    DataKeyPairSpec, KeySpec, KeyState, KeyUsageType, MessageType, SigningAlgorithmSpec, Tag,
};

pub use crate::config::KmsMode;
use crate::domain::{Algorithm, Custody, SigningKey, TenantId};
use crate::jwk::Jwk;
use crate::ports::{KeyVault, SignError, TokenSigner};
use crate::signing::{new_key, unwrapped_signer};

/// The tag naming the deployment a direct-mode key belongs to; IAM policies grant the functions
/// their KMS permissions on keys that carry their deployment's value.
pub const DEPLOYMENT_TAG: &str = "appid:deployment";
/// The tag naming the tenant a direct-mode key signs for.
pub const TENANT_TAG: &str = "appid:tenant";
/// The encryption context of a wrapped private key: the tenant it belongs to.
pub const TENANT_CONTEXT: &str = "appid:tenant";
/// Days a retired direct-mode key waits in `PendingDeletion` (KMS allows 7 to 30).
const DELETION_WINDOW_DAYS: i32 = 7;

pub struct KmsVault {
    client: Client,
    mode: KmsMode,
}

#[derive(Debug, thiserror::Error)]
pub enum KmsSetupError {
    #[error("cannot describe the wrapping key {key_id}: {source}")]
    Describe { key_id: String, source: SignError },
    #[error(
        "{key_id} cannot wrap signing keys (spec {spec}, usage {usage}, state {state}): use an \
         enabled SYMMETRIC_DEFAULT key with usage ENCRYPT_DECRYPT"
    )]
    WrongKind {
        key_id: String,
        spec: String,
        usage: String,
        state: String,
    },
}

impl KmsVault {
    pub async fn from_config(
        sdk: &aws_config::SdkConfig,
        mode: KmsMode,
    ) -> Result<Self, KmsSetupError> {
        Self::connect(Client::new(sdk), mode).await
    }

    /// Checks the configured mode once, at start: in wrapped mode the wrapping key must be an
    /// enabled symmetric encryption key, and is resolved to its ARN so that an alias is looked
    /// up once, not per call.
    pub async fn connect(client: Client, mode: KmsMode) -> Result<Self, KmsSetupError> {
        let mode = match mode {
            KmsMode::Wrapped { wrapping_key } => {
                let described = client
                    .describe_key()
                    .key_id(&wrapping_key)
                    .send()
                    .await
                    .map_err(|e| KmsSetupError::Describe {
                        key_id: wrapping_key.clone(),
                        source: classify(e),
                    })?;
                let metadata = described.key_metadata();
                let spec = metadata.and_then(|m| m.key_spec().cloned());
                let usage = metadata.and_then(|m| m.key_usage().cloned());
                let state = metadata.and_then(|m| m.key_state().cloned());
                let usable = spec == Some(KeySpec::SymmetricDefault)
                    && usage == Some(KeyUsageType::EncryptDecrypt)
                    && state == Some(KeyState::Enabled);
                if !usable {
                    let shown = |v: Option<&str>| v.unwrap_or("none").to_owned();
                    return Err(KmsSetupError::WrongKind {
                        key_id: wrapping_key,
                        spec: shown(spec.as_ref().map(KeySpec::as_str)),
                        usage: shown(usage.as_ref().map(KeyUsageType::as_str)),
                        state: shown(state.as_ref().map(KeyState::as_str)),
                    });
                }
                let arn = metadata.and_then(|m| m.arn()).unwrap_or(&wrapping_key);
                KmsMode::Wrapped {
                    wrapping_key: arn.to_owned(),
                }
            }
            direct => direct,
        };
        Ok(Self { client, mode })
    }

    async fn create_direct(
        &self,
        deployment: &str,
        tenant: &TenantId,
        algorithm: Algorithm,
        now: u64,
    ) -> Result<SigningKey, SignError> {
        let tag = |key: &str, value: &str| Tag::builder().tag_key(key).tag_value(value).build();
        let tags = [
            tag(DEPLOYMENT_TAG, deployment),
            tag(TENANT_TAG, &tenant.to_string()),
        ];
        let created = self
            .client
            .create_key()
            .key_spec(key_spec(algorithm))
            .key_usage(KeyUsageType::SignVerify)
            .description(format!("Signs the access tokens of tenant {tenant}"))
            .set_tags(Some(
                tags.into_iter()
                    .collect::<Result<_, _>>()
                    .map_err(|e| SignError::Unavailable(Box::new(e)))?,
            ))
            .send()
            .await
            .map_err(classify)?;
        let key_arn = created
            .key_metadata()
            .map(|m| m.arn().unwrap_or(m.key_id()).to_owned())
            .ok_or_else(|| SignError::Unavailable("KMS CreateKey returned no key".into()))?;
        let public = self
            .client
            .get_public_key()
            .key_id(&key_arn)
            .send()
            .await
            .map_err(classify)
            .and_then(|output| {
                output
                    .public_key
                    .map(Blob::into_inner)
                    .ok_or_else(|| SignError::Unavailable("KMS returned no public key".into()))
            });
        let custody = Custody::Kms {
            key_arn: key_arn.clone(),
        };
        let key = public.and_then(|der| new_key(algorithm, der, custody, now));
        if key.is_err() {
            // The key was made but cannot be used: leave nothing behind that bills.
            let _ = self.schedule_deletion(&key_arn).await;
        }
        key
    }

    async fn create_wrapped(
        &self,
        wrapping_key: &str,
        tenant: &TenantId,
        algorithm: Algorithm,
        now: u64,
    ) -> Result<SigningKey, SignError> {
        let spec = match algorithm {
            Algorithm::Rs256 => DataKeyPairSpec::Rsa2048,
            Algorithm::Es256 => DataKeyPairSpec::EccNistP256,
        };
        let output = self
            .client
            .generate_data_key_pair_without_plaintext()
            .key_id(wrapping_key)
            .key_pair_spec(spec)
            .encryption_context(TENANT_CONTEXT, tenant.to_string())
            .send()
            .await
            .map_err(classify)?;
        let missing = || SignError::Unavailable("KMS returned an incomplete key pair".into());
        let public = output.public_key.ok_or_else(missing)?.into_inner();
        let ciphertext = output
            .private_key_ciphertext_blob
            .ok_or_else(missing)?
            .into_inner();
        new_key(algorithm, public, Custody::Wrapped { ciphertext }, now)
    }

    async fn schedule_deletion(&self, key_arn: &str) -> Result<(), SignError> {
        self.client
            .schedule_key_deletion()
            .key_id(key_arn)
            .pending_window_in_days(DELETION_WINDOW_DAYS)
            .send()
            .await
            .map(|_| ())
            .map_err(classify)
    }
}

#[async_trait]
impl KeyVault for KmsVault {
    async fn create_key(
        &self,
        tenant: &TenantId,
        algorithm: Algorithm,
        now: u64,
    ) -> Result<SigningKey, SignError> {
        match &self.mode {
            KmsMode::Direct { deployment } => {
                self.create_direct(deployment, tenant, algorithm, now).await
            }
            KmsMode::Wrapped { wrapping_key } => {
                self.create_wrapped(wrapping_key, tenant, algorithm, now)
                    .await
            }
        }
    }

    async fn open(
        &self,
        tenant: &TenantId,
        key: &SigningKey,
    ) -> Result<Arc<dyn TokenSigner>, SignError> {
        match (&key.custody, &self.mode) {
            (Custody::Kms { key_arn }, _) => {
                let jwk = Jwk::from_spki_der(&key.public_der, key.algorithm)
                    .map_err(|e| SignError::KeyUnusable(Box::new(e)))?;
                Ok(Arc::new(KmsSigner {
                    client: self.client.clone(),
                    key_arn: key_arn.clone(),
                    algorithm: key.algorithm,
                    jwk,
                }))
            }
            (Custody::Wrapped { ciphertext }, KmsMode::Wrapped { wrapping_key }) => {
                let output = self
                    .client
                    .decrypt()
                    .key_id(wrapping_key)
                    .ciphertext_blob(Blob::new(ciphertext.as_slice()))
                    .encryption_context(TENANT_CONTEXT, tenant.to_string())
                    .send()
                    .await
                    .map_err(classify)?;
                let pkcs8 = output.plaintext.ok_or_else(|| {
                    SignError::Unavailable("KMS Decrypt returned no plaintext".into())
                })?;
                unwrapped_signer(key, pkcs8.as_ref())
            }
            (Custody::Wrapped { .. }, KmsMode::Direct { .. }) => Err(SignError::KeyUnusable(
                "the key is wrapped, and this deployment has no wrapping key".into(),
            )),
        }
    }

    async fn destroy(&self, key: &SigningKey) -> Result<(), SignError> {
        match &key.custody {
            Custody::Kms { key_arn } => self.schedule_deletion(key_arn).await,
            // The wrapped private key lives in the tenant's record and is gone with it.
            Custody::Wrapped { .. } => Ok(()),
        }
    }
}

/// A direct-mode key: every signature is one KMS `Sign` call.
pub struct KmsSigner {
    client: Client,
    key_arn: String,
    algorithm: Algorithm,
    jwk: Jwk,
}

#[async_trait]
impl TokenSigner for KmsSigner {
    fn public_jwk(&self) -> &Jwk {
        &self.jwk
    }

    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    async fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, SignError> {
        let spec = match self.algorithm {
            Algorithm::Rs256 => SigningAlgorithmSpec::RsassaPkcs1V15Sha256,
            Algorithm::Es256 => SigningAlgorithmSpec::EcdsaSha256,
        };
        let output = self
            .client
            .sign()
            .key_id(&self.key_arn)
            .message(Blob::new(signing_input))
            .message_type(MessageType::Raw)
            .signing_algorithm(spec)
            .send()
            .await
            .map_err(classify)?;
        let signature = output
            .signature
            .map(Blob::into_inner)
            .ok_or_else(|| SignError::Unavailable("KMS Sign returned no signature".into()))?;
        match self.algorithm {
            Algorithm::Rs256 => Ok(signature),
            Algorithm::Es256 => ecdsa_der_to_jose(&signature).ok_or_else(|| {
                SignError::Unavailable("KMS returned a malformed ECDSA signature".into())
            }),
        }
    }
}

fn key_spec(algorithm: Algorithm) -> KeySpec {
    match algorithm {
        Algorithm::Rs256 => KeySpec::Rsa2048,
        Algorithm::Es256 => KeySpec::EccNistP256,
    }
}

/// KMS returns ECDSA signatures as a DER `SEQUENCE { r INTEGER, s INTEGER }` (RFC 3279
/// §2.2.3); JWS wants the two numbers as fixed-width big-endian bytes, `r || s`, 32 bytes each
/// for P-256 (RFC 7518 §3.4).
fn ecdsa_der_to_jose(der: &[u8]) -> Option<Vec<u8>> {
    use pkcs1::der::asn1::UintRef;
    use pkcs1::der::{Decode, Reader, SliceReader};

    const HALF: usize = 32;
    let mut reader = SliceReader::new(der).ok()?;
    let (r, s) = reader
        .sequence(|seq| Ok((UintRef::decode(seq)?, UintRef::decode(seq)?)))
        .ok()?;
    reader.finish(()).ok()?;
    let mut jose = vec![0; 2 * HALF];
    for (half, number) in jose.chunks_mut(HALF).zip([r, s]) {
        // `UintRef` strips the sign byte and leading zeros.
        let bytes = number.as_bytes();
        if bytes.len() > HALF {
            return None;
        }
        half[HALF - bytes.len()..].copy_from_slice(bytes);
    }
    Some(jose)
}

/// Sorts KMS failures into what a caller can act on: wait (throttled), fix the key (disabled,
/// pending deletion, gone), or retry later (anything else).
fn classify<E, R>(error: SdkError<E, R>) -> SignError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match error.code() {
        Some("ThrottlingException" | "LimitExceededException") => {
            SignError::Throttled(error.into())
        }
        Some(
            "DisabledException"
            | "KMSInvalidStateException"
            | "NotFoundException"
            | "InvalidKeyUsageException"
            | "InvalidCiphertextException"
            | "IncorrectKeyException"
            | "AccessDeniedException",
        ) => SignError::KeyUnusable(error.into()),
        _ => SignError::Unavailable(error.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_signatures_become_fixed_width_r_and_s() {
        // r has its sign byte (0x00 before 0x80...) and s is short (leading zeros stripped).
        let r = [[0x00].as_slice(), &[0x80; 32]].concat();
        let s = [0x01, 0x02];
        let der = [
            &[0x30, (2 + r.len() + 2 + s.len()) as u8][..],
            &[0x02, r.len() as u8],
            &r,
            &[0x02, s.len() as u8],
            &s,
        ]
        .concat();
        let jose = ecdsa_der_to_jose(&der).expect("valid");
        assert_eq!(&jose[..32], &[0x80; 32]);
        assert_eq!(&jose[32..62], &[0; 30]);
        assert_eq!(&jose[62..], &[0x01, 0x02]);
    }

    #[test]
    fn malformed_der_signatures_are_refused() {
        assert_eq!(ecdsa_der_to_jose(b""), None);
        assert_eq!(ecdsa_der_to_jose(&[0x30, 0x03, 0x02, 0x01, 0x01]), None);
        let too_long = [&[0x30, 38, 0x02, 33][..], &[0x7f; 33], &[0x02, 1, 1]].concat();
        assert_eq!(ecdsa_der_to_jose(&too_long), None);
        let trailing = [&[0x30, 6, 0x02, 1, 1, 0x02, 1, 1][..], &[0]].concat();
        assert_eq!(ecdsa_der_to_jose(&trailing), None);
    }
}
