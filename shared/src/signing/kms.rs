//! A signing key held in AWS KMS: an asymmetric `RSA_2048` key with usage `SIGN_VERIFY`.
//!
//! The public key is fetched once, when the signer is built (once per cold start), and turned
//! into the JWK and key id; each token then costs exactly one `Sign` call. Messages are sent
//! with `MessageType::Raw` so that KMS hashes the JWS signing input itself, which keeps the
//! request independent of how a digest would be framed.

use async_trait::async_trait;
use aws_sdk_kms::Client;
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeyUsageType, MessageType, SigningAlgorithmSpec};

use crate::jwk::Jwk;
use crate::ports::{Algorithm, SignError, TokenSigner};

pub struct KmsSigner {
    client: Client,
    /// The key's ARN as KMS reports it, so that an alias is resolved once, not per call.
    key_arn: String,
    jwk: Jwk,
}

#[derive(Debug, thiserror::Error)]
pub enum KmsKeyError {
    #[error("cannot fetch the public key of {key_id}: {source}")]
    Fetch { key_id: String, source: SignError },
    #[error("{key_id} cannot sign RS256 tokens (key usage {usage}): use an RSA SIGN_VERIFY key")]
    WrongKind { key_id: String, usage: String },
    #[error("KMS returned an unusable public key for {key_id}: {reason}")]
    BadPublicKey { key_id: String, reason: String },
}

impl KmsSigner {
    pub async fn from_config(
        sdk: &aws_config::SdkConfig,
        key_id: &str,
    ) -> Result<Self, KmsKeyError> {
        Self::connect(Client::new(sdk), key_id).await
    }

    /// Fetches the key's public half and checks that it can sign RS256 tokens.
    pub async fn connect(client: Client, key_id: &str) -> Result<Self, KmsKeyError> {
        let output = client
            .get_public_key()
            .key_id(key_id)
            .send()
            .await
            .map_err(|e| KmsKeyError::Fetch {
                key_id: key_id.to_owned(),
                source: classify(e),
            })?;
        // Judged by usage and offered algorithms rather than by `KeySpec`, which moto omits
        // (it sends only the deprecated `CustomerMasterKeySpec`); the RSA check below is made
        // on the key itself.
        let usage = output.key_usage().cloned();
        let can_sign_rs256 = output
            .signing_algorithms()
            .contains(&SigningAlgorithmSpec::RsassaPkcs1V15Sha256);
        if usage != Some(KeyUsageType::SignVerify) || !can_sign_rs256 {
            return Err(KmsKeyError::WrongKind {
                key_id: key_id.to_owned(),
                usage: usage.map_or("none".into(), |u| u.as_str().to_owned()),
            });
        }
        let bad_key = |reason: String| KmsKeyError::BadPublicKey {
            key_id: key_id.to_owned(),
            reason,
        };
        let der = output
            .public_key()
            .ok_or_else(|| bad_key("no public key".into()))?;
        let jwk = Jwk::from_rsa_spki_der(der.as_ref(), Algorithm::Rs256)
            .map_err(|e| bad_key(e.to_string()))?;
        let key_arn = output.key_id().unwrap_or(key_id).to_owned();
        Ok(Self {
            client,
            key_arn,
            jwk,
        })
    }
}

#[async_trait]
impl TokenSigner for KmsSigner {
    fn public_jwk(&self) -> &Jwk {
        &self.jwk
    }

    fn algorithm(&self) -> Algorithm {
        Algorithm::Rs256
    }

    async fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, SignError> {
        let output = self
            .client
            .sign()
            .key_id(&self.key_arn)
            .message(Blob::new(signing_input))
            .message_type(MessageType::Raw)
            .signing_algorithm(SigningAlgorithmSpec::RsassaPkcs1V15Sha256)
            .send()
            .await
            .map_err(classify)?;
        output
            .signature
            .map(Blob::into_inner)
            .ok_or_else(|| SignError::Unavailable("KMS Sign returned no signature".into()))
    }
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
            | "AccessDeniedException",
        ) => SignError::KeyUnusable(error.into()),
        _ => SignError::Unavailable(error.into()),
    }
}
