//! Access tokens as JWTs in the RFC 9068 profile, assembled by hand: the header is fixed per
//! signing key and encoded once, the claims are one small serialization per token, and the
//! signature comes from whichever [`TokenSigner`] holds the key. [`JwtSigner::verify`] checks a
//! token presented back to us (introspection, revocation) against the same key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::sync::Arc;

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use serde::{Deserialize, Serialize};

use crate::domain::{ClientId, TenantId};
use crate::jwk::Jwk;
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
    /// The public key's components, decoded once, to verify tokens presented back to us.
    public: RsaPublicKeyComponents<Vec<u8>>,
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
        let header = serde_json::json!({
            "alg": signer.algorithm().as_str(),
            "kid": signer.public_jwk().kid,
            "typ": "at+jwt",
        });
        let encoded_header = URL_SAFE_NO_PAD.encode(header.to_string());
        let jwk = signer.public_jwk();
        // The JWK was built from a valid key, so its members are valid base64url.
        let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).unwrap_or_default();
        let public = RsaPublicKeyComponents {
            n: decode(&jwk.n),
            e: decode(&jwk.e),
        };
        Self {
            encoded_header,
            signer,
            public,
        }
    }

    /// The claims of `token` if it is a compact JWS this key signed: the header must be the
    /// one this key writes (so `alg` and `kid` are ours) and the signature must verify.
    pub fn verify(&self, token: &str) -> Option<VerifiedClaims> {
        let (signing_input, signature) = token.rsplit_once('.')?;
        let (header, payload) = signing_input.split_once('.')?;
        if header != self.encoded_header {
            return None;
        }
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        self.public
            .verify(
                &RSA_PKCS1_2048_8192_SHA256,
                signing_input.as_bytes(),
                &signature,
            )
            .ok()?;
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
    }

    pub fn key(&self) -> &Jwk {
        self.signer.public_jwk()
    }

    /// The compact serialization (RFC 7515 §7.1) of a JWS over `claims`.
    pub async fn sign(&self, claims: &Claims<'_>) -> Result<String, SignError> {
        // Serializing a struct of strings and integers cannot fail.
        let payload = serde_json::to_vec(claims).expect("claims serialize to JSON");
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

#[cfg(test)]
mod tests {
    use base64::Engine;

    use super::*;
    use crate::ports::{Random, SystemRandom};
    use crate::signing::local::LocalSigner;

    fn decode(part: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(part).expect("base64url")
    }

    #[tokio::test]
    async fn tokens_are_compact_jws_with_the_key_header_and_a_valid_signature() {
        let signer = Arc::new(LocalSigner::ephemeral().expect("key"));
        let jwk = signer.public_jwk().clone();
        let jwt = JwtSigner::new(signer);
        let id: ClientId = SystemRandom.uuid().to_string().parse().expect("id");
        let tenant: TenantId = SystemRandom.uuid().to_string().parse().expect("tenant");
        let claims = Claims {
            iss: "https://auth.example/oauth/v4/t",
            sub: id,
            aud: [id],
            iat: 10,
            exp: 3610,
            jti: SystemRandom.uuid(),
            client_id: id,
            tenant,
            amr: [AMR_CLIENT_CREDENTIALS],
            ver: TOKEN_VERSION,
            scope: Some("read write"),
        };
        let token = jwt.sign(&claims).await.expect("sign");
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: serde_json::Value = serde_json::from_slice(&decode(parts[0])).expect("header");
        assert_eq!(
            header,
            serde_json::json!({"alg": "RS256", "kid": jwk.kid, "typ": "at+jwt"})
        );
        let payload: serde_json::Value =
            serde_json::from_slice(&decode(parts[1])).expect("payload");
        assert_eq!(payload["aud"], serde_json::json!([id.to_string()]));
        assert_eq!(payload["exp"], 3610);
        assert_eq!(payload["scope"], "read write");
        let key = RsaPublicKeyComponents {
            n: decode(&jwk.n),
            e: decode(&jwk.e),
        };
        let signing_input = format!("{}.{}", parts[0], parts[1]);
        key.verify(
            &RSA_PKCS1_2048_8192_SHA256,
            signing_input.as_bytes(),
            &decode(parts[2]),
        )
        .expect("signature verifies");

        let verified = jwt.verify(&token).expect("our own token verifies");
        assert_eq!(verified.client_id, id);
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
        assert!(jwt.verify(&tampered).is_none(), "a changed payload fails");
        let other = JwtSigner::new(Arc::new(LocalSigner::ephemeral().expect("key")));
        assert!(other.verify(&token).is_none(), "another key's token fails");
        assert!(jwt.verify("not.a.token").is_none() && jwt.verify("").is_none());
    }
}
