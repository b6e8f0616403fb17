//! Access tokens as JWTs in the RFC 9068 profile, assembled by hand: the header is fixed per
//! signing key and encoded once, the claims are one small serialization per token, and the
//! signature comes from whichever [`TokenSigner`] holds the key. [`JwtVerifier`] checks a token
//! presented back to us (introspection, revocation) against a tenant's published keys.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::sync::Arc;

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents, UnparsedPublicKey,
};
use serde::{Deserialize, Serialize};

use crate::domain::Algorithm;
use crate::domain::{ClientId, TenantId};
use crate::jwk::{Jwk, KeyParams};
use crate::ports::{SignError, TokenSigner};

/// App ID's `amr` value for tokens issued to an app on its own behalf.
pub const AMR_CLIENT_CREDENTIALS: &str = "appid_client_credentials";

/// The version of App ID's token format these tokens follow.
pub const TOKEN_VERSION: u8 = 4;

/// The claims of an access token (RFC 9068 §2.2 plus App ID's `tenant`, `amr` and `ver`).
#[derive(Debug, Serialize)]
pub struct Claims<'a> {
    pub iss: &'a str,
    pub sub: ClientId,
    pub aud: [ClientId; 1],
    pub iat: u64,
    pub exp: u64,
    pub jti: uuid::Uuid,
    pub client_id: ClientId,
    pub tenant: TenantId,
    pub amr: [&'static str; 1],
    pub ver: u8,
    /// The granted scopes, space-delimited (RFC 9068 §2.2.3); absent when none are granted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<&'a str>,
}

/// A signer paired with its encoded JWS protected header, which is the same for every token the
/// key signs and so is built once.
pub struct JwtSigner {
    encoded_header: String,
    signer: Arc<dyn TokenSigner>,
}

/// The claims of a token whose signature, key and form we checked. Whether it is still valid
/// (expiry, revocation, tenant) is the caller's judgement.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct VerifiedClaims {
    pub iss: String,
    pub sub: String,
    pub aud: Vec<String>,
    pub iat: u64,
    pub exp: u64,
    pub jti: uuid::Uuid,
    pub client_id: ClientId,
    pub tenant: TenantId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl JwtSigner {
    pub fn new(signer: Arc<dyn TokenSigner>) -> Self {
        let jwk = signer.public_jwk();
        Self {
            encoded_header: encoded_header(signer.algorithm(), &jwk.kid),
            signer,
        }
    }

    pub fn key(&self) -> &Jwk {
        self.signer.public_jwk()
    }

    /// The compact serialization (RFC 7515 §7.1) of a JWS over `claims`.
    pub async fn sign(&self, claims: &Claims<'_>) -> Result<String, SignError> {
        let mut payload = Vec::with_capacity(512);
        // Serializing a struct of strings and integers cannot fail.
        serde_json::to_writer(&mut payload, claims).expect("claims serialize to JSON");
        let mut token = String::with_capacity(self.encoded_header.len() + payload.len() * 2 + 360);
        token.push_str(&self.encoded_header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
        let signature = self.signer.sign(token.as_bytes()).await?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&signature, &mut token);
        Ok(token)
    }
}

/// Checks tokens presented back to us (introspection, revocation) against a tenant's published
/// keys.
pub struct JwtVerifier {
    keys: Vec<VerifyingKey>,
}

struct VerifyingKey {
    /// The header this key's tokens carry: matching it fixes both `alg` and `kid`.
    encoded_header: String,
    public: PublicKey,
}

enum PublicKey {
    Rsa(RsaPublicKeyComponents<Vec<u8>>),
    /// An uncompressed P-256 point.
    P256(Vec<u8>),
}

impl JwtVerifier {
    pub fn new<'a>(keys: impl IntoIterator<Item = &'a Jwk>) -> Self {
        // A JWK we built holds valid base64url.
        let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).unwrap_or_default();
        let keys = keys
            .into_iter()
            .map(|jwk| {
                let public = match &jwk.params {
                    KeyParams::Rsa { n, e } => PublicKey::Rsa(RsaPublicKeyComponents {
                        n: decode(n),
                        e: decode(e),
                    }),
                    KeyParams::Ec { x, y, .. } => {
                        PublicKey::P256([&[4][..], &decode(x), &decode(y)].concat())
                    }
                };
                let alg = jwk.alg.parse().unwrap_or_default();
                VerifyingKey {
                    encoded_header: encoded_header(alg, &jwk.kid),
                    public,
                }
            })
            .collect();
        Self { keys }
    }

    /// The claims of `token` if it is a compact JWS one of these keys signed: the header must
    /// be the one that key writes (so `alg` and `kid` are ours) and the signature must verify.
    pub fn verify(&self, token: &str) -> Option<VerifiedClaims> {
        let (signing_input, signature) = token.rsplit_once('.')?;
        let (header, payload) = signing_input.split_once('.')?;
        let key = self.keys.iter().find(|k| k.encoded_header == header)?;
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        let message = signing_input.as_bytes();
        let verified = match &key.public {
            PublicKey::Rsa(public) => {
                public.verify(&RSA_PKCS1_2048_8192_SHA256, message, &signature)
            }
            PublicKey::P256(point) => {
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point).verify(message, &signature)
            }
        };
        verified.ok()?;
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
    }
}

