//! Adapters behind [`TokenSigner`](crate::ports::TokenSigner): a KMS-held key for AWS, a local
//! key file for the embedded default.

#[cfg(feature = "aws")]
pub mod kms;
pub mod local;