/// The protected header of every token a key signs (RFC 9068 §2.1), base64url-encoded.
fn encoded_header(alg: Algorithm, kid: &str) -> String {
    let header = serde_json::json!({"alg": alg.as_str(), "kid": kid, "typ": "at+jwt"});
    URL_SAFE_NO_PAD.encode(header.to_string())
}

#[cfg(test)]
mod tests {
    use base64::Engine;

    use super::*;
    use crate::ports::{Random, SystemRandom};
    use crate::signing::local::LocalSigner;

    fn decode(part: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(part).expect("base64url")
    }

    fn claims<'a>(iss: &'a str, scope: Option<&'a str>) -> Claims<'a> {
        let id: ClientId = SystemRandom.uuid().to_string().parse().expect("id");
        Claims {
            iss,
            sub: id,
            aud: [id],
            iat: 10,
            exp: 3610,
            jti: SystemRandom.uuid(),
            client_id: id,
            tenant: SystemRandom.uuid().to_string().parse().expect("tenant"),
            amr: [AMR_CLIENT_CREDENTIALS],
            ver: TOKEN_VERSION,
            scope,
        }
    }

    #[tokio::test]
    async fn tokens_are_compact_jws_with_the_key_header_and_verify_by_that_key_only() {
        for algorithm in Algorithm::ALL {
            let signer = Arc::new(LocalSigner::ephemeral(algorithm).expect("key"));
            let jwk = signer.public_jwk().clone();
            let jwt = JwtSigner::new(signer);
            let claims = claims("https://auth.example/oauth/v4/t", Some("read write"));
            let token = jwt.sign(&claims).await.expect("sign");
            let parts: Vec<&str> = token.split('.').collect();
            assert_eq!(parts.len(), 3);
            let header: serde_json::Value =
                serde_json::from_slice(&decode(parts[0])).expect("header");
            assert_eq!(
                header,
                serde_json::json!({"alg": algorithm.as_str(), "kid": jwk.kid, "typ": "at+jwt"})
            );
            let payload: serde_json::Value =
                serde_json::from_slice(&decode(parts[1])).expect("payload");
            assert_eq!(payload["aud"], serde_json::json!([claims.sub.to_string()]));
            assert_eq!(payload["exp"], 3610);
            assert_eq!(payload["scope"], "read write");

            let other = LocalSigner::ephemeral(algorithm).expect("key");
            let verifier = JwtVerifier::new([other.public_jwk(), &jwk]);
            let verified = verifier.verify(&token).expect("our own token verifies");
            assert_eq!(verified.client_id, claims.client_id);
            assert_eq!(
                (verified.exp, verified.scope.as_deref()),
                (3610, Some("read write"))
            );
            let tampered = format!(
                "{}.{}.{}",
                parts[0],
                URL_SAFE_NO_PAD.encode(b"{}"),
                parts[2]
            );
            assert!(
                verifier.verify(&tampered).is_none(),
                "a changed payload fails"
            );
            let strangers = JwtVerifier::new([other.public_jwk()]);
            assert!(
                strangers.verify(&token).is_none(),
                "another key's token fails"
            );
            assert!(verifier.verify("not.a.token").is_none() && verifier.verify("").is_none());
        }
    }

    #[tokio::test]
    async fn a_token_whose_header_names_another_algorithm_does_not_verify() {
        let signer = Arc::new(LocalSigner::ephemeral(Algorithm::Es256).expect("key"));
        let jwk = signer.public_jwk().clone();
        let token = JwtSigner::new(signer)
            .sign(&claims("https://auth.example/oauth/v4/t", None))
            .await
            .expect("sign");
        let (_, rest) = token.split_once('.').expect("header");
        let relabelled = format!("{}.{rest}", encoded_header(Algorithm::Rs256, &jwk.kid));
        assert!(JwtVerifier::new([&jwk]).verify(&relabelled).is_none());
    }
}
